"""The embedded demo: a synthetic WSSS dataset (:mod:`mmwsss.demo.synthetic`)
and figure helpers (:mod:`mmwsss.demo.figures`).

Nothing is imported here, so that ``python -m mmwsss.demo.synthetic`` runs
the module once.
"""
