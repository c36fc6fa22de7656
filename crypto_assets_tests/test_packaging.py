"""The wheel carries the dashboard where ``crypto up`` looks for it (next to ``crypto_assets``)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

from crypto_assets.commands import services

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_dashboard_file_at_the_path_crypto_up_runs(tmp_path):
    uv = shutil.which("uv")
    assert uv is not None, "uv is not on PATH (.ci/run and make install it)"
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), "--quiet"], cwd=ROOT, check=True
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert services.DASHBOARD_APP.relative_to(services.PROJECT_ROOT).as_posix() in names
    sources = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "dashboards").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert sources and sources <= names, sorted(sources - names)
