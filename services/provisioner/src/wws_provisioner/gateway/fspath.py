"""File access confined to a workspace's home volume, on the host.

The home is writable by whoever uses the workspace, and this code runs as root on the
host: a symlink planted in the home (``evil -> /etc``), or swapped in between a check and
a use, must never make it read, write, stat or delete a host file. So paths are never
handed to the kernel whole. Each component is opened with ``O_PATH | O_NOFOLLOW``
relative to the directory fd before it; a symlink is read and followed by this code only
while its target stays in the home (``/home/dev/...`` is the home as the workspace sees
it); every final operation is an ``*at`` call on a directory fd that is known to be in the
home, on one name, without following it.

Blocking and synchronous: the gateway's handlers run it in a thread.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import msgspec

from wws_provisioner.gateway.context import HOME_IN_CONTAINER, GatewayError

MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
MAX_SYMLINK_HOPS = 40
"""Like the kernel's limit: enough for any sane chain, and it ends a loop."""
MAX_LIST_ENTRIES = 10_000
MAX_DELETE_DEPTH = 256
"""A recursive delete holds one fd per level; deeper trees are deleted from inside."""
TEMP_PREFIX = ".wws-upload-"

_LOOK = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
"""Opens anything, even a symlink itself, and grants nothing but a place to stat and *at from."""

EntryType = Literal["file", "dir", "symlink", "other"]


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    path: str
    """Relative to the home, as asked (a symlink on the way is not resolved here)."""
    type: EntryType
    size: int
    mode: str
    """Permission bits in octal, e.g. ``0644``."""
    mtime: datetime
    target: str | None = None
    """What a symlink points to (as written in the link)."""


