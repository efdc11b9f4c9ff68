"""sk-safesynth: differentially private synthetic data with LLMs, for scikit-learn."""

from sk_safesynth.exceptions import LLMGenerationError, PrivacyBudgetExceeded, PrivacyLeakWarning
from sk_safesynth.mia import MIAResult, MIAScorer
from sk_safesynth.noisers import GaussianNoiser, LaplaceNoiser
from sk_safesynth.privacy import PrivacyLedger, PrivacySpent
from sk_safesynth.privacy.search import PrivacyRecorder
from sk_safesynth.sampler import DPSyntheticSampler
from sk_safesynth.schema_template import infer_schema
from sk_safesynth.synth import Marginals, NoisyICL, PrivateEvolution, TextNoisyICL, TextPrivateEvolution
from sk_safesynth.train_on_synthetic import TrainOnSynthetic, search_privacy

__version__ = "0.8.0"

__all__ = [
    "DPSyntheticSampler",
    "GaussianNoiser",
    "LLMGenerationError",
    "LaplaceNoiser",
    "Marginals",
    "NoisyICL",
    "PrivateEvolution",
    "TextNoisyICL",
    "TextPrivateEvolution",
    "MIAResult",
    "MIAScorer",
    "PrivacyBudgetExceeded",
    "PrivacyLeakWarning",
    "PrivacyLedger",
    "PrivacyRecorder",
    "PrivacySpent",
    "TrainOnSynthetic",
    "infer_schema",
    "search_privacy",
    "__version__",
]
