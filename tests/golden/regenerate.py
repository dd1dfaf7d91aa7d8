"""Rewrite tests/golden/{events,commands}/*.json from samples.py. Run only when a wire
change is intended; the diff of the golden files is the review of that change."""

from __future__ import annotations

from pathlib import Path

import msgspec

from tests.golden.samples import EVENTS, ORDERS, event_envelope, order_envelope
from wws_events import encode

ROOT = Path(__file__).parent


def main() -> None:
    for sub in ("events", "commands"):
        (ROOT / sub).mkdir(exist_ok=True)
    for data in EVENTS:
        env = event_envelope(data)
        (ROOT / "events" / f"{env.type}.json").write_bytes(msgspec.json.format(encode(env), indent=2) + b"\n")
    for order in ORDERS:
        cmd = order_envelope(order)
        (ROOT / "commands" / f"{cmd.type}.json").write_bytes(msgspec.json.format(encode(cmd), indent=2) + b"\n")


if __name__ == "__main__":
    main()
