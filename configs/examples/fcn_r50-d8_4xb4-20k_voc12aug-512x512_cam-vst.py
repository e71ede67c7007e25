# SaliencyPseudoLabel from a stock mmseg config: mmseg's FCN on its VOC aug base, trained on
# pseudo labels made on the fly from WSSS-BED's CAM maps + VST (DUTS) saliency.
# What changes against the base (mmseg::_base_/datasets/pascal_voc12_aug.py):
# - the training set: its ConcatDataset of train + aug GT is replaced (_delete_=True) by
#   one VOCWSSSDataset over train_aug with image-level labels and no GT;
# - the pipeline: SaliencyPseudoLabel right after LoadImageFromFile, and NO LoadAnnotations
#   (it would replace every pseudo label by the GT mask);
# - validation reads SegmentationClassAug (the base's val set reads SegmentationClass).
_base_ = [
    'mmseg::_base_/models/fcn_r50-d8.py', 'mmseg::_base_/datasets/pascal_voc12_aug.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_20k.py'
]
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='SaliencyPseudoLabel',
         cam_dir='data/wsss_bed/activation_maps/VOC2012_CAM',
         sal_dir='data/wsss_bed/saliency_maps/VOC2012_VST_DUTS',
         cam_format='bed_png', tau=0.1),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(
    _delete_=True,
    type='VOCWSSSDataset',
    data_root='data/VOCdevkit/VOC2012',
    ann_file='ImageSets/Segmentation/train_aug.txt',
    cls_label_file='cls_labels/train_aug.txt',
    pseudo_labels=True,
    pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug')))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
# the recipe's total batch (4 GPUs x 4): tools/slurm_train.sh starts as many GPUs as
# keep it, and every launcher warns when a run's differs (enable=True scales the lr)
auto_scale_lr = dict(enable=False, base_batch_size=16)
