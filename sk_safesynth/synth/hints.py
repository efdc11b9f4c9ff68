"""How to declare a domain, in the words of the interface in use (Python or CLI)."""

from __future__ import annotations

from contextvars import ContextVar

#: Which interface is in use ("python" or "cli"): messages name its options.
INTERFACE: ContextVar[str] = ContextVar("sk_safesynth_interface", default="python")


def declare_hint(what: str, columns) -> str:
    """How to declare ``what`` ("categories", "kinds", "bounds" or "schema") for ``columns``.

    In the language of the interface in use (:data:`INTERFACE`).
    """
    names = list(columns)
    if INTERFACE.get() == "cli":
        if what == "kinds":
            listed = ",".join(f"{n}=text" for n in names[:2])
            return (f"declare them in a schema file (sk-safesynth schema DATA.csv --out schema.json, review it, "
                    f"then generate --schema schema.json) or give their kinds, e.g. --kinds '{listed}'")
        if what == "missing":
            return ('declare "missing": {"COL": true} in a schema file (sk-safesynth schema) for those that '
                    "may be missing")
        return ("declare their " + ("bounds" if what == "bounds" else "categories") + " in a schema file: "
                "sk-safesynth schema DATA.csv --target COL --out schema.json, review it as public, then "
                "sk-safesynth generate DATA.csv --schema schema.json ...")
    example = ", ".join(f"{n!r}: [...]" for n in names[:3]) + (", ..." if len(names) > 3 else "")
    if what == "missing":
        example = ", ".join(f"{n!r}: True" for n in names[:3])
        return f"declare missing={{{example}}} for those that may be missing"
    if what == "kinds":
        example = ", ".join(f"{n!r}: 'text'" for n in names[:3])
        return f"declare kinds={{{example}}}, or write a schema with infer_schema(X) and review it"
    if what == "bounds":
        example = ", ".join(f"{n!r}: (low, high)" for n in names[:3])
        return f"declare bounds={{{example}}}"
    return (f"declare categories={{{example}}}, or write a schema with sk_safesynth.infer_schema(X), review "
            "it as public and pass DPSyntheticSampler(**schema)")
