"""The ``sk-safesynth`` command line: ``schema``, ``generate``, ``evaluate`` and ``demo``.

Errors are one line on stderr and a non-zero exit code (2 for bad arguments, 1 for
everything else); ``--debug`` shows the traceback instead. Messages name the CLI's
options (``--schema``, ``--kinds``), not Python arguments; each warning is shown once
per run. LLM responses are cached on disk by default, in the user cache directory
(:func:`default_cache_dir`); ``--no-cache`` turns that off.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import pandas as pd


from sk_safesynth import DPSyntheticSampler, MIAScorer, PrivacySpent, __version__
from sk_safesynth.schema import infer_schema
from sk_safesynth.synth.hints import INTERFACE
from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, ADULT_TARGET, load_adult
from sk_safesynth.evaluation import (
    Release,
    default_estimator,
    default_scoring,
    evaluate_release,
    privacy_utility_report,
    real_row,
)
from sk_safesynth.exceptions import LLMGenerationError, PrivacyBudgetExceeded
from sk_safesynth.llm import DEFAULT_MODEL
from sk_safesynth.report import (
    demo_report,
    evaluation_report,
    results_table,
    save_privacy_utility_plot,
    save_roc_plot,
    write_json,
)
from sk_safesynth.synth import METHODS, Marginals, auto_text_method

PROG = "sk-safesynth"
KINDS_CHOICES = ("numeric", "integer", "boolean", "categorical", "datetime", "text", "id")
# Above this epsilon a DP guarantee says little (e^20 is about 5e8).
_MEANINGLESS_EPSILON = 20.0
METHOD_CHOICES = ("auto", "marginals", "noisy_icl", "private_evolution")
ATTACK_CHOICES = ("dcr", "density", "classifier", "all")
ESTIMATOR_CHOICES = ("logreg", "hgb")
_START = time.perf_counter()


class CLIError(Exception):
    """A user error, shown as one line without a traceback."""


# ---------------------------------------------------------------- argument types
def _positive_float(text: str) -> float:
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _delta(text: str) -> float:
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def _epsilons(text: str) -> list[float]:
    values = [_positive_float(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError("give at least one epsilon, e.g. 0.3,1,3")
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _llm_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` of ``--llm-option``; VALUE is read as JSON when it parses (numbers, objects)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _seed(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer or 'none', got {text!r}") from None


def _kinds(text: str) -> dict[str, str]:
    """``COL=KIND,COL=KIND`` of ``--kinds``."""
    kinds = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, kind = part.rpartition("=")
        if not sep or not name.strip() or kind.strip() not in KINDS_CHOICES:
            raise argparse.ArgumentTypeError(f"expected COL=KIND with KIND one of {', '.join(KINDS_CHOICES)}, "
                                             f"got {part!r}")
        kinds[name.strip()] = kind.strip()
    if not kinds:
        raise argparse.ArgumentTypeError("give at least one COL=KIND")
    return kinds


def default_cache_dir() -> Path:
    """The CLI's LLM response cache: ``<user cache dir>/sk-safesynth/llm`` (platformdirs)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sk-safesynth")) / "llm"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------- input files
def read_csv(path: str | Path, *, as_text: bool = False) -> pd.DataFrame:
    """Read a UTF-8 CSV; string columns as object dtype.

    With ``as_text`` every cell is a string (blanks and ``NA`` are missing): the private
    table of ``generate``, whose kinds are declared or released with DP by the sampler,
    never guessed from the values by pandas (one blank would turn int64 into float64).
    """
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"file not found: {path}")
    try:
        frame = pd.read_csv(path, encoding="utf-8", dtype=str if as_text else None)
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path} is not UTF-8 text (invalid byte at position {exc.start}); "
                       "re-save it as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CLIError(f"cannot read {path} as CSV: {_first_line(exc)}") from None
    if frame.empty:
        raise CLIError(f"{path} has no data rows")
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:  # pandas would silently rename them to "a.1", ...
        raise CLIError(f"{path} has duplicate column names: {repeated}")
    # Object dtype for strings: the library infers categories from str values either way,
    # and mixed pandas string dtypes would otherwise count as different column kinds.
    strings = frame.select_dtypes(include=["object", "string"]).columns
    return frame.astype({c: object for c in strings})


