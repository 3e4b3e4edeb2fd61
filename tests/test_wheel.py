"""Packaging: the wheel installs into a fresh venv and runs from outside the source tree, so a
module or data file the package needs but the wheel lacks fails here (as it would for
`pipx install .`); the wheel carries no tests, benches or test scaffolding."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT

NEEDED_DATA = {"obview/tui/obview.tcss", "obview/web/app_index.html"}


def _source_copy(target: Path) -> Path:
    """The files a clone would have (tracked + new, never build/ leftovers or caches)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                                capture_output=True, check=True, timeout=30).stdout
        names = [n for n in listed.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()
                 and not {".venv", "build", ".git", "__pycache__"} & set(p.relative_to(ROOT).parts)]
    for name in names:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("OBVIEW_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_STATE_HOME=str(home / ".state"))
    return env


def test_wheel_installs_and_runs_outside_the_tree(tmp_path):
    src = _source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(src)], capture_output=True, text=True, timeout=180)
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("obview-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    print(f"\n{wheel.name}: {len(names)} files")
    for name in names:
        print("  " + name)
    assert all(n.startswith(("obview/", "obview-")) for n in names), names
    assert not [n for n in names if "/tests/" in n or n.startswith(("tests/", "bench/"))
                or Path(n).name.startswith(("test_", "conftest")) or n.endswith("fake_feed.py")]
    assert NEEDED_DATA <= set(names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    home, work = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    work.mkdir()
    env = _clean_env(home)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=300, env=env, cwd=work)
    assert install.returncode == 0, install.stderr

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env,
                              cwd=work, stdin=subprocess.DEVNULL)

    where = run(str(venv / "bin" / "python"), "-c", "import obview; print(obview.__file__)")
    assert where.stdout.strip().startswith(str(venv)), where  # the wheel's copy, not the tree
    helped = run(str(venv / "bin" / "obview"), "--help")
    assert helped.returncode == 0 and "demo" in helped.stdout, helped.stderr
    dumped = run(str(venv / "bin" / "obview"), "futu", "HK.00700", "--sim", "--dump", "json")
    assert dumped.returncode == 0, dumped.stderr
    assert json.loads(dumped.stdout)["synced"] is True
    demo = run(str(venv / "bin" / "obview"), "demo", "--stream", "json", "--count", "4")
    assert demo.returncode == 0 and len(demo.stdout.splitlines()) == 4, demo.stderr
    module = run(str(venv / "bin" / "python"), "-m", "obview", "--version")
    assert module.returncode == 0 and "obview, version" in module.stdout
    # the TUI's stylesheet and the browser page load from the installed package
    data = run(str(venv / "bin" / "python"), "-c",
               "from obview.tui.app import ObviewApp; from obview.serve import TEMPLATES; "
               "from pathlib import Path; print(Path(ObviewApp.CSS_PATH).read_text()[:1] and "
               "(TEMPLATES / 'app_index.html').is_file())")
    assert data.stdout.strip() == "True", data.stderr
