"""The gateway's file access on a real filesystem: confined to the home whatever the path
or the symlinks planted in it, atomic uploads, ownership for the workspace's user."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wws_provisioner.gateway.context import GatewayError
from wws_provisioner.gateway.fspath import MAX_SYMLINK_HOPS, TEMP_PREFIX, Entry, Home

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="chown to uid 1000 needs root")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret").write_bytes(b"host secret")
    return out


@pytest.fixture
def root(tmp_path: Path, outside: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def home(root: Path) -> Home:
    return Home(root) if ROOT else Home(root, uid=os.getuid(), gid=os.getgid())


def put(home: Home, path: str, data: bytes, *, overwrite: bool = False, cap: int = 1 << 20) -> Entry:
    with home.create(path, overwrite=overwrite, max_bytes=cap) as upload:
        upload.write(data)
        return upload.commit()


def read(home: Home, path: str) -> bytes:
    reader = home.open_read(path)
    try:
        return reader.read(1 << 20)
    finally:
        reader.close()


def refused(status: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    with pytest.raises(GatewayError) as info:
        fn(*args, **kwargs)
    assert info.value.status == status, info.value.message
    return info.value.message


def every_operation(home: Home) -> list[tuple[Callable[..., Any], dict[str, Any]]]:
    return [
        (home.listdir, {}),
        (home.stat, {}),
        (home.open_read, {}),
        (home.create, {"overwrite": True, "max_bytes": 10}),
        (home.mkdir, {"parents": True}),
        (home.delete, {"recursive": True}),
    ]


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "path",
    ["..", "../outside/secret", "a/../../outside", "a/..", "/etc/passwd", "/", "x\x00y", "a/" * 2100, "n" * 256],
)
def test_paths_that_could_leave_the_home_are_refused(home: Home, root: Path, path: str) -> None:
    (root / "a").mkdir()
    for fn, kwargs in every_operation(home):
        refused(400, fn, path, **kwargs)
    assert (root.parent / "outside" / "secret").read_bytes() == b"host secret"


def test_empty_and_dot_are_the_home(home: Home, root: Path) -> None:
    (root / "f").write_bytes(b"x")
    assert home.listdir("").entries == home.listdir(".").entries == home.listdir("./").entries
    assert home.stat("").type == "dir" and home.stat("").path == ""
    assert refused(400, home.delete, "", recursive=True) == "the home itself cannot be deleted"
    refused(400, home.delete, ".", recursive=True)
    refused(400, home.open_read, "")


# ---------------------------------------------------------------- symlinks


def test_symlink_to_a_host_directory_is_not_followed(home: Home, root: Path) -> None:
    (root / "etc").symlink_to("/etc")
    for path in ("etc", "etc/passwd", "etc/wws-new"):
        msg = refused(403, home.open_read, path)
        assert "points outside the home" in msg
    refused(403, home.listdir, "etc")
    refused(403, home.create, "etc/wws-new", overwrite=True, max_bytes=10)
    refused(403, home.mkdir, "etc/wws-new", parents=True)
    refused(403, home.delete, "etc/passwd", recursive=False)
    assert not Path("/etc/wws-new").exists()
    # the link itself is the workspace's: described, not followed
    entry = home.stat("etc")
    assert entry.type == "symlink" and entry.target == "/etc"


def test_relative_symlink_out_of_the_home_is_not_followed(home: Home, root: Path, outside: Path) -> None:
    (root / "out").symlink_to("../outside")
    (root / "s").symlink_to("../outside/secret")
    (root / "sub").mkdir()
    (root / "sub" / "deep").symlink_to("../../outside/secret")
    for path in ("out/secret", "s", "sub/deep"):
        refused(403, home.open_read, path)
        refused(403, home.create, path, overwrite=True, max_bytes=10)
    refused(403, home.listdir, "out")
    assert (outside / "secret").read_bytes() == b"host secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_a_chain_of_directory_symlinks_leaving_the_home_is_not_followed(home: Home, root: Path) -> None:
    (root / "sub").mkdir()
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("sub/c")
    (root / "sub" / "c").symlink_to("..")  # the home itself: fine so far
    (root / "sub" / "up").symlink_to("../..")  # one level too far
    assert {e.name for e in home.listdir("a").entries} == {"sub", "a", "b"}
    refused(403, home.open_read, "a/a/sub/up/outside/secret")
    refused(403, home.listdir, "a/sub/up")


def test_absolute_symlink_into_home_dev_stays_in_the_home(home: Home, root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "x.txt").write_bytes(b"inside")
    (root / "abs").symlink_to("/home/dev/sub/x.txt")
    (root / "absdir").symlink_to("/home/dev/sub")
    (root / "homelink").symlink_to("/home/dev")
    (root / "rel").symlink_to("sub/../sub/x.txt")
    assert read(home, "abs") == read(home, "absdir/x.txt") == read(home, "homelink/sub/x.txt") == b"inside"
    assert read(home, "rel") == b"inside"
    assert [e.name for e in home.listdir("absdir").entries] == ["x.txt"]
    put(home, "abs", b"replaced", overwrite=True)  # writes through the link, the link stays
    assert (root / "sub" / "x.txt").read_bytes() == b"replaced" and (root / "abs").is_symlink()


@pytest.mark.parametrize("target", ["/home/devil/x", "/home/dev/../../etc", "/home", "/etc/passwd", "/home/dev/.."])
def test_absolute_symlink_elsewhere_is_outside(home: Home, root: Path, target: str) -> None:
    (root / "l").symlink_to(target)
    refused(403, home.open_read, "l")


def test_symlink_loops_end(home: Home, root: Path) -> None:
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    (root / "self").symlink_to("self")
    (root / "dot").symlink_to(".")
    assert "too many levels" in refused(400, home.open_read, "a")
    refused(400, home.listdir, "self/x")
    refused(400, home.create, "a", overwrite=True, max_bytes=1)
    refused(400, home.listdir, "dot/" * (MAX_SYMLINK_HOPS + 1))
    assert home.listdir("dot/" * MAX_SYMLINK_HOPS).path == "/".join(["dot"] * MAX_SYMLINK_HOPS)


# ---------------------------------------------------------------- reading


def test_list_and_stat_describe_entries(home: Home, root: Path) -> None:
    (root / "d").mkdir()
    (root / "f.txt").write_bytes(b"12345")
    (root / "f.txt").chmod(0o640)
    (root / "link").symlink_to("f.txt")
    os.mkfifo(root / "pipe")
    listing = home.listdir("")
    by_name = {e.name: e for e in listing.entries}
    assert [e.name for e in listing.entries] == ["d", "f.txt", "link", "pipe"] and not listing.truncated
    assert by_name["d"].type == "dir" and by_name["pipe"].type == "other"
    f = by_name["f.txt"]
    assert (f.type, f.size, f.mode, f.path, f.target) == ("file", 5, "0640", "f.txt", None)
    assert f.mtime.tzinfo is not None and abs(f.mtime.timestamp() - (root / "f.txt").stat().st_mtime) < 1e-3
    assert by_name["link"].type == "symlink" and by_name["link"].target == "f.txt"
    assert home.stat("d/") == home.listdir("").entries[0]
    assert home.stat("link").type == "symlink"
    assert home.listdir("d").path == "d" and home.listdir("d").entries == []


def test_reading_refuses_what_is_not_a_regular_file(home: Home, root: Path) -> None:
    (root / "d").mkdir()
    (root / "f").write_bytes(b"x")
    os.mkfifo(root / "pipe")  # opening it blocking would hang the gateway
    refused(400, home.open_read, "d")
    refused(400, home.open_read, "pipe")
    refused(400, home.listdir, "f")
    refused(400, home.open_read, "f/x")
    refused(404, home.open_read, "missing")
    refused(404, home.listdir, "missing")
    refused(404, home.stat, "missing/x")


def test_open_read_gives_the_checked_file(home: Home, root: Path) -> None:
    (root / "f").write_bytes(b"abc" * 1000)
    reader = home.open_read("f")
    try:
        (root / "f").unlink()  # gone by name: the open file is what gets read
        assert reader.size == 3000 and reader.entry.name == "f"
        assert reader.read(1 << 20) == b"abc" * 1000
    finally:
        reader.close()
    assert reader.read(10) == b""


# ---------------------------------------------------------------- writing


def test_upload_over_the_cap_leaves_nothing(home: Home, root: Path) -> None:
    upload = home.create("big.bin", overwrite=False, max_bytes=10)
    upload.write(b"123456")
    assert "upload limit" in refused(413, upload.write, b"123456")
    assert list(root.iterdir()) == []
    refused(409, upload.commit)
    upload.abort()  # twice is fine


def test_an_abandoned_upload_leaves_nothing(home: Home, root: Path) -> None:
    (root / "keep").write_bytes(b"old")
    with home.create("keep", overwrite=True, max_bytes=100) as upload:
        upload.write(b"new")
        assert len(list(root.iterdir())) == 2  # the temporary file, not yet the target
    assert [p.name for p in root.iterdir()] == ["keep"] and (root / "keep").read_bytes() == b"old"


def test_overwrite_semantics(home: Home, root: Path) -> None:
    put(home, "f", b"one")
    assert "already exists" in refused(409, home.create, "f", overwrite=False, max_bytes=10)
    entry = put(home, "f", b"two!", overwrite=True)
    assert (root / "f").read_bytes() == b"two!" and entry.size == 4 and entry.type == "file"
    # someone made the name after the upload started: without overwrite, theirs stays
    upload = home.create("g", overwrite=False, max_bytes=10)
    upload.write(b"mine")
    (root / "g").write_bytes(b"theirs")
    refused(409, upload.commit)
    assert (root / "g").read_bytes() == b"theirs" and no_temp_files(root)
    (root / "d").mkdir()
    refused(409, home.create, "d", overwrite=True, max_bytes=10)
    (root / "lnk").symlink_to("d")
    refused(409, home.create, "lnk", overwrite=True, max_bytes=10)


def test_upload_keeps_the_mode_of_the_file_it_replaces(home: Home, root: Path) -> None:
    (root / "run.sh").write_bytes(b"#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    assert put(home, "run.sh", b"#!/bin/sh\ntrue\n", overwrite=True).mode == "0755"
    assert put(home, "new.txt", b"").mode == "0644"


def test_upload_needs_an_existing_parent_directory(home: Home, root: Path) -> None:
    (root / "file").write_bytes(b"x")
    refused(404, home.create, "missing/f", overwrite=False, max_bytes=10)
    refused(400, home.create, "file/f", overwrite=False, max_bytes=10)
    refused(400, home.create, "", overwrite=True, max_bytes=10)
    assert sorted(p.name for p in root.iterdir()) == ["file"]


def test_mkdir(home: Home, root: Path) -> None:
    entry = home.mkdir("a", parents=False)
    assert entry.type == "dir" and entry.path == "a" and (root / "a").is_dir()
    refused(409, home.mkdir, "a", parents=False)
    assert home.mkdir("a", parents=True).type == "dir"
    refused(404, home.mkdir, "x/y", parents=False)
    assert home.mkdir("x/y/z", parents=True).path == "x/y/z" and (root / "x" / "y" / "z").is_dir()
    (root / "f").write_bytes(b"")
    refused(409, home.mkdir, "f", parents=True)
    refused(409, home.mkdir, "", parents=False)
    assert home.mkdir("", parents=True).type == "dir"


@needs_root
def test_what_the_gateway_creates_belongs_to_the_workspace_user(home: Home, root: Path) -> None:
    (root / "pre").mkdir()
    put(home, "pre/f.txt", b"data")
    home.mkdir("pre/a/b", parents=True)
    home.mkdir("c", parents=False)
    for p in ("pre/f.txt", "pre/a", "pre/a/b", "c"):
        st = (root / p).lstat()
        assert (st.st_uid, st.st_gid) == (1000, 1000), p
    assert (root / "pre").stat().st_uid == 0  # existing directories keep their owner


# ---------------------------------------------------------------- deleting


def test_delete_a_file_a_directory_and_missing(home: Home, root: Path) -> None:
    (root / "f").write_bytes(b"x")
    (root / "d" / "e").mkdir(parents=True)
    (root / "d" / "e" / "g").write_bytes(b"x")
    (root / "empty").mkdir()
    home.delete("f", recursive=False)
    home.delete("empty", recursive=False)
    assert "not empty" in refused(409, home.delete, "d", recursive=False)
    home.delete("d", recursive=True)
    assert list(root.iterdir()) == []
    refused(404, home.delete, "f", recursive=False)
    refused(404, home.delete, "nope/f", recursive=True)


def test_deleting_a_symlink_deletes_the_link_only(home: Home, root: Path, outside: Path) -> None:
    (root / "out").symlink_to("../outside")
    (root / "file").symlink_to("../outside/secret")
    (root / "dangling").symlink_to("/nowhere")
    for name in ("out", "file", "dangling"):
        home.delete(name, recursive=True)
    assert list(root.iterdir()) == [] and (outside / "secret").read_bytes() == b"host secret"


def test_recursive_delete_does_not_follow_symlinks_out(home: Home, root: Path, outside: Path) -> None:
    (root / "tree" / "sub").mkdir(parents=True)
    (root / "tree" / "sub" / "f").write_bytes(b"x")
    (root / "tree" / "out").symlink_to(outside)  # absolute, host path
    (root / "tree" / "sub" / "up").symlink_to("../../../outside")
    (root / "tree" / "sub" / "secret").symlink_to(outside / "secret")
    home.delete("tree", recursive=True)
    assert list(root.iterdir()) == []
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"host secret"


def test_delete_inside_a_symlinked_directory_that_stays_home(home: Home, root: Path) -> None:
    (root / "real").mkdir()
    (root / "real" / "f").write_bytes(b"x")
    (root / "alias").symlink_to("/home/dev/real")
    home.delete("alias/f", recursive=False)
    assert list((root / "real").iterdir()) == [] and (root / "alias").is_symlink()
