"""Session fixtures for the deployment tests: a helm binary built from the Go module proxy."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "colog"
INSTALL_HELM = ROOT / "tests" / "tools" / "install_helm.sh"
HELM = ROOT / ".cache" / "tools" / "helm"


@pytest.fixture(scope="session")
def helm() -> Path:
    """Builds helm once (minutes on a cold 2-core machine; instant when cached)."""
    started = time.monotonic()
    done = subprocess.run(["bash", str(INSTALL_HELM)], capture_output=True, text=True,
                          timeout=1500)
    if done.returncode != 0:
        pytest.fail(f"tests/tools/install_helm.sh failed (rc {done.returncode}):\n"
                    f"{done.stdout}\n{done.stderr}", pytrace=False)
    print(f"\ninstall_helm.sh: {time.monotonic() - started:.1f}s\n{done.stdout.strip()}")
    assert HELM.is_file(), f"install_helm.sh succeeded but {HELM} is missing"
    return HELM
