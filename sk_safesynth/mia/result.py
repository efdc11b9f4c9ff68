"""The result of a membership inference evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sk_safesynth.mia.bounds import PrivacyBound


@dataclass(frozen=True)
class MIAResult:
    """Measured membership-inference risk, with confidence intervals and the DP bound.

    Attributes
    ----------
    attack : str
        Attack name (for ``attack="all"``: the one with the largest AUC on the
        selection half).
    auc : float
        ROC AUC of the attack (0.5 is chance).
    auc_ci : tuple of float
        DeLong confidence interval of the AUC.
    advantage : float
        ``TPR - FPR`` on the evaluation half of the threshold chosen on the selection
        half (unbiased; may be negative by chance).
    advantage_ci : tuple of float
        Wald interval of that difference of two independent proportions.
    tpr_at_fpr : dict of float to float
        TPR on the evaluation half of the threshold chosen on the selection half (best
        TPR with FPR at most the key there); NaN when a half has fewer than ``1 / fpr``
        non-members.
    tpr_at_fpr_ci : dict of float to tuple
        Clopper-Pearson interval of each TPR over the evaluation members.
    n_members, n_non_members : int
        Records measured (the evaluation half; balanced).
    n_reference : int
        Non-members held out as the reference set (0 when no attack needed one).
    fpr, tpr : ndarray
        The full empirical ROC curve.
    confidence_level : float
        Level of all intervals.
    n_selection : int
        Records (members and non-members) on which the attack and thresholds were chosen.
    bound : PrivacyBound or None
        Best ROC any attack can reach for the privacy spent; None when not given.
    bound_auc, bound_advantage : float
        Bound on AUC and advantage (NaN without ``bound``).
    bound_tpr_at_fpr : dict of float to float
        Bound on the TPR at each FPR level (empty without ``bound``).
    per_attack : dict of str to MIAResult
        Results of every attack run (for a single attack: itself is not repeated, the
        dict is empty).
    """

    attack: str
    auc: float
    auc_ci: tuple[float, float]
    advantage: float
    advantage_ci: tuple[float, float]
    tpr_at_fpr: dict[float, float]
    tpr_at_fpr_ci: dict[float, tuple[float, float]]
    n_members: int
    n_non_members: int
    n_reference: int
    fpr: np.ndarray = field(repr=False, compare=False)
    tpr: np.ndarray = field(repr=False, compare=False)
    confidence_level: float = 0.95
    n_selection: int = 0
    bound: PrivacyBound | None = None
    bound_auc: float = math.nan
    bound_advantage: float = math.nan
    bound_tpr_at_fpr: dict[float, float] = field(default_factory=dict)
    per_attack: dict[str, MIAResult] = field(default_factory=dict, repr=False)

    @property
    def exceeds_bound(self) -> bool:
        """Whether the attack beats the DP bound significantly: the lower end of the
        advantage or AUC interval lies above the bound (False without a bound). Such a
        result means the privacy accounting or the implementation is wrong."""
        if self.bound is None:
            return False
        return self.advantage_ci[0] > self.bound_advantage or self.auc_ci[0] > self.bound_auc

    def to_dict(self) -> dict[str, Any]:
        """Flat dictionary of the scalar results (for a report row)."""
        row: dict[str, Any] = {
            "mia_attack": self.attack,
            "mia_auc": self.auc,
            "mia_auc_low": self.auc_ci[0],
            "mia_auc_high": self.auc_ci[1],
            "mia_advantage": self.advantage,
            "mia_advantage_low": self.advantage_ci[0],
            "mia_advantage_high": self.advantage_ci[1],
        }
        for level, value in self.tpr_at_fpr.items():
            row[f"tpr_at_fpr_{level:g}"] = value
            row[f"tpr_at_fpr_{level:g}_low"] = self.tpr_at_fpr_ci[level][0]
            row[f"tpr_at_fpr_{level:g}_high"] = self.tpr_at_fpr_ci[level][1]
            row[f"bound_tpr_at_fpr_{level:g}"] = self.bound_tpr_at_fpr.get(level, math.nan)
        row.update(
            bound_auc=self.bound_auc,
            bound_advantage=self.bound_advantage,
            n_members=self.n_members,
            n_non_members=self.n_non_members,
            exceeds_bound=self.exceeds_bound,
        )
        return row

    def plot_roc(self, ax: Any = None, *, log: bool = False, per_attack: bool = True) -> Any:
        """Draw the measured ROC against the DP bound and chance.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure is made when None.
        log : bool, default=False
            Log-log axes, which show the low-FPR regime that matters for privacy.
        per_attack : bool, default=True
            Also draw each attack's curve when several were run.

        Returns
        -------
        matplotlib Axes
        """
        import matplotlib.pyplot as plt  # matplotlib is slow to import; only when plotting

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 5))
        curves = dict(self.per_attack) if (per_attack and self.per_attack) else {self.attack: self}
        for name, res in curves.items():
            label = f"{name} (AUC {res.auc:.3f} [{res.auc_ci[0]:.3f}, {res.auc_ci[1]:.3f}])"
            ax.step(res.fpr, res.tpr, where="post", label=label)
        for level, value in self.tpr_at_fpr.items():
            if not math.isnan(value):
                low, high = self.tpr_at_fpr_ci[level]
                ax.errorbar(
                    [level], [value], yerr=[[value - low], [high - value]],
                    fmt="o", color="black", ms=3, capsize=3,
                )
        lo = 1.0 / max(self.n_non_members, 1) if log else 0.0
        grid = np.logspace(np.log10(max(lo, 1e-6)), 0, 400) if log else np.linspace(0, 1, 400)
        if self.bound is not None:
            label = f"DP bound (AUC {self.bound_auc:.3f})"
            ax.plot(grid, self.bound.tpr(grid), "r--", label=label)
        ax.plot(grid, grid, ":", color="grey", label="chance")
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(lo, 1)
            ax.set_ylim(lo, 1)
        ax.set_xlabel("false-positive rate (non-members flagged)")
        ax.set_ylabel("true-positive rate (members found)")
        ax.set_title(f"Membership inference: {self.n_members} members, {self.n_non_members} non-members")
        ax.legend(loc="lower right", fontsize="small")
        return ax
