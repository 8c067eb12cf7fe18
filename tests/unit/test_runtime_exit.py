"""`cleargate.runtime.exit_without_heap_walks`: at exit, garbage is collected once (its finalizers run) and the
heap is frozen, so CPython's finalization does not walk it again; what other exit handlers do is unchanged."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent('''
    import atexit, gc, sys
    from pathlib import Path

    out = Path(sys.argv[1])

    def report():  # registered first, so it runs after cleargate's hook: sees the frozen heap
        with out.open("a") as f:
            f.write(f"frozen={gc.get_freeze_count()}\\n")

    atexit.register(report)

    from cleargate.runtime import exit_without_heap_walks

    exit_without_heap_walks()
    exit_without_heap_walks()  # a second call registers nothing more

    class Node:
        def __del__(self):
            with out.open("a") as f:
                f.write("finalized\\n")

    a, b = Node(), Node()
    a.peer, b.peer = b, a  # a cycle: only the garbage collector frees it
    del a, b
    gc.disable()  # nothing collects it before exit but the hook
    atexit.register(lambda: out.open("a").write("later handler ran\\n"))
''')


def test_exit_collects_the_garbage_once_then_freezes_the_heap(tmp_path: Path) -> None:
    out = tmp_path / "exit.log"
    src = Path(__file__).resolve().parents[2] / "src"
    done = subprocess.run([sys.executable, "-c", CHILD, str(out)], env={"PYTHONPATH": str(src)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "later handler ran", "handlers registered after the hook run first, as before"
    assert lines.count("finalized") == 2, "cyclic garbage is collected (its finalizers run) before the freeze"
    assert lines[-1].startswith("frozen=") and int(lines[-1].split("=")[1]) > 1000, lines
