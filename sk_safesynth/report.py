"""Reports of the command line: Markdown/HTML documents, JSON results and PNG plots.

The plots are the library's own (:func:`sk_safesynth.evaluation.plot_privacy_utility`
and :meth:`sk_safesynth.MIAResult.plot_roc`); this module only lays them out on
``matplotlib.figure.Figure`` objects (no pyplot state, no global backend switch: a
notebook keeps its inline plots), saves them and writes the documents around them.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _figure(**kwargs):
    """A figure outside pyplot: drawn and saved by its own Agg canvas, never shown, never global."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a matplotlib figure as PNG; one made by pyplot is closed (frees memory in long runs)."""
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    if getattr(fig.canvas, "manager", None) is not None:  # registered with pyplot
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def save_privacy_utility_plot(df: pd.DataFrame, path: str | Path) -> Path:
    """Epsilon against utility and attack AUC (:func:`plot_privacy_utility`) as a PNG.

    Parameters
    ----------
    df : DataFrame
        Rows shaped like :func:`~sk_safesynth.evaluation.privacy_utility_report`'s.
    path : str or Path
        PNG file to write.
    """
    from sk_safesynth.evaluation import plot_privacy_utility

    fig = _figure(figsize=(6, 4))
    plot_privacy_utility(df, ax=fig.add_subplot())
    return save_figure(fig, path)


def save_roc_plot(results: dict[str, Any], path: str | Path, *, log: bool = False) -> Path:
    """Measured ROC curves against the DP bound, one panel per release, as a PNG.

    Parameters
    ----------
    results : dict of str to MIAResult
        Panel title (e.g. ``"epsilon = 1"``) to the attack result.
    path : str or Path
        PNG file to write.
    log : bool, default=False
        Log-log axes (the low false-positive regime).
    """
    fig = _figure(figsize=(5 * len(results), 5))
    axes = fig.subplots(1, len(results), squeeze=False)
    for ax, (title, result) in zip(axes[0], results.items()):
        result.plot_roc(ax=ax, log=log)
        ax.set_title(f"{title}\n{ax.get_title()}", fontsize="medium")
    return save_figure(fig, path)


def jsonable(value: Any) -> Any:
    """``value`` with NumPy/pandas scalars as Python ones and NaN/inf as ``None``.

    JSON has no NaN; ``None`` (``null``) marks "not measured" (e.g. a TPR at an FPR
    level that needs more non-members than there were).
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return jsonable(value.to_dict(orient="records"))
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(data: Any, path: str | Path) -> Path:
    """Write :func:`jsonable` ``data`` as indented, strict JSON."""
    path = Path(path)
    path.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def format_number(value: Any, digits: int = 3) -> str:
    """Short text for a table cell: ``n/a`` for missing values, ``inf`` kept readable."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}" if value == 0 or abs(value) >= 0.01 else f"{value:.2g}"
    return str(value)