class Listing(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    entries: list[Entry]
    truncated: bool = False
    """More than ``MAX_LIST_ENTRIES`` entries: only the first ones (by name) are listed."""


def split_path(path: str) -> list[str]:
    """The components of a user's path relative to the home (``[]``: the home itself)."""
    if "\x00" in path:
        raise GatewayError(400, "the path contains a NUL byte")
    try:
        size = len(path.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        raise GatewayError(400, "the path is not valid text") from None
    if size > MAX_PATH_BYTES:
        raise GatewayError(400, f"the path is longer than {MAX_PATH_BYTES} bytes")
    if path.startswith("/"):
        raise GatewayError(400, "the path must be relative to the home")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise GatewayError(400, "the path must not contain '..'")
    if any(len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for p in parts):
        raise GatewayError(400, f"a path component is longer than {MAX_NAME_BYTES} bytes")
    return parts


def _text(name: str) -> str:
    # names are bytes on disk; undecodable ones come back as lone surrogates JSON cannot carry
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _kind(mode: int) -> EntryType:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _entry(name: str, path: str, st: os.stat_result, target: str | None = None) -> Entry:
    return Entry(
        name=_text(name),
        path=_text(path),
        type=_kind(st.st_mode),
        size=st.st_size,
        mode=f"{stat.S_IMODE(st.st_mode):04o}",
        mtime=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        target=None if target is None else _text(target),
    )


def _outside() -> GatewayError:
    return GatewayError(403, "a symbolic link on the path points outside the home")


@contextmanager
def _os_errors(path: str) -> Iterator[None]:
    """OS errors as the answers a user can act on (anything else stays a server error)."""
    shown = path or "."
    try:
        yield
    except FileNotFoundError:
        raise GatewayError(404, f"{shown}: no such file or directory") from None
    except NotADirectoryError:
        raise GatewayError(400, f"{shown}: not a directory") from None
    except PermissionError:
        raise GatewayError(403, f"{shown}: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a component turned into a symlink under our feet
            raise GatewayError(409, f"{shown}: changed while being accessed") from None
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise GatewayError(507, "the home volume is full") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise GatewayError(400, f"{shown}: name too long") from None
        if exc.errno == errno.EROFS:
            raise GatewayError(409, "the home volume is read-only") from None
        raise


class _Walk:
    """The directories from the home down to the current one, as fds: ``..`` in a symlink
    target pops one, and popping the home itself means the target leaves the home."""

    def __init__(self, root: Path) -> None:
        # the root comes from the runtime, not from the user: following it is fine
        self.stack = [os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)]

    @property
    def fd(self) -> int:
        return self.stack[-1]

    def down(self, fd: int) -> None:
        self.stack.append(fd)

    def up(self) -> None:
        if len(self.stack) == 1:
            raise _outside()
        os.close(self.stack.pop())

    def to_home(self) -> None:
        while len(self.stack) > 1:
            os.close(self.stack.pop())

    def close(self) -> None:
        while self.stack:
            os.close(self.stack.pop())


class Home:
    """One workspace's home directory on the host; files created are owned by ``uid:gid``
    (the workspace's ``dev`` user)."""

    def __init__(self, root: Path, uid: int = 1000, gid: int = 1000) -> None:
        self.root = root
        self.uid = uid
        self.gid = gid

    @contextmanager
    def _walk(self, path: str) -> Iterator[_Walk]:
        with _os_errors(path):
            walk = _Walk(self.root)
            try:
                yield walk
            finally:
                walk.close()

    def _resolve(self, walk: _Walk, parts: list[str], *, follow_last: bool, make_dirs: bool = False) -> str | None:
        """Move ``walk`` to the directory holding the last component and return that
        component's name, which exists or not but is not a symlink unless ``follow_last``
        is false (None: the path ends at ``walk``'s directory itself)."""
        pending = deque(parts)
        hops = 0
        while pending:
            name = pending.popleft()
            if name == "..":  # only ever from a link target: user paths are refused with ..
                walk.up()
                continue
            last = not pending
            if last and not follow_last:
                return name
            try:
                fd = os.open(name, _LOOK, dir_fd=walk.fd)
            except FileNotFoundError:
                if last:
                    return name
                if not make_dirs:
                    raise
                self._make_dir(walk.fd, name)
                fd = os.open(name, _LOOK, dir_fd=walk.fd)
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                try:
                    # through the fd: exactly the link just looked at, not a swapped one
                    target = os.readlink("", dir_fd=fd)
                finally:
                    os.close(fd)
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise GatewayError(400, "too many levels of symbolic links")
                pending.extendleft(reversed(self._link_parts(walk, target)))
                continue
            if last:
                os.close(fd)
                return name
            if not stat.S_ISDIR(mode):
                os.close(fd)
                raise NotADirectoryError(errno.ENOTDIR, name)
            walk.down(fd)
        return None

    @staticmethod
    def _link_parts(walk: _Walk, target: str) -> list[str]:
        if target.startswith("/"):
            # the workspace wrote it: absolute means inside the container
            if target != HOME_IN_CONTAINER and not target.startswith(HOME_IN_CONTAINER + "/"):
                raise _outside()
            walk.to_home()
            target = target[len(HOME_IN_CONTAINER) :]
        return [p for p in target.split("/") if p not in ("", ".")]

    def _make_dir(self, dir_fd: int, name: str) -> None:
        try:
            os.mkdir(name, 0o755, dir_fd=dir_fd)
        except FileExistsError:
            return  # made meanwhile by someone else: theirs, owner and all
        os.chown(name, self.uid, self.gid, dir_fd=dir_fd, follow_symlinks=False)

    # ------------------------------------------------------------------ operations

    def listdir(self, path: str) -> Listing:
        parts = split_path(path)
        with self._walk(path) as walk:
            name = self._resolve(walk, parts, follow_last=True)
            if name is not None:
                fd = os.open(name, _LOOK, dir_fd=walk.fd)
                walk.down(fd)
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    raise NotADirectoryError(errno.ENOTDIR, name)
            # scandir needs a readable fd; reopening "." through the O_PATH fd is the same directory
            dir_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=walk.fd)
            try:
                with os.scandir(dir_fd) as it:
                    names = sorted(e.name for e in it)
                entries = []
                prefix = "/".join(parts)
                for child in names[:MAX_LIST_ENTRIES]:
                    try:
                        st = os.stat(child, dir_fd=dir_fd, follow_symlinks=False)
                        target = os.readlink(child, dir_fd=dir_fd) if stat.S_ISLNK(st.st_mode) else None
                    except OSError as exc:
                        if exc.errno in (errno.ENOENT, errno.EINVAL):
                            continue  # deleted or replaced since the directory was read
                        raise
                    entries.append(_entry(child, f"{prefix}/{child}" if prefix else child, st, target))
            finally:
                os.close(dir_fd)
        return Listing(path="/".join(parts), entries=entries, truncated=len(names) > MAX_LIST_ENTRIES)

    def stat(self, path: str) -> Entry:
        """What is at ``path``; a symlink is described, not followed."""
        parts = split_path(path)
        with self._walk(path) as walk:
            name = self._resolve(walk, parts, follow_last=False)
            if name is None:
                return _entry("", "", os.fstat(walk.fd))
            st = os.stat(name, dir_fd=walk.fd, follow_symlinks=False)
            target = os.readlink(name, dir_fd=walk.fd) if stat.S_ISLNK(st.st_mode) else None
            return _entry(name, "/".join(parts), st, target)

    def open_read(self, path: str) -> Reader:
        """The regular file at ``path``, open for reading (the caller closes it)."""
        parts = split_path(path)
        with self._walk(path) as walk:
            name = self._resolve(walk, parts, follow_last=True)
            if name is None:
                raise GatewayError(400, f"{path or '.'}: is a directory")
            # O_NONBLOCK: a FIFO planted in the home must not hang the open
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
            fd = os.open(name, flags, dir_fd=walk.fd)
            try:
                st = os.fstat(fd)
                if stat.S_ISDIR(st.st_mode):
                    raise GatewayError(400, f"{path or '.'}: is a directory")
                if not stat.S_ISREG(st.st_mode):
                    raise GatewayError(400, f"{path}: not a regular file")
                os.set_blocking(fd, True)
            except BaseException:
                os.close(fd)
                raise
            return Reader(fd, _entry(parts[-1], "/".join(parts), st))

    def create(self, path: str, *, overwrite: bool, max_bytes: int) -> Upload:
        """A file to fill at ``path`` (a symlink at ``path`` is followed: the file it points
        to is replaced). Nothing is visible at ``path`` before :meth:`Upload.commit`."""
        parts = split_path(path)
        if not parts:
            raise GatewayError(400, "the home is a directory")
        with self._walk(path) as walk:
            name = self._resolve(walk, parts, follow_last=True)
            if name is None:
                raise GatewayError(409, f"{path}: is a directory")
            try:
                existing: os.stat_result | None = os.stat(name, dir_fd=walk.fd, follow_symlinks=False)
            except FileNotFoundError:
                existing = None
            if existing is not None and not stat.S_ISREG(existing.st_mode):
                raise GatewayError(409, f"{path}: exists and is not a regular file")
            if existing is not None and not overwrite:
                raise GatewayError(409, f"{path}: already exists")
            mode = 0o644 if existing is None else stat.S_IMODE(existing.st_mode) & 0o777
            temp = TEMP_PREFIX + secrets.token_hex(8)
            dir_fd = os.dup(walk.fd)
            try:
                fd = os.open(
                    temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd
                )
            except BaseException:
                os.close(dir_fd)
                raise
            upload = Upload(dir_fd, temp, name, fd, path="/".join(parts), overwrite=overwrite, max_bytes=max_bytes)
            try:
                os.fchown(fd, self.uid, self.gid)
                os.fchmod(fd, mode)
            except BaseException:
                upload.abort()
                raise
            return upload

    def mkdir(self, path: str, *, parents: bool) -> Entry:
        """Make the directory ``path`` (``parents``: and those missing above it, like ``mkdir -p``)."""
        parts = split_path(path)
        with self._walk(path) as walk:
            name = self._resolve(walk, parts, follow_last=True, make_dirs=parents)
            if name is not None:
                try:
                    os.mkdir(name, 0o755, dir_fd=walk.fd)
                    os.chown(name, self.uid, self.gid, dir_fd=walk.fd, follow_symlinks=False)
                except FileExistsError:
                    if not parents or not stat.S_ISDIR(os.stat(name, dir_fd=walk.fd, follow_symlinks=False).st_mode):
                        raise GatewayError(409, f"{path}: already exists") from None
                st = os.stat(name, dir_fd=walk.fd, follow_symlinks=False)
            elif parents:
                st = os.fstat(walk.fd)
            else:
                raise GatewayError(409, f"{path or '.'}: already exists")
            return _entry(parts[-1] if parts else "", "/".join(parts), st)

    def delete(self, path: str, *, recursive: bool) -> None:
        """Delete ``path``; a symlink is deleted, never what it points to."""
        parts = split_path(path)
        if not parts:
            raise GatewayError(400, "the home itself cannot be deleted")
        with self._walk(path) as walk:
            name = self._resolve(walk, parts, follow_last=False)
            assert name is not None  # a last component that is not followed is always named
            st = os.stat(name, dir_fd=walk.fd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=walk.fd)
            elif recursive:
                _remove_tree(walk.fd, name, 0)
            else:
                try:
                    os.rmdir(name, dir_fd=walk.fd)
                except OSError as exc:
                    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                        raise GatewayError(409, f"{path}: the directory is not empty") from None
                    raise


def _remove_tree(parent_fd: int, name: str, depth: int) -> None:
    # O_NOFOLLOW | O_DIRECTORY on every level: a directory swapped for a symlink during the
    # walk makes the open fail instead of leading the delete out of the home
    if depth >= MAX_DELETE_DEPTH:
        raise GatewayError(
            400, f"the tree is deeper than {MAX_DELETE_DEPTH} levels; delete it from inside the workspace"
        )
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    try:
        with os.scandir(fd) as it:
            children = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        for child, is_dir in children:
            if is_dir:
                _remove_tree(fd, child, depth + 1)
            else:
                with suppress(FileNotFoundError):
                    os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)


