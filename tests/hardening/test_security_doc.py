"""Every test SECURITY.md names exists: a claim there points at a test that checks it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: `path/file.py::test_name`, `file.py::test_name` or `::test_name` (the file named before it)
NAMED = re.compile(r"`((?:[\w/]+/)?(test_\w+\.py))?::(test_\w+)(?:\[[^\]`]*\])?`")


def _test_files() -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        files.setdefault(path.name, []).append(path)
    return files


def test_every_test_named_in_security_md_exists() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    files = _test_files()
    named, missing = 0, []
    for line in text.splitlines():
        current: list[Path] = []
        for match in NAMED.finditer(line):
            path, name, test = match.groups()
            if path:
                current = [ROOT / path] if "/" in path else files.get(name, [])
            if not current:
                missing.append(f"{match.group(0)}: no such file")
                continue
            named += 1
            if not any(
                re.search(rf"^(?:async )?def {test}\(", p.read_text(), re.M) for p in current
            ):
                missing.append(
                    f"{match.group(0)} (in {', '.join(str(p.relative_to(ROOT)) for p in current)})"
                )
    assert named > 50  # the document names its tests
    assert not missing, missing
