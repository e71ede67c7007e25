# mmseg's runtime (mmseg scope, local visualiser, TTA model) + the mmwsss registrations.
_base_ = 'mmseg::_base_/default_runtime.py'
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)
