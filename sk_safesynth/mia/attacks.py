"""Membership inference attacks on a synthetic data release.

Every attack maps the attacked records (members and non-members, unlabelled) to a
score, higher meaning "more likely a member", using only the synthetic rows and, for
some attacks, a reference set of known non-members. None of them fits anything on
the attacked records.

An attack is any object with a ``name``, a ``needs_reference`` flag and
``score(X, synthetic, reference, *, random_state, cache)``; ``cache`` is a dict shared
by the attacks of one evaluation (same ``X`` and ``synthetic``), so that ``"all"``
searches the synthetic neighbours once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from sk_safesynth.mia.encoding import MixedTypeEncoder, nearest_distances
from sk_safesynth.mia.frames import column_kind


def _synthetic_neighbours(
    X: pd.DataFrame, synthetic: pd.DataFrame, k: int, cache: dict | None
) -> tuple[MixedTypeEncoder, np.ndarray]:
    """Encoder fitted on the synthetic rows and distances from ``X`` to its k nearest."""
    key = ("synthetic_neighbours", k)
    if cache is not None and key in cache:
        return cache[key]
    encoder = MixedTypeEncoder().fit(synthetic)
    found = encoder, nearest_distances(encoder, X, synthetic, k)
    if cache is not None:
        cache[key] = found
    return found


class Attack:
    """Base of the attacks: one membership score per attacked record.

    Subclasses set :attr:`name` and :attr:`needs_reference` and implement ``_score``.
    """

    name: ClassVar[str] = ""
    #: Whether the attack needs reference rows (held-out non-members).
    needs_reference: ClassVar[bool] = False

    def score(
        self,
        X: pd.DataFrame,
        synthetic: pd.DataFrame,
        reference: pd.DataFrame | None = None,
        *,
        random_state: int | None = None,
        cache: dict | None = None,
    ) -> np.ndarray:
        """Scores of the attacked records ``X``, higher meaning "more likely a member".

        ``reference`` is required when :attr:`needs_reference`; ``random_state`` seeds
        attacks that learn; ``cache`` is shared by the attacks of one evaluation.
        """
        if self.needs_reference and reference is None:
            raise ValueError(f"the {self.name!r} attack needs reference rows (held-out non-members)")
        return self._score(X, synthetic, reference, random_state, cache)

    def _score(self, X, synthetic, reference, random_state, cache) -> np.ndarray:
        raise NotImplementedError


@dataclass
class DCRAttack(Attack):
    """Distance to closest record: members lie closer to some synthetic row.

    Score is minus the mixed-type distance (see :mod:`sk_safesynth.mia.encoding`)
    from a record to its nearest synthetic row; scales come from the synthetic rows.
    """

    name: ClassVar[str] = "dcr"
    needs_reference: ClassVar[bool] = False

    def _score(self, X, synthetic, reference, random_state, cache) -> np.ndarray:
        return -_synthetic_neighbours(X, synthetic, 1, cache)[1][:, 0]


@dataclass
class DensityRatioAttack(Attack):
    """DOMIAS-style density ratio (van Breugel et al., AISTATS 2023).

    Score is ``log p_syn(x) - log p_ref(x)``: a generator that overfits puts more
    synthetic mass near its training records than the population has. Densities are
    k-nearest-neighbour estimates (``p(x) ~ k / (n * r_k(x)^d)``) in the mixed-type
    space (scaled on the synthetic rows, like DCR), so the score ranks records by ``log r_k,ref(x) - log r_k,syn(x)`` (the
    dimension and sample sizes only shift and scale it). The reference set is a part of
    the non-members held out from the attacked records.

    Parameters
    ----------
    n_neighbors : int, default=1
        ``k``; 1 is the most sensitive to copied records, larger values smoother.
    """

    n_neighbors: int = 1
    name: ClassVar[str] = "density"
    needs_reference: ClassVar[bool] = True

    def _score(self, X, synthetic, reference, random_state, cache) -> np.ndarray:
        encoder, r_syn = _synthetic_neighbours(X, synthetic, self.n_neighbors, cache)
        r_syn = r_syn[:, -1]
        r_ref = nearest_distances(encoder, X, reference, self.n_neighbors)[:, -1]
        # A floor keeps exact copies (distance 0) finite while ranking them first.
        floor = 1e-9
        return np.log(r_ref + floor) - np.log(r_syn + floor)


@dataclass
class ClassifierAttack(Attack):
    """Classifier attack: learn where synthetic rows over-represent the population.

    A gradient-boosting classifier is trained to tell synthetic rows (label 1) from
    reference rows (label 0, held-out non-members), with balanced class weights; its
    decision value on an attacked record is the score. It is the "shadow" view in
    which the reference set stands for the population a shadow generator would be
    trained on, without retraining the generator (which would cost privacy budget and
    LLM calls).

    Parameters
    ----------
    max_iter : int, default=100
        Boosting iterations.
    """

    max_iter: int = 100
    name: ClassVar[str] = "classifier"
    needs_reference: ClassVar[bool] = True

    def _score(self, X, synthetic, reference, random_state, cache) -> np.ndarray:
        train = pd.concat([synthetic, reference], ignore_index=True)
        categorical = [c for c in train.columns if column_kind(train[c]) == "categorical"]
        categories = {c: pd.Index(train[c].astype(str).unique()) for c in categorical}

        def encode(frame: pd.DataFrame) -> np.ndarray:
            out = frame.copy()
            for c in categorical:
                codes = categories[c].get_indexer(frame[c].astype(str)).astype(float)
                codes[codes < 0] = np.nan  # unseen category: routed like a missing value
                out[c] = codes
            return out.to_numpy(dtype=float)

        labels = np.r_[np.ones(len(synthetic)), np.zeros(len(reference))]
        # Native categorical splits need at most 255 categories; wider ones stay ordinal.
        mask = [c in categorical and len(categories[c]) < 255 for c in train.columns]
        clf = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            categorical_features=np.array(mask, dtype=bool),
            class_weight="balanced",
            early_stopping=False,
            random_state=random_state,
        )
        clf.fit(encode(train), labels)
        return clf.decision_function(encode(X))


ATTACKS: dict[str, type[Attack]] = {
    "dcr": DCRAttack,
    "density": DensityRatioAttack,
    "classifier": ClassifierAttack,
}
