# Semi-supervised DeepLab-V3+ R-101 on VOC-12 aug: the 1,464 images of VOC 2012 `train` train on
# their GT masks, the other 9,118 of train_aug on the on-the-fly EPS pseudo labels of
# ../wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_eps-vst.py.
_base_ = '../wsss/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_eps-vst.py'
train_dataloader = dict(dataset=dict(gt_subset='ImageSets/Segmentation/train.txt'))