class Reader:
    """An open regular file of the home. Reads and close take turns (a lock): a handler
    cancelled mid-read closes from another thread, and closing an fd while a read on it
    is about to start could read whatever file or socket reuses the number."""

    def __init__(self, fd: int, entry: Entry) -> None:
        self.entry = entry
        self._fd = fd
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self.entry.size

    def read(self, n: int) -> bytes:
        with self._lock:
            if self._fd < 0:
                return b""
            return os.read(self._fd, n)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class Upload:
    """A temporary file next to the target, renamed over it on :meth:`commit`; anything
    else (:meth:`abort`, too many bytes, an error) leaves no trace. Thread-safe for the same
    reason as :class:`Reader`."""

    def __init__(
        self, dir_fd: int, temp: str, name: str, fd: int, *, path: str, overwrite: bool, max_bytes: int
    ) -> None:
        self.path = path
        self.written = 0
        self._dir_fd = dir_fd
        self._temp = temp
        self._name = name
        self._fd = fd
        self._overwrite = overwrite
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._fd < 0:
                raise GatewayError(409, f"{self.path}: the upload was already finished")
            if self.written + len(data) > self._max_bytes:
                self._abort()
                raise GatewayError(413, f"{self.path}: larger than the upload limit of {self._max_bytes} bytes")
            try:
                with _os_errors(self.path):
                    view = memoryview(data)
                    while view:
                        view = view[os.write(self._fd, view) :]
            except BaseException:
                self._abort()
                raise
            self.written += len(data)

    def commit(self) -> Entry:
        with self._lock:
            if self._fd < 0:
                raise GatewayError(409, f"{self.path}: the upload was already finished")
            try:
                with _os_errors(self.path):
                    os.fsync(self._fd)  # the rename must not publish a file whose data a crash loses
                    st = os.fstat(self._fd)
                    self._publish()
            except BaseException:
                self._abort()
                raise
            self._temp = ""  # it is the file now: not ours to unlink
            self._abort()
            return _entry(self.path.rpartition("/")[2], self.path, st)

    def _publish(self) -> None:
        d = self._dir_fd
        if self._overwrite:
            try:
                os.replace(self._temp, self._name, src_dir_fd=d, dst_dir_fd=d)
            except IsADirectoryError:
                raise GatewayError(409, f"{self.path}: is a directory") from None
            return
        # a hard link never replaces: someone who made the name meanwhile keeps their file
        try:
            os.link(self._temp, self._name, src_dir_fd=d, dst_dir_fd=d, follow_symlinks=False)
        except FileExistsError:
            raise GatewayError(409, f"{self.path}: already exists") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP):
                raise
            # a filesystem without hard links: check, then rename (a race may replace)
            try:
                os.stat(self._name, dir_fd=d, follow_symlinks=False)
            except FileNotFoundError:
                os.rename(self._temp, self._name, src_dir_fd=d, dst_dir_fd=d)
                return
            raise GatewayError(409, f"{self.path}: already exists") from None
        os.unlink(self._temp, dir_fd=d)

    def abort(self) -> None:
        with self._lock:
            self._abort()

    def _abort(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._temp:
            with suppress(FileNotFoundError):
                os.unlink(self._temp, dir_fd=self._dir_fd)
            self._temp = ""
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1
