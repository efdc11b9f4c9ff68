"""Mutation check of the privacy-critical modules: flip one operator, expect a test to fail.

Run: python scripts/mutation_check.py [--max 40] [--seed 0]

Each mutant changes one token of ``sk_safesynth/privacy/ledger.py`` or
``sk_safesynth/privacy/calibration.py`` (a comparison, an arithmetic operator, a
constant), runs the privacy tests against it and restores the file. A mutant that no
test catches *survived*: either the tests miss a plausible bug or the mutation is
equivalent (the script lists survivors for a person to judge). Prints a table and
writes bench/results/mutation.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["sk_safesynth/privacy/ledger.py", "sk_safesynth/privacy/calibration.py"]
TESTS = ["tests/test_privacy.py", "tests/test_audit.py", "tests/test_noisers.py", "tests/test_text.py"]
# (pattern, replacement): one occurrence at a time, in code lines only
MUTATIONS = [
    (r"<=", "<"), (r">=", ">"), (r"(?<![<>=!])<(?![<=])", "<="), (r"(?<![<>=!-])>(?![>=])", ">="),
    (r"(?<![*/])\*(?![*/=])", "/"), (r"(?<=\s)\+(?=\s)", "-"), (r"(?<=\s)-(?=\s)", "+"),
    (r"math\.sqrt\(", "("), (r"\b2\b", "3"), (r"\bmin\(", "max("), (r"\bmax\(", "min("),
]


def candidates(path: Path) -> list[tuple[int, int, int, str]]:
    """(line, start, end, replacement) for every mutable token outside comments and docstrings."""
    out, in_doc = [], False
    for number, line in enumerate(path.read_text().splitlines()):
        stripped = line.strip()
        if stripped.count('"""') == 1:
            in_doc = not in_doc
            continue
        if in_doc or stripped.startswith("#") or '"""' in stripped or stripped.startswith(("import", "from")):
            continue
        code = line.split("#", 1)[0]
        code = re.sub(r'f?"[^"]*"', lambda m: " " * len(m.group(0)), code)  # leave strings alone
        for pattern, replacement in MUTATIONS:
            for match in re.finditer(pattern, code):
                out.append((number, match.start(), match.end(), replacement))
    return out


def run_tests(timeout: float) -> bool:
    """True when the tests fail (the mutant is killed)."""
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:warnings", "-m", "not slow",
                                 *TESTS], cwd=ROOT, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return True  # a mutant that hangs the tests is caught too
    return result.returncode != 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max", type=int, default=40, help="mutants to try (a seeded sample)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    pool = [(target, *c) for target in TARGETS for c in candidates(ROOT / target)]
    random.Random(args.seed).shuffle(pool)
    results = []
    for target, number, start, end, replacement in pool[: args.max]:
        path = ROOT / target
        original = path.read_text()
        lines = original.splitlines(keepends=True)
        line = lines[number]
        lines[number] = line[:start] + replacement + line[end:]
        began = time.perf_counter()
        try:
            path.write_text("".join(lines))
            killed = run_tests(args.timeout)
        finally:
            path.write_text(original)
        results.append({"file": target, "line": number + 1, "from": line[start:end], "to": replacement,
                        "code": line.strip()[:90], "killed": killed, "seconds": round(time.perf_counter() - began, 1)})
        print(("killed   " if killed else "SURVIVED ") + f"{target}:{number + 1}: {line.strip()[:80]}  "
              f"[{line[start:end]} -> {replacement}]", flush=True)
        write(results)  # after every mutant: an interrupted run still reports what it tried
    killed = sum(r["killed"] for r in results)
    print(f"\nmutation score: {killed}/{len(results)} killed ({killed / max(len(results), 1):.0%})")


def write(results: list[dict]) -> None:
    out = ROOT / "bench" / "results" / "mutation.json"
    killed = sum(r["killed"] for r in results)
    out.write_text(json.dumps({"tests": TESTS, "targets": TARGETS, "killed": killed, "total": len(results),
                               "results": results}, indent=2))


if __name__ == "__main__":
    main()
