"""Bundled data sets (with their public domains) for the demo, examples and tests."""

from sk_safesynth.datasets.adult import ADULT_BOUNDS, ADULT_CATEGORIES, ADULT_TARGET, load_adult

__all__ = ["ADULT_BOUNDS", "ADULT_CATEGORIES", "ADULT_TARGET", "load_adult"]
