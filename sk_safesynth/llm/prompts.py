"""Prompts that ask an LLM for table rows or texts, and strict parsing of its answers.

Two styles (``LLMClient(prompt_style=...)``):

- **chat** (hosted chat models): a system message says what to do; the user message
  gives the public schema, the (DP-protected or public) examples and the request; the
  answer is ``{"rows": [...]}`` under a JSON schema.
- **document** (base and text-completion models, the embedded one included): a
  document the model continues. Rows are JSON lines under a header that describes the
  columns, after the demonstrations; each completion choice writes the next line (one
  row), cut at the newline and constrained by the row's JSON schema where the provider
  supports it. A base model continues a document well; asked a question, it drifts.

Rows travel as JSON arrays in column order inside ``{"rows": [...]}``. Measured on
Gemma 3 270M with grammar-constrained decoding, a 5-column Adult-like row costs about
24 tokens as an array against about 65 as a JSON object (keys are decoded token by
token even when the grammar forces them), and CSV without a grammar produced invalid
categories and bounds; arrays keep JSON's unambiguous quoting for free text.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from sk_safesynth.schema import RowValidationError, TableSchema

#: System message of a document continued by a chat model.
DOCUMENT_INSTRUCTION = (
    "Continue the document below. Answer with the continuation only: no title, no "
    "commentary, no repetition of the document."
)

SYSTEM_PROMPT = (
    "You write realistic synthetic rows for a data table. Every value must follow its "
    "column definition. Answer with JSON only."
)


def row_schema(schema: TableSchema) -> dict:
    """JSON schema of one row: an array of the column values in schema order."""
    items = [column.json_schema() for column in schema]
    return {"type": "array", "prefixItems": items, "items": False,
            "minItems": len(items), "maxItems": len(items)}


def rows_schema(schema: TableSchema, n_rows: int) -> dict:
    """JSON schema of an answer: ``{"rows": [row, ...]}`` with exactly ``n_rows`` rows."""
    return {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": row_schema(schema), "minItems": n_rows, "maxItems": n_rows},
        },
        "required": ["rows"],
        "additionalProperties": False,
    }


def response_format(schema: TableSchema, n_rows: int) -> dict:
    """OpenAI-style ``response_format`` for :func:`rows_schema` (non-strict: tuples are
    outside OpenAI's strict subset, and the answer is validated here anyway)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "rows", "schema": rows_schema(schema, n_rows), "strict": False},
    }


def row_response_format(schema: TableSchema) -> dict:
    """``response_format`` for one row (a JSON array), for document-style calls."""
    return {"type": "json_schema", "json_schema": {"name": "row", "schema": row_schema(schema), "strict": False}}


def build_document(schema: TableSchema, examples: pd.DataFrame | None, hint: str = "") -> str:
    """A JSON-lines document whose next line is a new row (document style).

    The header lists the public column definitions; ``hint`` becomes a comment line;
    ``examples`` (DP-protected or public, by the caller's guarantee) are the lines
    before the one the model writes.
    """
    lines = ["# Data table. Columns:"]
    lines += [f"#   {column.describe()}" for column in schema]
    lines.append("# One row per line, a JSON array in this column order: " + json.dumps(schema.names))
    if hint:
        lines.append("# " + hint.strip())
    if examples is not None and len(examples):
        lines += [json.dumps([_jsonable(v) for v in record], separators=(",", ":"))
                  for record in examples[schema.names].itertuples(index=False)]
    return "\n".join(lines) + "\n"


def build_messages(schema: TableSchema, examples: pd.DataFrame | None, n_rows: int, hint: str = "") -> list[dict]:
    """Chat messages asking for ``n_rows`` new rows.

    Only the public schema, ``examples`` (which the caller guarantees are DP-protected
    or public) and ``hint`` enter the prompt.
    """
    lines = ["Table columns, in order:"]
    lines += [f"- {column.describe()}" for column in schema]
    lines.append("")
    lines.append("Each row is a JSON array of the column values in this order: " + json.dumps(schema.names))
    if hint:
        lines += ["", hint.strip()]
    if examples is not None and len(examples):
        lines += ["", "Example rows:", format_rows(schema, examples)]
        request = f"Write {n_rows} new rows in the same format, different from the examples."
    else:
        request = f"Write {n_rows} rows."
    lines += ["", request + f' Answer with {{"rows": [...]}} holding exactly {n_rows} rows.']
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]


