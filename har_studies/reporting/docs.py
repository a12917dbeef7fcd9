"""Render the generated blocks (``<!-- BEGIN name -->`` ... ``<!-- END name -->``) of README.md,
``docs/*.md`` and the model cards (``docs/model_cards/*.md``): :data:`BLOCKS` maps each name to
its renderer. ``har readme`` rewrites the files whose blocks changed; ``--check`` only lists them
(exit 1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

from har_utils import config

from . import blocks, model_cards, study_blocks

BLOCKS: dict[str, Callable[[Path], str]] = {
    "commands": blocks.commands_block, "notebooks": blocks.notebooks_block,
    "results": blocks.results_block, "findings": blocks.findings_block,
    "audit": blocks.audit_block, "data": blocks.data_block,
    "checksums": blocks.checksums_block, "timings": blocks.timings_block,
    "benchmarks": blocks.benchmarks_block, "backends": blocks.backends_block,
    "adapt": blocks.adapt_block, "tests": blocks.tests_block,
    "zoo": study_blocks.zoo_block,
    "cv": study_blocks.cv_block, "ablations": study_blocks.ablations_block,
    "deploy": study_blocks.deploy_block, "beyond": study_blocks.beyond_block,
    "small": study_blocks.small_block,
    "model-cards": model_cards.index_block,
    **{f"card-{name}": partial(model_cards.card_block, name) for name in model_cards.MODELS}}

MARKER = re.compile(r"(<!-- BEGIN (?P<name>[\w-]+) -->\n).*?(<!-- END (?P=name) -->)", re.S)


def doc_files(root: Path | None = None) -> list[Path]:
    """README.md, every ``docs/*.md`` and the model cards (``docs/model_cards/*.md``) of the
    project (or of ``root``)."""
    root = config.PROJECT_ROOT if root is None else root
    return [root / "README.md", *sorted((root / "docs").glob("*.md")),
            *sorted((root / "docs" / "model_cards").glob("*.md"))]


def block_names(text: str) -> list[str]:
    """The names of the generated blocks in ``text``, in order."""
    return [m.group("name") for m in MARKER.finditer(text)]


def render(text: str, results: Path | None = None) -> str:
    """``text`` with its generated blocks re-rendered from ``results`` (default: reported)."""
    results = config.reported_results_dir() if results is None else results
    unknown = sorted(set(block_names(text)) - set(BLOCKS))
    if unknown:
        raise KeyError(f"no renderer for block(s) {', '.join(unknown)}; known: "
                       f"{', '.join(BLOCKS)}")
    cache: dict[str, str] = {}

    def fill(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in cache:
            cache[name] = BLOCKS[name](results)
        return m.group(1) + cache[name] + "\n" + m.group(3)

    return MARKER.sub(fill, text)


def render_files(files: list[Path] | None = None, results: Path | None = None, *,
                 write: bool = True) -> list[Path]:
    """Re-render the blocks of ``files``; the files changed (written when ``write``)."""
    from har_utils.io import atomic_write

    changed = []
    for path in doc_files() if files is None else files:
        old = path.read_text()
        new = render(old, results)
        if new != old:
            changed.append(path)
            if write:
                with atomic_write(path, "w") as f:
                    f.write(new)
    return changed

