"""The one writer every state file goes through: a temp file in the same folder, fsync,
rename, fsync of the folder. A crash leaves the old file or the new one, never half.

The file ends with the mode `open(path, "w")` would give it: an existing file's mode, or
0666 less the umask for a new one (mkstemp's 0600 would make exports, the lock and the
report unreadable by teammates or a web server).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from synthc.errors import DiskFull


@contextmanager
def atomic_file(path: Path, needed: int | None = None) -> Iterator[BinaryIO]:
    """A handle on a temp file beside `path`; on success it is fsynced, renamed over `path`
    and the folder fsynced, so a reader sees the old file or the new one, never half.
    On error the temp file is removed and `path` is untouched."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except Exception as exc:
        # Judge a full disk before the temp file is gone and gives its room back.
        full = DiskFull.check(path, exc, needed)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if full is not None:
            raise full from exc
        raise
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _mode_for(path: Path) -> int:
    """The mode a plain `open(path, "w")` would leave: the existing file's, else 0666 &
    ~umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (os.umask can only
    be read by setting it, which would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_file`)."""
    with atomic_file(path, needed=len(data)) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn a failed write to `path` into DiskFull when the disk is the cause."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        full = DiskFull.check(path, exc)
        if full is None:
            raise
        raise full from exc


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
