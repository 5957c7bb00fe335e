"""Command line: ``python -m tracejit backends`` lists backends and whether each works."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["backends"]:
        from tracejit import describe_backends

        for name, ok, why in describe_backends():
            print(f"{name:12} {'usable' if ok else 'unavailable'}  {'' if ok else why}")
        return 0
    print("usage: python -m tracejit backends", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
