"""A workspace's processes as the host's ``/proc`` shows them, and the pure rules deciding
whether one of them did someone's work between two looks (see :class:`CpuWatcher`).

Processes are found by pid namespace: one walk of ``/proc`` per look groups every process
by the inode of ``/proc/<pid>/ns/pid`` and a workspace's processes are those sharing its
container init's namespace (``podman exec`` joins it too). The cgroup (``cgroup.procs``)
would also work, but its path must be mapped through the controller's mount and the
reader's cgroup namespace, and that differs between cgroup v1, this machine's v1 "hybrid"
(runc + cgroupfs) and v2 with systemd scopes; the namespace inode is the same everywhere,
and one walk serves every workspace of the host at once. What it misses: a process the
workspace put in a pid namespace of its own (``unshare -p``), rare in a container without
capabilities."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple


class ProcStat(NamedTuple):
    comm: str
    ticks: int
    """CPU time in clock ticks: its own (utime + stime) and that of its children it has
    waited for (cutime + cstime), so a build made of many short compiler runs, none of
    which lives until the next look, still shows as work of the ``make`` that ran them."""
    start: int
    """Start time in clock ticks after boot (field 22)."""


class Proc(NamedTuple):
    pid: int
    start: int
    ticks: int
    comm: str


def parse_stat(text: str) -> ProcStat | None:
    """``/proc/<pid>/stat``; None when it is not one. The command name sits in parentheses
    and may itself hold spaces and ``)``, so fields are counted after the last ``)``."""
    head, sep, tail = text.rpartition(")")
    if not sep or "(" not in head:
        return None
    fields = tail.split()
    # fields[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17, starttime 22
    if len(fields) < 20:
        return None
    try:
        ticks = sum(int(f) for f in fields[11:15])
        return ProcStat(comm=head.partition("(")[2], ticks=ticks, start=int(fields[19]))
    except ValueError:
        return None


def command_line(raw: bytes, comm: str) -> str:
    """The NUL-separated ``/proc/<pid>/cmdline`` as one line; a kernel thread or a zombie has
    none, so its command name stands in."""
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", errors="replace").strip()
    return text or comm


def ignore_patterns(spec: str) -> tuple[re.Pattern[str], ...]:
    """The comma-separated regular expressions of ``activity_cpu_ignore`` (so none of them
    may contain a comma). A bad one is a configuration error, raised at start."""
    out = []
    for part in spec.split(","):
        if not (expr := part.strip()):
            continue
        try:
            out.append(re.compile(expr))
        except re.error as exc:
            raise ValueError(f"activity_cpu_ignore: {expr!r} is not a regular expression: {exc}") from exc
    return tuple(out)


def ignored(cmdline: str, patterns: Iterable[re.Pattern[str]]) -> bool:
    return any(p.search(cmdline) for p in patterns)


def grew_busy(
    previous: int | None,
    proc: Proc,
    *,
    last_look: int | None,
    elapsed_s: float,
    threshold: float,
    clk_tck: int,
) -> bool:
    """Did ``proc`` use more than ``threshold`` of one CPU since the last look?

    ``previous``: its CPU ticks then (None: not seen). An unseen process counts from zero
    only when it started after the last look (``last_look``, ticks after boot); one that
    was there already (the first look at a workspace, or a process the look missed) has a
    lifetime's total, which says nothing about the last interval."""
    if previous is None:
        if last_look is None or proc.start < last_look:
            return False
        previous = 0
    return proc.ticks - previous > threshold * elapsed_s * clk_tck


def working(
    previous: dict[tuple[int, int], int],
    procs: Sequence[Proc],
    *,
    last_look: int | None,
    elapsed_s: float,
    threshold: float,
    clk_tck: int,
) -> list[Proc]:
    """The processes that grew busy since the last look (before the ignore list)."""
    return [
        p
        for p in procs
        if grew_busy(
            previous.get((p.pid, p.start)),
            p,
            last_look=last_look,
            elapsed_s=elapsed_s,
            threshold=threshold,
            clk_tck=clk_tck,
        )
    ]


# ---------------------------------------------------------------- reading /proc (not pure)


def pid_namespace(pid: int, proc_root: Path = Path("/proc")) -> int | None:
    try:
        return (proc_root / str(pid) / "ns" / "pid").stat().st_ino
    except OSError:
        return None


def by_namespace(namespaces: set[int], proc_root: Path = Path("/proc")) -> dict[int, list[Proc]]:
    """Every process in one of ``namespaces`` (pid namespace inodes), grouped by namespace.
    Processes vanish while we read: any error just leaves that one out."""
    found: dict[int, list[Proc]] = {ns: [] for ns in namespaces}
    for entry in os.scandir(proc_root):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        ns = pid_namespace(pid, proc_root)
        if ns is None or ns not in found:
            continue
        try:
            stat = parse_stat((proc_root / entry.name / "stat").read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if stat is not None:
            found[ns].append(Proc(pid=pid, start=stat.start, ticks=stat.ticks, comm=stat.comm))
    return found


def read_cmdline(proc: Proc, proc_root: Path = Path("/proc")) -> str:
    try:
        raw = (proc_root / str(proc.pid) / "cmdline").read_bytes()
    except OSError:
        raw = b""
    return command_line(raw, proc.comm)


def uptime_ticks(clk_tck: int, proc_root: Path = Path("/proc")) -> int:
    """Now, in the clock of the processes' start times (ticks since boot)."""
    return int(float((proc_root / "uptime").read_text(encoding="ascii").split()[0]) * clk_tck)
