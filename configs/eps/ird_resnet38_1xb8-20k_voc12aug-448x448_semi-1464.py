# Semi-supervised EPS++ on VOC 2012 aug: the recipe of ird_resnet38_1xb8-20k_voc12aug-448x448.py,
# and on the 1,464 images of VOC 2012 `train` (GT masks) a pixel-wise cross-entropy of the
# C+1 maps against the GT (background last), weight 1 (our choice: the seed does not give
# this loss's form).
_base_ = './ird_resnet38_1xb8-20k_voc12aug-448x448.py'
model = dict(loss_gt_weight=1.0)
train_dataloader = dict(dataset=dict(gt_subset='ImageSets/Segmentation/train.txt'))
