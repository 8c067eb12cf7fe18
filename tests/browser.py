"""A real browser for UI checks: Debian's chromium, headless, with a profile of its own that is removed after."""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import tempfile
from contextlib import suppress


def rendered_text(url: str, budget_ms: int = 30000, height: int = 2000) -> str:
    """The page as a real browser renders it (headless Debian chromium runs its JavaScript), as plain text. A tall
    window (`height` pixels) renders what a page draws only when it is scrolled into view (MLflow's charts)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is not installed (.ci/run installs it: apt-get install -y chromium)"
    profile = tempfile.mkdtemp(prefix="chromium-")
    argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--window-size=1400,{height}", f"--user-data-dir={profile}", "--dump-dom",
            f"--virtual-time-budget={budget_ms}", url]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        dom, _ = proc.communicate(timeout=budget_ms / 1000 + 90)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its renderer and GPU helpers too
        shutil.rmtree(profile, ignore_errors=True)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))
