"""The arithmetic behind workspace metrics: CPU percentages, limits, disk usage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wws_provisioner.gateway.usage import CpuReading, cpu_limit, cpu_percents, disk_usage

S = 1_000_000_000


def test_cpu_percent_between_two_readings_of_the_host_and_of_the_limit() -> None:
    # one CPU busy for 10 s on a 4-CPU host, limited to 2 CPUs
    host, limit = cpu_percents(
        CpuReading(5 * S, 100 * S), CpuReading(15 * S, 110 * S), started_ns=0, host_cpus=4, limit_cpus=2.0
    )
    assert (host, limit) == (25.0, 50.0)


def test_cpu_percent_without_a_previous_reading_is_the_average_since_the_start() -> None:
    host, limit = cpu_percents(None, CpuReading(1 * S, 110 * S), started_ns=100 * S, host_cpus=2, limit_cpus=None)
    assert (host, limit) == (5.0, None)


def test_a_restarted_container_does_not_give_a_negative_percentage() -> None:
    host, _ = cpu_percents(
        CpuReading(50 * S, 100 * S), CpuReading(1 * S, 104 * S), started_ns=102 * S, host_cpus=1, limit_cpus=1.0
    )
    assert host == 50.0


def test_cpu_percent_with_nothing_to_compare_is_zero() -> None:
    assert cpu_percents(None, CpuReading(S, 5 * S), started_ns=None, host_cpus=2, limit_cpus=1.0) == (0.0, 0.0)
    assert cpu_percents(None, CpuReading(S, 5 * S), started_ns=9 * S, host_cpus=2, limit_cpus=None) == (0.0, None)


@pytest.mark.parametrize(
    ("host_config", "expected"),
    [
        ({"CpuQuota": 50_000, "CpuPeriod": 100_000, "NanoCpus": 500_000_000}, 0.5),
        ({"CpuQuota": 0, "CpuPeriod": 0, "NanoCpus": 2_000_000_000}, 2.0),
        ({"CpuQuota": -1, "CpuPeriod": 100_000}, None),
        ({}, None),
    ],
)
def test_cpu_limit(host_config: dict[str, int], expected: float | None) -> None:
    assert cpu_limit(host_config) == expected


def test_disk_usage_counts_blocks_once_and_follows_no_link(tmp_path: Path) -> None:
    root = tmp_path / "home"
    (root / "a" / "b").mkdir(parents=True)
    empty = disk_usage(str(root))
    (root / "a" / "b" / "data").write_bytes(os.urandom(1 << 20))
    os.link(root / "a" / "b" / "data", root / "hardlink")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(os.urandom(4 << 20))
    (root / "link").symlink_to(outside)
    (root / "sparse").open("wb").truncate(64 << 20)
    used = disk_usage(str(root))
    assert (1 << 20) <= used - empty < (2 << 20)


def test_disk_usage_of_nothing_is_zero(tmp_path: Path) -> None:
    assert disk_usage(str(tmp_path / "missing")) == 0
