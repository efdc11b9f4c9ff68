"""The ``sk-safesynth`` command line: ``schema``, ``generate``, ``evaluate``, ``demo`` and ``cache``.

Argument parsing and the calls into the library; files are read by
:mod:`sk_safesynth.files`, the privacy record is :mod:`sk_safesynth.privacy.record`,
the demo is :mod:`sk_safesynth.demo`. Errors are one line on stderr and a non-zero exit
code (2 for bad arguments, 1 for everything else); ``--debug`` shows the traceback
instead. Messages name the CLI's options (``--schema``, ``--kinds``), not Python
arguments; each warning is shown once per run. LLM responses are cached on disk by
default, in the user cache directory (``sk-safesynth cache info`` shows where);
``--no-cache`` turns that off.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from sk_safesynth import DPSyntheticSampler, MIAScorer, __version__
from sk_safesynth.demo import run_demo
from sk_safesynth.evaluation import default_estimator, default_scoring, evaluate_release, real_row
from sk_safesynth.exceptions import LLMGenerationError, PrivacyBudgetExceeded
from sk_safesynth.files import (
    DECLARED_KINDS,
    check_columns,
    first_line,
    read_bounds,
    read_categories,
    read_csv,
    read_json,
    read_schema,
)
from sk_safesynth.llm import DEFAULT_MODEL
from sk_safesynth.llm.cache import ResponseCache, default_cache_dir
from sk_safesynth.partitions import is_partitioned, open_partitioned
from sk_safesynth.privacy.record import privacy_from_record, release_record
from sk_safesynth.report import evaluation_report, results_table, save_roc_plot, write_json
from sk_safesynth.schema_template import infer_schema
from sk_safesynth.synth import METHODS, methods_supporting, named_method
from sk_safesynth.synth.hints import Hint

PROG = "sk-safesynth"
# Above this epsilon a DP guarantee says little (e^20 is about 5e8).
_MEANINGLESS_EPSILON = 20.0
METHOD_CHOICES = ("auto", *METHODS)
ATTACK_CHOICES = ("dcr", "density", "classifier", "all")
ESTIMATOR_CHOICES = ("logreg", "hgb")
_START = time.perf_counter()


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


def _at_least(low: int):
    """An argparse type: an integer >= ``low``."""

    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {text}")
        return value

    return integer


_positive_int, _count = _at_least(1), _at_least(0)


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
        if not sep or not name.strip() or kind.strip() not in DECLARED_KINDS:
            raise argparse.ArgumentTypeError(f"expected COL=KIND with KIND one of {', '.join(DECLARED_KINDS)}, "
                                             f"got {part!r}")
        kinds[name.strip()] = kind.strip()
    if not kinds:
        raise argparse.ArgumentTypeError("give at least one COL=KIND")
    return kinds


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def progress(message: str) -> None:
    """A progress line on stderr, with the seconds since the command started."""
    print(f"[{time.perf_counter() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def in_cli_terms(message) -> str:
    """A warning's or error's first line, with its declaration hints in the CLI's terms."""
    text = first_line(message)
    for hint in getattr(message, "hints", ()):
        text = text.replace(str(hint), _cli_hint(hint))
    return text


def _cli_hint(hint: Hint) -> str:
    if hint.what == "kinds":
        listed = ",".join(f"{n}=text" for n in hint.columns[:2])
        return (f"declare them in a schema file ({PROG} schema DATA.csv --out schema.json, review it, then generate "
                f"--schema schema.json) or give their kinds, e.g. --kinds '{listed}'")
    if hint.what == "missing":
        return f'declare "missing": {{"COL": true}} in a schema file ({PROG} schema) for those that may be missing'
    return (f"declare their {hint.what} in a schema file: {PROG} schema DATA.csv --target COL --out schema.json, "
            f"review it as public, then {PROG} generate DATA.csv --schema schema.json ...")


