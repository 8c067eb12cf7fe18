"""Entries params.yaml ships commented out (optional datasets and models), read back as YAML for tests."""

from __future__ import annotations


def uncommented(text: str, key: str) -> str:
    """The commented-out YAML block that starts with `  # <key>:`, without its comment marks."""
    lines, block = text.splitlines(), []
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  # {key}:"))
    for line in lines[start:]:
        if block and not line.startswith("  #   "):   # continuation lines are indented under the key
            break
        block.append("  " + line[4:])
    return "\n".join(block)
