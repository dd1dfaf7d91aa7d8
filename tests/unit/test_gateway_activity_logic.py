"""The pure parts of the CPU watcher: /proc/<pid>/stat, command lines, the ignore list, and
when a process's CPU time says someone is working."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from wws_provisioner.gateway import procs
from wws_provisioner.gateway.activity import activity_cause
from wws_provisioner.gateway.procs import Proc

TCK = 100


def stat_line(pid: int, comm: str, utime: int, stime: int, start: int, cutime: int = 0, cstime: int = 0) -> str:
    after = ["S", "1", str(pid), str(pid), "0", "-1", "4194560", "1146", "0", "1", "0"]
    after += [str(utime), str(stime), str(cutime), str(cstime), "20", "0", "1", "0", str(start), "1036288", "130"]
    return f"{pid} ({comm}) " + " ".join(after) + " 18446744073709551615 4198400 0 0\n"


def test_parse_stat_reads_cpu_ticks_and_start_after_the_command_name() -> None:
    parsed = procs.parse_stat(stat_line(42, "sh", utime=7, stime=3, start=1256326))
    assert parsed == procs.ProcStat(comm="sh", ticks=10, start=1256326)


def test_parse_stat_counts_children_it_waited_for() -> None:
    parsed = procs.parse_stat(stat_line(42, "make", utime=1, stime=1, start=5, cutime=300, cstime=40))
    assert parsed is not None and parsed.ticks == 342


@pytest.mark.parametrize("comm", ["a b", "x) (y", "))", "(", "", "tmux: server (1)"])
def test_parse_stat_takes_fields_after_the_last_parenthesis(comm: str) -> None:
    assert procs.parse_stat(stat_line(9, comm, utime=5, stime=6, start=77)) == procs.ProcStat(comm, 11, 77)


def test_parse_stat_real_line_of_this_process() -> None:
    parsed = procs.parse_stat(Path(f"/proc/{os.getpid()}/stat").read_text())
    assert parsed is not None and parsed.ticks >= 0 and parsed.start > 0


@pytest.mark.parametrize("text", ["", "garbage", "1 (sh) S 1 2", "1 sh) S " + "x " * 30, "1 (sh) S " + "x " * 30])
def test_parse_stat_refuses_what_is_not_a_stat_line(text: str) -> None:
    assert procs.parse_stat(text) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"sh\0-c\0while :; do :; done\0", "sh -c while :; do :; done"),
        (b"sleep\0infinity", "sleep infinity"),
        (b"", "kworker/0:1"),
        (b"\0", "kworker/0:1"),
        (b"caf\xe9\0x\0", "caf\ufffd x"),
    ],
)
def test_command_line(raw: bytes, expected: str) -> None:
    assert procs.command_line(raw, "kworker/0:1") == expected


def test_ignore_patterns_split_on_commas_and_search_anywhere() -> None:
    patterns = procs.ignore_patterns(r"code-server, wws[-_]init ,,")
    assert [p.pattern for p in patterns] == ["code-server", "wws[-_]init"]
    assert procs.ignored("/usr/lib/code-server/lib/node /usr/lib/code-server/out/node/entry", patterns)
    assert procs.ignored("python3 -m wws_init", patterns)
    assert not procs.ignored("make -j4", patterns)
    assert not procs.ignored("anything", procs.ignore_patterns(""))


def test_ignore_patterns_refuse_a_bad_expression() -> None:
    with pytest.raises(ValueError, match="activity_cpu_ignore"):
        procs.ignore_patterns("ok,(unclosed")


def busy(previous: int | None, proc: Proc, *, last_look: int | None = 1000, elapsed_s: float = 10.0) -> bool:
    return procs.grew_busy(previous, proc, last_look=last_look, elapsed_s=elapsed_s, threshold=0.1, clk_tck=TCK)


def test_a_known_process_is_busy_above_the_threshold_only() -> None:
    # 10 s at 10 % of a CPU = 100 ticks
    assert busy(500, Proc(pid=7, start=10, ticks=601, comm="cc1"))
    assert not busy(500, Proc(pid=7, start=10, ticks=600, comm="cc1"))
    assert not busy(500, Proc(pid=7, start=10, ticks=500, comm="cc1"))


def test_a_new_process_counts_from_zero_only_when_it_started_after_the_last_look() -> None:
    assert busy(None, Proc(pid=8, start=1001, ticks=150, comm="cc1"))
    assert not busy(None, Proc(pid=8, start=1001, ticks=50, comm="cc1"))
    # there before the last look (missed, or it is the first look): its total is its lifetime's
    assert not busy(None, Proc(pid=8, start=999, ticks=10_000, comm="java"))
    assert not busy(None, Proc(pid=8, start=5000, ticks=10_000, comm="java"), last_look=None)


def test_working_tells_a_reused_pid_from_the_process_it_replaced() -> None:
    previous = {(7, 10): 500, (9, 20): 0}
    current = [
        Proc(pid=7, start=1005, ticks=20, comm="new"),  # pid 7 reused after the look, idle
        Proc(pid=9, start=20, ticks=400, comm="busy"),
        Proc(pid=11, start=1010, ticks=250, comm="born-busy"),
    ]
    found = procs.working(previous, current, last_look=1000, elapsed_s=10.0, threshold=0.1, clk_tck=TCK)
    assert [p.comm for p in found] == ["busy", "born-busy"]


def test_a_threshold_scales_with_the_time_between_looks() -> None:
    p = Proc(pid=7, start=1, ticks=160, comm="x")
    assert busy(0, p, elapsed_s=15.0)
    assert not busy(0, p, elapsed_s=16.0)


def fake_proc(root: Path, pid: int, ns: Path, stat: str, cmdline: bytes) -> None:
    (root / str(pid) / "ns").mkdir(parents=True)
    os.link(ns, root / str(pid) / "ns" / "pid")  # the same inode: the same pid namespace
    (root / str(pid) / "stat").write_text(stat)
    (root / str(pid) / "cmdline").write_bytes(cmdline)


def test_processes_are_grouped_by_pid_namespace(tmp_path: Path) -> None:
    ns_a, ns_b, ns_c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for f in (ns_a, ns_b, ns_c):
        f.write_text("")
    root = tmp_path / "proc"
    fake_proc(root, 100, ns_a, stat_line(100, "podman-init", 1, 0, 50), b"/run/podman-init\0--\0sleep\0")
    fake_proc(root, 101, ns_a, stat_line(101, "sleep", 0, 0, 51), b"sleep\0infinity\0")
    fake_proc(root, 200, ns_b, stat_line(200, "make", 90, 10, 60), b"make\0-j2\0")
    fake_proc(root, 300, ns_c, stat_line(300, "other", 5, 5, 70), b"")
    (root / "self").mkdir()  # not a pid
    (root / "uptime").write_text("12.34 20.00\n")

    a, b = procs.pid_namespace(100, root), procs.pid_namespace(200, root)
    assert a is not None and b is not None and a != b
    groups = procs.by_namespace({a, b}, root)
    assert sorted(p.pid for p in groups[a]) == [100, 101]
    assert groups[b] == [Proc(pid=200, start=60, ticks=100, comm="make")]
    assert procs.read_cmdline(groups[b][0], root) == "make -j2"
    assert procs.read_cmdline(Proc(pid=300, start=70, ticks=10, comm="other"), root) == "other"
    assert procs.read_cmdline(Proc(pid=999, start=1, ticks=1, comm="gone"), root) == "gone"
    assert procs.pid_namespace(999, root) is None
    assert procs.uptime_ticks(TCK, root) == 1234


def test_activity_ids_are_spelled_as_the_api_spells_them() -> None:
    ws = uuid.UUID("6f7e1c3a-8f0e-4f7e-9a53-2f5b0f6c0a01")
    assert activity_cause(ws, 60.0, 29_000_000) == f"activity:{ws}:60.0:29000000"
