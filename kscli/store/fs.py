"""File helpers shared by the file backends: private modes, atomic writes, and the
boundary that turns a failed write (a full disk, an I/O error, no permission) into a
one-line Failure naming the file."""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from typing import Iterator

from kscli.domain.errors import BadValue, Failure, KscliError, StoreUnreadable

_FREE = "free some space and run the command again"
_PERMS = "check the permissions of the file and its folder, or point --store elsewhere"
WRITE_ERRORS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("the disk is full", _FREE),
    errno.EDQUOT: ("the disk quota is used up", _FREE),
    errno.EFBIG: ("the file would pass a size limit", "free some space or raise the limit (ulimit -f)"),
    errno.EIO: ("an input/output error (is the disk failing?)", "check the disk, then run the command again"),
    errno.EROFS: ("the file system is read-only", "point --store at a writable place"),
    errno.EACCES: ("permission denied", _PERMS),
    errno.EPERM: ("operation not permitted", _PERMS),
}


def cannot_write(path: str, why: str, hint: str) -> Failure:
    return Failure(f"cannot write {path}: {why}; nothing was changed", code="write-failed",
                   hint=hint)


@contextmanager
def write_errors(path: str) -> Iterator[None]:
    """Turn an OSError of a write to ``path`` (full disk, I/O error, permission) into a
    Failure naming the file, instead of a traceback."""
    try:
        yield
    except OSError as exc:
        known = WRITE_ERRORS.get(exc.errno)  # type: ignore[arg-type]
        if known is None:
            raise
        raise cannot_write(path, *known) from None


def remove_stale_temporaries(path: str, *, locked: bool = True) -> None:
    """Remove temporary copies of ``path`` (``path.tmp-PID``, and the files SQLite
    keeps beside one) left by a writer that was killed mid-write.

    ``locked``: the caller holds the ledger's write lock, under which every writer
    writes its temporary file, so any one found is stale. Without the lock, only
    those of a process that no longer runs are, and this process's own (a writer
    calls this before it starts its temporary file).
    """
    import glob  # only when a ledger is written: off the start-up of a read

    prefix = path + ".tmp-"
    for stale in glob.glob(glob.escape(prefix) + "*"):
        pid = stale[len(prefix):].split("-", 1)[0]
        if not locked and (not pid.isdigit() or (int(pid) != os.getpid() and _running(int(pid)))):
            continue
        try:
            os.unlink(stale)
        except OSError:
            pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, but another user's
        return True
    return True


def place_problem(path: str, *, writing: bool, option: str = "--store",
                  example: str = "kscli.db", makes_folders: bool = True) -> KscliError | None:
    """What stops ``path`` from being read or written as a file, said before trying:
    a folder where the file should be, or a file where one of its folders should be
    (exit 2, a wrong path), and for a write a read-only file system or a folder that
    takes no new files (exit 1). None when nothing is known to be in the way (a missing
    folder is fine: a write creates it)."""
    if os.path.isdir(path) or path.endswith(os.sep):
        return BadValue(f"{path} is a folder, not a file",
                        hint=f"name a file in it with {option}, such as "
                             f"{os.path.join(path.rstrip(os.sep) or os.sep, example)}")
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if not os.path.isdir(folder):
        return BadValue(f"{folder} is a file, not a folder, so {path} cannot be in it",
                        hint=f"give {option} a path whose folders are folders")
    wanted = os.path.dirname(os.path.abspath(path))
    if writing and not makes_folders and folder != wanted:
        return BadValue(f"the folder {wanted} does not exist",
                        hint=f"create it (mkdir -p {wanted}) or give {option} another path")
    if not writing:
        return None
    where = path if os.path.exists(path) else folder
    try:
        read_only = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return cannot_write(path, "the file system is read-only",
                            f"give {option} a path on a writable file system")
    if not os.path.exists(path) and folder == os.path.dirname(os.path.abspath(path)):
        # a file to create in a folder that exists: try it (root passes every permission
        # check, yet /proc and /sys take no new files)
        probe = f"{path}.probe-{os.getpid()}"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(probe)
        except OSError as exc:
            why = WRITE_ERRORS.get(exc.errno, (exc.strerror or "it cannot be created", ""))[0]
            return cannot_write(path, why if exc.errno != errno.ENOENT else
                                "its folder takes no new files",
                                f"give {option} a path in a folder you can write to")
    elif os.path.exists(path) and not os.access(path, os.W_OK):
        return cannot_write(path, "permission denied", f"check the permissions of {path}, or "
                            f"give {option} another path")
    elif not os.path.exists(path) and not os.access(folder, os.W_OK):
        return cannot_write(path, f"{folder} is not writable",
                            f"give {option} a path in a folder you can write to")
    return None


