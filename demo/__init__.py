"""The end-to-end demo beside the library: the embedded synthetic WSSS dataset
(:mod:`demo.synthetic`, registered as ``SyntheticWSSSDataset`` by
:mod:`demo.datasets`), its configs
(``demo/configs``) and the driver (``python demo/wsss_demo.py``).

Nothing is imported here, so that ``python -m demo.synthetic`` runs the module
once.
"""