def format_rows(schema: TableSchema, frame: pd.DataFrame) -> str:
    """Rows of ``frame`` as the answer format, one row per line."""
    rows = [json.dumps([_jsonable(value) for value in record], separators=(",", ":"))
            for record in frame[schema.names].itertuples(index=False)]
    return '{"rows":[' + ",\n".join(rows) + "]}"


def prompt_text(messages: list[dict]) -> str:
    """All the text of ``messages`` (what a provider receives), for audits."""
    return "\n\n".join(str(message.get("content", "")) for message in messages)


def parse_rows(text: str, schema: TableSchema) -> tuple[list[dict], list[str]]:
    """Valid rows found in an answer, and one error message per rejected row.

    Accepts ``{"rows": [...]}``, a bare list, JSON lines, and CSV lines (with or
    without a header); rows are arrays in column order or objects keyed by column.
    Every row is validated by the schema; nothing is repaired beyond its conversions.
    """
    candidates = _candidate_rows(text, schema)
    if candidates is None:
        return [], ["answer is not JSON or CSV rows: " + _excerpt(text)]
    rows, errors = [], []
    for candidate in candidates:
        try:
            rows.append(schema.validate_row(_as_mapping(candidate, schema)))
        except RowValidationError as exc:
            errors.append(str(exc))
    return rows, errors


def summarize_errors(errors: list[str], top: int = 3) -> str:
    """The most common validation errors, for error messages."""
    if not errors:
        return "no validation errors"
    counts = Counter(_error_kind(error) for error in errors)
    return "; ".join(f"{kind} ({count}x)" for kind, count in counts.most_common(top))


def _error_kind(error: str) -> str:
    # "age: 300 above 90" and "age: 120 above 90" are the same kind of error.
    return re.sub(r"-?\d+(\.\d+)?(e[+-]?\d+)?", "N", error)[:120]


def _candidate_rows(text: str, schema: TableSchema) -> list | None:
    text = _strip_fences(text)
    value = _first_json_value(text)
    if isinstance(value, dict) and isinstance(value.get("rows"), list):
        return value["rows"]
    if isinstance(value, list) and all(isinstance(item, (list, dict)) for item in value):
        return value
    lines = [line.strip().rstrip(",") for line in text.splitlines() if line.strip()]
    json_lines = []
    for line in lines:
        try:
            json_lines.append(json.loads(line))
        except ValueError:
            break
    else:
        if json_lines and all(isinstance(item, (list, dict)) for item in json_lines):
            return json_lines
    return _csv_rows(lines, schema)


def _csv_rows(lines: list[str], schema: TableSchema) -> list | None:
    if not lines:
        return None
    rows = list(csv.reader(io.StringIO("\n".join(lines)), skipinitialspace=True))
    if [cell.strip() for cell in rows[0]] == schema.names:
        rows = rows[1:]
    rows = [row for row in rows if len(row) == len(schema)]
    return rows or None


def _first_json_value(text: str) -> Any:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            return decoder.raw_decode(text, match.start())[0]
        except ValueError:
            continue
    return None


def _strip_fences(text: str) -> str:
    fenced = re.search(r"```(?:json|csv)?\s*\n(.*?)```", text, re.DOTALL)
    return fenced.group(1) if fenced else text


def _as_mapping(candidate, schema: TableSchema) -> dict:
    if isinstance(candidate, dict):
        return candidate
    if isinstance(candidate, (list, tuple)):
        if len(candidate) != len(schema):
            raise RowValidationError(f"row has {len(candidate)} values, expected {len(schema)}")
        return dict(zip(schema.names, candidate))
    raise RowValidationError(f"row is a {type(candidate).__name__}, not an array or object")


def _jsonable(value):
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT or value is None:
        return None
    return value


def _excerpt(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")
