"""Writing output files atomically, with the permissions the user's umask asks for.

Every file the library writes (features, checkpoints, figures) is first written to a temporary
file beside its destination, then renamed over it (``os.replace``, atomic on POSIX): a reader
never sees a half-written file, and an interrupted run leaves none behind. ``tempfile.mkstemp``
creates its file with mode 0600, which the rename would carry over: the temporary file gets
``0666 & ~umask`` instead, as ``open(path, 'w')`` would give (colleagues on a shared server can
read the output when the umask lets them).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def current_umask() -> int:
    """The process's umask (read by setting it and restoring it at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_beside(path: str | os.PathLike, suffix: str = ".tmp") -> str:
    """Create an empty temporary file in ``path``'s folder, mode ``0666 & ~umask``; return its name.

    Parameters
    ----------
    path : path-like
        The destination the temporary file will be renamed to.
    suffix : str
        The temporary name's ending (some writers choose their format by it).
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~current_umask())
    return name


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary file name to write; on success it replaces ``path``, on error it is removed.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from scatter._files import atomic_output
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
    >>> with atomic_output(out, suffix=".npy") as tmp:
    ...     np.save(tmp, np.arange(3))
    >>> np.load(out).tolist()
    [0, 1, 2]
    """
    tmp = temporary_beside(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def replace_folder(new: str | os.PathLike, path: str | os.PathLike) -> None:
    """Put the complete folder ``new`` (e.g. a Zarr store) at ``path``, replacing a folder there.

    A folder cannot be renamed over a non-empty one: the old one is first renamed aside, then
    ``new`` into place, then the old one is removed. A reader sees the old folder, briefly
    nothing, then the new one; never a mixture of the two or a half-written folder.
    """
    path = Path(path)
    old = None
    if path.exists():
        old = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent)
        os.replace(path, Path(old) / path.name)
    os.replace(new, path)
    if old is not None:
        import shutil

        shutil.rmtree(old)


class OutputLocked(RuntimeError):
    """Another process holds the lock of an output (see :func:`exclusive_lock`)."""


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a lock file, created and removed here) or raise.

    Two runs writing the same output would interleave their checkpoints; the second one raises
    :class:`OutputLocked` at once instead of waiting. POSIX ``flock``; where ``fcntl`` is missing
    (Windows) no lock is taken.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(path)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLocked(f"{path} is held by another running process") from None
        # the holder before us may have removed the file after we opened it: lock the live one
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        os.remove(path)
        os.close(fd)
