"""The demo: DP synthetic census data at several epsilons, judged on real data, with a report.

``sk-safesynth demo`` runs :func:`run_demo` on bundled UCI Adult rows, offline. The
releases use the method for tables (``Marginals``: DP marginals, no LLM), which measured
best on tables (docs/benchmarks.md), with its closed-form inference (seconds per epsilon,
no JAX; on full Adult it is within seed noise of Private-PGM). The embedded LLM then
writes candidate rows from the public schema for one more release at the middle epsilon,
and the report shows side by side what that LLM step adds, so a reader sees where the
LLM earns its place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, ADULT_TARGET, load_adult
from sk_safesynth.evaluation import Release, default_estimator, privacy_utility_report
from sk_safesynth.llm import DEFAULT_MODEL
from sk_safesynth.llm.local_model import release_local_model
from sk_safesynth.mia import MIAScorer
from sk_safesynth.report import (
    Report,
    results_table,
    save_privacy_utility_plot,
    save_roc_plot,
    write_json,
)
from sk_safesynth.sampler import DPSyntheticSampler
from sk_safesynth.synth import Marginals

#: Setting of the release that adds LLM-written candidate rows.
WITH_LLM = "synthetic + LLM candidates"
# Closed-form inference: seconds per epsilon and no JAX in memory (see the module docstring).
INFERENCE = "closed_form"


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote: the results table, the report files and the runtime."""

    results: pd.DataFrame
    report: list[Path]
    seconds: float


