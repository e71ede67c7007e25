# Semi-supervised DeepLab-V2 R-101 on VOC-12 aug: the 1,464 images of VOC 2012 `train` train on
# their GT masks, the other 9,118 of train_aug on the on-the-fly EPS pseudo labels of
# ../wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_eps-vst.py.
_base_ = '../wsss/deeplabv2_r101-d8_2xb10-10k_voc12aug-321x321_eps-vst.py'
train_dataloader = dict(dataset=dict(gt_subset='ImageSets/Segmentation/train.txt'))
