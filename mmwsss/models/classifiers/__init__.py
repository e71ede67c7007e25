from .eps_classifier import EPSClassifier

__all__ = ['EPSClassifier']
