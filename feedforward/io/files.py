"""Reading and writing files safely: regular files only, bounded reads, atomic self-cleaning writes.

Every file the package reads on a user's behalf (model files, checkpoints,
CSV and IDX data) is opened with :func:`open_regular`. It refuses anything
that is not a regular file, so ``/dev/zero`` (endless), a named pipe (blocks
until a writer comes) or a directory give a clear error instead of a
``MemoryError`` or a hang. Callers then read only as many bytes as the
file's own header announces, bounded by its size (:func:`read_exactly`).

:func:`atomic_write_bytes` writes to a temporary file in the target's
directory and renames it over the target: a crash leaves the old file or the
new one, never a mixture. The temporary file's name carries the writer's
host and process id, and every save removes the temporaries of the same
target whose writer is gone, so a ``kill -9`` during a save leaves nothing
behind after the next save.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import stat

__all__ = ["open_regular", "read_exactly", "atomic_write_bytes", "remove_stale_temps"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, text in _KINDS:
        if test(mode):
            return text
    return "not a regular file"


def _mode_or_none(path):
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def open_regular(path, what: str = "file"):
    """Open ``path`` for binary reading if it is a regular file (symlinks followed); else raise.

    Raises ``FileNotFoundError`` naming the path when it does not exist and
    ``ValueError`` naming the path and what it is (a directory, a character
    device such as ``/dev/zero``, a named pipe, ...) when it is not a regular file.
    """
    path = os.fspath(path)
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    # It is cleared again below; it changes nothing for a regular file.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except IsADirectoryError:  # Windows cannot open a directory at all
        raise ValueError(f"{path} is a directory, not a regular file: expected a {what}") from None
    except OSError as exc:
        # A socket cannot be opened (ENXIO): name what it is rather than the errno.
        mode = _mode_or_none(path)
        if mode is None or stat.S_ISREG(mode):
            raise exc from None
        raise ValueError(f"{path} is {_kind(mode)}, not a regular file: expected a {what}") from None
    try:
        mode = os.fstat(fd).st_mode  # of what was opened: no race with a swapped path
        if not stat.S_ISREG(mode):
            raise ValueError(f"{path} is {_kind(mode)}, not a regular file: expected a {what}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_exactly(f, n: int, name: str, what: str) -> bytes:
    """``n`` bytes from ``f`` (looping over short reads); ``ValueError`` if the file ends first."""
    chunks, left = [], n
    while left > 0:
        chunk = f.read(left)
        if not chunk:
            raise ValueError(f"{name}: the file ends {left} bytes short of its {what}: it is truncated")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------ writing
def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def _temp_prefix(path: str) -> str:
    # A long target name is cut so that the temporary name stays under NAME_MAX.
    return "." + os.path.basename(path)[:120] + "."


def _temp_name(path: str) -> str:
    """``.<target>.<host>.<pid>.<random>.tmp``: who wrote it, so a later save can tell if it is stale."""
    return f"{_temp_prefix(path)}{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        # On Windows os.kill(pid, 0) sends CTRL_C_EVENT: never probe there, keep the file.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale_temps(path) -> list:
    """Delete the temporary files of earlier saves to ``path`` whose writer process is gone.

    Only names of the exact form :func:`atomic_write_bytes` uses, for this
    target, written on this host (a process id says nothing about another
    machine sharing the folder). Returns the removed paths.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(re.escape(_temp_prefix(path)) + re.escape(_host()) + r"\.(\d+)\.[0-9a-f]{8}\.tmp")
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and not _alive(int(match.group(1))):
            try:
                os.unlink(entry.path)
                removed.append(entry.path)
            except OSError:  # another save removed it first, or no permission: not ours to fix
                pass
    return removed


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, ``os.replace``.

    Before writing, the stale temporaries of the same target (left by a writer
    killed mid-save) are removed, see :func:`remove_stale_temps`.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {path!r}: the directory {directory!r} does not exist")
    remove_stale_temps(path)
    tmp = os.path.join(directory, _temp_name(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # the umask applies, as for a plain open()
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Persist the rename itself (the directory entry); not possible on every platform."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
