"""The out-of-fold engine: scoring models trained and recorded, as functions."""

from ._cross_val import cross_val_records, fitting_scores, unseen_scores

__all__ = ["cross_val_records", "fitting_scores", "unseen_scores"]
