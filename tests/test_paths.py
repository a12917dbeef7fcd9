"""No committed file names a machine's absolute path.

Every text file of the repository (tracked by git, or new and not ignored: what a commit takes;
a file is text when it decodes as UTF-8) is read from the working tree, line by line. A line with
an absolute path of any kind (POSIX, Windows, a ``file:`` URL, a home-relative ``~`` path) fails
the test unless :data:`ALLOWED` lists that exact line of that file, with its reason. Paths that a
program shows or writes go through ``config.shown`` (relative to the project).

In this module every example path is split after its root (adjacent string literals) so that
its own lines are not flagged.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from har_utils import config

#: What may not come right before the root of a POSIX path: a word character (relative paths,
#: units such as m/s, fractions), ``.`` (``./x``), ``:`` and the slash (URLs), ``~`` (its own
#: pattern), a backslash, ``$ ) } ]`` (a variable: the Makefile's ``$(VENV)``, ``{root}``), ``*``
#: (globs), ``+`` and ``%`` (base64 images in notebooks, URL escapes) and ``-``; nor a ``>`` that
#: ends a ``<placeholder>``. A ``>`` after a space or a digit (a shell redirection) is flagged.
_ROOT = r"(?<![\w.:/~\\$)}\]*+%-])(?<![A-Za-z_-]>)/"
#: Top folders of machines, flagged even without a name below them.
ROOTS = ("tmp", "home", "root", "Users", "opt", "var", "private", "mnt", "media", "srv", "usr",
         "etc", "work", "scratch")
#: An absolute path of any kind.
ABSOLUTE = re.compile(
    _ROOT + r"[A-Za-z_.][\w.+@-]*/"                                # POSIX, root/name/...
    + r"|" + _ROOT + r"(?:" + "|".join(ROOTS) + r")(?![\w-])"      # POSIX, a top folder
    + r"|(?<![\w\\/])[A-Za-z]:(?:\\\\?|/(?!/))[\w.$~-][\w.$ ~-]+"  # Windows, JSON-escaped too
    + r"|\bfile:/"                                                  # file: URLs
    + r"|(?<![\w.~/\\$-])~(?=/)")                                  # the home folder

#: Lines that may keep an absolute path: (file, the exact line) -> why.
ALLOWED: dict[tuple[str, str], str] = {
    ("har_utils/provenance.py", '        with open("/' 'proc/cpuinfo") as f:'):
        "the kernel's description of the CPU, the same path on every Linux system",
    (".ci/run", "#!/" "usr/bin/env bash"):
        "the shebang: env's standard place on every POSIX system, not this machine's",
    (".gitignore", "/" "data/"):
        "a pattern anchored at the repository's root, not a path on the machine",
    (".gitignore", "/" "build/"):
        "a pattern anchored at the repository's root, not a path on the machine",
    ("Makefile", "SHELL       := /" "bin/bash"):
        "make's shell: bash's standard place on every POSIX system",
    ("Makefile", '\t$(PY) -m ipykernel install --sys-prefix --name python3 --display-name '
                 '"Python 3 (har .venv)" >/' 'dev/null'):
        "discards ipykernel's message: the null device of every POSIX system",
    ("har_studies/cli.py", '        target = Path(os.readlink(f"/' 'proc/self/fd/{sys.stdout.fileno()}"))'):
        "the kernel's name for this process's standard output, the same on every Linux system",
    ("tests/test_runner.py", '            state = Path(f"/' 'proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]'):
        "the kernel's status of a process, the same path on every Linux system",
    ("docs/data.md", "  `export HAR_UCI_ZIP=/" "path/to/the.zip`. The 9 inertial signals, the "
                     "561 official features, labels and"):
        "a placeholder for the reader's own archive, not a path on any machine",
}


def repository_files(root: Path) -> list[str]:
    """The repository's files (tracked, or new and not ignored), relative to ``root``."""
    try:
        r = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.fail("git is not installed: the test needs it to list the committed files")
    assert r.returncode == 0, f"git ls-files failed in {root}: {r.stderr.strip()}"
    return sorted({f for f in r.stdout.split("\0") if f})


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file (not UTF-8) or a file no longer there."""
    try:
        return path.read_bytes().decode("utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None


def flagged_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line of ``text`` with an absolute path."""
    if not ABSOLUTE.search(text):
        return []
    return [(i, line) for i, line in enumerate(text.splitlines(), 1) if ABSOLUTE.search(line)]


@pytest.mark.parametrize("line", [
    "/" "tmp/zoo_old/cnn__subjects__seed0.json",
    '  "converted_from": "/' 'tmp/zoo_old/lstm__subjects__seed1.json",',
    "no official archive in $HAR_UCI_ZIP or /" "work/main/data/raw and https://x.org/a.zip",
    "local wheel folders (/" "opt/wheels) before the network",
    "file:" "///opt/pypi/simple",
    "export HAR_UCI_ZIP=/" "home/me/UCI HAR Dataset.zip",
    "the clone is in /" "private/var/folders/x/har-fresh-1/repo",
    "/" "Users/me/har/results",
    "written to /" "tmp.",
    "cd /" "root",
    "C:" "\\Users\\me\\har\\data",
    '"C:' '\\\\Users\\\\me\\\\har"',  # JSON-escaped
    "C:/" "Users/me/har",
    "~" "/" "data/UCI HAR Dataset.zip",
    "cmd 2>/" "dev/null",
])
def test_the_detector_flags_absolute_paths(line: str) -> None:
    assert ABSOLUTE.search(line), line


@pytest.mark.parametrize("line", [
    "https://archive.ics.uci.edu/static/public/240/human+activity+recognition.zip",
    '  "converted_from": "results/zoo/runs/cnn__subjects__seed0.json",',
    "acceleration in m/s² (9.81 m/s/s), 1/2 of the windows, 3.2 s/epoch",
    "./data/raw and ../shared",
    "PY      := $(VENV)/bin/python",
    "HAR_RESULTS_DIR=$(CURDIR)/build/cv_smoke/results ${HOME}/x",
    'help="JSON path (default: <results>/zoo/cost_table.json)")',
    'name=f"cv/{model}/final/seed{s}")',
    'glob("**/x.json")',
    '    "if x:\\n",',
    '    "else:\\n",',
    "iVBORw0KGgoAAAANSUhEUgAA+/Abc/def+/XyZ",
    "a ratio of 9/10, and/or read/write",
    "<python prefix>/lib/python3.11/site-packages/keras",
])
def test_the_detector_leaves_other_slashes_alone(line: str) -> None:
    assert not ABSOLUTE.search(line), ABSOLUTE.search(line)


def test_no_committed_file_names_an_absolute_path() -> None:
    root = config.PROJECT_ROOT
    if not (root / ".git").exists():
        pytest.skip("not a git checkout (an unpacked archive): which files are committed is not "
                    "known; run the tests in a clone")
    found, allowed_seen = [], set()
    for rel in repository_files(root):
        text = text_of(root / rel)
        if text is None:
            continue
        for n, line in flagged_lines(text):
            if (rel, line) in ALLOWED:
                allowed_seen.add((rel, line))
            else:
                found.append(f"{rel}:{n}: {line.strip()[:200]}")
    assert not found, (
        f"{len(found)} line(s) with an absolute path in committed files:\n" + "\n".join(found)
        + "\nFix: show the path relative to the project (config.shown), or, if the line must "
          "stay, add it to ALLOWED in tests/test_paths.py with its reason")
    stale = sorted(set(ALLOWED) - allowed_seen)
    assert not stale, f"ALLOWED lists lines no file has (any more): remove them: {stale}"
