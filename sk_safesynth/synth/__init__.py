"""Generation methods of :class:`~sk_safesynth.DPSyntheticSampler` (one module each)."""

from __future__ import annotations

from sklearn.base import clone

from sk_safesynth.schema import TableSchema
from sk_safesynth.synth.base import FitContext, GenerationMethod
from sk_safesynth.synth.marginals import Marginals
from sk_safesynth.synth.noisy_icl import NoisyICL
from sk_safesynth.synth.private_evolution import PrivateEvolution
from sk_safesynth.synth.text_methods import TextNoisyICL, TextPrivateEvolution

#: Method names accepted as strings, and the class each means for tables and for text.
METHODS: dict[str, tuple[type[GenerationMethod], type[GenerationMethod]]] = {
    "marginals": (Marginals, Marginals),
    "noisy_icl": (NoisyICL, TextNoisyICL),
    "private_evolution": (PrivateEvolution, TextPrivateEvolution),
}


def auto_text_method() -> GenerationMethod:
    """The benchmark winner on text tables (docs/benchmarks.md, docs/methods.md)."""
    return TextPrivateEvolution(keywords=8)


def auto_method(schema: TableSchema) -> GenerationMethod:
    """The benchmark winner for this kind of table (docs/benchmarks.md, docs/methods.md)."""
    return auto_text_method() if is_text_table(schema) else Marginals()


def is_text_table(schema: TableSchema) -> bool:
    """One text column, every other column categorical or boolean: the text methods' tables."""
    kinds = [c.kind for c in schema]
    return kinds.count("text") == 1 and all(k in ("text", "categorical", "boolean") for k in kinds)


def resolve_method(method, schema: TableSchema) -> GenerationMethod:
    """An unfitted method object for ``method`` (a name or an object, which is cloned)."""
    if isinstance(method, GenerationMethod):
        return clone(method)
    if method == "auto":
        return auto_method(schema)
    for_tables, for_text = METHODS[method]
    return for_text() if is_text_table(schema) else for_tables()


def methods_supporting(capability: str) -> list[str]:
    """Names (keys of :data:`METHODS`) of the registered methods with a class that sets the
    boolean flag ``capability`` of :class:`GenerationMethod` (``"supports_partitioned"``, ...)."""
    return [name for name, classes in METHODS.items() if any(getattr(c, capability) for c in classes)]


def named_method(name: str, *, template: str | None = None):
    """The sampler's ``method`` for a method ``name`` ("auto" or a key of :data:`METHODS`), with
    ``template``, the public header of each synthetic text, for the text methods."""
    if template is None:
        return name
    method = auto_text_method() if name == "auto" else METHODS[name][1]()
    if "template" not in method.get_params():
        raise ValueError(f"a template is for text tables; method {name!r} does not write text under a header")
    return method.set_params(template=template)


__all__ = [
    "METHODS",
    "FitContext",
    "GenerationMethod",
    "Marginals",
    "NoisyICL",
    "PrivateEvolution",
    "TextNoisyICL",
    "TextPrivateEvolution",
    "auto_method",
    "auto_text_method",
    "is_text_table",
    "methods_supporting",
    "named_method",
    "resolve_method",
]
