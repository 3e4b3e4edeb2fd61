"""The layering the README's layout promises, checked on the source: the screens and the
headless printer know feeds only by what they declare (no venue named, no probing with
hasattr/getattr), and venues never reach up into the screens or the printer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "obview"
VENUE_NAMES = re.compile(r"futu(?!re)|moomoo|opend|loopring|bthub", re.IGNORECASE)  # not __future__


def sources(*parts: str) -> list[Path]:
    found = sorted(path for part in parts for path in (PACKAGE / part).rglob("*")
                   if path.suffix in (".py", ".tcss"))
    assert found, parts
    return found


def test_no_venue_is_named_in_the_screens_or_the_headless_printer():
    named = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
             for path in sources("tui", "headless")
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if VENUE_NAMES.search(line)]
    assert named == []


def test_the_screens_and_the_printer_read_declarations_and_never_probe():
    probes = []
    for path in sources("tui", "headless"):
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("hasattr", "getattr")):
                probes.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert probes == []


def test_venues_never_import_the_screens_or_the_printer():
    upward = []
    for path in sources("venues"):
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            upward += [f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}" for name in names
                       if name.startswith(("obview.tui", "obview.headless", "textual"))]
    assert upward == []


def test_the_dead_and_test_only_code_stays_gone():
    """Each of these duplicated live code or served only tests; the tests now use
    what production uses (test hooks live in tests/)."""
    from obview import fmt
    from obview.book import BookSide, OrderBook
    from obview.tui.app import ObviewApp
    from obview.tui.ladder import Ladder
    from obview.venues.bthub.sim import BthubSimulator
    from obview.venues.futu.client import FutuFeed
    from obview.venues.futu.sim import FutuSimulator
    from obview.venues.loopring import protocol
    from obview.venues.loopring.protocol import SlotParser

    gone = {Ladder: ["levels_under_cursor"], BookSide: ["replace_top"],
            OrderBook: ["spread", "mid"], SlotParser: ["check_prices"], protocol: ["RawSlot"],
            fmt: ["compact"], ObviewApp: ["last_cursor_row"], FutuSimulator: ["pushes_sent"],
            BthubSimulator: ["resume"], FutuFeed: ["_dispatch"]}
    present = [f"{getattr(owner, '__name__', owner)}.{name}"
               for owner, names in gone.items() for name in names if hasattr(owner, name)]
    assert present == []
    assert not (PACKAGE / "tui" / "fake_feed.py").exists()  # tests/support/ now


DOC_REF = re.compile(r'docs/([A-Za-z_-]+\.md)(?:,? "([^"]+)")?')
UNREADABLE_REF = re.compile(r"spec §|§ ?\d|\bissue #?\d+", re.IGNORECASE)


def test_comments_point_at_documents_in_this_repo():
    """A newcomer can open every reference: each docs/X.md named in the code exists and
    has the section quoted after it; none points at a spec section or an issue number."""
    root = PACKAGE.parent
    files = sorted([*PACKAGE.rglob("*.py"), *(root / "bench").glob("*.py")])
    headings = {path.name: {line.lstrip("#").strip().strip("`") for line in
                            path.read_text().splitlines() if line.startswith("#")}
                for path in (root / "docs").glob("*.md")}
    missing, unreadable = [], []
    for path in files:
        if "/pb/" in path.as_posix():
            continue  # generated
        text = re.sub(r"\n\s*#\s*", " ", path.read_text())  # a quote wrapped over comment lines
        for name, section in DOC_REF.findall(text):
            if name not in headings or (section and not any(
                    section.lower() in heading.lower() for heading in headings[name])):
                missing.append(f"{path.relative_to(root)}: docs/{name} {section!r}")
        unreadable += [f"{path.relative_to(root)}: {m.group(0)}"
                       for m in UNREADABLE_REF.finditer(text)]
    assert not missing, missing
    assert not unreadable, unreadable
