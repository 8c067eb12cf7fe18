"""`python -m infra.stack up|down|status|deploy`: what `cleargate stack up|down|status|deploy` hands over to.

up, down, status: the stack on this host. deploy: only register the two deployments (and the notifications'
automations) on the Prefect API that PREFECT_API_URL names (a team's server, from CI or a worker host).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "deploy"])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the project root (default: here)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    from cleargate.errors import CleargateError
    from cleargate.runtime import start_process
    from infra.stack import stack
    from infra.stack.config import StackConfig

    start_process(args.root, args.verbose or None)
    try:
        config = StackConfig.from_env(args.root)
        if args.command == "up":
            stack.up(config)
        elif args.command == "down":
            stack.down(config)
        elif args.command == "deploy":
            stack.deploy(config)
        else:
            return stack.status(config)
    except CleargateError as exc:
        print(f"stack {args.command}: {exc}", file=sys.stderr)
        if args.command == "up":
            print("stack up: what did start keeps running; `cleargate stack down` stops it", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
