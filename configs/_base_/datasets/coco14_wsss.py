# MS COCO 2014 for WSSS (81 labels): train on train2014 images with at least one
# class (WSSS-BED list) with pseudo labels made on the fly from WSSS-BED maps;
# validate on the GT of the papers' 40,137 val2014 images (label maps and lists made by
# tools/dataset_converters/coco2014.py). The pipelines are VOC's, as mmseg's
# COCO-Stuff configs (coco-stuff164k.py) share the VOC pipeline.
_base_ = './voc12_wsss.py'
dataset_type = 'COCOWSSSDataset'
data_root = 'data/coco2014'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        # default source: WSSS-BED CAM maps + VST (DUTS) saliency
        data_prefix=dict(
            img_path='train2014',
            seg_map_path='SegmentationClass/train2014',  # only a gt_subset's masks are read
            cam_path='activation_maps/COCO_CAM',
            sal_path='saliency_maps/COCO2014_VST_DUTS'),
        ann_file='',  # the images of cls_label_file
        cls_label_file='cls_labels/train2014.txt'))  # images with a class
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val2014', seg_map_path='SegmentationClass/val2014'),
        # the papers' val list (WSSS-BED, EPS): the 40,137 val2014 images with an object.
        # All 40,504 (367 more, background only):
        #   --cfg-options {val,test}_dataloader.dataset.ann_file=ImageSets/val2014.txt
        ann_file='ImageSets/val2014_wsss.txt'))
test_dataloader = val_dataloader
