"""What produced a result: git commit, package versions, platform, time."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import platform
import subprocess

from .config import PROJECT_ROOT

#: Packages whose versions can change the numbers.
KEY_PACKAGES: tuple[str, ...] = ("numpy", "scipy", "pandas", "scikit-learn", "tensorflow", "keras",
                                 "jax", "jaxlib", "matplotlib", "seaborn", "papermill", "nbval")


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (``None`` if missing)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> dict[str, object]:
    """HEAD commit of the project checkout and whether the tree had uncommitted changes."""
    def run(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True,
                                  text=True, timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def cpu_model() -> str:
    """The CPU's model name (the kernel's cpuinfo), else what ``platform`` knows: a seed's
    numbers can differ from one CPU to another."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, object]:
    """Provenance of the running environment: python, platform, CPU, packages, git, UTC time."""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu": cpu_model(),
            "packages": package_versions(), "git": git_commit(),
            "utc_time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
