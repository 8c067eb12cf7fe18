"""`make push` / `make pull`: the DVC cache shared through the remote of params.yaml `storage.dvc_remote`.

`python scripts/dvc_remote.py push|pull` first points DVC at that remote (as `dvc remote add --local --default`
would: in .dvc/config.local, which git ignores, so params.yaml stays the one place that names it; options set
with `dvc remote modify --local` stay), then runs `dvc push` / `dvc pull` against it. A folder URL is taken
relative to the project root. A clone that pulls gets every output dvc.lock records (data, models, reports):
`dvc status` is clean there and nothing re-runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from cleargate.errors import CleargateError, ConfigError  # noqa: E402
from cleargate.params import load_project  # noqa: E402


def remote_url(url: str, root: Path) -> str:
    """A URL with a scheme as it is; a folder anchored at the project root."""
    return url if "://" in url else str((root / url).resolve())


def configure(params_path: Path) -> str:
    """Point the project's DVC at the remote of params.yaml; returns its name."""
    project = load_project(params_path)
    if project.storage is None:
        raise ConfigError(f"{params_path}: no storage.dvc_remote; add one (name, url), e.g. "
                          "`storage: {dvc_remote: {name: shared, url: ../cleargate-dvc-remote}}`")
    remote = project.storage.dvc_remote
    url = remote_url(remote.url, project.root)
    from dvc.repo import Repo

    with Repo(str(project.root)) as repo, repo.config.edit("local") as config:
        config["remote"].setdefault(remote.name, {})["url"] = url  # other options (`dvc remote modify --local`) stay
        config["core"]["remote"] = remote.name
    print(f"DVC remote '{remote.name}': {url}")
    return remote.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["push", "pull", "configure"])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    try:
        name = configure(args.params)
    except CleargateError as exc:
        print(f"cleargate: {exc}", file=sys.stderr)
        return 2
    if args.action == "configure":
        return 0
    return subprocess.run(["dvc", args.action, "--remote", name], cwd=args.params.resolve().parent).returncode


if __name__ == "__main__":
    raise SystemExit(main())
