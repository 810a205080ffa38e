"""`colog shadow` refuses what it cannot do with one clear line, before touching any server."""

import subprocess
import sys

import pytest

from colog.core.features.spec import FeatureSpec
from colog.core.serving.repository import FeatureParameters
from colog.services.shadow.deployment import ShadowError, check_compatible


def _colog(tmp_path, *args):
    env = {"COLOG_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
           "COLOG_TRITON_URL": "127.0.0.1:9", "COLOG_OPENSEARCH_URL": "http://127.0.0.1:9"}
    return subprocess.run([sys.executable, "-m", "colog.app.cli", "shadow", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, expected", [
    (["promote"], "no candidate is in shadow"),
    (["report"], "no candidate has been in shadow"),
    (["start", "/nonexistent/model"], "not a usable model directory"),
])
def test_shadow_commands_refuse_with_one_line(tmp_path, args, expected):
    done = _colog(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert expected in " ".join(lines) and "Traceback" not in done.stderr


def test_status_without_any_shadow(tmp_path):
    done = _colog(tmp_path, "status")
    assert done.returncode == 0 and "no candidate has been in shadow" in done.stdout


def test_a_candidate_must_build_the_live_inputs():
    live = FeatureParameters(FeatureSpec(1, "context", 60), ["normal", "anomaly"])
    check_compatible(FeatureParameters(FeatureSpec(1, "context", 60), ["normal", "anomaly"]), live)
    with pytest.raises(ShadowError, match=r"window 2 \(live 1\)"):
        check_compatible(FeatureParameters(FeatureSpec(2, "context", 60), ["normal", "anomaly"]),
                         live)
    with pytest.raises(ShadowError, match="sequence mode 'background'"):
        check_compatible(FeatureParameters(FeatureSpec(1, "background", 60),
                                           ["normal", "anomaly"]), live)
