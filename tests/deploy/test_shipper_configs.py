"""The shippers' configurations (deploy/rsyslog/colog.conf, deploy/syslog-ng/colog.conf): the
shipper accepts each, each carries what the engines need, and the operations guide quotes each
as it is."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.shippers import RSYSLOG, SYSLOG_NG

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operations.md"


def test_rsyslogd_validates_its_configuration(tmp_path):
    env = RSYSLOG.environment(tmp_path, 5514, "http://127.0.0.1:9200", "logs-syslog-default")
    command = RSYSLOG.command(tmp_path)
    result = subprocess.run([command[0], "-N1", "-f", str(RSYSLOG.config)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in (result.stdout + result.stderr).lower()


def test_syslog_ng_validates_its_configuration(tmp_path):
    env = SYSLOG_NG.environment(tmp_path, 5514, "http://127.0.0.1:9200", "logs-syslog-default")
    result = subprocess.run([*SYSLOG_NG.command(tmp_path), "--syntax-only"], env=env,
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # No deprecation or sizing warnings either: users copy this file.
    assert "error" not in output.lower() and "warning" not in output.lower(), output


def test_the_rsyslog_configuration_has_what_the_engines_need():
    text = RSYSLOG.config.read_text()
    assert 'esVersion.major="8"' in text  # no `_type` on the bulk lines
    assert 'writeoperation="create"' in text and 'dynbulkid="on"' in text  # data streams
    assert 'type="mmutf8fix"' in text  # JSON must be UTF-8


def test_the_syslog_ng_configuration_has_what_the_engines_need():
    text = SYSLOG_NG.config.read_text()
    assert '{\\"create\\":{\\"_index\\"' in text  # data streams take only `create`
    assert "_type" not in text  # which OpenSearch and Elasticsearch 8+ refuse
    assert "sanitize-utf8" in text  # JSON must be UTF-8
    assert "keep-hostname(yes)" in text  # host.name is the line's host, not the sender


def test_the_operations_guide_quotes_each_configuration():
    guide = GUIDE.read_text()
    rsyslog = RSYSLOG.config.read_text()
    assert rsyslog[rsyslog.index("global(workDirectory"):].rstrip() in guide
    syslog_ng = SYSLOG_NG.config.read_text()
    assert syslog_ng[syslog_ng.index("options {"):].rstrip() in guide
