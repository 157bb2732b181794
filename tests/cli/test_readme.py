"""The README's tour code works as written (so the docs cannot drift from the API)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_tour_play_and_its_test_run(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(yaml|python)\n(.*?)```", readme, re.S)
    play = next(b for kind, b in blocks if kind == "yaml" and "name: weather" in b)
    app = next(b for kind, b in blocks if kind == "python" and "Play.from_file" in b)
    test = next(b for kind, b in blocks if kind == "python" and "NuguTestClient" in b)
    (tmp_path / "play.yaml").write_text(play, encoding="utf-8")
    (tmp_path / "app.py").write_text(app, encoding="utf-8")
    (tmp_path / "tour.py").write_text(
        "import asyncio\nfrom app import play\n" + test + "\nasyncio.run(test_weather())\n",
        encoding="utf-8",
    )
    # Run from another folder: Play.from_file("play.yaml") reads the file next to app.py.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, str(tmp_path / "tour.py")],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    check = subprocess.run(
        [sys.executable, "-m", "voicehook", "validate", str(tmp_path)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
