# WSSS-BED's evaluation protocol (its seg_networks/DeepLab-V2-Pytorch/main.py), opt-in:
# validate every 100 iterations once 60 % of the iterations have passed, keep the
# checkpoint with the best val mIoU (best_mIoU_iter_<N>.pth) and report that one, with
# and without DenseCRF. It selects the checkpoint on the evaluation set: its numbers
# are not comparable with a last-iteration run's, and summarize_seeds never mixes them.
# mmwsss's tools (train.py, dist_train.sh, slurm_train.sh) derive train_cfg.val_begin,
# train_cfg.val_interval and default_hooks.checkpoint.save_best from this key
# (mmwsss.evaluation.protocol.apply_eval_protocol), after --cfg-options and --smoke.
# Add it to a leaf's _base_ list: _base_ = ['<recipe or leaf>.py', '<this file>'].
eval_protocol = dict(type='wsss-bed', val_from=0.6, val_interval=100, metric='mIoU')