def read_error(path: str, exc: OSError, what: str = "file") -> BadValue:
    """A file given to read that cannot be (exit 2), said with its cause and what to do:
    missing, a folder, under a file, or not readable."""
    if exc.errno == errno.ENOENT or exc.errno == errno.ENOTDIR:
        problem = place_problem(path, writing=False, option="the path")
        if isinstance(problem, BadValue):
            return BadValue(f"cannot read {what} {path}: {problem.message}",
                            hint="check the path")
        return BadValue(f"cannot read {what} {path}: it does not exist", hint="check the path")
    if exc.errno == errno.EISDIR:
        return BadValue(f"cannot read {what} {path}: it is a folder, not a file",
                        hint="name a file in it")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return BadValue(f"cannot read {what} {path}: permission denied",
                        hint=f"check the permissions of {path} and its folders")
    return BadValue(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}",
                    hint="check the path")


def check_place(path: str, *, writing: bool, option: str = "--store",
                example: str = "kscli.db", makes_folders: bool = True) -> None:
    problem = place_problem(path, writing=writing, option=option, example=example,
                            makes_folders=makes_folders)
    if problem is not None:
        raise problem


def read_only_fs(path: str) -> bool:
    """Whether ``path`` (an existing file) is on a read-only file system."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def private_umask() -> None:
    """Everything kscli creates from here on is private: files 0600, folders 0700."""
    os.umask(0o077)


def ensure_folder(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700, exist_ok=True)


_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) \
    | getattr(os, "O_CLOEXEC", 0)


def create_private(path: str) -> int:
    """Create ``path`` as a new private file (0600) and open it for writing.

    Never opens what is already there: a file, or a link planted by someone who can
    write in the folder, makes it fail (``FileExistsError``) instead of writing through.
    """
    return os.open(path, _EXCLUSIVE, 0o600)


def temporary_beside(path: str) -> tuple[str, int]:
    """A new private temporary file beside ``path``: its name (``path.tmp-PID-RANDOM``,
    which ``remove_stale_temporaries`` recognises) and an open descriptor."""
    while True:
        tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            return tmp, create_private(tmp)
        except FileExistsError:
            continue


def real_path(path: str) -> str:
    """Where a ledger really is: a symbolic link is followed, so that writes replace the
    file it points at (in that file's folder) and never the link itself."""
    return os.path.realpath(path) if os.path.islink(path) else path


def check_folder(path: str, location: str | None = None) -> None:
    """Refuse to write a ledger in a folder that others can write to (exit 6), as ssh's
    StrictModes does: anyone who can rename files there could swap the ledger or plant a
    link where kscli writes. A sticky folder (``/tmp``) is allowed when this user owns
    the ledger, or it does not exist yet."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        info = os.stat(folder)
    except OSError:
        return  # a missing folder is created private; other errors surface on write
    if not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return
    if info.st_mode & stat.S_ISVTX:
        try:
            owner = os.lstat(path).st_uid
        except FileNotFoundError:
            return
        if owner == os.geteuid():
            return
    raise StoreUnreadable(
        f"{location or path} is in {folder}, a folder that other users can write to "
        f"(mode {stat.S_IMODE(info.st_mode):o}); kscli will not write a ledger there",
        hint=f"chmod go-w {folder}, or point --store at a private folder")


def ready_to_write(path: str, location: str, *, example: str = "kscli.db",
                   place: bool = True) -> None:
    """Before a ledger at ``path`` (named ``location`` in messages) is written: the place
    can take a file (``check_place``, unless ``place`` is False: a scratch file beside a
    ledger already checked), everything created from here on is private, the folder is
    no one else's to write in (``check_folder``), and it exists."""
    if place:
        check_place(path, writing=True, example=example)
    private_umask()
    check_folder(real_path(path), location)
    with write_errors(location):
        ensure_folder(path)


def atomic_write(path: str, data: bytes) -> None:
    """Write to a new temporary file beside ``path``, fsync, rename over it, fsync the
    folder. A link at ``path`` is followed: the file it points at is replaced."""
    path = real_path(path)
    tmp, fd = temporary_beside(path)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.close(fd)
    os.replace(tmp, path)
    sync_folder(path)


def sync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_folder(path: str) -> None:
    """Make a file's new name durable: fsync the folder that holds it."""
    sync_file(os.path.dirname(os.path.abspath(path)))


def mode_of(path: str) -> int | None:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return None
