"""Every link in README.md and docs/ resolves inside the repository (files and #anchors)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_EXTERNAL = ("http://", "https://", "mailto:")


_CITED = re.compile(
    r"`((?:\.\./|\./)?[\w.-]+(?:/[\w.-]+)+\.(?:md|py|lua|toml|sql|ya?ml|json|js|txt|sh|html|css))`"
)
"""A file path in a code span (``docs/queue.md``, ``taskcore/backend.py``): a citation."""


_TOP = {p.name for p in ROOT.iterdir()} | {p.name for p in (ROOT / "drivers").iterdir()}


def cited_files(markdown: str) -> list[str]:
    """Files cited as code spans outside code blocks: every ``.md`` path, and source paths
    inside a repository folder (``taskcore/backend.py``), not examples of a user's files
    (``tasks/auth/session_validation.py``)."""
    cited = _CITED.findall(_FENCE.sub("", markdown))
    return [c for c in cited if c.endswith(".md") or c.split("/")[0] in _TOP]


def citation_resolves(doc: Path, cited: str) -> bool:
    """A cited path exists relative to the page, the repository, or ``drivers/`` (where the
    driver packages live: ``taskcore_postgres/schema.py``)."""
    bases = (doc.parent, ROOT, ROOT / "drivers")
    return any(
        (base / cited).resolve().is_relative_to(ROOT) and (base / cited).exists() for base in bases
    )


def links(markdown: str) -> list[str]:
    """The link targets of ``markdown``, outside code blocks and code spans."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    return _INLINE.findall(text) + _REFERENCE.findall(text)


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of ``markdown`` (duplicates get -1, -2, ...)."""
    found: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", markdown)):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def problems(doc: Path) -> list[str]:
    markdown = doc.read_text(encoding="utf-8")
    found = []
    for target in links(markdown):
        if target.startswith(_EXTERNAL):
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        if not resolved.is_relative_to(ROOT):
            found.append(f"{target}: points outside the repository")
        elif not resolved.exists():
            found.append(f"{target}: no such file in the repository")
        elif (
            anchor
            and resolved.suffix == ".md"
            and anchor not in anchors(resolved.read_text(encoding="utf-8"))
        ):
            found.append(f"{target}: no heading with anchor #{anchor}")
    for cited in cited_files(markdown):
        if not citation_resolves(doc, cited):
            found.append(f"`{cited}`: cited, but no such file in the repository")
    return found


@pytest.mark.parametrize("doc", DOCS, ids=[d.relative_to(ROOT).as_posix() for d in DOCS])
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    assert problems(doc) == []


def test_the_checker_sees_broken_links(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[ok](#title) [bad anchor](#nope) [missing](gone.md) "
        "![img](images/x.png) `[code](skipped.md)`\n\n```\n[fenced](skipped.md)\n```\n"
        "[ref]: ../../outside.md\n"
    )
    assert links(page.read_text()) == [
        "#title",
        "#nope",
        "gone.md",
        "images/x.png",
        "../../outside.md",
    ]
    assert anchors("# A `b` c\n## A b c\n## Ünïcode: yes!\n") == {"a-b-c", "a-b-c-1", "ünïcode-yes"}
    page.write_text(
        "See `taskcore/backend.py`, `taskcore_redis/lua.py`, `notes/gone.md`, "
        "`taskcore/gone.py` and, a user's file, `tasks/mail.py`.\n"
    )
    assert problems(page) == [
        "`notes/gone.md`: cited, but no such file in the repository",
        "`taskcore/gone.py`: cited, but no such file in the repository",
    ]
