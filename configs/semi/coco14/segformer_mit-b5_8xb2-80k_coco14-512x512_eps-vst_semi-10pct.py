# Semi-supervised SegFormer MiT-B5 on COCO-14: 10% of the training images (the list
# ImageSets/train2014_semi-10pct.txt, drawn with seed 0 by
#   python tools/dataset_converters/draw_gt_subset.py data/coco2014/cls_labels/train2014.txt \
#       data/coco2014/ImageSets/train2014_semi-10pct.txt --fraction 0.1 --seed 0
# ) train on their GT masks, the rest on the EPS pseudo labels of
# ../../wsss/coco14/segformer_mit-b5_8xb2-80k_coco14-512x512_eps-vst.py.
# Val: the papers' 40,137 val2014 images, ImageSets/val2014_wsss.txt (all 40,504:
# --cfg-options {val,test}_dataloader.dataset.ann_file=ImageSets/val2014.txt).
_base_ = '../../wsss/coco14/segformer_mit-b5_8xb2-80k_coco14-512x512_eps-vst.py'
train_dataloader = dict(dataset=dict(gt_subset='ImageSets/train2014_semi-10pct.txt'))
