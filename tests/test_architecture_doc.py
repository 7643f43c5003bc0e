"""docs/architecture.md stays true to the code: it lists every module, and only real ones."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "synnet"
DOC = ROOT / "docs" / "architecture.md"


def _documented() -> set[str]:
    """Module paths from the doc's "Modules" section: `name.py` under a **package** heading."""
    text = DOC.read_text().split("## Modules", 1)[1]
    found: set[str] = set()
    package = ""
    for line in text.splitlines():
        heading = re.fullmatch(r"\*\*(\w+)\*\*", line.strip())
        if heading:
            package = "" if heading.group(1) == "Root" else heading.group(1)
            continue
        item = re.match(r"(?:- )?(?:\*\*)?`?([\w]+\.py)`?", line.strip())
        if item:
            found.add(f"{package}/{item.group(1)}" if package else item.group(1))
    return found


def test_every_module_is_documented_and_every_documented_module_exists() -> None:
    actual = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
              if p.name != "__init__.py" or p.parent == PACKAGE}
    documented = _documented()
    assert sorted(actual - documented) == [], "modules missing from docs/architecture.md"
    assert sorted(documented - actual) == [], "docs/architecture.md names modules that are gone"
