"""The node against third-party peers: scripts/dcmtk_node_check.py (dcmtk's echoscu, storescu and
storescp; see the README) must pass. Skipped where dcmtk is not installed (scripts/dev.sh installs it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dcmtk_node_check.py"


@pytest.mark.slow
@pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("echoscu", "storescu", "storescp", "dsrdump")),
    reason="dcmtk is not installed (apt-get install dcmtk; scripts/dev.sh does it for the tests)",
)
def test_dcmtk_peers_echo_store_and_receive_seg_and_sr() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert result.stdout.strip().endswith("PASS")
    assert "FAIL " not in result.stdout