def run_demo(out, *, rows: int = 5000, test_rows: int | None = None, epsilons: Sequence[float] = (0.3, 1.0, 3.0),
             delta: float = 1e-5, llm: str = DEFAULT_MODEL, llm_rows: int = 20, attack: str = "all",
             estimator: str = "logreg", cache_dir=None, seed: int | None = 0,
             progress: Callable[[str], None] = lambda message: None) -> DemoResult:
    """Fit, sample, score (TSTR) and attack at each epsilon on Adult rows; write a report to ``out``.

    Parameters
    ----------
    out : str or Path
        Folder of the report (``report.md``, ``report.html``), the plots, ``results.json``,
        the real rows used and one synthetic CSV per release.
    rows : int, default=5000
        Real training rows (the private table); as many synthetic rows are sampled.
    test_rows : int, optional
        Real test rows (utility test set and attack non-members); default ``max(rows, 1000)``.
    epsilons : sequence of float, default=(0.3, 1, 3)
        One release per epsilon (each a separate fit at ``delta``).
    llm : str, default=DEFAULT_MODEL
        Model of the LLM step (the embedded one by default: offline, no key).
    llm_rows : int, default=20
        Candidate rows the LLM writes from the public schema for the extra release at the
        middle epsilon; 0 leaves the LLM step out.
    attack, estimator : str
        Membership attack (``MIAScorer``) and TSTR model (``default_estimator``).
    cache_dir : str, optional
        LLM response cache.
    seed : int or None, default=0
        Seed of the data subsets, noise and attacks; None: secure noise.
    progress : callable, optional
        Called with a line of text at each step.
    """
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    test_rows = test_rows or max(rows, 1000)
    train = load_adult("train", n_rows=rows, random_state=seed)
    test = load_adult("test", n_rows=test_rows, random_state=seed)
    train.to_csv(out / "real_train.csv", index=False)
    test.to_csv(out / "real_test.csv", index=False)
    epsilons = [float(e) for e in epsilons]
    settings = {"rows": rows, "test_rows": test_rows, "epsilons": epsilons, "delta": delta, "model": llm,
                "llm_rows": llm_rows, "attack": attack, "estimator": estimator, "scoring": "roc_auc", "seed": seed}
    data = (train.drop(columns=[ADULT_TARGET]), train[ADULT_TARGET], test.drop(columns=[ADULT_TARGET]),
            test[ADULT_TARGET])
    model = default_estimator(estimator, "roc_auc")
    results, privacy, files = {}, {}, []

    def save(release: Release, with_llm: bool) -> None:
        name = f"{'llm_' if with_llm else ''}eps{release.epsilon:g}"
        path = out / f"synthetic_{name}.csv"
        release.X.assign(**{ADULT_TARGET: release.y.to_numpy()})[list(train.columns)].to_csv(path, index=False)
        files.append(path.name)
        label = f"epsilon = {release.epsilon:g}" + (" + LLM candidates" if with_llm else "")
        results[label] = release.mia
        privacy[name] = {"spent": release.sampler.privacy_spent_.as_dict(),
                         "ledger": release.sampler.ledger_.summary()}
        progress(f"{label}: utility {release.row['utility']:.3f} ROC AUC, attack AUC {release.row['mia_auc']:.3f} "
                 f"({release.row['fit_seconds']:.1f} s to fit and sample)")

    def study(method, eps, with_llm, **kwargs) -> pd.DataFrame:
        sampler = DPSyntheticSampler(llm, delta=delta, method=method, bounds=ADULT_BOUNDS,
                                     categories=ADULT_CATEGORIES, missing=False, cache_dir=cache_dir,
                                     random_state=seed)
        return privacy_utility_report(sampler, model, *data, eps, mia=MIAScorer(attack), n_samples=rows,
                                      random_state=seed or 0,
                                      on_release=lambda r: save(r, with_llm), **kwargs)

    progress(f"demo: {rows} Adult training rows, {test_rows} test rows, epsilons {epsilons}")
    parts = []
    if llm_rows:  # first, so the model's memory is freed before the fits need theirs
        middle = epsilons[len(epsilons) // 2]
        progress(f"LLM step: {llm} writes {llm_rows} candidate rows from the public schema (no privacy cost), "
                 f"one more release at epsilon={middle:g}")
        parts.append(study(Marginals(inference=INFERENCE, pool_size=llm_rows), [middle], True, real_baseline=False)
                     .assign(setting=WITH_LLM))
        release_local_model()
    df = pd.concat([study(Marginals(inference=INFERENCE), epsilons, False), *parts], ignore_index=True)
    progress("writing plots and report")
    utility_png = save_privacy_utility_plot(df[df["setting"] != WITH_LLM], out / "privacy_utility.png")
    roc_png = save_roc_plot(results, out / "mia_roc.png")
    seconds = time.perf_counter() - start
    write_json({"settings": settings, "results": df, "privacy": privacy, "runtime_seconds": seconds,
                "files": files}, out / "results.json")
    paths = demo_report(df, settings, utility_png, roc_png, files, seconds).write(out)
    return DemoResult(df, paths, seconds)


def llm_sentence(df: pd.DataFrame, settings: dict) -> str:
    """What the LLM step added, measured: its release against the one without it at the same epsilon."""
    extra = df[df["setting"] == WITH_LLM]
    if extra.empty:
        return "The LLM step was left out (`--llm-rows 0`)."
    row = extra.iloc[0]
    plain = df[(df["setting"] == "synthetic") & (df["epsilon"] == row["epsilon"])].iloc[0]
    gain = row["utility"] - plain["utility"]
    verdict = ("it earns its place here" if gain > 0.01 else
               "within noise of the release without it: on tables like this one the DP marginals alone carry "
               "the signal, which is why the default method for tables uses no LLM (docs/benchmarks.md)")
    return (f"LLM step: `{settings['model']}` wrote {settings['llm_rows']} candidate rows from the public schema "
            f"only (no privacy cost), which the marginals method weighs with the same DP measurements. At "
            f"epsilon={row['epsilon']:g}: utility {row['utility']:.3f} with them against {plain['utility']:.3f} "
            f"without ({gain:+.3f}); {verdict}. Where an LLM is the method — free-text columns — see "
            "docs/methods.md.")


def demo_report(df, settings, utility_png, roc_png, files, total) -> Report:
    """The report of :func:`run_demo`."""
    s = settings
    seed_note = ("`random_state=None`: noise from the AES-CTR CSPRNG" if s["seed"] is None else
                 f"seed {s['seed']}: reproducible, **not** secure noise")
    report = Report("sk-safesynth demo: DP synthetic census data (UCI Adult)")
    report.text(f"Fitted `DPSyntheticSampler(method=Marginals(inference={INFERENCE!r}))` (DP marginals, the method "
                f"for tables; closed-form inference takes seconds per epsilon) on {s['rows']} real Adult "
                f"training rows at each epsilon, sampled {s['rows']} synthetic rows, trained a `{s['estimator']}` "
                f"model on them and scored it (ROC AUC) on {s['test_rows']} real test rows (train on synthetic, "
                f"test on real). Then attacked each release with membership inference (`{s['attack']}`).")
    report.heading("Settings")
    budget = (f"epsilons {', '.join(f'{e:g}' for e in s['epsilons'])}, delta {s['delta']:g} per fit; the bounds "
              "and categories are the data set's public documentation (`ADULT_BOUNDS`, `ADULT_CATEGORIES`): "
              "no budget spent on them")
    report.bullets([budget, seed_note, f"total runtime {total:.0f} s"])
    report.heading("Results")
    report.table(results_table(df))
    report.text("`utility` is the test ROC AUC (the `real` row trains on the real rows: the ceiling; 0.5 is a "
                "constant model). `attack AUC` is the strongest attack with its 95% interval; 0.5 is guessing. "
                "`DP bound` is the best any attack could do for the privacy spent: an interval entirely above it "
                "would mean a bug. `TPR@1%FPR` is n/a with fewer than 100 attacked non-members.")
    report.text(llm_sentence(df, s))
    report.image(utility_png, "Epsilon against utility (ROC AUC, left axis) and attack AUC with its DP bound "
                              "(right axis)")
    report.image(roc_png, "Membership-inference ROC per release against the DP bound (dashed)")
    report.heading("Files")
    report.bullets([f"`{name}`: synthetic rows" for name in files] + [
        "`real_train.csv`, `real_test.csv`: the real rows used (members and non-members of the attack)",
        "`results.json`: every number above, plus the privacy ledger of each fit",
        "`privacy_utility.png`, `mia_roc.png`: the plots",
    ])
    report.text("Re-evaluate one release with `sk-safesynth evaluate real_train.csv real_test.csv "
                f"{next(f for f in files if 'llm' not in f)} --target income`.")
    return report