@dataclass
class Report:
    """A small document that renders to Markdown and to standalone HTML.

    Blocks are added in order; images are referenced by file name relative to the
    report, so the report folder can be moved or zipped as a whole.
    """

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str) -> Report:
        self.blocks.append(("heading", text))
        return self

    def text(self, text: str) -> Report:
        """A paragraph; ``code`` spans in backticks are kept in both formats."""
        self.blocks.append(("text", text))
        return self

    def bullets(self, items: Sequence[str]) -> Report:
        self.blocks.append(("bullets", list(items)))
        return self

    def table(self, df: pd.DataFrame) -> Report:
        """A table; cells are formatted with :func:`format_number`."""
        self.blocks.append(("table", df.astype(object).apply(lambda column: column.map(format_number))))
        return self

    def image(self, path: str | Path, caption: str) -> Report:
        self.blocks.append(("image", (Path(path).name, caption)))
        return self

    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "heading":
                out += [f"## {value}", ""]
            elif kind == "text":
                out += [value, ""]
            elif kind == "bullets":
                out += [f"- {item}" for item in value] + [""]
            elif kind == "table":
                out += [_markdown_row(value.columns), _markdown_row(["---"] * value.shape[1])]
                out += [_markdown_row(row) for row in value.itertuples(index=False)] + [""]
            else:
                name, caption = value
                out += [f"![{caption}]({name})", "", f"*{caption}*", ""]
        return "\n".join(out)

    def to_html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for kind, value in self.blocks:
            if kind == "heading":
                body.append(f"<h2>{html.escape(value)}</h2>")
            elif kind == "text":
                body.append(f"<p>{_inline_html(value)}</p>")
            elif kind == "bullets":
                body.append("<ul>" + "".join(f"<li>{_inline_html(item)}</li>" for item in value) + "</ul>")
            elif kind == "table":
                head = "".join(f"<th>{html.escape(str(c))}</th>" for c in value.columns)
                rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                               for row in value.itertuples(index=False))
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            else:
                name, caption = value
                body.append(f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}">'
                            f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        return _HTML_PAGE.format(title=html.escape(self.title), body="\n".join(body))

    def write(self, directory: str | Path, stem: str = "report") -> list[Path]:
        """Write ``<stem>.md`` and ``<stem>.html`` into ``directory``; return both paths."""
        directory = Path(directory)
        paths = [directory / f"{stem}.md", directory / f"{stem}.html"]
        paths[0].write_text(self.to_markdown(), encoding="utf-8")
        paths[1].write_text(self.to_html(), encoding="utf-8")
        return paths


def _markdown_row(cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _inline_html(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


_HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }}
img {{ max-width: 100%; }}
code {{ background: #f4f4f4; padding: 0 0.2rem; }}
</style></head>
<body>
{body}
</body></html>
"""


# ---------------------------------------------------------------- the command line's reports
RESULT_COLUMNS = {
    "setting": "setting", "epsilon_spent": "epsilon", "delta_spent": "delta", "utility": "utility",
    "mia_attack": "attack", "mia_auc": "attack AUC", "mia_auc_low": "AUC low", "mia_auc_high": "AUC high",
    "bound_auc": "DP bound AUC", "mia_advantage": "advantage", "bound_advantage": "DP bound adv.",
    "tpr_at_fpr_0.01": "TPR@1%FPR", "bound_tpr_at_fpr_0.01": "bound TPR@1%", "n_synthetic": "rows",
}


def results_table(df: pd.DataFrame) -> pd.DataFrame:
    """The columns worth reading, with short names."""
    columns = [c for c in RESULT_COLUMNS if c in df.columns]
    return df[columns].rename(columns=RESULT_COLUMNS)


def bound_sentence(privacy) -> str:
    """What the DP bound on the attack plots means for this release."""
    if privacy is None:
        return "No privacy record was given, so no DP bound is drawn."
    return (f"The release spent epsilon={privacy.epsilon:.3g}, delta={privacy.delta:.2g}: no attack can do "
            "better than the dashed DP bound; a measured AUC whose whole interval lies above it would mean a bug.")


def evaluation_report(df: pd.DataFrame, *, train: str, test: str, synthetic: str, n_rows: dict, estimator: str,
                      scoring: str, attack: str, privacy, roc_png: Path) -> Report:
    """The report of ``sk-safesynth evaluate``: TSTR against the real baseline, and the attack."""
    report = Report(f"sk-safesynth evaluation of {Path(synthetic).name}")
    report.text(f"Train on synthetic, test on real (TSTR): `{estimator}` trained on `{synthetic}` "
                f"({n_rows['synthetic']} rows) and, as the baseline, on `{train}` ({n_rows['train']} rows); "
                f"both scored with `{scoring}` on `{test}` ({n_rows['test']} rows).")
    report.text(f"Membership inference (`{attack}`): members are the real training rows, non-members "
                "the real test rows. " + bound_sentence(privacy))
    report.table(results_table(df)).image(roc_png, "Membership-inference ROC against the DP bound")
    return report
