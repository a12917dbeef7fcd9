"""The packages' architecture, checked: the import contracts of pyproject.toml
(``[tool.importlinter]``: the core ``har_utils`` never imports ``har_studies``; the core's
layers; no cycles; the studies never import the reporting or the command line; the studies'
layers), no private name (``_x``) used outside the module that defines it, and no package whose
own names hide its submodules; in both packages."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from har_utils import config

#: The two packages: the core and the studies.
PACKAGES = ("har_utils", "har_studies")


def modules() -> list[Path]:
    """Every source file of both packages (``config.PACKAGE_DIR`` and its sibling)."""
    return sorted(p for name in PACKAGES for p in (config.PACKAGE_DIR.parent / name).rglob("*.py")
                  if "__pycache__" not in p.parts)


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.exists(), ("import-linter is not installed in this environment; it is in "
                           "requirements.lock: run `make venv` (a skipped contract is no check)")
    r = subprocess.run([str(lint), "--config", str(config.PROJECT_ROOT / "pyproject.toml")],
                       capture_output=True, text=True, cwd=config.PROJECT_ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def _module_name(path: Path) -> str:
    rel = path.relative_to(config.PACKAGE_DIR.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def private_uses(path: Path) -> list[str]:
    """``from m import _x`` and ``m._x`` in ``path`` where ``m`` is another module of either
    package."""
    tree = ast.parse(path.read_text(), str(path))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    aliases: dict[str, str] = {}  # local name -> module of either package it names
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] not in PACKAGES:
                continue
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__") and mod != here:
                    out.append(f"{here}: from {mod} import {a.name}")
                aliases[a.asname or a.name] = f"{mod}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PACKAGES:
                    aliases[a.asname or a.name.split(".")[0]] = a.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__") and aliases[node.value.id] != here):
            out.append(f"{here}: {node.value.id}.{node.attr}")
    return out


def test_no_private_name_is_used_across_modules() -> None:
    found = [u for p in modules() for u in private_uses(p)]
    assert found == []


def test_the_private_name_check_can_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "har_utils"
    pkg.mkdir()
    (pkg / "a.py").write_text("def _hidden():\n    return 1\n")
    (pkg / "b.py").write_text("from . import a\nfrom .a import _hidden\nx = a._hidden()\n")
    monkeypatch.setattr(config, "PACKAGE_DIR", pkg)
    assert private_uses(pkg / "b.py") == ["har_utils.b: from har_utils.a import _hidden",
                                           "har_utils.b: a._hidden"]
    assert private_uses(pkg / "a.py") == []


def hidden_submodules(package_dir: Path) -> list[str]:
    """Names that the ``__init__.py`` of ``package_dir`` binds to something else than its
    submodule of the same name (``from .features import features``, or ``def features``): the
    first import of the submodule anywhere would replace the package's attribute."""
    init = package_dir / "__init__.py"
    subs = {p.stem for p in package_dir.glob("*.py") if p.stem not in ("__init__", "__main__")}
    subs |= {p.name for p in package_dir.iterdir() if (p / "__init__.py").is_file()}
    out = []
    for node in ast.parse(init.read_text(), str(init)).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
            continue  # ``from . import sub``: the submodule itself
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound = [a.asname or a.name.split(".")[0] for a in node.names]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound = [t.id for t in targets if isinstance(t, ast.Name)]
        else:
            continue
        out += [f"{_module_name(init)}.{b}" for b in bound if b in subs]
    return out


def test_no_package_name_hides_a_submodule() -> None:
    packages = [p.parent for p in modules() if p.name == "__init__.py"]
    assert [h for p in packages for h in hidden_submodules(p)] == []


def test_the_hidden_submodule_check_can_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    pkg = tmp_path / "har_utils" / "data"
    pkg.mkdir(parents=True)
    (pkg / "features.py").write_text("def features():\n    return 1\n")
    (pkg / "uci.py").write_text("")
    (pkg / "__init__.py").write_text("from . import uci\nfrom .features import features\n")
    monkeypatch.setattr(config, "PACKAGE_DIR", tmp_path / "har_utils")
    assert hidden_submodules(pkg) == ["har_utils.data.features"]


def test_every_imported_package_is_declared() -> None:
    """Every third-party module either package imports belongs to a distribution that
    pyproject.toml declares (e.g. ``yaml`` -> PyYAML)."""
    import importlib.metadata as md
    import re
    import tomllib

    declared = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-")
                for d in tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())
                ["project"]["dependencies"]}
    dists = md.packages_distributions()
    imported: set[str] = set()
    for p in modules():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported.add(node.module.split(".")[0])
    third = {m for m in imported if m not in sys.stdlib_module_names and m not in PACKAGES}
    missing = {m: dists.get(m) for m in third
               if not {d.lower().replace("_", "-") for d in dists.get(m, [m])} & declared}
    assert missing == {}