# ---------------------------------------------------------------- commands
def cmd_schema(args) -> int:
    """Write a schema template read from a CSV, for the user to review and declare public."""
    frame = read_csv(args.data)
    if args.target:
        check_columns(frame, args.data, [args.target], "target column")
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


def _declarations(args) -> dict:
    """The sampler's domain arguments from ``--schema``, ``--bounds``, ``--categories`` and ``--kinds``."""
    schema = read_schema(args.schema) if args.schema else {"kinds": {}, "bounds": {}, "categories": {},
                                                              "missing": {}, "target": None}
    if args.bounds == "data":  # the explicit opt-out of DP bounds: the release is then not DP
        bounds: dict | str | None = "data"
    else:
        bounds = {**schema["bounds"], **(read_bounds(args.bounds) if args.bounds else {})} or None
    return {"bounds": bounds,
            "categories": {**schema["categories"], **(read_categories(args.categories) if args.categories else {})}
            or None,
            "kinds": {**schema["kinds"], **(args.kinds or {})} or None, "missing": schema["missing"] or None,
            "target": args.target or schema["target"]}


def cmd_generate(args) -> int:
    """Fit a DP sampler on a CSV (or a partitioned table) and write synthetic rows plus a privacy record."""
    declared = _declarations(args)
    target = declared.pop("target")
    # a directory, parquet file or glob is counted partition by partition (dask); a CSV is read in memory
    partitioned = is_partitioned(args.data)
    frame = open_partitioned(args.data) if partitioned else read_csv(args.data, as_text=True)
    n_input = len(frame)
    if target:
        check_columns(frame, args.data, [target], "target column")
    check_columns(frame, args.data, [name for key, value in declared.items() if isinstance(value, dict)
                                     for name in value], "declared column")
    out = Path(args.out)
    to_parquet = args.out.endswith(("/", os.sep)) or out.is_dir()  # a directory: parquet files
    record_path = Path(args.report_json or f"{out}.privacy.json")
    if args.seed is not None:
        progress(f"note: --seed {args.seed} makes the noise reproducible and NOT cryptographically secure")
    if args.epsilon > _MEANINGLESS_EPSILON:
        warnings.warn(f"--epsilon {args.epsilon:g} gives no meaningful privacy guarantee (above about "
                      f"{_MEANINGLESS_EPSILON:g}, e^epsilon is astronomically large); use 0.1 to 10", UserWarning,
                      stacklevel=2)
    cache_dir = None if args.no_cache else (args.cache_dir or str(default_cache_dir()))
    template = None if args.template is None else args.template.replace("\\n", "\n")  # a typed \n is two chars
    sampler = DPSyntheticSampler(
        llm=args.llm, epsilon=args.epsilon, delta=args.delta, method=named_method(args.method, template=template),
        n_jobs=args.n_jobs, cache_dir=cache_dir, verbose=1, llm_kwargs=dict(args.llm_option) or None,
        random_state=args.seed, neighbours=args.neighbours, **declared,
    )
    X = frame.drop(columns=[target]) if target else frame
    y = frame[target] if target else None

    progress(f"fitting method={args.method} at epsilon={args.epsilon:g}, delta={args.delta:g} "
             f"on {n_input} rows of {args.data}" + (f" ({frame.npartitions} partitions)" if partitioned else ""))
    start = time.perf_counter()
    sampler.fit(X, y)
    fit_seconds = time.perf_counter() - start
    classes = sampler.domain_.categories.get(target) if target else None
    if classes is not None and len(classes) < 2:
        warnings.warn(f"the target {target!r} has a single class in the release: a model trained on the "
                      "synthetic rows can only predict that class", UserWarning, stacklevel=2)
    # under add/remove the record count is private: the default is the method's noisy count
    public_count = args.neighbours == "replace-one"
    n_rows = args.rows or (n_input if public_count else max(round(sampler.method_.n_records_), 1))
    progress(f"sampling {n_rows} rows with {args.llm} (post-processing: no privacy cost)"
             + (f"; LLM cache in {cache_dir}" if cache_dir else ""))
    start = time.perf_counter()
    record_path.parent.mkdir(parents=True, exist_ok=True)
    if to_parquet:
        files = sampler.sample_to_parquet(n_rows, out, rows_per_file=args.rows_per_file)
        written = f"{len(files)} parquet files in {out}"
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        sampler.sample(n_rows)[list(frame.columns)].to_csv(out, index=False)
        written = str(out)
    sample_seconds = time.perf_counter() - start
    write_json(release_record(
        sampler, n_rows_input=n_input, n_rows_output=n_rows, tool=f"{PROG} {__version__}",
        input=str(args.data), output=str(out), target=target,
        declared={"schema": args.schema, **{key: value if isinstance(value, str) else sorted(value or ())
                                            for key, value in declared.items()}},
        timing_seconds={"fit": fit_seconds, "sample": sample_seconds}), record_path)
    ids = sampler.domain_.identifiers
    spent = sampler.privacy_spent_
    print(f"wrote {n_rows} synthetic rows to {written}"
          + (f" (fresh identifiers in: {', '.join(ids)})" if ids else ""))
    print(f"privacy spent: epsilon={spent.epsilon:.4g}, delta={spent.delta:.3g} (method {sampler.method_!r}); "
          f"record in {record_path}")
    return 0


