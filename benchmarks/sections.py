"""Named sections of ``results.md`` that one benchmark writes and the others keep.

A section is the text between ``<!-- section:NAME -->`` and ``<!-- /section:NAME -->``.
"""

from __future__ import annotations

import re
from pathlib import Path


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- section:{name} -->", f"<!-- /section:{name} -->"


def _pattern(name: str) -> re.Pattern[str]:
    begin, end = _markers(name)
    return re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)


_ANY = re.compile(r"<!-- section:([\w-]+) -->.*?<!-- /section:\1 -->\n?", re.DOTALL)


def sections(text: str) -> list[str]:
    """Every whole section block in ``text`` (markers included), in order."""
    return [match.group(0) for match in _ANY.finditer(text)]


def keep_sections(path: Path, new_text: str) -> str:
    """``new_text`` followed by the sections of the file at ``path`` it does not contain."""
    old = path.read_text() if path.exists() else ""
    kept = [block for block in sections(old) if block not in new_text]
    if not kept:
        return new_text
    return new_text.rstrip("\n") + "\n\n" + "\n".join(b.rstrip("\n") + "\n" for b in kept)


def put_section(path: Path, name: str, body: str) -> None:
    """Write section ``name`` into the file at ``path``, replacing an older copy."""
    begin, end = _markers(name)
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    old = path.read_text() if path.exists() else ""
    pattern = _pattern(name)
    if pattern.search(old):
        text = pattern.sub(lambda _: block, old, count=1)
    else:
        text = (old.rstrip("\n") + "\n\n" if old else "") + block
    path.write_text(text)
