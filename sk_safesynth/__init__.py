"""sk-safesynth: differentially private synthetic data with LLMs, for scikit-learn."""

from sk_safesynth.exceptions import PrivacyBudgetExceeded, PrivacyLeakWarning
from sk_safesynth.noisers import GaussianNoiser, LaplaceNoiser
from sk_safesynth.privacy import PrivacyLedger, PrivacySpent

__version__ = "0.1.0"

__all__ = [
    "GaussianNoiser",
    "LaplaceNoiser",
    "PrivacyBudgetExceeded",
    "PrivacyLeakWarning",
    "PrivacyLedger",
    "PrivacySpent",
    "__version__",
]
