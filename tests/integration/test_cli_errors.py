"""Every `colog` command that talks to a server, with that server down or refusing: one line on
stderr naming the server and its URL (no traceback, no password), and the server's exit code
from docs/operations.md; `--debug` / `COLOG_DEBUG=1` add the traceback.

No real server is needed: each URL points at a closed port (or at a tiny HTTP server in this
process that answers 401, plain HTTP to https, or "unknown model"). The commands run as the
real console command does, in a subprocess: `python -m colog.app.cli` from this checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from colog.app.cli.errors import EXIT_OPENSEARCH, EXIT_REDIS, EXIT_TRITON
from colog.app.stack.process import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-Pa55"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-errors")


@pytest.fixture(scope="module")
def down(work: Path) -> dict[str, str]:
    """The environment of every run: each server at a port nobody listens on, short timeouts,
    no retries, this checkout's code, and none of the developer's COLOG_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLOG_")}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "COLOG_OPENSEARCH_URL": f"http://127.0.0.1:{free_port()}",
        "COLOG_OPENSEARCH_TIMEOUT_S": "2",
        "COLOG_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "COLOG_TRITON_URL": f"127.0.0.1:{free_port()}",
        "COLOG_TRITON_HTTP_URL": f"127.0.0.1:{free_port()}",
        "COLOG_TRITON_RETRIES": "0",
        "COLOG_TRITON_TIMEOUT_S": "2",
        "COLOG_CACHE_DIR": str(work / "cache"),
        "COLOG_METRICS_PORT": str(free_port()),
        "COLOG_HEARTBEAT_FILE": str(work / "heartbeat"),
    })
    return env


@pytest.fixture(scope="module")
def inputs(work: Path, down: dict[str, str]) -> dict[str, str]:
    """A log file, a tiny model directory, and a live repository holding versions 1 and 2."""
    from colog.core.serving import repository
    from colog.core.settings import Settings
    from tests.fixtures.triton import build_tiny_model

    log = work / "events.jsonl"
    log.write_text(json.dumps({"timestamp": "2026-01-01T00:00:00Z", "message": "disk full",
                               "stream": "host-1"}) + "\n", encoding="utf-8")
    model = build_tiny_model(work / "model", seed=1)
    repo = repository.live_repository(Settings(cache_dir=Path(down["COLOG_CACHE_DIR"])))
    repository.place_version(repo, model)
    repository.place_version(repo, model)
    return {"log": str(log), "model": str(model)}


