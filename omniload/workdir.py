"""omniload's private temporary folder: every file a run writes outside the DuckDB file.

``$TMPDIR/omniload-<uid>/`` (mode 0700, owned by the user) holds one ``run-*`` folder per run:
the tap and target configs, catalog, state, logs, and target-duckdb's ``tmp_<uuid>.csv`` batches
(the target's ``temp_dir`` and the children's ``TMPDIR`` point there). A run holds an ``flock``
on its folder's ``.lock`` file; the folder is removed when the run ends, however it ends, and a
folder whose lock is free (its run was SIGKILLed) is removed by the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from omniload.errors import RunError

#: A lock file younger than this with no owner recorded yet may be a run that is starting.
_STARTING_GRACE = 60.0


def private_root() -> Path:
    """``$TMPDIR/omniload-<uid>``, created 0700; refuses one that another user could read.

    Raises:
        RunError: The folder is not a directory owned by this user, or cannot be created.
    """
    root = Path(tempfile.gettempdir()) / f"omniload-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.lstat()
    except OSError as exc:
        reason = exc.strerror
        raise RunError(f"cannot create omniload's temporary folder {root}: {reason}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise RunError(f"{root} is not a folder owned by this user; remove it or set TMPDIR")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(root, 0o700)
    return root


def _stale(lock: Path) -> bool:
    """True when no live run holds ``lock`` (taking and dropping it to find out)."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        started = os.fstat(fd).st_size > 0 or time.time() - os.fstat(fd).st_mtime > _STARTING_GRACE
    finally:
        os.close(fd)
    return started


def sweep(root: Path) -> list[Path]:
    """Remove run folders left by killed runs; return what was removed."""
    removed = []
    for entry in sorted(root.glob("run-*")):
        if not entry.is_dir() or entry.is_symlink():
            continue
        lock = entry / ".lock"
        if lock.exists():
            if not _stale(lock):
                continue
        elif time.time() - entry.lstat().st_mtime <= _STARTING_GRACE:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


class RunDir:
    """This run's folder under :func:`private_root`, locked while the run lives."""

    def __init__(self) -> None:
        """Create and lock the folder; sweep folders of dead runs first."""
        root = private_root()
        sweep(root)
        self.path = Path(tempfile.mkdtemp(prefix="run-", dir=root))
        self._fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.write(self._fd, str(os.getpid()).encode())

    def remove(self) -> None:
        """Delete the folder and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def __enter__(self) -> RunDir:
        """Use as a context manager: removed on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Remove the folder."""
        self.remove()
