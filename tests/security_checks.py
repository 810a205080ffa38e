"""The security checks, the same for each engine: a node of its own with TLS on HTTP and basic
auth (certificates generated at start), and every user-facing step run against it through the
real `colog` command: setup, ingest, enrich, label, train. A wrong password and an untrusted
certificate end in one line and exit 10; the password never shows in command output, logs,
argv, `colog config`, metrics or exception text.

tests/integration/test_security_<engine>.py import these tests and define `ENGINE`; the
`secured` fixture below reads it from the importing module.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from colog.app.cli.errors import EXIT_OPENSEARCH
from colog.core.settings import Settings
from tests import synthetic
from tests.fixtures.enrich import colog_env

ROOT = Path(__file__).resolve().parents[1]
USER = "colog-admin"
INDEX = "logs-secure-1"
PATTERN = "logs-secure-*"


@dataclass
class Secured:
    settings: Settings          # TLS + auth, Triton/Redis of the enrichment fixture
    password: str
    password_file: Path
    root: Path
    pid: int | None

    def env(self, **extra) -> dict[str, str]:
        """A `colog` subprocess environment: password from a file, CA from the node's TLS."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("COLOG_")}
        env.update(colog_env(self.settings, **extra))
        env.update({
            "PYTHONPATH": str(ROOT),
            "COLOG_OPENSEARCH_USER": USER,
            "COLOG_OPENSEARCH_PASSWORD_FILE": str(self.password_file),
            "COLOG_OPENSEARCH_CA_CERTS": str(self.settings.opensearch_ca_certs),
            "COLOG_MODELS_INDEX": self.settings.models_index,
            "COLOG_INCIDENTS_INDEX": self.settings.incidents_index,
            "COLOG_DRIFT_INDEX": self.settings.drift_index,
            "COLUMNS": "200",
        })
        env.update({k: str(v) for k, v in extra.items()})
        return env


