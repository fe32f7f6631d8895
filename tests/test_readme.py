"""The README and docs/: the zoo tables match the cards, the README stays short, links resolve."""

import re
from pathlib import Path

import pytest

from kgan.zoo import table

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKDOWN = [README, *sorted((ROOT / "docs").rglob("*.md"))]

#: ``[text](target)`` and ``![alt](target)``; the target ends at whitespace or ")".
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")


def relative_links(path, fragments=False):
    """The relative link targets in a Markdown file, outside code; ``#fragment`` dropped
    unless ``fragments``."""
    text = _CODE.sub("", _FENCE.sub("", path.read_text()))
    targets = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http:, mailto:, same-page anchors
        targets.append(target if fragments else target.split("#")[0])
    return targets


def anchors(path):
    """GitHub's anchors of a Markdown file's headings."""
    text = _FENCE.sub("", path.read_text())
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.*)$", text, re.M)}


def test_zoo_table_matches_the_cards():
    block = table.readme_table(README.read_text())
    assert block == table.readme_block(), (
        "README.md's zoo tables differ from the cards: run python tools/zoo_table.py --write")


def test_zoo_table_has_every_published_entry():
    block = table.readme_table(README.read_text())
    names = table.published_entries()
    assert names and not any(n.startswith("test_") for n in names)
    for name in names:
        assert f"[`{name}`](docs/zoo/{name}.md)" in block


def test_readme_is_short():
    assert len(README.read_text().splitlines()) < 200


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    missing = [t for t in relative_links(path) if not (path.parent / t).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to missing files: {missing}"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_link_fragments_name_headings(path):
    bad = []
    for target in relative_links(path, fragments=True):
        file, _, fragment = target.partition("#")
        dest = path.parent / file
        if fragment and dest.suffix == ".md" and dest.exists() and fragment not in anchors(dest):
            bad.append(target)
    assert not bad, f"{path.relative_to(ROOT)} links to missing headings: {bad}"


def test_link_checker_sees_links():
    sample = ROOT / "README.md"
    assert "docs/training.md" in relative_links(sample)
