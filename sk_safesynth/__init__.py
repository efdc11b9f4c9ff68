"""sk-safesynth: differentially private synthetic data with LLMs, for scikit-learn."""

from sk_safesynth.exceptions import PrivacyBudgetExceeded, PrivacyLeakWarning

__version__ = "0.1.0"

__all__ = ["PrivacyBudgetExceeded", "PrivacyLeakWarning", "__version__"]
