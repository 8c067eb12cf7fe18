"""A model reference, `NAME@ALIAS` or `NAME/VERSION` (the one form every command takes), resolved against the
registry, or one line that says what exists: `no version 999 of mnist-classifier; versions: 1-4; aliases:
champion -> 3, challenger -> 4`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cleargate.errors import CleargateError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def resolve_version(client: MlflowClient, model_ref: str) -> tuple[str, str]:
    """`name@alias` or `name/version` -> (name, version number); a reference to nothing is one line."""
    from mlflow.exceptions import MlflowException

    name, alias, version = parse_ref(model_ref)
    try:
        registered = client.get_registered_model(name)
    except MlflowException:
        raise CleargateError(f"{name}: no such registered model in {client.tracking_uri}; run the pipeline "
                             "(`make run`) to register a version, or check MLFLOW_TRACKING_URI") from None
    aliases = {str(a): str(v) for a, v in (registered.aliases or {}).items()}
    if alias is not None:
        if alias in aliases:
            return name, aliases[alias]
        raise CleargateError(f"no alias '{alias}' of {name}; {_listing(client, name, aliases)}")
    if version.isdigit():
        try:
            return name, str(client.get_model_version(name, version).version)
        except MlflowException:
            pass
    raise CleargateError(f"no version {version or '(empty)'} of {name}; {_listing(client, name, aliases)}")


def parse_ref(model_ref: str) -> tuple[str, str | None, str]:
    """`name@alias` -> (name, alias, ""); `name/version` -> (name, None, version); anything else is one line."""
    if "@" in model_ref:
        name, alias = model_ref.split("@", 1)
        return name, alias, ""
    name, slash, version = model_ref.partition("/")
    if not slash or not name:
        raise CleargateError(f"{model_ref}: give a model as NAME@ALIAS or NAME/VERSION "
                             "(e.g. mnist-classifier@champion, mnist-classifier/3)")
    return name, None, version


def _listing(client: MlflowClient, name: str, aliases: dict[str, str]) -> str:
    numbers = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    first = {"champion": 0, "challenger": 1}
    ordered = sorted(aliases.items(), key=lambda kv: (first.get(kv[0], 2), kv[0]))
    named = ", ".join(f"{a} -> {v}" for a, v in ordered) or "none"
    return f"versions: {_ranges(numbers) or 'none'}; aliases: {named}"


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 4, 7, 9, 10] -> '1-4, 7, 9-10'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)

