"""``wws-images``: build and list workspace images on this host."""

from __future__ import annotations

import argparse
import sys

from wws_images import builder, podman_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wws-images", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build images (unchanged inputs: no-op)")
    b.add_argument("names", nargs="*", default=["base"], help=f"images to build: {', '.join(builder.DEFINITIONS)}")
    b.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    b.add_argument("--quiet", action="store_true", help="do not stream build output")
    sub.add_parser("list", help="list WWS images present on this host")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            for name in args.names:
                if name not in builder.DEFINITIONS:
                    print(
                        f"wws-images: unknown image {name!r} (known: {', '.join(builder.DEFINITIONS)})", file=sys.stderr
                    )
                    return 2
                builder.build(builder.DEFINITIONS[name], force=args.force, quiet=args.quiet)
            return 0
        print(podman_cli.run("images", "--filter", "reference=localhost/wws-*"), end="")
        return 0
    except (podman_cli.PodmanError, RuntimeError, FileNotFoundError) as exc:
        print(f"wws-images: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
