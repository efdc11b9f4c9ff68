"""Markdown tables for docs/benchmarks.md from the JSON results of the benches.

Run: python bench/tables.py            (print every table)
     python bench/tables.py --update    (rewrite the tables between the
                                         <!-- table:NAME --> ... <!-- /table --> markers
                                         of docs/benchmarks.md and docs/hardening.md)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from _common import RESULTS


def markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def mean_std(values: pd.Series) -> str:
    values = values.astype(float).dropna()
    if values.empty:
        return "n/a"
    return f"{values.mean():.3f} ± {values.std(ddof=0):.3f}"


FIDELITY = {"tvd_features": "2-way TVD (features)", "tvd_all": "2-way TVD (all)",
            "tvd_3way_target": "3-way TVD (with target)", "edu_agreement": "education ↔ education-num"}


def adult() -> str:
    records = []
    for name in ("utility_adult", "utility_smartnoise"):
        path = RESULTS / f"{name}.json"
        if path.exists():
            records += json.loads(path.read_text())["records"]
    frame = pd.DataFrame(records)
    rows = []
    for (method, epsilon), group in frame.groupby(["method", "epsilon"], sort=False):
        rows.append({
            "method": method, "ε": epsilon, "seeds": len(group), "synthetic rows": int(group["n_synthetic"].iloc[0]),
            "GB ROC-AUC": mean_std(group["gb_auc"]), "LR ROC-AUC": mean_std(group["lr_auc"]),
            "GB accuracy": mean_std(group["gb_acc"]),
            **{label: mean_std(group[key]) if key in group else "n/a" for key, label in FIDELITY.items()},
            "DCR MIA AUC": mean_std(group["mia_auc"]) if "mia_auc" in group else "n/a",
            "MIA TPR@1%FPR": mean_std(group["mia_tpr_at_1pct"]) if "mia_tpr_at_1pct" in group else "n/a",
            "bound TPR@1%FPR": mean_std(group["bound_tpr_at_1pct"]) if "bound_tpr_at_1pct" in group else "n/a",
            "seconds": f"{group['seconds'].astype(float).mean():.1f}",
        })
    order = {"real": 0, "independent": 1, "smartnoise_mst": 2, "smartnoise_aim": 3, "marginals_nollm": 4,
             "marginals_tree": 4.5, "marginals_coarse": 4.7, "marginals": 5, "marginals_pool": 5.5, "noisy_icl": 6,
             "private_evolution": 7}
    table = pd.DataFrame(rows).sort_values(["method", "ε"], key=lambda c: c.map(order) if c.name == "method" else c)
    return markdown(table)


def simple(name: str, key: str) -> str:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return f"(no {name}.json yet)"
    data = json.loads(path.read_text())[key]
    return markdown(pd.DataFrame(data).round(4))


NEWS_METHODS = {
    "real": "real data (train split)",
    "label-only": "label-only header, no privacy (zero-privacy prompt)",
    "pe": "TextPrivateEvolution",
    "pe_kw": "TextPrivateEvolution(keywords=8)",
    "icl": "TextNoisyICL",
    "icl_kw": "TextNoisyICL(keywords=8)",
}


def news() -> str:
    """BBC TSTR accuracy per method and epsilon, over every news*.json run of this version."""
    records = []
    for path in sorted(RESULTS.glob("news*.json")):
        if path.name != "news_throughput.json":
            data = json.loads(path.read_text())
            # runs before --max-tokens existed wrote 100-token articles
            # runs before --rounds and --temperature existed used 2 rounds at temperature 1.0
            records += [{"max_tokens": data.get("max_tokens", 100), "population": data.get("population", 200),
                         "rounds": data.get("rounds", 2), "temperature": data.get("temperature", 1.0), **r}
                        for r in data["results"]]
    frame = pd.DataFrame([r for r in records if r["method"] in NEWS_METHODS])
    if frame.empty:
        return "(no news results yet)"
    baseline = frame["method"].isin(["real", "label-only"])
    frame["max_tokens"] = frame["max_tokens"].astype(object).where(frame["method"] != "real", "-")
    frame["population"] = frame["population"].astype(object).where(~baseline, "-")
    frame["rounds"] = frame["rounds"].astype(object).where(~baseline & frame["method"].str.startswith("pe"), "-")
    frame["temperature"] = frame["temperature"].astype(object).where(frame["method"] != "real", "-")
    # runs before reuse_population existed wrote every sampled article anew
    reused = frame.get("reuse_population", pd.Series(False, index=frame.index)).fillna(False).astype(bool)
    frame["reused"] = np.where(baseline, "-", np.where(reused, "yes", "no"))
    # runs before the version was recorded: 0.4 introduced reuse_population
    recorded = frame.get("version", pd.Series(None, index=frame.index)).map(
        lambda v: ".".join(v.split(".")[:2]) if isinstance(v, str) else None)
    frame["version"] = np.where(baseline, "-", recorded.fillna(pd.Series(np.where(reused, "0.4", "0.3"),
                                                                          index=frame.index)))
    keys = ["version", "method", "epsilon", "population", "rounds", "temperature", "n_train", "max_tokens", "reused"]
    frame = frame.drop_duplicates([*keys, "seed"], keep="last")
    rows = []
    for (version, method, epsilon, population, rounds, temperature, n_train, tokens, reuse), group in frame.groupby(
            keys, sort=False):
        seconds = group["seconds"].astype(float)
        rows.append({
            "method": NEWS_METHODS[method], "version": version, "ε": epsilon, "seeds": len(group),
            "public population": population, "vote rounds": rounds, "temperature": temperature,
            "synthetic articles": int(n_train), "tokens per article": tokens,
            "fit's population reused": reuse,
            "accuracy": mean_std(group["accuracy"]) if len(group) > 1 else f"{group['accuracy'].iloc[0]:.3f}",
            "ε spent": group["spent_epsilon"].iloc[0] if "spent_epsilon" in group else "",
            "minutes per run": round(seconds.mean() / 60, 1),
        })
    order = {name: i for i, name in enumerate(NEWS_METHODS.values())}
    table = pd.DataFrame(rows).astype(object).fillna("")
    table["key"] = table["method"].map(order)
    return markdown(table.sort_values(["key", "ε", "version", "synthetic articles"], key=lambda c: c.astype(str))
                    .drop(columns="key"))


def mutation() -> str:
    path = RESULTS / "mutation.json"
    if not path.exists():
        return "(no mutation.json yet)"
    data = json.loads(path.read_text())
    survivors = [r for r in data["results"] if not r["killed"]]
    lines = [f"**{data['killed']} of {data['total']} mutants killed** "
             f"({data['killed'] / max(data['total'], 1):.0%}). Survivors:", ""]
    lines += [f"- `{r['file']}:{r['line']}` `{r['from']}` → `{r['to']}` in `{r['code']}`" for r in survivors]
    return "\n".join(lines if survivors else lines[:1])


def ablation() -> str:
    """bench_ablation.py: TSTR and TVD per ε when steps of the marginals method lose their noise."""
    path = RESULTS / "ablation_adult.json"
    if not path.exists():
        return "(no ablation_adult.json yet)"
    from bench_ablation import ROWS

    frame = pd.DataFrame(json.loads(path.read_text())["records"])
    frame["order"] = frame["row"].map({name: i for i, name in enumerate(ROWS)})
    rows = []
    for (epsilon, _, name), group in frame.groupby(["epsilon", "order", "row"]):
        rows.append({"ε": epsilon, "what is exact (not DP)": name, "seeds": len(group),
                     "GB ROC-AUC": mean_std(group["gb_auc"]), "LR ROC-AUC": mean_std(group["lr_auc"]),
                     **{FIDELITY[key]: mean_std(group[key]) for key in ("tvd_features", "tvd_3way_target")}})
    return markdown(pd.DataFrame(rows))


def small_tables() -> str:
    from bench_small_tables import summary

    records = []
    for name in ("small_tables", "small_tables_aim"):
        path = RESULTS / f"{name}.json"
        if path.exists():
            records += json.loads(path.read_text())["records"]
    return markdown(pd.DataFrame(summary(records))) if records else ""


SENTIMENT_METHODS = {
    "majority": "majority class", "real": "real tweets", "zero-privacy": "label-only header, no privacy (zero-privacy)",
    "pe": "TextPrivateEvolution (hashed-word votes)", "pe_model": "TextPrivateEvolution(embedding='model')",
    "pe_model_kw": "TextPrivateEvolution(embedding='model', keywords=4)", "pe_kw": "TextPrivateEvolution(keywords=4)",
    "icl_model": "TextNoisyICL(embedding='model')", "icl": "TextNoisyICL (hashed-word votes)",
    "auto": "default fit: method='auto', no template (header chosen by DP vote)",
}


def sentiment() -> str:
    """Tweet-sentiment TSTR accuracy per method, epsilon and size, over every sentiment_*.json run."""
    records = []
    for path in sorted(RESULTS.glob("sentiment_*.json")):
        if path.name != "sentiment_baselines.json":
            run = json.loads(path.read_text())
            # a default fit records the header its DP vote chose
            records += [{"template": run.get("template", "-"), **r} for r in run["results"]]
    frame = pd.DataFrame([r for r in records if r["method"] in SENTIMENT_METHODS])
    if frame.empty:
        return "(no sentiment results yet)"
    # Majority and real rows do not depend on the template: one row each.
    frame.loc[frame["method"].isin(["majority", "real"]), "template"] = "-"
    frame = frame.drop_duplicates(["template", "method", "epsilon", "n_train", "seed"], keep="last")
    rows = []
    for (template, method, epsilon, n_train), group in frame.groupby(["template", "method", "epsilon", "n_train"],
                                                                      sort=False):
        seconds = group["seconds"].astype(float) if "seconds" in group else pd.Series(dtype=float)
        rows.append({
            "method": SENTIMENT_METHODS[method], "header": "-" if template == "-" else f"`{template!r}`",
            "ε": epsilon, "texts": int(n_train), "seeds": len(group),
            "accuracy": mean_std(group["accuracy"]) if len(group) > 1 else f"{group['accuracy'].iloc[0]:.3f}",
            "per seed": " ".join(f"{a:.3f}" for a in group["accuracy"]),
            "minutes per run": round(seconds.mean() / 60, 1) if seconds.notna().any() else "-",
        })
    order = {name: i for i, name in enumerate(SENTIMENT_METHODS.values())}
    table = pd.DataFrame(rows)
    table["key"] = table["method"].map(order)
    return markdown(table.sort_values(["key", "header", "ε", "texts"], key=lambda c: c.astype(str)).drop(columns="key"))


def tables() -> dict[str, str]:
    return {
        "adult": adult(),
        "small_tables": small_tables(),
        "scaling_5000x20": simple("scaling_5000x20", "results"),
        "ablation": ablation(),
        "noise": simple("noise", "results"),
        "scaling": simple("scaling", "results"),
        "mia": simple("mia", "results"),
        "news": news(),
        "news_throughput": simple("news_throughput", "results"),
        "sentiment": sentiment(),
        "mutation": mutation(),
        "cost": simple("cost", "per_thousand_rows"),
        "grid": simple("cost", "grid_search"),
    }


def update(doc: Path) -> None:
    text = doc.read_text()
    for name, table in tables().items():
        # the body between the markers may be empty; never match across another table
        pattern = re.compile(rf"(<!-- table:{name} -->\n)(?:(?!<!-- table:).)*?(<!-- /table -->)", re.S)
        text = pattern.sub(lambda m, table=table: m.group(1) + table + "\n" + m.group(2), text)
    doc.write_text(text)


if __name__ == "__main__":
    if "--update" in sys.argv:
        for doc in ("benchmarks.md", "hardening.md"):
            update(Path(__file__).resolve().parents[1] / "docs" / doc)
    else:
        for name, table in tables().items():
            print(f"## {name}\n\n{table}\n")