def colog(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    # cwd outside the checkout: a developer's .env there must not reach these runs.
    return subprocess.run([sys.executable, "-m", "colog.app.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


URL = {"OpenSearch": "COLOG_OPENSEARCH_URL", "Redis": "COLOG_REDIS_URL",
       "Triton": "COLOG_TRITON_URL"}
CODE = {"OpenSearch": EXIT_OPENSEARCH, "Redis": EXIT_REDIS, "Triton": EXIT_TRITON}

# (command line, the server it reaches first). {log} and {model} come from `inputs`.
CASES = [
    (["setup"], "OpenSearch"),
    (["ingest", "{log}"], "OpenSearch"),
    (["enrich"], "Triton"),  # the served model's parameters come first
    (["enrich", "--local-model", "{model}"], "OpenSearch"),
    (["label", "--label", "anomaly", "--id", "doc-1"], "OpenSearch"),
    (["label", "--label", "normal", "--query", "message:disk", "--yes"], "OpenSearch"),
    (["reenrich", "--query", "message:disk", "--yes"], "OpenSearch"),
    (["train", "--from-opensearch", "--epochs", "1"], "OpenSearch"),
    (["publish", "{model}"], "OpenSearch"),  # the gate's holdout comes first
    (["serve", "--model", "{model}"], "Triton"),
    (["rollback"], "OpenSearch"),  # the release log names the previous version
    (["rollback", "--to", "1"], "Triton"),
    (["models"], "OpenSearch"),
    (["bench", "--synthetic", "0"], "OpenSearch"),
    (["worker"], "Redis"),
    (["beat"], "Redis"),
]


@pytest.mark.parametrize("args,server", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_server_down_is_one_line_and_its_exit_code(args, server, down, inputs, work):
    result = colog(down, *[a.format(**inputs) for a in args], cwd=work)
    line = one_line(result)
    assert result.returncode == CODE[server], line
    assert line.startswith(f"error: {server} at {down[URL[server]]} "), line
    assert "colog stack up" in line and URL[server] in line, line  # what to do


@pytest.mark.parametrize("args,server,how", [
    (["--debug", "setup"], "OpenSearch", "option"),
    (["worker"], "Redis", "env"),
    (["--debug", "enrich"], "Triton", "option"),
], ids=["--debug setup", "COLOG_DEBUG=1 worker", "--debug enrich"])
def test_debug_adds_the_traceback(args, server, how, down, work):
    env = dict(down, COLOG_DEBUG="1") if how == "env" else down
    result = colog(env, *args, cwd=work)
    assert result.returncode == CODE[server]
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {server} at ")


# --- servers that answer, but not as they should --------------------------------------------


def _answering(status: int, body: dict) -> Iterator[int]:
    """A local HTTP server answering every request with `status` and `body`; yields its port."""
    payload = json.dumps(body).encode()

    class Handler(BaseHTTPRequestHandler):
        def answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def unauthorized() -> Iterator[int]:
    yield from _answering(401, {"error": {"type": "security_exception",
                                          "reason": "Unauthorized"}, "status": 401})


@pytest.fixture
def unknown_model() -> Iterator[int]:
    # What Triton's HTTP endpoint answers for a model it does not serve.
    yield from _answering(400, {"error": "Request for unknown model: 'colog' is not found"})


def test_rejected_credentials_in_the_url_are_not_printed(unauthorized, down, work):
    url = f"http://admin:{PASSWORD}@127.0.0.1:{unauthorized}"
    result = colog(dict(down, COLOG_OPENSEARCH_URL=url), "models", cwd=work)
    line = one_line(result)
    assert result.returncode == EXIT_OPENSEARCH
    assert line.startswith(f"error: OpenSearch at http://admin:***@127.0.0.1:{unauthorized} "
                           "rejected the credentials"), line
    assert PASSWORD not in result.stderr + result.stdout


def test_a_password_setting_is_not_printed(down, work):
    env = dict(down, COLOG_OPENSEARCH_USER="admin", COLOG_OPENSEARCH_PASSWORD=PASSWORD,
               COLOG_REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    for args, code in ((["setup"], EXIT_OPENSEARCH), (["beat"], EXIT_REDIS)):
        result = colog(env, *args, cwd=work)
        line = one_line(result)
        assert result.returncode == code, line
        assert PASSWORD not in result.stderr + result.stdout
    assert line.startswith("error: Redis at redis://:***@127.0.0.1:"), line


def test_https_to_a_plain_http_server_is_a_tls_failure(unauthorized, down, work):
    url = f"https://127.0.0.1:{unauthorized}"
    result = colog(dict(down, COLOG_OPENSEARCH_URL=url), "models", cwd=work)
    line = one_line(result)
    assert result.returncode == EXIT_OPENSEARCH
    assert line.startswith(f"error: OpenSearch at {url} failed the TLS handshake"), line
    assert "COLOG_OPENSEARCH_CA_CERTS" in line


def test_a_model_triton_does_not_serve_is_named(unknown_model, down, work):
    address = f"127.0.0.1:{unknown_model}"
    env = dict(down, COLOG_TRITON_PROTOCOL="http", COLOG_TRITON_URL=address)
    result = colog(env, "enrich", cwd=work)
    line = one_line(result)
    assert result.returncode == EXIT_TRITON
    assert line.startswith(f"error: Triton at {address} has no model 'colog' ready"), line
    assert "colog serve --model" in line
