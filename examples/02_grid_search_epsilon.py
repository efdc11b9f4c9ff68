"""Grid-search epsilon: utility (TSTR) and membership-inference risk for each budget.

``GridSearchCV`` over ``tstr__sampler__epsilon`` with two scorers: ROC AUC of the model
trained on synthetic rows, and ``MIAScorer`` (1 - attack advantage; higher is more
private). ``keep_audit_sample=True`` keeps each training fold in memory (never pickled)
so the attack knows the members. A ``PrivacyRecorder`` scorer brings each fold fit's
privacy events back, so ``search_privacy`` composes what the search spent with
dp-accounting (far below the sum of the fits' epsilons).

This is a utility/privacy *study*: every candidate and fold spends its own budget on
the same data, and picking the best epsilon on real folds is not itself private.

Runs offline on the embedded model in about a minute on 2 cores (one small LLM pool,
shared by every candidate and fold). ``SKSAFESYNTH_LLM`` switches the model.
"""

import os
import warnings

import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sk_safesynth import DPSyntheticSampler, Marginals, MIAScorer, PrivacyRecorder, TrainOnSynthetic, search_privacy
from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, load_adult
from sk_safesynth.llm import DEFAULT_MODEL
from sk_safesynth.mia import MIAInsufficientDataWarning

LLM = os.environ.get("SKSAFESYNTH_LLM", DEFAULT_MODEL)
COLUMNS = ["age", "education-num", "hours-per-week", "marital-status", "relationship", "sex"]

X, y = load_adult("train", n_rows=600, return_X_y=True)
X = X[COLUMNS]

model = make_pipeline(
    make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
        (StandardScaler(), make_column_selector(dtype_include="number")),
    ),
    LogisticRegression(max_iter=1000),
)
sampler = DPSyntheticSampler(
    llm=LLM, method=Marginals(pool_size=30), random_state=0,
    bounds={c: ADULT_BOUNDS[c] for c in COLUMNS if c in ADULT_BOUNDS},
    categories={c: ADULT_CATEGORIES[c] for c in COLUMNS + ["income"] if c in ADULT_CATEGORIES},
)
pipeline = Pipeline([("tstr", TrainOnSynthetic(sampler, model, keep_audit_sample=True))])

search = GridSearchCV(
    pipeline,
    {"tstr__sampler__epsilon": [0.3, 1.0, 3.0, 10.0]},
    scoring={"roc_auc": "roc_auc", "privacy": MIAScorer("dcr", random_state=0), "spent": PrivacyRecorder()},
    refit="roc_auc",
    cv=3,
)
with warnings.catch_warnings():
    # 200 non-members per fold are too few for the TPR at FPR 0.1%; it is reported as NaN.
    warnings.simplefilter("ignore", MIAInsufficientDataWarning)
    search.fit(X, y)

results = pd.DataFrame(search.cv_results_)
print(results[["param_tstr__sampler__epsilon", "mean_test_roc_auc", "std_test_roc_auc",
               "mean_test_privacy", "std_test_privacy"]].to_string(index=False))
print(f"best epsilon by TSTR ROC AUC: {search.best_params_['tstr__sampler__epsilon']}")

total = search_privacy(search, warn=False)
fits = len(results) * search.n_splits_ + 1
print(f"total spent by the search on these rows ({fits} fits, composed with dp-accounting): "
      f"epsilon={total.epsilon:.3g}, delta={total.delta:.3g}")
