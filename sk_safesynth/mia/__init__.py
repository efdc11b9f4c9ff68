"""Membership inference attacks on synthetic data, and the DP bound they are held to.

See ``docs/mia.md`` for the attacks, metrics, intervals and bound formulas.
"""

from sk_safesynth.mia.attacks import ClassifierAttack, DCRAttack, DensityRatioAttack
from sk_safesynth.mia.bounds import PrivacyBound
from sk_safesynth.mia.result import MIAResult
from sk_safesynth.mia.scorer import MIAInsufficientDataWarning, MIAScorer

__all__ = [
    "ClassifierAttack",
    "DCRAttack",
    "DensityRatioAttack",
    "MIAInsufficientDataWarning",
    "MIAResult",
    "MIAScorer",
    "PrivacyBound",
]
