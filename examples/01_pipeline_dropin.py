"""Drop a DP synthesizer into a scikit-learn Pipeline (train on synthetic, test on real).

``TrainOnSynthetic(sampler, model)`` fits the sampler on the rows it is given and the
model on the sampler's synthetic rows; predictions and scores use real rows. Inside a
Pipeline and ``cross_validate`` every training fold is replaced by a DP release of
itself, so the cross-validated score is TSTR utility.

Runs offline on the embedded model in about a minute on 2 cores (the LLM writes a
small candidate pool once; every fold and fit reuses it). Set ``SKSAFESYNTH_LLM`` to
any litellm model string (e.g. ``gpt-4o-mini`` with ``OPENAI_API_KEY``) to switch.
"""

import os

from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sk_safesynth import DPSyntheticSampler, Marginals, TrainOnSynthetic
from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, load_adult
from sk_safesynth.llm import DEFAULT_MODEL

LLM = os.environ.get("SKSAFESYNTH_LLM", DEFAULT_MODEL)
FEATURES = ["age", "education-num", "hours-per-week", "marital-status", "occupation", "sex"]

X_train, y_train = load_adult("train", n_rows=400, return_X_y=True)
X_test, y_test = load_adult("test", n_rows=1000, return_X_y=True)

# The model the user already has: one-hot categories, scaled numbers, a classifier.
model = make_pipeline(
    ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
        ("numbers", StandardScaler(), make_column_selector(dtype_include="number")),
    ]),
    LogisticRegression(max_iter=1000),
)

# Public bounds and categories (from the data set's documentation) cost no privacy budget;
# declare them for the columns the sampler sees (the target included).
sampler = DPSyntheticSampler(
    llm=LLM, epsilon=1.0, delta=1e-5, method=Marginals(pool_size=30),
    bounds={c: ADULT_BOUNDS[c] for c in FEATURES if c in ADULT_BOUNDS},
    categories={c: ADULT_CATEGORIES[c] for c in FEATURES + ["income"] if c in ADULT_CATEGORIES},
    random_state=0,  # reproducible for the example; leave None for cryptographically secure noise
)
pipeline = Pipeline([
    # Earlier steps work as usual: here, keep a few columns (as a DataFrame, for the sampler).
    ("select", ColumnTransformer([("keep", "passthrough", FEATURES)], verbose_feature_names_out=False)
     .set_output(transform="pandas")),
    ("tstr", TrainOnSynthetic(sampler, model)),
])

pipeline.fit(X_train, y_train)
fitted = pipeline.named_steps["tstr"]
print(f"privacy spent by the fit: {fitted.privacy_spent_}")
print(f"synthetic training rows: {len(fitted.synthetic_X_)}; first ones:")
print(fitted.synthetic_X_.assign(income=fitted.synthetic_y_).head())
print(f"TSTR accuracy on real test rows: {pipeline.score(X_test, y_test):.3f}")

real = make_pipeline(pipeline.named_steps["select"], model).fit(X_train, y_train)
print(f"same model trained on the real rows: {real.score(X_test, y_test):.3f}")

# Cross-validation: each training fold spends epsilon=1 on its own rows.
scores = cross_validate(pipeline, X_train, y_train, cv=3, scoring="roc_auc")
print(f"3-fold TSTR ROC AUC: {scores['test_score'].round(3)}")
