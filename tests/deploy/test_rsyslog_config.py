"""deploy/rsyslog/colog.conf: rsyslogd accepts it, it carries what the engines need, and the
operations guide quotes it as it is."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.fixtures.rsyslog import CONFIG, rsyslogd

ROOT = Path(__file__).resolve().parents[2]


def test_rsyslogd_validates_the_configuration(tmp_path):
    env = {**os.environ, "COLOG_RSYSLOG_WORKDIR": str(tmp_path), "COLOG_RSYSLOG_PORT": "5514",
           "COLOG_RSYSLOG_ENGINE": "http://127.0.0.1:9200",
           "COLOG_RSYSLOG_INDEX": "logs-syslog-default"}
    result = subprocess.run([rsyslogd(), "-N1", "-f", str(CONFIG)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in (result.stdout + result.stderr).lower()


def test_the_configuration_has_what_the_engines_need():
    text = CONFIG.read_text()
    assert 'esVersion.major="8"' in text  # no `_type` on the bulk lines
    assert 'writeoperation="create"' in text and 'dynbulkid="on"' in text  # data streams
    assert 'type="mmutf8fix"' in text  # JSON must be UTF-8


def test_the_operations_guide_quotes_the_configuration():
    text = CONFIG.read_text()
    body = text[text.index("global(workDirectory"):].rstrip()
    assert body in (ROOT / "docs" / "operations.md").read_text()
