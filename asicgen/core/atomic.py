"""Atomic file output: an interrupted run never leaves a half-written artefact.

Temporary files and folders are created private (mkstemp/mkdtemp make them 0600 and
0700); before they are moved into place they get the permissions any other file the
user creates would get (0666/0777 less the umask).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_mode(path: Path) -> None:
    """Give a temporary file or folder the mode a normally created one would have."""
    base = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, base & ~current_umask())


_interrupt_requested = threading.Event()


def _on_interrupt(signum: int, frame: object) -> None:
    _interrupt_requested.set()
    raise KeyboardInterrupt


def install_interrupt_handler() -> None:
    """Remember every Ctrl-C, so that one CPython had to drop still stops the run.

    A KeyboardInterrupt raised while a weak-reference callback or a destructor runs (as
    happens inside matplotlib and Keras when they save) is printed as "Exception ignored"
    and the program goes on. With this handler the request is kept, and the next commit
    point (`check_interrupt`, called before any output is moved into place) honours it."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_interrupt)


def check_interrupt() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C arrived, even one that was swallowed."""
    if _interrupt_requested.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) for the few system calls that must not be split;
    an interrupt that arrived meanwhile is raised when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: _interrupt_requested.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    check_interrupt()


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; move it into place on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix,
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        publish_mode(tmp_path)
        check_interrupt()
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
