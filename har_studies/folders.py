"""The folders a study writes to, checked before its work starts: a read-only ``results/``
found after hours of training would lose them."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from har_utils.io import HarError, explain_os_error


def check_writable(folder: str | os.PathLike[str]) -> Path:
    """Make sure ``folder`` exists and a file can be written in it (else :class:`HarError`)."""
    folder = Path(folder)
    probe = folder / f".write-check-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise explain_os_error(probe, exc) from None
        raise HarError(folder, f"cannot write in this folder ({os.strerror(exc.errno or 0)})",
                       "make it a writable folder (or remove the file in its way), or point "
                       "HAR_RESULTS_DIR / HAR_DATA_DIR at a writable folder; nothing has "
                       "started yet") from None
    return folder
