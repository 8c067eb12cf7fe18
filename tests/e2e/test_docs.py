"""The documentation: the MkDocs site builds with --strict (no dead link, no missing page, no unknown anchor), every
page is in the navigation, and the README stays a short front page whose links lead somewhere."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.projects import ROOT

MKDOCS = Path(sys.executable).parent / "mkdocs"
README_MAX_LINES = 260


def _nav_pages(nav: list) -> set[str]:
    pages = set()
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages |= _nav_pages(value) if isinstance(value, list) else {value}
    return pages


def test_the_site_builds_strictly(tmp_path: Path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's banner about its successor
    done = subprocess.run([str(MKDOCS), "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()


def test_every_page_is_in_the_navigation_and_the_readme_is_short():
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)  # no python tags in it
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages == _nav_pages(config["nav"]), "docs/ pages and mkdocs.yml's nav differ"
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_every_relative_link_of_the_readme_names_a_file():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text())
    relative = [link for link in links if "://" not in link]
    assert relative, "the README links its docs pages"
    missing = [link for link in relative if not (ROOT / link).is_file()]
    assert not missing, f"README.md links to missing files: {missing}"
