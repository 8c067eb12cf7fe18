"""`python -m infra.stack up|down|status` from the project root (what make stack-up / stack-down / stack-status run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the project root (default: here)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.root.resolve()))  # flows/ of this project

    from cleargate.errors import CleargateError
    from cleargate.runtime import apply_offline_env
    from infra.stack import stack
    from infra.stack.config import StackConfig, StackError

    apply_offline_env()
    try:
        config = StackConfig.from_env(args.root)
        if args.command == "up":
            stack.up(config)
        elif args.command == "down":
            stack.down(config)
        else:
            return stack.status(config)
    except (StackError, CleargateError) as exc:
        print(f"stack {args.command}: {exc}", file=sys.stderr)
        if args.command == "up":
            print("stack up: what did start keeps running; `make stack-down` stops it", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
