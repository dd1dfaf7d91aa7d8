"""Pure arithmetic and the disk walk behind :mod:`wws_provisioner.gateway.metrics`."""

from __future__ import annotations

import os
import stat
from typing import Any, NamedTuple


class CpuReading(NamedTuple):
    cpu_ns: int
    """The container's CPU time so far (Podman's ``CPUNano``)."""
    at_ns: int
    """Wall clock of the reading, Unix nanoseconds (Podman's ``SystemNano``)."""


def cpu_percents(
    previous: CpuReading | None,
    now: CpuReading,
    *,
    started_ns: int | None,
    host_cpus: int,
    limit_cpus: float | None,
) -> tuple[float, float | None]:
    """CPU use since the previous reading, as a percentage of the host's CPUs and of the
    workspace's own limit. Without a usable previous reading (the first sample, or one
    from before a restart) it is the average since the container started."""
    base = previous
    if base is None or now.cpu_ns < base.cpu_ns or now.at_ns <= base.at_ns:
        base = CpuReading(0, started_ns) if started_ns is not None and started_ns < now.at_ns else None
    if base is None:
        return 0.0, (0.0 if limit_cpus else None)
    used = (now.cpu_ns - base.cpu_ns) / (now.at_ns - base.at_ns)  # in CPUs: 1.0 = one CPU all the time
    host = round(100.0 * used / max(host_cpus, 1), 2)
    return host, (round(100.0 * used / limit_cpus, 2) if limit_cpus else None)


def cpu_limit(host_config: dict[str, Any]) -> float | None:
    """CPUs the container may use (the agent sets a CFS quota; ``NanoCpus`` for others)."""
    quota, period = int(host_config.get("CpuQuota") or 0), int(host_config.get("CpuPeriod") or 0)
    if quota > 0 and period > 0:
        return quota / period
    nano = int(host_config.get("NanoCpus") or 0)
    return nano / 1e9 if nano > 0 else None


def disk_usage(root: str) -> int:
    """Bytes allocated under ``root``, like ``du -sx``: blocks rather than sizes (sparse
    files, small files), hard links once, no symbolic link followed, no other filesystem
    entered. Entries vanishing during the walk are skipped."""
    try:
        top = os.lstat(root)
    except OSError:
        return 0
    total = top.st_blocks * 512
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_dev != top.st_dev:
                    continue
                if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
    return total