def read_json(path: str | Path, what: str) -> dict:
    """A JSON object from ``path``; ``what`` names it in error messages."""
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"{what} file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CLIError(f"{what} file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CLIError(f"{what} file {path} is not valid JSON: {exc.msg} at line {exc.lineno} "
                       f"column {exc.colno}") from None
    if not isinstance(data, dict):
        raise CLIError(f"{what} file {path} must hold a JSON object {{column: ...}}")
    return data


def read_bounds(path: str | Path) -> dict[str, tuple[float, float]]:
    """``{"column": [low, high]}`` from a JSON file."""
    bounds = {}
    for column, value in read_json(path, "bounds").items():
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise CLIError(f"bounds file {path}: {column!r} must be [low, high] numbers, got {value!r}")
        bounds[column] = (value[0], value[1])
    return bounds


def read_categories(path: str | Path) -> dict[str, list[str]]:
    """``{"column": ["value", ...]}`` from a JSON file; values as strings (CSV cells are text)."""
    categories = {}
    for column, values in read_json(path, "categories").items():
        if not isinstance(values, list) or not values:
            raise CLIError(f"categories file {path}: {column!r} must be a non-empty list, got {values!r}")
        categories[column] = [str(v) for v in values]
    return categories


def read_schema(path: str | Path) -> dict:
    """A schema file written by ``sk-safesynth schema`` (and reviewed): the sampler's domain arguments.

    Categories are read as strings, like the CSV cells they must match.
    """
    data = read_json(path, "schema")
    allowed = {"kinds", "bounds", "categories", "missing", "target"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise CLIError(f"schema file {path}: unknown keys {unknown}; expected {sorted(allowed)}")
    out: dict = {"target": data.get("target")}
    for key in ("kinds", "bounds", "categories", "missing"):
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise CLIError(f"schema file {path}: {key!r} must be an object {{column: ...}}")
        out[key] = value
    bad_kinds = {c: k for c, k in out["kinds"].items() if k not in KINDS_CHOICES}
    if bad_kinds:
        raise CLIError(f"schema file {path}: unknown kinds {bad_kinds}; expected one of {', '.join(KINDS_CHOICES)}")
    for column, pair in out["bounds"].items():
        if not isinstance(pair, list) or len(pair) != 2 or not all(
                isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in pair):
            raise CLIError(f"schema file {path}: bounds of {column!r} must be [low, high], got {pair!r}")
        out["bounds"][column] = tuple(pair)
    for column, values in out["categories"].items():
        if not isinstance(values, list) or not values:
            raise CLIError(f"schema file {path}: categories of {column!r} must be a non-empty list, got {values!r}")
        out["categories"][column] = [str(v) for v in values]
    bad_missing = [c for c, v in out["missing"].items() if not isinstance(v, bool)]
    if bad_missing:
        raise CLIError(f"schema file {path}: missing of {bad_missing} must be true or false")
    return out


def _check_columns(frame: pd.DataFrame, path, names, what: str) -> None:
    unknown = [name for name in names if name not in frame.columns]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise CLIError(f"{what}{plural} {', '.join(map(repr, unknown))} not in {path} "
                       f"(its columns: {', '.join(map(str, frame.columns))})")


# ---------------------------------------------------------------- shared helpers
def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def progress(message: str) -> None:
    """A progress line on stderr, with the seconds since the command started."""
    print(f"[{time.perf_counter() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def _privacy_from_record(record: dict, path) -> PrivacySpent:

    spent = record.get("privacy_spent")
    if not isinstance(spent, dict) or "epsilon" not in spent or "delta" not in spent:
        raise CLIError(f"{path} has no privacy_spent {{epsilon, delta}}: is it a file written by generate?")
    epsilon = math.inf if spent["epsilon"] is None else float(spent["epsilon"])  # null: not DP (bounds="data")
    return PrivacySpent(epsilon, float(spent["delta"]), spent.get("mu"))


def _method(name: str, template: str | None):
    """The ``method`` argument of the sampler for ``--method`` and ``--template``."""
    if template is None:
        return name

    method = auto_text_method() if name == "auto" else METHODS[name][1]()
    if "template" not in method.get_params():
        raise CLIError(f"--template is for text tables; --method {name} does not write text under a header")
    # "\n" typed in a shell arrives as a backslash and an n
    return method.set_params(template=template.replace("\\n", "\n"))


# ---------------------------------------------------------------- commands
def cmd_schema(args) -> int:
    """Write a schema template read from a CSV, for the user to review and declare public."""
    frame = read_csv(args.data)
    if args.target:
        _check_columns(frame, args.data, [args.target], "target column")
    schema = infer_schema(frame, target=args.target)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json({"target": args.target, **schema}, out)
    ids = [c for c, k in schema["kinds"].items() if k == "id"]
    print(f"wrote the schema template of {len(frame.columns)} columns to {out}")
    if ids:
        print(f"identifier columns (kind id, regenerated as fresh identifiers at generate): {', '.join(ids)}")
    print("It is read from the data, so it is NOT private: review it (widen bounds to what is publicly known, "
          f"remove rare or identifying categories), then run: {PROG} generate {args.data} --schema {out} "
          f"{'--target ' + args.target + ' ' if args.target else ''}--out synth.csv")
    return 0


def cmd_generate(args) -> int:
    """Fit a DP sampler on a CSV and write synthetic rows plus a privacy record."""

    schema = read_schema(args.schema) if args.schema else {"kinds": {}, "bounds": {}, "categories": {},
                                                              "missing": {}, "target": None}
    if args.bounds == "data":  # the explicit opt-out of DP bounds: the release is then not DP
        bounds: dict | str | None = "data"
    else:
        bounds = {**schema["bounds"], **(read_bounds(args.bounds) if args.bounds else {})} or None
    categories = {**schema["categories"], **(read_categories(args.categories) if args.categories else {})} or None
    kinds = {**schema["kinds"], **(args.kinds or {})} or None
    missing = schema["missing"] or None
    target = args.target or schema["target"]
    frame = read_csv(args.data, as_text=True)
    if target:
        _check_columns(frame, args.data, [target], "target column")
    _check_columns(frame, args.data, list(bounds if isinstance(bounds, dict) else ()) + list(categories or ())
                   + list(kinds or ())
                   + list(missing or ()), "declared column")
    out = Path(args.out)
    record_path = Path(args.report_json or f"{out}.privacy.json")
    if args.seed is not None:
        progress(f"note: --seed {args.seed} makes the noise reproducible and NOT cryptographically secure")
    if args.epsilon > _MEANINGLESS_EPSILON:
        warnings.warn(f"--epsilon {args.epsilon:g} gives no meaningful privacy guarantee (above about "
                      f"{_MEANINGLESS_EPSILON:g}, e^epsilon is astronomically large); use 0.1 to 10", UserWarning,
                      stacklevel=2)
    cache_dir = None if args.no_cache else (args.cache_dir or str(default_cache_dir()))
    sampler = DPSyntheticSampler(
        llm=args.llm, epsilon=args.epsilon, delta=args.delta, method=_method(args.method, args.template),
        bounds=bounds, categories=categories, kinds=kinds, missing=missing, n_jobs=args.n_jobs,
        cache_dir=cache_dir, verbose=1, llm_kwargs=dict(args.llm_option) or None, random_state=args.seed,
        neighbours=args.neighbours,
    )
    X = frame.drop(columns=[target]) if target else frame
    y = frame[target] if target else None
    count_is_public = args.neighbours == "replace-one"

    progress(f"fitting method={args.method} at epsilon={args.epsilon:g}, delta={args.delta:g} "
             f"on {len(frame)} rows of {args.data}")
    start = time.perf_counter()
    sampler.fit(X, y)
    fit_seconds = time.perf_counter() - start
    classes = sampler.domain_.categories.get(target) if target else None
    if classes is not None and len(classes) < 2:
        warnings.warn(f"the target {target!r} has a single class in the release: a model trained on the "
                      "synthetic rows can only predict that class", UserWarning, stacklevel=2)
    # under add/remove the record count is private: the default is the method's noisy count
    n_rows = args.rows or (len(frame) if count_is_public else max(round(sampler.method_.n_records_), 1))
    progress(f"sampling {n_rows} rows with {args.llm} (post-processing: no privacy cost)"
             + (f"; LLM cache in {cache_dir}" if cache_dir else ""))
    start = time.perf_counter()
    synthetic = sampler.sample(n_rows)
    synthetic = synthetic[list(frame.columns)]
    sample_seconds = time.perf_counter() - start
    domain = sampler.domain_

    out.parent.mkdir(parents=True, exist_ok=True)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    synthetic.to_csv(out, index=False)
    spent = sampler.privacy_spent_
    write_json({
        "tool": f"{PROG} {__version__}", "input": str(args.data), "output": str(out),
        "n_rows_input": len(frame) if count_is_public else None, "n_rows_output": len(synthetic),
        "neighbours": args.neighbours, "target": target,
        "model": args.llm, "method": sampler.method_.name, "method_class": type(sampler.method_).__name__,
        "method_params": sampler.method_.get_params(),
        "budget": {"epsilon": args.epsilon, "delta": args.delta},
        "privacy_spent": spent.as_dict(), "differentially_private": math.isfinite(spent.epsilon),
        "ledger": sampler.ledger_.summary(),
        "random_state": args.seed, "secure_noise": args.seed is None,
        "declared": {"schema": args.schema,
                     "bounds": bounds if isinstance(bounds, str) else sorted(bounds or ()),
                     "categories": sorted(categories or ()),
                     "kinds": sorted(kinds or ()), "missing": sorted(missing or ())},
        "identifier_columns": domain.identifiers, "unreleased_columns": domain.unreleased,
        "schema": sampler.schema_.to_dict(),
        "timing_seconds": {"fit": fit_seconds, "sample": sample_seconds},
    }, record_path)
    print(f"wrote {len(synthetic)} synthetic rows to {out}"
          + (f" (fresh identifiers in: {', '.join(domain.identifiers)})" if domain.identifiers else ""))
    print(f"privacy spent: epsilon={spent.epsilon:.4g}, delta={spent.delta:.3g} (method {sampler.method_!r}); "
          f"record in {record_path}")
    return 0


def cmd_evaluate(args) -> int:
    """TSTR utility and membership attacks of a synthetic CSV against real train/test CSVs."""

    train, test, synthetic = (read_csv(p) for p in (args.train, args.test, args.synthetic))
    for frame, path in ((train, args.train), (test, args.test), (synthetic, args.synthetic)):
        _check_columns(frame, path, [args.target], "target column")
        _check_columns(frame, path, list(train.columns), "column")
    privacy_path = Path(args.privacy_json or f"{args.synthetic}.privacy.json")
    privacy = None
    if args.privacy_json or privacy_path.is_file():
        privacy = _privacy_from_record(read_json(privacy_path, "privacy record"), privacy_path)
        progress(f"DP bound from {privacy_path}: epsilon={privacy.epsilon:.4g}, delta={privacy.delta:.3g}")
    else:
        progress(f"no {privacy_path}: the attack is reported without a DP bound")
    test = test[train.columns]
    X_train, y_train = train.drop(columns=[args.target]), train[args.target]
    X_test, y_test = test.drop(columns=[args.target]), test[args.target]
    X_syn, y_syn = synthetic[train.columns].drop(columns=[args.target]), synthetic[args.target]
    scoring = args.scoring or default_scoring(y_train)
    model = default_estimator(args.estimator, scoring)

    progress(f"TSTR: {args.estimator} on {len(synthetic)} synthetic rows, scored ({scoring}) on {len(test)} real rows")
    baseline = real_row(model, X_train, y_train, X_test, y_test, scoring=scoring)
    progress(f"membership attack {args.attack!r}: members = {args.train}, non-members = {args.test}")
    row, result = evaluate_release(X_syn, y_syn, X_train, y_train, X_test, y_test, estimator=model, scoring=scoring,
                                   mia=MIAScorer(args.attack, random_state=args.seed), privacy=privacy)
    df = pd.DataFrame([baseline, row])

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    roc = save_roc_plot({Path(args.synthetic).name: result}, out / "mia_roc.png")
    write_json({"train": args.train, "test": args.test, "synthetic": args.synthetic, "target": args.target,
                "scoring": scoring, "estimator": args.estimator, "attack": args.attack,
                "privacy_spent": privacy.as_dict() if privacy else None,
                "results": df}, out / "results.json")
    report = evaluation_report(df, train=args.train, test=args.test, synthetic=args.synthetic,
                               n_rows={"train": len(train), "test": len(test), "synthetic": len(synthetic)},
                               estimator=args.estimator, scoring=scoring, attack=args.attack, privacy=privacy,
                               roc_png=roc)
    paths = report.write(out)
    print(results_table(df).to_string(index=False))
    print(f"report: {paths[0]} (and {paths[1].name}, results.json, mia_roc.png)")
    return 0


def demo_pool_size(rows: int) -> int:
    """LLM candidate rows of the demo: about rows / 5, within [20, 60].

    The embedded model writes about one to two Adult rows per second on 2 cores, and the
    marginals method also draws 20,000 candidates from the noisy 1-way marginals, so a
    small LLM pool keeps the demo at a few minutes without starving the method.
    """
    return min(60, max(20, rows // 5))


def _demo_method(name: str, pool_size: int):

    if name in ("auto", "marginals"):
        return Marginals(pool_size=pool_size)
    return METHODS[name][0]()


def cmd_demo(args) -> int:
    """Whole story offline on bundled Adult rows: fit, sample, TSTR, MIA, report."""


    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seed = args.seed
    test_rows = args.test_rows or max(2 * args.rows, 1000)
    train = load_adult("train", n_rows=args.rows, random_state=seed)
    test = load_adult("test", n_rows=test_rows, random_state=seed)
    train.to_csv(out / "real_train.csv", index=False)
    test.to_csv(out / "real_test.csv", index=False)
    pool_size = args.pool_size or demo_pool_size(args.rows)
    settings = {
        "rows": args.rows, "test_rows": test_rows, "epsilons": args.epsilons, "delta": args.delta,
        "method": args.method, "model": args.llm, "pool_size": pool_size, "attack": args.attack,
        "estimator": args.estimator, "scoring": "roc_auc", "seed": seed,
    }
    sampler = DPSyntheticSampler(
        llm=args.llm, delta=args.delta, method=_demo_method(args.method, pool_size), bounds=ADULT_BOUNDS,
        categories=ADULT_CATEGORIES, missing=False, cache_dir=args.cache_dir, verbose=1, random_state=seed,
    )
    progress(f"demo: {args.rows} Adult training rows, {test_rows} test rows, epsilons {args.epsilons}, "
             f"method={args.method}, {args.llm}")
    results, privacy, files = {}, {}, []

    def save(release: Release) -> None:
        path = out / f"synthetic_eps{release.epsilon:g}.csv"
        release.X.assign(**{ADULT_TARGET: release.y.to_numpy()})[list(train.columns)].to_csv(path, index=False)
        files.append(path.name)
        results[f"epsilon = {release.epsilon:g}"] = release.mia
        privacy[f"{release.epsilon:g}"] = {"spent": release.sampler.privacy_spent_.as_dict(),
                                           "ledger": release.sampler.ledger_.summary()}
        progress(f"[{len(files)}/{len(args.epsilons)}] epsilon={release.epsilon:g}: utility "
                 f"{release.row['utility']:.3f}, attack AUC {release.row['mia_auc']:.3f}")

    df = privacy_utility_report(
        sampler, default_estimator(args.estimator, "roc_auc"), train.drop(columns=[ADULT_TARGET]),
        train[ADULT_TARGET], test.drop(columns=[ADULT_TARGET]), test[ADULT_TARGET], args.epsilons,
        mia=MIAScorer(args.attack), n_samples=args.rows, random_state=seed or 0, on_release=save,
    )
    progress("writing plots and report")
    utility_png = save_privacy_utility_plot(df, out / "privacy_utility.png")
    roc_png = save_roc_plot(results, out / "mia_roc.png")
    total = time.perf_counter() - _START
    write_json({"settings": settings, "results": df, "privacy": privacy, "runtime_seconds": total,
                "files": files}, out / "results.json")
    report = demo_report(df, settings, utility_png, roc_png, files, total)
    paths = report.write(out)
    print(results_table(df).to_string(index=False))
    print(f"report: {paths[0]} (and {paths[1].name}); {total:.0f} s in all")
    return 0


# ---------------------------------------------------------------- parser and entry point
def build_parser() -> argparse.ArgumentParser:

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks instead of one-line errors")
    parser = _Parser(prog=PROG, parents=[common],
                     description="Differentially private synthetic data with LLMs (scikit-learn plugin).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sch = sub.add_parser("schema", parents=[common], help="write a schema template of a CSV to review",
                         description="Read kinds, bounds, categories and missing values from DATA.csv into a "
                                     "JSON template. It is read from the data: review it and keep only what is "
                                     "public, then pass it to generate --schema.")
    sch.add_argument("data", metavar="DATA.csv")
    sch.add_argument("--target", metavar="COL", help="target column (categorical when it has few values)")
    sch.add_argument("--out", required=True, metavar="SCHEMA.json", help="schema file to write")
    sch.set_defaults(func=cmd_schema)

    gen = sub.add_parser("generate", parents=[common], help="fit on a CSV and write DP synthetic rows",
                         description="Fit a DP synthesizer on DATA.csv and write synthetic rows and a JSON "
                                     "record of the privacy spent and the public schema.")
    gen.add_argument("data", metavar="DATA.csv")
    gen.add_argument("--epsilon", type=_positive_float, default=1.0, help="privacy budget (default 1)")
    gen.add_argument("--delta", type=_delta, default=1e-5, help="delta budget (default 1e-5)")
    gen.add_argument("--rows", type=_positive_int, help="synthetic rows (default: as many as DATA)")
    gen.add_argument("--out", required=True, metavar="SYNTH.csv", help="synthetic CSV to write")
    gen.add_argument("--report-json", metavar="PATH", help="privacy record (default: SYNTH.csv.privacy.json)")
    gen.add_argument("--target", metavar="COL", help="target column (synthesized jointly with the features)")
    gen.add_argument("--llm", default=DEFAULT_MODEL, metavar="MODEL",
                     help=f"litellm model string (default: the embedded {DEFAULT_MODEL})")
    gen.add_argument("--method", choices=METHOD_CHOICES, default="auto")
    gen.add_argument("--template", metavar="TEXT",
                     help='public header of each synthetic text, e.g. "BBC News > {label}\\n\\nHeadline:" '
                          "({column} placeholders for categorical columns)")
    gen.add_argument("--schema", metavar="SCHEMA.json",
                     help="reviewed, public schema (kinds, bounds, categories, missing) from sk-safesynth schema")
    gen.add_argument("--kinds", type=_kinds, metavar="COL=KIND,...",
                     help=f"column kinds, e.g. 'notes=text,day=datetime,user=id' ({', '.join(KINDS_CHOICES)})")
    gen.add_argument("--bounds", metavar="JSON", help='public bounds {"col": [low, high]} (else DP bounds); "data" reads '
                     "them from the data's min and max: NOT differentially private")
    gen.add_argument("--categories", metavar="JSON",
                     help='public categories {"col": ["a", "b"]} (else DP selection spends budget)')
    gen.add_argument("--neighbours", choices=("replace-one", "add/remove"), default="replace-one",
                     help="neighbouring relation of the guarantee (add/remove: the row count is private too; "
                          "needs a declared domain and the marginals method)")
    gen.add_argument("--seed", type=_seed, default=None,
                     help="reproducible noise, NOT secure (default: cryptographically secure)")
    gen.add_argument("--cache-dir", metavar="DIR",
                     help="LLM response cache directory (default: the user cache dir, sk-safesynth/llm)")
    gen.add_argument("--no-cache", action="store_true", help="do not cache LLM responses on disk")
    gen.add_argument("--n-jobs", type=int, metavar="J", help="parallel LLM calls (hosted models)")
    gen.add_argument("--llm-option", type=_llm_option, action="append", default=[], metavar="KEY=VALUE",
                     help="provider or client option, repeatable: api_base=http://host:8000/v1, "
                          "api_key=..., prompt_style=document, temperature=0.7 (see docs/llm.md)")
    gen.set_defaults(func=cmd_generate)

    ev = sub.add_parser("evaluate", parents=[common], help="TSTR utility and membership attacks of a synthetic CSV",
                        description="Train on synthetic, test on real, and attack the release (members = "
                                    "REAL_TRAIN, non-members = REAL_TEST).")
    ev.add_argument("train", metavar="REAL_TRAIN.csv")
    ev.add_argument("test", metavar="REAL_TEST.csv")
    ev.add_argument("synthetic", metavar="SYNTH.csv")
    ev.add_argument("--target", required=True, metavar="COL")
    ev.add_argument("--out", default="sksafesynth-report", metavar="DIR", help="report folder")
    ev.add_argument("--attack", choices=ATTACK_CHOICES, default="all")
    ev.add_argument("--estimator", choices=ESTIMATOR_CHOICES, default="logreg")
    ev.add_argument("--scoring", help="scikit-learn scorer (default: roc_auc, accuracy or r2 by target)")
    ev.add_argument("--privacy-json", metavar="PATH",
                    help="privacy record for the DP bound (default: SYNTH.csv.privacy.json when present)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the attacks (default 0)")
    ev.set_defaults(func=cmd_evaluate)

    demo = sub.add_parser("demo", parents=[common], help="the whole story offline on bundled UCI Adult data",
                          description="Fit at several epsilons on bundled Adult rows with the embedded model, "
                                      "sample, measure TSTR utility and membership attacks, write a report.")
    demo.add_argument("--rows", type=_positive_int, default=300, help="training rows (default 300)")
    demo.add_argument("--test-rows", type=_positive_int, help="real test rows (default max(2 x rows, 1000))")
    demo.add_argument("--epsilons", type=_epsilons, default=[0.3, 1.0, 3.0], help="comma-separated (default 0.3,1,3)")
    demo.add_argument("--delta", type=_delta, default=1e-5)
    demo.add_argument("--out", default="sksafesynth-demo", metavar="DIR", help="output folder")
    demo.add_argument("--llm", default=DEFAULT_MODEL, metavar="MODEL")
    demo.add_argument("--method", choices=METHOD_CHOICES, default="marginals")
    demo.add_argument("--pool-size", type=_positive_int,
                      help="LLM-written candidate rows, generated once (default clip(rows/5, 20, 60))")
    demo.add_argument("--attack", choices=ATTACK_CHOICES, default="all")
    demo.add_argument("--estimator", choices=ESTIMATOR_CHOICES, default="logreg")
    demo.add_argument("--cache-dir", metavar="DIR", help="LLM response cache (makes reruns fast)")
    demo.add_argument("--seed", type=_seed, default=0,
                      help="seed of data subsets, noise and attacks (default 0; 'none' = secure noise)")
    demo.set_defaults(func=cmd_demo)
    return parser


@contextmanager
def _one_line_warnings(debug: bool):
    """Show warnings as ``sk-safesynth: Category: message`` lines (full form with --debug)."""
    with warnings.catch_warnings():
        if not debug:
            warnings.filterwarnings("once", category=UserWarning)  # not once per epsilon or fold
            # notes of third-party libraries on import are not the user's business
            warnings.filterwarnings("ignore", module=r"(pydantic|litellm)(\.|$)")
            def show(message, category, filename, lineno, file=None, line=None):
                print(f"{PROG}: {category.__name__}: {_first_line(message)}", file=sys.stderr, flush=True)

            warnings.showwarning = show
        yield


def main(argv=None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    debug = getattr(args, "debug", False)
    try:
        token = INTERFACE.set("cli")  # messages name CLI options, not Python arguments
        try:
            with _one_line_warnings(debug):
                return args.func(args)
        finally:
            INTERFACE.reset(token)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        # What bad input, files and providers cause; anything else is a bug and says so.
        expected = isinstance(exc, (CLIError, ValueError, OSError, LLMGenerationError, PrivacyBudgetExceeded))
        hint = "" if expected else f" ({type(exc).__name__}; run with --debug for the traceback)"
        print(f"{PROG}: error: {_first_line(exc)}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
