# The demo's semi-supervised row: the segmentor and schedule of seg_synthetic.py, with
# 10% of the training images (a seeded list the demo draws with
# mmwsss.fileio.draw_subset) on their GT masks and the rest on pseudo labels.
_base_ = ['./seg_synthetic.py']
train_dataloader = dict(
    dataset=dict(gt_subset='ImageSets/Segmentation/train_semi-10pct.txt'))
