# Semi-supervised SegFormer MiT-B5 on VOC-12 aug: the 1,464 images of VOC 2012 `train` train on
# their GT masks, the other 9,118 of train_aug on the on-the-fly EPS pseudo labels of
# ../wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_eps-vst.py.
_base_ = '../wsss/segformer_mit-b5_8xb2-40k_voc12aug-512x512_eps-vst.py'
train_dataloader = dict(dataset=dict(gt_subset='ImageSets/Segmentation/train.txt'))
