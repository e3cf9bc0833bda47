"""Race-free access to files below a node root, for the files API and the portal.

Owns: turning an untrusted relative path into an open descriptor below a root without ever leaving
it. Every component is opened relative to the descriptor of its parent (`dir_fd`) with `O_NOFOLLOW`,
so a task that swaps a checked directory for a symlink between a check and the use cannot redirect
the read, the listing or the delete: there is no check-then-open-by-name window at all. Symbolic
links are never followed (Batch nodes' files API shows files, not link targets); a link anywhere on
the path is refused with `PathRefused`. FIFOs and devices are refused too (opened non-blocking, then
checked), so a planted FIFO cannot hang a request thread.

Imports only the standard library; raises `PathRefused` (a `ValueError`) and `FileNotFoundError`,
which the callers turn into their own answers (Batch-shaped errors, portal pages).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class PathRefused(ValueError):
    """The path is not a plain path inside the root (absolute, `..`, NUL, a symlink on the way, a FIFO)."""


def parts(rel: str) -> list[str]:
    """The components of `rel` (`/` or `\\` separated, `.` and empty parts dropped); refuses escapes."""
    text = rel.replace("\\", "/")
    if text.startswith("/") or "\x00" in text:
        raise PathRefused("The file path must be relative to the root directory.")
    out = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in out:
        raise PathRefused("The file path may not contain '..'.")
    return out


def _open_root(root: Path) -> int:
    # The root itself is the emulator's own directory (its parents are not writable by tasks).
    try:
        return os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise PathRefused(f"The root directory cannot be opened: {exc.strerror}") from None


def _step(fd: int, name: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            # ELOOP: `name` is a symlink (O_NOFOLLOW). ENOTDIR: a file where a folder was expected,
            # or a symlink on kernels that report it so.
            with contextlib.suppress(OSError):
                if stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise PathRefused("The file path goes through a symbolic link.") from None
            if exc.errno == errno.ELOOP:
                raise PathRefused("The file path goes through a symbolic link.") from None
            raise FileNotFoundError(errno.ENOENT, "not a directory", name) from None
        if exc.errno == errno.ENOENT:
            raise FileNotFoundError(errno.ENOENT, "no such directory", name) from None
        raise


@contextlib.contextmanager
def open_dir(root: Path, components: list[str]) -> Iterator[int]:
    """A descriptor of the directory `root/components...`, each step opened under its parent's fd."""
    fd = _open_root(root)
    try:
        for name in components:
            nxt = _step(fd, name)
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def lstat(root: Path, rel: str) -> os.stat_result:
    """`lstat` of `rel` below `root` (the root itself for an empty path); a final symlink is refused."""
    names = parts(rel)
    if not names:
        with open_dir(root, []) as fd:
            return os.fstat(fd)
    with open_dir(root, names[:-1]) as fd:
        st = os.stat(names[-1], dir_fd=fd, follow_symlinks=False)
    if stat.S_ISLNK(st.st_mode):
        raise PathRefused("The file path is a symbolic link.")
    return st


def open_file(root: Path, rel: str) -> tuple[BinaryIO, os.stat_result]:
    """The regular file `rel` below `root`, open for reading (the caller closes it), and its stat.

    The file is opened by descriptor like every other access; once open, a task that renames or
    replaces the path cannot change what is read.
    """
    names = parts(rel)
    if not names:
        raise IsADirectoryError(errno.EISDIR, "is a directory", rel)
    with open_dir(root, names[:-1]) as dfd:
        try:
            fd = os.open(names[-1], _FILE_FLAGS, dir_fd=dfd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PathRefused("The file path is a symbolic link.") from None
            raise
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", rel)
        if not stat.S_ISREG(st.st_mode):
            raise PathRefused("The file path is not a regular file.")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def read(root: Path, rel: str, start: int = 0, length: int = -1) -> tuple[bytes, os.stat_result]:
    """Up to `length` bytes (all when -1) of the regular file `rel` from `start`, and its stat."""
    fh, st = open_file(root, rel)
    with fh:
        fh.seek(start)
        return (fh.read() if length < 0 else fh.read(length)), st


@dataclass
class Entry:
    """One file or folder below a listed directory: path relative to it (with `/`) and its lstat."""

    name: str
    stat: os.stat_result

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.stat.st_mode)


def list_dir(root: Path, rel: str = "", recursive: bool = False) -> list[Entry]:
    """Entries of the folder `rel` below `root`, sorted by name; recursion never follows links.

    `os.fwalk` descends by directory descriptor (`follow_symlinks=False`), so a folder swapped for a
    link while walking is skipped rather than followed. Entries that vanish while listing are skipped.
    """
    out: list[Entry] = []
    with open_dir(root, parts(rel)) as fd:
        if not recursive:
            with os.scandir(fd) as it:
                for item in it:
                    with contextlib.suppress(OSError):
                        out.append(Entry(item.name, item.stat(follow_symlinks=False)))
        else:
            for dirpath, dirnames, filenames, dfd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
                prefix = "" if dirpath == "." else dirpath[2:] + "/"
                for name in dirnames + filenames:
                    with contextlib.suppress(OSError):
                        out.append(Entry(prefix + name, os.stat(name, dir_fd=dfd, follow_symlinks=False)))
    return sorted(out, key=lambda entry: entry.name)


def delete(root: Path, rel: str, recursive: bool) -> None:
    """Delete the file or folder `rel` below `root`; never the root itself, never through a link.

    A folder is removed with `shutil.rmtree(dir_fd=...)`, which works by descriptor and does not
    follow links (`rmtree.avoids_symlink_attacks`). A non-empty folder without `recursive` raises
    `OSError(ENOTEMPTY)`.
    """
    names = parts(rel)
    if not names:
        raise PathRefused("The root directory itself cannot be deleted.")
    with open_dir(root, names[:-1]) as dfd:
        st = os.stat(names[-1], dir_fd=dfd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise PathRefused("The file path is a symbolic link.")
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(names[-1], dir_fd=dfd)
            return
        if not recursive:
            os.rmdir(names[-1], dir_fd=dfd)  # ENOTEMPTY when it holds anything
            return
        if not shutil.rmtree.avoids_symlink_attacks:  # pragma: no cover - Linux always has it
            raise PathRefused("Recursive delete is not safe on this platform.")
        shutil.rmtree(names[-1], dir_fd=dfd)
