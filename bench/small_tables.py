"""The small tables of the small-tables benchmark, their splits, public domains and TSTR score.

Plain pandas and scikit-learn only (no sk-safesynth import), so the same tables, splits
and scores serve our rows and smartnoise-synth's MST and AIM, which run from their own
environment (bench/bench_small_aim.py).

Tables (train rows = 70%):

- ``breast cancer`` (scikit-learn's bundled copy, 569 rows, 30 numbers, binary);
- ``wine`` (scikit-learn, 178 rows, 13 numbers, 3 classes: macro one-vs-rest ROC-AUC);
- ``penguins`` (Palmer penguins raw, ``../shared/data``; free-text ``Comments`` left out;
  3 species: macro one-vs-rest);
- ``adult-600`` and ``adult-2000`` (the first rows of the bundled Adult training split);
- ``diabetes`` (scikit-learn's bundled diabetes, 442 rows, 10 numbers; target: disease
  progression above 140, the data set's median);
- ``anes96`` (statsmodels' 1996 American National Election Study extract, 944 rows;
  target: vote; ``logpopul`` left out, it is ``log(popul + 0.1)``).

The last two were added as judges: not used while choosing the measurement plan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
PENGUINS = ROOT.parent / "shared" / "data" / "penguins_raw.csv"
ADULT = ROOT / "sk_safesynth" / "datasets" / "data" / "adult_train.csv.gz"
TUNED = ("breast cancer", "wine", "penguins", "adult-600", "adult-2000")
JUDGES = ("diabetes", "anes96")


def load(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target of one table."""
    from sklearn import datasets

    if name in ("breast cancer", "wine"):
        loader = datasets.load_breast_cancer if name == "breast cancer" else datasets.load_wine
        X, y = loader(return_X_y=True, as_frame=True)
        return X, y.rename("target")
    if name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True, as_frame=True, scaled=False)
        return X, (y > 140).astype(int).rename("target")
    if name == "penguins":
        frame = pd.read_csv(PENGUINS).drop(columns=["Comments"])
        return frame.drop(columns=["Species"]), frame["Species"]
    if name.startswith("adult-"):
        frame = pd.read_csv(ADULT, nrows=int(name.split("-")[1]), keep_default_na=False, na_values=[])
        return frame.drop(columns=["income"]), frame["income"]
    if name == "anes96":
        import statsmodels.api as sm

        frame = sm.datasets.anes96.load_pandas().data.drop(columns=["logpopul"])
        return frame.drop(columns=["vote"]), frame["vote"].astype(int).rename("vote")
    raise KeyError(name)


def available(names) -> list[str]:
    """The tables of ``names`` this machine can load (penguins needs ../shared, anes96 statsmodels)."""
    out = []
    for name in names:
        if name == "penguins" and not PENGUINS.exists():
            continue
        if name == "anes96":
            try:
                import statsmodels  # noqa: F401
            except ImportError:
                continue
        out.append(name)
    return out


def split(X: pd.DataFrame, y: pd.Series, seed: int):
    """70/30 split, stratified on the target."""
    return train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)


def public_domain(X_train: pd.DataFrame, y_train: pd.Series) -> tuple[dict, dict]:
    """Bounds (min, max) of the number columns and sorted categories of the others, as a user who
    reviews the table declares them (what ``infer_schema`` reads); the target is categorical."""
    bounds, categories = {}, {}
    for column in X_train.columns:
        values = X_train[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            bounds[column] = (float(values.min()), float(values.max()))
        else:
            categories[column] = sorted(values.dropna().astype(str).unique())
    categories[y_train.name] = sorted(y_train.astype(str).unique())
    return bounds, categories


def encode(X: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Numbers as floats, dates as seconds, everything else as pandas categories of the reference's values."""
    out = {}
    for column in reference.columns:
        if pd.api.types.is_numeric_dtype(reference[column]) and not pd.api.types.is_bool_dtype(reference[column]):
            values = pd.to_numeric(X[column], errors="coerce").astype(float)
            # a column DP released nothing of comes out all missing: uninformative (GB cannot bin all-NaN)
            out[column] = values.fillna(0.0) if values.isna().all() else values
        elif pd.api.types.is_datetime64_any_dtype(reference[column]):
            stamps = pd.to_datetime(X[column], errors="coerce")
            out[column] = (stamps - pd.Timestamp(0)).dt.total_seconds().fillna(0.0)
        else:
            levels = sorted(reference[column].dropna().astype(str).unique())
            out[column] = pd.Categorical(X[column].astype(str).where(X[column].notna()), categories=levels)
    return pd.DataFrame(out)


def score(X_train: pd.DataFrame, y_train, X_test: pd.DataFrame, y_test, seed: int) -> float:
    """HistGradientBoosting ROC-AUC on the real test rows (several classes: macro one-vs-rest)."""
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    classes = sorted(pd.Series(y_test).astype(str).unique())
    y_train = pd.Series(np.asarray(y_train)).astype(str)
    if y_train.nunique() < 2:
        return 0.5
    model.fit(encode(X_train, X_test), y_train)
    proba = model.predict_proba(encode(X_test, X_test))
    known = list(model.classes_)
    full = np.zeros((len(X_test), len(classes)))
    for i, c in enumerate(classes):
        if c in known:
            full[:, i] = proba[:, known.index(c)]
    truth = pd.Series(y_test).astype(str).to_numpy()
    if len(classes) == 2:
        return float(roc_auc_score(truth == classes[1], full[:, 1]))
    full = full / np.clip(full.sum(axis=1, keepdims=True), 1e-12, None)
    return float(roc_auc_score(truth, full, multi_class="ovr", labels=classes))


def independent(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each column of a (DP) synthetic table shuffled on its own: the independent-columns baseline
    (post-processing of a DP release, so it is DP too)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns})
