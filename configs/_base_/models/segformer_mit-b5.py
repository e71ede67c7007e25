# SegFormer MiT-B5: mmseg's segformer_mit-b0 model with the B5 encoder, as in
# mmseg's segformer_mit-b5_8xb2-160k_ade20k-512x512.py.
_base_ = 'mmseg::_base_/models/segformer_mit-b0.py'
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth'  # noqa
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint),
        embed_dims=64,
        num_heads=[1, 2, 5, 8],
        num_layers=[3, 6, 40, 3]),
    decode_head=dict(in_channels=[64, 128, 320, 512]))
