"""UCI Adult (census income), bundled: Becker & Kohavi (1996), CC BY 4.0.

The bounds and categories below are the data set's *public* documentation (UCI's
``adult.names``: value lists and ranges), not statistics of the private rows, so
declaring them costs no privacy budget. Missing values are the category ``"?"``, as
in the original files.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

ADULT_TARGET = "income"

ADULT_BOUNDS = {
    "age": (17, 90),
    "fnlwgt": (10_000, 1_500_000),
    "education-num": (1, 16),
    "capital-gain": (0, 99_999),
    "capital-loss": (0, 4_356),
    "hours-per-week": (1, 99),
}

ADULT_CATEGORIES = {
    "workclass": ["?", "Federal-gov", "Local-gov", "Never-worked", "Private", "Self-emp-inc", "Self-emp-not-inc",
                  "State-gov", "Without-pay"],
    "education": ["10th", "11th", "12th", "1st-4th", "5th-6th", "7th-8th", "9th", "Assoc-acdm", "Assoc-voc",
                  "Bachelors", "Doctorate", "HS-grad", "Masters", "Preschool", "Prof-school", "Some-college"],
    "marital-status": ["Divorced", "Married-AF-spouse", "Married-civ-spouse", "Married-spouse-absent",
                       "Never-married", "Separated", "Widowed"],
    "occupation": ["?", "Adm-clerical", "Armed-Forces", "Craft-repair", "Exec-managerial", "Farming-fishing",
                   "Handlers-cleaners", "Machine-op-inspct", "Other-service", "Priv-house-serv", "Prof-specialty",
                   "Protective-serv", "Sales", "Tech-support", "Transport-moving"],
    "relationship": ["Husband", "Not-in-family", "Other-relative", "Own-child", "Unmarried", "Wife"],
    "race": ["Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"],
    "sex": ["Female", "Male"],
    "native-country": ["?", "Cambodia", "Canada", "China", "Columbia", "Cuba", "Dominican-Republic", "Ecuador",
                       "El-Salvador", "England", "France", "Germany", "Greece", "Guatemala", "Haiti",
                       "Holand-Netherlands", "Honduras", "Hong", "Hungary", "India", "Iran", "Ireland", "Italy",
                       "Jamaica", "Japan", "Laos", "Mexico", "Nicaragua", "Outlying-US(Guam-USVI-etc)", "Peru",
                       "Philippines", "Poland", "Portugal", "Puerto-Rico", "Scotland", "South", "Taiwan",
                       "Thailand", "Trinadad&Tobago", "United-States", "Vietnam", "Yugoslavia"],
    "income": ["<=50K", ">50K"],
}


def load_adult(split: str = "train", *, n_rows: int | None = None, return_X_y: bool = False,
               random_state: int | None = 0):
    """Load the bundled UCI Adult data.

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        The original UCI split (32,561 or 16,281 rows).
    n_rows : int or None, default=None
        Return a random subset of this many rows (stratification is not applied).
    return_X_y : bool, default=False
        Return ``(X, y)`` with ``y`` the ``income`` column instead of one frame.
    random_state : int or None, default=0
        Seed of the subset.

    Returns
    -------
    DataFrame, or (DataFrame, Series)
        Integer columns as int64 and string columns as object dtype.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = resources.files("sk_safesynth.datasets") / "data" / f"adult_{split}.csv.gz"
    with resources.as_file(path) as file:
        frame = pd.read_csv(file, dtype={c: object for c in ADULT_CATEGORIES}, keep_default_na=False)
    for column in ADULT_CATEGORIES:
        frame[column] = frame[column].replace("", "?").astype(object)
    if n_rows is not None:
        if not 0 < n_rows <= len(frame):
            raise ValueError(f"n_rows must be in 1..{len(frame)}, got {n_rows}")
        index = np.random.default_rng(random_state).choice(len(frame), size=n_rows, replace=False)
        frame = frame.iloc[np.sort(index)].reset_index(drop=True)
    if return_X_y:
        return frame.drop(columns=[ADULT_TARGET]), frame[ADULT_TARGET]
    return frame
