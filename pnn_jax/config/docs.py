"""Each config key's documentation, read from the schema, and the resolved config printed with it.

The schema dataclasses document a field with a string literal right below it (the attribute
docstring convention that Sphinx and mkdocstrings read too); ``pnn-jax show`` prints each key's
value with the first sentence of that string.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import re
import textwrap
import typing

import yaml


@functools.cache
def field_docs(schema: type) -> dict[str, str]:
    """``{field: docstring}`` of a dataclass and its dataclass bases (a subclass's string wins)."""
    docs: dict[str, str] = {}
    for klass in reversed(schema.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):  # no source (e.g. built at runtime)
            continue
        body = tree.body[0].body
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = after.value.value
    return docs


def one_line(doc: str, limit: int = 110) -> str:
    """The first sentence of ``doc`` on one line, cut at ``limit`` characters."""
    text = " ".join(doc.split())
    match = re.match(r"(.+?[^\s.][.!?])(\s|$)", text)
    text = match.group(1).rstrip(".") if match else text
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def keys(schema: type, prefix: str = "") -> list[tuple[str, str | None]]:
    """``[(dotted key, one-line doc or None)]`` for every leaf key of ``schema``, in field order."""
    docs, hints, out = field_docs(schema), typing.get_type_hints(schema), []
    for f in dataclasses.fields(schema):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            out += keys(kind, f"{prefix}{f.name}.")
        else:
            out.append((f"{prefix}{f.name}", one_line(docs[f.name]) if f.name in docs else None))
    return out


def _value(v) -> str:
    return yaml.safe_dump(v, default_flow_style=True, width=10**6).strip().removesuffix("\n...").strip()


def render(cfg, width: int = 48) -> str:
    """``cfg`` (a schema instance) as YAML, every leaf key followed by ``# its documentation``;
    the text parses back (``yaml.safe_load``) to the config's values."""
    lines: list[str] = []

    def walk(node, indent: str) -> None:
        docs, plain = field_docs(type(node)), dataclasses.asdict(node)
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if dataclasses.is_dataclass(value):
                lines.append(f"{indent}{f.name}:")
                walk(value, indent + "  ")
                continue
            text = f"{indent}{f.name}: {_value(plain[f.name])}"
            doc = one_line(docs[f.name]) if f.name in docs else ""
            lines.append(f"{text:<{width}} # {doc}" if doc else text)

    walk(cfg, "")
    return "\n".join(lines) + "\n"
