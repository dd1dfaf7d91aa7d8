"""``wws-stack``: the whole WWS stack on one machine from its embedded defaults."""

from __future__ import annotations

import argparse

from wws_stack import stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wws-stack", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up", help="start NATS, PostgreSQL, every service and a demo workspace; Ctrl-C stops")
    sub.add_parser("env", help="print shell exports for talking to a running stack")
    args = parser.parse_args(argv)
    if args.cmd == "up":
        return stack.up()
    return stack.env_exports()


if __name__ == "__main__":
    raise SystemExit(main())
