"""`python bench/first_paint.py MARKER obview-args...`: run obview as the CLI does and,
when the first ladder with a book on it has been painted, write the time to MARKER and
quit. The hook is installed here, so the product carries no benchmark code."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from obview.tui.ladder import Ladder  # noqa: E402

marker = sys.argv[1]
_render_lines = Ladder.render_lines
_done = False


def render_lines(self, crop):
    global _done
    lines = _render_lines(self, crop)
    view = self.view
    if not _done and view is not None and (view.bids or view.asks):
        _done = True
        Path(marker).write_text(f"{time.time():.6f}\n")
        self.app.call_later(self.app.action_quit)
    return lines


Ladder.render_lines = render_lines

from obview.cli import main  # noqa: E402

main(sys.argv[2:])
