"""The README's layout section ("How it is built") is the tree a newcomer reads first: every path it
names exists in the repository, and every top-level folder of the repository is named in it."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def layout_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## How it is built", 1)[1]
    return section.split("```", 2)[1]


def named_paths() -> list[str]:
    """The first word of each line that names a path (a top-level entry, or an indented sub-entry)."""
    paths = []
    parent = ""
    for line in layout_block().splitlines():
        match = re.match(r"^( *)(\S+)", line)
        if not match or ("/" not in match[2] and "." not in match[2]):
            continue
        indent, word = match.groups()
        word = word.replace("<name>", "ingest").replace("<function>", "ingest")
        if indent:
            word = parent + word
        else:
            parent = word if word.endswith("/") else ""
        paths.append(word)
    return paths


def tracked() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return listed.stdout.splitlines()


def test_every_path_the_layout_names_is_in_the_repository():
    files = tracked()
    for path in named_paths():
        assert any(f == path.rstrip("/") or f.startswith(path if path.endswith("/") else path + "/") for f in files), (
            f"README names {path}, which git ls-files does not list"
        )


def test_every_top_level_folder_is_in_the_layout():
    top = {f.split("/", 1)[0] + "/" for f in tracked() if "/" in f and not f.startswith(".")}
    named = {path.split("/", 1)[0] + "/" for path in named_paths()}
    assert top <= named, f"not in the README's layout: {sorted(top - named)}"