def cmd_evaluate(args) -> int:
    """TSTR utility and membership attacks of a synthetic CSV against real train/test CSVs."""
    train, test, synthetic = (read_csv(p) for p in (args.train, args.test, args.synthetic))
    for frame, path in ((train, args.train), (test, args.test), (synthetic, args.synthetic)):
        check_columns(frame, path, [args.target], "target column")
        check_columns(frame, path, list(train.columns), "column")
    privacy_path = Path(args.privacy_json or f"{args.synthetic}.privacy.json")
    privacy = None
    if args.privacy_json or privacy_path.is_file():
        privacy = privacy_from_record(read_json(privacy_path, "privacy record"), privacy_path)
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


def cmd_demo(args) -> int:
    """The whole story offline on bundled Adult rows: fit, sample, TSTR, MIA, report."""
    result = run_demo(args.out, rows=args.rows, test_rows=args.test_rows, epsilons=args.epsilons, delta=args.delta,
                      llm=args.llm, llm_rows=args.llm_rows, attack=args.attack, estimator=args.estimator,
                      cache_dir=args.cache_dir, seed=args.seed, progress=progress)
    print(results_table(result.results).to_string(index=False))
    print(f"report: {result.report[0]} (and {result.report[1].name}); {result.seconds:.0f} s in all")
    return 0