def colog(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "colog.app.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def start_secured(engine: str, root: Path, stack_settings: Settings, enrich_base: Settings):
    """Start the engine's node with security on (own port, own state, shared distribution)."""
    from colog.app.stack import certs, manager, process
    from colog.app.stack.process import StackError

    stack = manager.component(engine)
    cache = root / "cache"
    cache.mkdir(parents=True)
    # The distribution the session fetched, not a second download.
    shared = stack.dist_root(stack_settings)
    shared.mkdir(parents=True, exist_ok=True)
    (cache / shared.name).symlink_to(shared)
    tls = certs.generate(root / "tls")
    password = "Pw-" + secrets.token_urlsafe(18)
    password_file = root / "password"
    password_file.write_text(password + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    port = process.free_port()
    node = stack_settings.model_copy(update={
        "engine": engine, "cache_dir": cache, "opensearch_url": f"https://127.0.0.1:{port}",
        "opensearch_user": USER, "opensearch_password": SecretStr(password),
        "opensearch_ca_certs": tls.ca})
    try:
        stack.start(node, security=certs.Security(tls, USER, password))
    except StackError as exc:
        stack.stop(node)
        pytest.fail(f"the secured {engine} node did not start:\n{exc}", pytrace=False)
    settings = enrich_base.model_copy(update={
        "engine": engine, "opensearch_url": node.opensearch_url, "opensearch_user": USER,
        "opensearch_password": SecretStr(password), "opensearch_ca_certs": tls.ca,
        "index_pattern": PATTERN, "models_index": "colog-models-secure",
        "incidents_index": "colog-incidents-secure", "drift_index": "colog-drift-secure",
        "holdout_fraction": 0.3})
    return stack, node, Secured(settings, password, password_file, root,
                                process.running_pid(node, stack.NAME))


@pytest.fixture(scope="module")
def secured(request, tmp_path_factory, stack_settings, enrich_env):
    engine = request.module.ENGINE
    root = tmp_path_factory.mktemp(f"secure-{engine}")
    stack, node, state = start_secured(engine, root, stack_settings, enrich_env.base)
    try:
        yield state
    finally:
        stack.stop(node)


@pytest.fixture(scope="module")
def pipeline_runs(secured) -> dict[str, subprocess.CompletedProcess]:
    """setup, ingest, enrich, label (one id and a query), train: every output kept."""
    rows = synthetic.records(streams=2, per_stream=60, seed=17)
    data = secured.root / "secure.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = secured.env()
    runs = {"setup": colog(env, "setup"),
            "ingest": colog(env, "ingest", str(data), "--index", INDEX)}
    runs["enrich"] = colog(env, "enrich", "--no-progress")
    from colog.core.engine import connect

    engine = connect(secured.settings)
    engine.refresh(INDEX)
    first = engine.search({"size": 1, "sort": [{"event.sequence": "asc"}]}, INDEX)
    doc_id = first["hits"]["hits"][0]["_id"]
    engine.close()
    runs["label-id"] = colog(env, "label", "--id", doc_id, "--index", INDEX, "--label", "anomaly")
    anomalous = "message:panic OR message:segfault"  # the synthetic anomaly templates
    runs["label-query"] = colog(env, "label", "--query", anomalous, "--index", INDEX,
                                "--label", "anomaly", "--yes")
    runs["label-normal"] = colog(env, "label", "--query", f"*:* AND NOT ({anomalous})",
                                 "--index", INDEX, "--label", "normal", "--yes")
    runs["train"] = colog(env, "train", "--from-engine", "--epochs", "1", "--no-publish",
                          "--out", str(secured.root / "trained"))
    runs["config"] = colog(env, "config")
    return runs


# --- the pipeline works over TLS with auth ------------------------------------------------------


def test_every_step_succeeds_over_tls_with_basic_auth(pipeline_runs):
    for step, run in pipeline_runs.items():
        assert run.returncode == 0, f"{step}: exit {run.returncode}\n{run.stdout}\n{run.stderr}"


def test_the_documents_are_enriched_and_labelled(pipeline_runs, secured):
    from colog.core.engine import connect

    engine = connect(secured.settings)
    try:
        engine.refresh(INDEX)
        hits = engine.search({"size": 1000, "query": {"match_all": {}}}, INDEX)["hits"]["hits"]
    finally:
        engine.close()
    statuses = {h["_source"]["colog"]["status"] for h in hits}
    assert len(hits) == 120 and statuses == {"enriched"}, statuses
    labelled = [h for h in hits if "feedback" in h["_source"]["colog"]]
    assert len(labelled) == 120  # every row carries label anomaly or normal
    assert (secured.root / "trained").is_dir(), pipeline_runs["train"].stderr


# --- failures are one clear line ---------------------------------------------------------------


def _one_error_line(run: subprocess.CompletedProcess) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]


def test_wrong_password_is_one_line_and_exit_10(secured):
    wrong = secured.root / "wrong-password"
    wrong.write_text("Wrong-" + secrets.token_urlsafe(12), encoding="utf-8")
    run = colog(secured.env(COLOG_OPENSEARCH_PASSWORD_FILE=wrong), "setup")
    assert run.returncode == EXIT_OPENSEARCH, run.stderr
    line = _one_error_line(run)
    assert "rejected the credentials (401)" in line and secured.settings.opensearch_url in line
    assert wrong.read_text() not in run.stderr + run.stdout
    assert secured.password not in run.stderr + run.stdout


def test_untrusted_certificate_is_one_line_and_exit_10(secured):
    env = secured.env()
    del env["COLOG_OPENSEARCH_CA_CERTS"]  # the system trust store does not know our CA
    run = colog(env, "setup")
    assert run.returncode == EXIT_OPENSEARCH, run.stderr
    line = _one_error_line(run)
    assert "failed the TLS handshake" in line, line
    assert secured.password not in run.stderr + run.stdout


# --- the password never shows -------------------------------------------------------------------


def test_no_command_output_holds_the_password(pipeline_runs, secured):
    for step, run in pipeline_runs.items():
        assert secured.password not in run.stdout + run.stderr, step


def test_colog_config_masks_the_password_even_inside_the_url(secured):
    from urllib.parse import quote

    url = secured.settings.opensearch_url.replace(
        "https://", f"https://{USER}:{quote(secured.password, safe='')}@")
    env = secured.env(COLOG_OPENSEARCH_URL=url, COLOG_OPENSEARCH_PASSWORD=secured.password)
    run = colog(env, "config")
    assert run.returncode == 0, run.stderr
    assert secured.password not in run.stdout and quote(secured.password, safe="") not in \
        run.stdout
    assert f"COLOG_OPENSEARCH_URL=https://{USER}:***@127.0.0.1" in run.stdout
    assert "COLOG_OPENSEARCH_PASSWORD=**********" in run.stdout


def test_argv_of_the_node_and_the_commands_holds_no_password(pipeline_runs, secured):
    assert secured.pid is not None
    node_argv = Path(f"/proc/{secured.pid}/cmdline").read_bytes().decode(errors="replace")
    assert node_argv and secured.password not in node_argv
    for run in pipeline_runs.values():
        assert secured.password not in " ".join(map(str, run.args))


def test_exception_text_holds_no_password(secured):
    from colog.core.engine import connect
    from colog.core.engine.errors import AuthenticationFailed

    wrong_password = "Wrong-" + secrets.token_urlsafe(12)
    bad = secured.settings.model_copy(update={"opensearch_password": SecretStr(wrong_password)})
    engine = connect(bad)
    with pytest.raises(AuthenticationFailed) as caught:
        engine.info()
    engine.close()
    text = "".join(traceback.format_exception(caught.value))
    assert "401" in text
    for secret in (wrong_password, secured.password):
        assert secret not in text and secret not in repr(caught.value)
        assert secret not in repr(bad) and secret not in str(bad.masked())


def test_logs_and_metrics_hold_no_password(secured, caplog, pipeline_runs):
    """An enrichment pass in this process with every logger at DEBUG: neither the log records
    nor the Prometheus exposition carry the password; nor does the node's own log."""
    from prometheus_client import REGISTRY, generate_latest

    from colog.services.enrich.context import build_context
    from colog.services.enrich.one_pass import run_pass

    caplog.set_level(logging.DEBUG)
    ctx = build_context(secured.settings)
    summary = run_pass(ctx, flush=True, progress=False)
    ctx.client.close()
    assert summary.still_pending == 0
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1" in logged  # the client's request log is captured at all
    assert secured.password not in logged
    assert secured.password not in generate_latest(REGISTRY).decode()
    node_logs = list((secured.root / "cache" / "stack").rglob("*.log"))
    assert node_logs and all(secured.password not in p.read_text(errors="replace")
                             for p in node_logs)
