"""Every benchmark under bench/ keeps running: each runs once with a tiny workload.

The one home of bench smoke tests (no copies under tests/<area>/); the figures are not
checked here, only that each bench still measures and prints what it promises.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, obview_env


def run_bench(*argv: str, timeout: float = 120) -> str:
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=obview_env())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_timing_helper_pairs_rounds():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from timing import interleave
    finally:
        sys.path.remove(str(ROOT / "bench"))
    order: list[str] = []
    own = iter([4.0, 1.0, 1.0, 2.0, 9.0, 3.0])  # in the order they run (see below)
    t = interleave({"slow": lambda: (order.append("s"), next(own))[1],
                    "fast": lambda: (order.append("f"), next(own))[1]}, rounds=3, warmup=0)
    # interleaved, each variant first in every other round (no place in a round favoured)
    assert order == ["s", "f", "f", "s", "s", "f"]
    assert t.times == {"slow": [4.0, 2.0, 9.0], "fast": [1.0, 1.0, 3.0]}
    assert t.paired("slow", "fast") == 3.0  # median of 4, 2, 3: not 15 / 5
    assert t.best_ratio("slow", "fast") == 2.0
    assert t.paired_delta("slow", "fast") == 3.0
    assert t.rate("fast", 10) == 10.0
    order.clear()
    interleave({name: (lambda name=name: order.append(name)) for name in "abc"}, rounds=3)
    assert "".join(order) == "abcbcacab"


def test_book_bench_runs():
    out = run_bench("bench/book_bench.py", "--updates", "2000", "--repeat", "1")
    assert "obview book (Decimal):" in out
    assert "ratio obview / C extension, with reads:" in out
    assert "ratio obview / C extension, updates only:" in out


def test_futu_decode_bench_runs(tmp_path):
    # from another folder with a bare environment: the bench finds obview and the SDK itself
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "futu_decode.py"), "--frames", "30", "--rounds", "1"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    for label in ("(a)", "(b)", "(c)", "(d)", "(b)/(a) time ratio:", "(c)/(b) time ratio:",
                  "(d)/(b) time ratio:"):
        assert label in proc.stdout


def test_loopring_push_bench_runs():
    out = run_bench("bench/loopring_push.py", "--pushes", "200", "--repeat", "1")
    assert out.count("production on_frame") == 2  # level 1 and level 0
    assert out.count("ratio (b)/(a)") == 2


def test_bthub_frames_bench_runs():
    out = run_bench("bench/bthub_frames.py", "--frames", "60", "--levels", "3", "--rounds", "1")
    assert "frames: 60 x 9 levels a side" in out
    assert "ratio decode + apply / json.loads:" in out


def test_journal_bench_runs():
    out = run_bench("bench/journal_bench.py", "--frames", "200", "--rounds", "1",
                    "--hour-rates", "2", "--seeks", "3")
    assert out.count("recording adds") == 3  # Loopring on_frame and via websockets, Futu
    assert "target <= 25%" in out and "target <= 500 ms" in out


def test_tui_bench_runs():
    out = run_bench("bench/tui_bench.py", "--duration", "0.5", "--rate", "2000", "--books", "2",
                    "--orders", "100", "--paint-timeout", "10", timeout=90)
    for label in ("ladder redraw CPU", "frames per second", "push-to-paint",
                  "keypress-to-paint", "process CPU share", "RSS", "obview --help",
                  "first book painted"):
        assert label in out
    assert "n/a" not in out  # the first-paint launch painted a book


def test_demo_startup_bench_runs():
    out = run_bench("bench/demo_startup.py", "--rounds", "1", "--seconds", "2", timeout=90)
    assert "round 1: first book painted" in out and "worst paint delay in the first 2 s" in out


def test_heatmap_bench_runs():
    out = run_bench("bench/heatmap_bench.py", "--quick", timeout=180)
    assert "ms/col: CPU per frame median" in out


def test_tape_heatmap_bench_runs():
    out = run_bench("bench/tape_heatmap_bench.py", "--duration", "1", "--rounds", "1",
                    timeout=120)
    for label in ("ladder alone", "heatmap + tape", "print-to-paint"):
        assert f"{label}" in out and "p99" in out


def test_many_symbols_bench_runs():
    out = run_bench("bench/many_symbols.py", "--duration", "1", "--codes", "5", timeout=120)
    for label in ("TUI process CPU share", "push-to-paint", "ladder redraw CPU",
                  "hidden tabs", "headless CPU share"):
        assert label in out
    assert "0 ladder redraws across 4 hidden tabs" in out


def test_record_replay_bench_runs():
    out = run_bench("bench/record_replay.py", "--only-hour", "--hour-rate", "2", "--seeks", "2",
                    "--tui-seconds", "0.5", timeout=180)
    assert "seeks: median" in out and out.count("push-to-paint p50") == 2
    assert "as shipped:" in out and "no governor (comparison):" in out
    assert "history rebuilt (" in out and "longest hold of the event loop" in out


def test_record_replay_bench_first_parts_run():
    out = run_bench("bench/record_replay.py", "--no-hour", "--frames", "300", "--rounds", "1",
                    timeout=180)
    assert out.count("of live, paired median of 1 rounds") == 2
    assert "recording adds" in out and out.count("raw bytes:") == 2


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_record_instructions_bench_runs():
    out = run_bench("bench/record_instructions.py", "--frames", "100", timeout=300)
    assert out.count("instructions a frame (") == 2
    assert "recording adds" in out and "% instructions to the feed path" in out


def test_trades_bench_runs():
    out = run_bench("bench/trades_bench.py", "--quick")
    assert out.count("us/print") == 2