def cmd_cache(args) -> int:
    """Show or empty the LLM response cache."""
    cache = ResponseCache(args.cache_dir or default_cache_dir())
    if args.action == "clear":
        print(f"removed {cache.clear()} cached responses from {cache.root}")
        return 0
    info = cache.info()
    print(f"{info['path']}: {info['records']} cached responses, {info['bytes'] / 2**20:.1f} MiB "
          f"(bound {info['max_bytes'] / 2**20:.0f} MiB, least recently used out first)")
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
    gen.add_argument("data", metavar="DATA", help="a CSV file; or, for tables larger than memory (the dask extra), "
                     "a parquet file or directory or a glob of CSV files, counted partition by partition")
    gen.add_argument("--epsilon", type=_positive_float, default=1.0, help="privacy budget (default 1)")
    gen.add_argument("--delta", type=_delta, default=1e-5, help="delta budget (default 1e-5)")
    gen.add_argument("--rows", type=_positive_int, help="synthetic rows (default: as many as DATA)")
    gen.add_argument("--out", required=True, metavar="SYNTH.csv",
                     help="synthetic CSV to write; a directory (DIR/) gets parquet files instead, written a file at "
                          "a time")
    gen.add_argument("--rows-per-file", type=_positive_int, default=1_000_000,
                     help="rows per parquet file with --out DIR/ (default 1,000,000)")
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
                     help=f"column kinds, e.g. 'notes=text,day=datetime,user=id' ({', '.join(DECLARED_KINDS)})")
    gen.add_argument("--bounds", metavar="JSON", help='public bounds {"col": [low, high]} (else DP bounds); "data" reads '
                     "them from the data's min and max: NOT differentially private")
    gen.add_argument("--categories", metavar="JSON",
                     help='public categories {"col": ["a", "b"]} (else DP selection spends budget)')
    gen.add_argument("--neighbours", choices=("replace-one", "add/remove"), default="replace-one",
                     help="neighbouring relation of the guarantee (add/remove: the row count is private too; "
                          "needs a declared domain and method "
                          f"{' or '.join(methods_supporting('supports_add_remove'))})")
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
                          description="Fit at several epsilons on bundled Adult rows, sample, measure TSTR utility "
                                      "and membership attacks, measure what an LLM step (the embedded model) adds, "
                                      "write a report.")
    demo.add_argument("--rows", type=_positive_int, default=5000, help="training rows (default 5000)")
    demo.add_argument("--test-rows", type=_positive_int, help="real test rows (default max(rows, 1000))")
    demo.add_argument("--epsilons", type=_epsilons, default=[0.3, 1.0, 3.0], help="comma-separated (default 0.3,1,3)")
    demo.add_argument("--delta", type=_delta, default=1e-5)
    demo.add_argument("--out", default="sksafesynth-demo", metavar="DIR", help="output folder")
    demo.add_argument("--llm", default=DEFAULT_MODEL, metavar="MODEL", help="model of the LLM step")
    demo.add_argument("--llm-rows", type=_count, default=20,
                      help="candidate rows the LLM writes for one more release at the middle epsilon (default 20; "
                           "0: no LLM step)")
    demo.add_argument("--attack", choices=ATTACK_CHOICES, default="all")
    demo.add_argument("--estimator", choices=ESTIMATOR_CHOICES, default="logreg")
    demo.add_argument("--cache-dir", metavar="DIR", help="LLM response cache (makes reruns fast)")
    demo.add_argument("--seed", type=_seed, default=0,
                      help="seed of data subsets, noise and attacks (default 0; 'none' = secure noise)")
    demo.set_defaults(func=cmd_demo)

    cache = sub.add_parser("cache", parents=[common], help="show or empty the LLM response cache",
                           description="Where the LLM response cache is, how many responses it holds and its "
                                       "size (info), or remove them all (clear).")
    cache.add_argument("action", choices=("info", "clear"))
    cache.add_argument("--cache-dir", metavar="DIR", help="cache directory (default: the user cache dir, "
                                                          "sk-safesynth/llm, as generate uses)")
    cache.set_defaults(func=cmd_cache)
    return parser


@contextmanager
def _one_line_warnings(debug: bool):
    """Show each warning once per run as a ``sk-safesynth: Category: message`` line (full form with --debug)."""
    with warnings.catch_warnings():
        if not debug:
            # deduplicated below: "once" forgets what it showed whenever a library nests catch_warnings
            warnings.filterwarnings("always", category=UserWarning)
            # notes of third-party libraries on import are not the user's business
            warnings.filterwarnings("ignore", module=r"(pydantic|litellm)(\.|$)")
            shown: set[tuple[type, str]] = set()

            def show(message, category, filename, lineno, file=None, line=None):
                if (category, str(message)) not in shown:
                    shown.add((category, str(message)))
                    print(f"{PROG}: {category.__name__}: {in_cli_terms(message)}", file=sys.stderr, flush=True)

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
        with _one_line_warnings(debug):
            return args.func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        # What bad input, files and providers cause; anything else is a bug and says so.
        expected = isinstance(exc, (ValueError, OSError, LLMGenerationError, PrivacyBudgetExceeded))
        hint = "" if expected else f" ({type(exc).__name__}; run with --debug for the traceback)"
        print(f"{PROG}: error: {in_cli_terms(exc)}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
