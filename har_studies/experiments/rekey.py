"""The run store's migration: when a run's description gains a field, re-key the stored runs.

A new field changes every key, so each stored run whose file name is not its current key is
rewritten under the new key (after checking the old key hashes its stored config and the
rebuilt run trains the same). Results are not touched; idempotent::

    python -m har_studies.experiments.rekey            # results/runs (HAR_RESULTS_DIR)
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from har_utils import config
from har_utils.io import HarError, write_json_atomic

from .runner import CLASSICAL, Run, runs_dir


#: The fix of every refusal: the file was left as it was.
LEAVE = "nothing was changed for this file: compare it with its git history and fix it by hand"


def _old_key(stored_config: dict[str, Any], checksum: str) -> str:
    blob = json.dumps({**stored_config, "data_sha256": checksum}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _json(x: Any) -> Any:
    return json.loads(json.dumps(x, sort_keys=True, default=str))


def run_fields(described: dict[str, Any]) -> dict[str, Any]:
    """The items of a stored run description that are fields of :class:`Run`."""
    names = {f.name for f in fields(Run)}
    return {k: v for k, v in described.items() if k in names}


def rebuilt(result: dict[str, Any]) -> Run:
    """The :class:`Run` a stored result describes: its ``run`` fields, with ``backend``,
    ``threads`` and ``watch_test`` from its stored config, where absence meant the default of
    the time ("tensorflow", 1, False)."""
    kw = run_fields(result["run"])
    stored = result["config"]
    if "engine" in stored:  # already in full: the run as stored
        return Run(**kw)
    kw["threads"] = int(stored.get("threads", 1))
    kw["watch_test"] = bool(stored.get("watch_test", False))
    if kw.get("model") not in CLASSICAL:
        kw["backend"] = stored.get("backend", "tensorflow")
    kw["fit_subjects"] = tuple(kw.get("fit_subjects", ()))
    kw["val_subjects"] = tuple(kw.get("val_subjects", ()))
    kw["channels"] = tuple(kw.get("channels", ()))
    return Run(**kw)


def rekey_file(path: Path) -> tuple[str, str] | None:
    """Rewrite one stored run under its new key; (old, new), or None when it has it already."""
    result = json.loads(path.read_text())
    checksum = result["data"]["checksum_sha256"]
    run = rebuilt(result)
    new = run.key(checksum)
    if path.stem == new:
        return None
    old = result["key"]
    if path.stem != old or _old_key(result["config"], checksum) != old:
        raise HarError(path, "its name, its key and its config disagree", LEAVE)
    cfg = run.config()
    if "train_config" in result["config"]:
        before = _json(result["config"]["train_config"])
        after = _json(cfg["train_config"])
        if any(after.get(k) != v for k, v in before.items()):
            raise HarError(path, f"the rebuilt run resolves to other training settings "
                           f"({before} -> {after})", LEAVE)
    result.update(key=new, config=cfg, run={**run.as_dict(), "study": result["run"].get("study", ""),
                                            "name": result["run"].get("name", "")})
    target = path.with_name(f"{new}.json")
    if target.exists():  # brought in before (a second copy of the same file): drop this one
        if json.loads(target.read_text()) != _json(result):
            raise HarError(target, f"exists already, with other content than "
                           f"{config.shown(path)} re-keyed", LEAVE)
        path.unlink()
        return old, new
    write_json_atomic(target, result)
    path.unlink()
    return old, new


def main() -> int:
    store = runs_dir()
    moved = dict(m for m in (rekey_file(p) for p in sorted(store.glob("*.json"))) if m)
    print(f"{len(moved)} run(s) re-keyed in {config.shown(store)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
