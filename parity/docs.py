"""The README's generated sections: the blocks table (from `parity.SPECS`, deterministic) and the
results table (from a `parity report` run, machine-dependent).

Each section lives between two markers in the README, `<!-- parity:NAME -->` and
`<!-- /parity:NAME -->`; `write_section` replaces what is between them and nothing else.
`parity docs --readme README.md` rewrites the blocks table; `parity report --readme README.md`
rewrites the results table after a run.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from pathlib import Path

from parity.layout import get_layout
from parity.spec import ModuleSpec


def _default(value) -> str:
    if isinstance(value, type):
        module = value.__module__
        prefix = "nn." if module.startswith("torch.nn") else f"{module}."
        return f"{prefix}{value.__qualname__}"
    return repr(value)


def constructor(cls: type) -> str:
    """`Class(arg, arg=default, ...)` from the class's `__init__` signature."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    shown = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            shown.append(parameter.name)
        else:
            shown.append(f"{parameter.name}={_default(parameter.default)}")
    return f"{cls.__name__}({', '.join(shown)})"


def _constructor_cell(spec: ModuleSpec) -> str:
    """The torch constructor, plus the Keras defaults of the arguments that differ by design."""
    text = f"`{constructor(spec.torch_class)}`"
    if not spec.constructor_differences:
        return text
    keras_parameters = inspect.signature(spec.keras_class.__init__).parameters
    differing = ", ".join(
        f"`{name}={keras_parameters[name].default!r}`" for name in spec.constructor_differences
    )
    return f"{text}; Keras: {differing}"


def _paper(citation: str) -> str:
    text, _, url = citation.rpartition(", ")
    return f"[{text}]({url})" if url.startswith("http") else citation


def _layout_text(name: str) -> str:
    layout = get_layout(name)
    if layout.channels_first_to_last:
        return f"{layout.describe('torch')} -> {layout.describe('keras')}"
    return f"{layout.describe('torch')}, unchanged"


def _layouts(spec: ModuleSpec) -> str:
    text = _layout_text(spec.layout)
    if spec.resolved_output_layout != spec.layout:
        text += f" (output: {get_layout(spec.resolved_output_layout).describe('torch')})"
    for name, when in spec.case_layouts.items():
        text += f"; {when}: {_layout_text(name)}"
    return text


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def blocks_table(specs: Iterable[ModuleSpec]) -> str:
    """The README's blocks table: one row per spec, every cell derived from the spec."""
    lines = [
        "| block | paper | constructor (torch and Keras) | torch -> Keras layout | "
        "upstream quirks kept (each checked) | deviations from upstream |",
        "|---|---|---|---|---|---|",
    ]
    for spec in specs:
        quirks = "; ".join(quirk.name for quirk in spec.quirks) or "none"
        lines.append(
            "| "
            + " | ".join(
                _cell(cell)
                for cell in (
                    spec.name,
                    _paper(spec.paper),
                    _constructor_cell(spec),
                    _layouts(spec),
                    quirks,
                    spec.deviations_from_upstream,
                )
            )
            + " |"
        )
    return "\n".join(lines)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- parity:{name} -->", f"<!-- /parity:{name} -->"


def _find(text: str, name: str) -> re.Match:
    begin, end = _markers(name)
    match = re.search(re.escape(begin) + r"\n?(.*?)" + re.escape(end), text, flags=re.S)
    if match is None:
        raise ValueError(f"No section {name!r}: expected the markers {begin} ... {end}")
    return match


def read_section(text: str, name: str) -> str:
    """The content between the markers of section `name` (ValueError if they are missing)."""
    return _find(text, name).group(1).strip("\n")


def write_section(path: str | Path, name: str, content: str) -> bool:
    """Replace section `name` of the file at `path` with `content`; True when it changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    match = _find(text, name)
    begin, end = _markers(name)
    block = f"{begin}\n{content.strip()}\n{end}"
    updated = text[: match.start()] + block + text[match.end() :]
    path.write_text(updated, encoding="utf-8")
    return updated != text
