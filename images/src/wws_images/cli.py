"""``wws-images``: build and list workspace images on this host.

  wws-images build base                          the base image (the default)
  wws-images build ide                           base + code-server
  wws-images build dev --languages python,go     base + code-server + those toolchains
  wws-images build dev --languages all           every language (--languages none: code-server only)
  wws-images list                                WWS images present here

Unchanged inputs make a build a no-op. Errors are one line on stderr: exit 2 for a bad
request (unknown image or language), 1 when a build fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from wws_images import builder, dev, languages, podman_cli
from wws_images.builder import Built

IMAGES = (*builder.DEFINITIONS, "dev")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wws-images", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build images (unchanged inputs: no-op)")
    b.add_argument("names", nargs="*", help=f"images to build: {', '.join(IMAGES)} (default: base)")
    b.add_argument(
        "--languages",
        metavar="LIST",
        help=f"for dev: comma-separated languages ({', '.join(languages.LANGUAGES)}), 'all' or 'none'",
    )
    b.add_argument("--force", action="store_true", help="rebuild the named images even when their inputs are unchanged")
    b.add_argument("--quiet", action="store_true", help="do not stream build output; print each image's ref")
    sub.add_parser("list", help="list WWS images present on this host")
    return parser


def _fail(message: str, code: int) -> int:
    print(f"wws-images: {' '.join(message.split())}", file=sys.stderr)
    return code


def _build(args: argparse.Namespace) -> int:
    names: list[str] = args.names or (["dev"] if args.languages is not None else ["base"])
    unknown = [n for n in names if n not in IMAGES]
    if unknown:
        return _fail(f"unknown image {unknown[0]!r} (known: {', '.join(IMAGES)})", 2)
    if args.languages is not None and "dev" not in names:
        return _fail("--languages applies to the dev image: wws-images build dev --languages LIST", 2)
    try:
        langs = languages.parse(args.languages or "")
    except ValueError as exc:
        return _fail(str(exc), 2)
    for name in names:
        built: Built
        if name == "dev":
            built = dev.ensure_dev_image(langs, quiet=args.quiet, force=args.force)
        else:
            built = builder.build(builder.DEFINITIONS[name], quiet=args.quiet, force=args.force)
        if args.quiet:
            print(built.ref, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "build":
            return _build(args)
        print(podman_cli.run("images", "--filter", "reference=localhost/wws-*"), end="")
        return 0
    except (podman_cli.PodmanError, RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        # a failed build: the first line says what failed; a quiet build adds its log's tail
        print(f"wws-images: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    raise SystemExit(main())
