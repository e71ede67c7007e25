# PEP 440: a .devN suffix while the CHANGELOG's top section is "(unreleased)"
__version__ = '0.2.0.dev0'
