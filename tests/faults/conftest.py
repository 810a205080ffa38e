"""The fault suite's own servers, and the table of its results.

Every server a fault test kills, restarts or blocks is private to this suite: an OpenSearch
node run from the local stack's distribution with its own port and data directory, a
redis-server on a free port and a tritonserver on free ports serving the session's synthetic
model. The session's shared OpenSearch and Redis (other tests use them) are never touched.

Each test records one row (scenario, documents, lost, conflicting verdicts, final states, time
to recover). The logs of the last run stay in `<cache_dir>/faults/run-<pid>/`. At the end of the
session the rows are printed in the terminal summary and written to
`<cache_dir>/faults/last_run.json`; with COLOG_RECORD_FAULTS=1 they also go to
`benchmarks/fault_runs.json` and to the "Fault suite (tests/faults)" section of
`benchmarks/RESULTS.md`:

    COLOG_RECORD_FAULTS=1 .venv/bin/python -m pytest tests/faults
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from colog.core.settings import Settings
from tests.faults import harness

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
RUNS_JSON = ROOT / "benchmarks" / "fault_runs.json"
HEADING = "## Fault suite (tests/faults)"

# The private node's write pool: one thread and a queue of two, so a burst of concurrent bulk
# requests (scenario "429") is rejected with a real 429, while one or two workers' own
# sequential writes fit.
NODE_SETTINGS = {"thread_pool.write.size": "1", "thread_pool.write.queue_size": "2"}

_ROWS: list[dict] = []
_STARTED = time.time()


@dataclass
class FaultStack:
    """Settings that point at the suite's private servers, and how to break them."""

    settings: Settings
    root: Path
    model_dir: Path
    started_s: dict[str, float] = field(default_factory=dict)

    # -- OpenSearch -----------------------------------------------------------------------
    def start_opensearch(self) -> float:
        from colog.app.stack import opensearch as opensearch_stack

        started = time.monotonic()
        opensearch_stack.start(self.settings, node_settings=NODE_SETTINGS)
        return time.monotonic() - started

    def stop_opensearch(self) -> None:
        from colog.app.stack import opensearch as opensearch_stack

        opensearch_stack.stop(self.settings)

    # -- Redis ----------------------------------------------------------------------------
    def start_redis(self) -> None:
        from colog.app.stack import redis as redis_stack

        redis_stack.start(self.settings)

    def stop_redis(self) -> None:
        from colog.app.stack import redis as redis_stack

        redis_stack.stop(self.settings)

    # -- Triton ---------------------------------------------------------------------------
    def start_triton(self) -> None:
        from colog.app.stack import triton as triton_stack

        triton_stack.start(self.settings)

    def kill_triton(self) -> None:
        """SIGKILL the whole tritonserver process group (server and backend stubs)."""
        import signal

        from colog.app.stack import process
        from colog.app.stack import triton as triton_stack

        pid = process.running_pid(self.settings, triton_stack.NAME)
        assert pid is not None, "the suite's tritonserver is not running"
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while process.group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not process.group_alive(pid), "tritonserver survived SIGKILL"
        # The group is gone, yet a port can stay bound a while: the killed server's side of a
        # client connection lingers (FIN_WAIT2, up to tcp_fin_timeout, 60 s) until the client
        # sends on it. Seen once in a clean-clone run, where the restart found the HTTP port
        # bound with no listener. A supervisor restarting Triton waits the same way.
        taken = list(triton_stack.ports(self.settings).values())
        free_by = time.monotonic() + 75
        while time.monotonic() < free_by and any(
                process.port_in_use(host, port) for host, port in taken):
            time.sleep(0.2)
        still = [port for host, port in taken if process.port_in_use(host, port)]
        assert not still, f"tritonserver's ports {still} still bound 75 s after SIGKILL"
        process.pid_file(self.settings, triton_stack.NAME).unlink(missing_ok=True)

    def ensure_up(self) -> None:
        """Start whatever an earlier scenario left down (each start is idempotent), so one
        failed scenario does not fail the ones after it."""
        self.start_redis()
        self.start_opensearch()
        self.start_triton()

    def stop_triton(self) -> None:
        from colog.app.stack import triton as triton_stack

        triton_stack.stop(self.settings)


def _restartable_ports(count: int) -> list[int]:
    """Free ports below the kernel's ephemeral range. A server the suite stops must get its
    port back when it restarts; a port from the ephemeral range (what `free_port` returns) can
    be taken meanwhile as the local end of any outgoing connection on the machine, or by a
    client's own retries connecting to itself, and the restart then fails "port in use"."""
    import random

    from colog.app.stack import process

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    candidates = list(range(max(1025, low - 12000), low))
    random.shuffle(candidates)
    ports = [p for p in candidates[:400] if not process.port_in_use("127.0.0.1", p)][:count]
    assert len(ports) == count, f"no {count} free ports below {low}"
    return ports


def _link_distribution(stack_settings: Settings, private_cache: Path) -> None:
    """The private node runs from the local stack's OpenSearch distribution (fetched once,
    from Maven, into the shared cache): link it instead of fetching it again."""
    from colog.app.stack import opensearch as opensearch_stack

    shared = opensearch_stack.home(stack_settings)
    if not (shared / opensearch_stack.COMPLETE_MARKER).exists():
        opensearch_stack.fetch(stack_settings)
    private_cache.mkdir(parents=True, exist_ok=True)
    link = private_cache / "opensearch"
    if not link.exists():
        link.symlink_to(opensearch_stack.dist_root(stack_settings).resolve(),
                        target_is_directory=True)


# Package scope: the private servers stop when tests/faults is done, not at the end of
# the whole session.
@pytest.fixture(scope="package")
def fault_stack(synthetic_model, stack_settings) -> FaultStack:
    from colog.app.stack import process
    from colog.core.serving import repository

    # Not under pytest's tmp dir: as root, OpenSearch runs as `nobody`, and every new pytest
    # session resets /tmp/pytest-of-root to 0700 (and prunes old runs), which would cut a
    # running node off its data. The local stack's cache dir, one directory per run instead.
    # The last run's directory (worker, beat and server logs) stays for a look afterwards.
    runs = Path(stack_settings.cache_dir) / "faults"
    for old in runs.glob("run-*"):
        shutil.rmtree(old, ignore_errors=True)
    root = runs / f"run-{os.getpid()}"
    root.mkdir(parents=True)
    cache = root / "cache"
    _link_distribution(stack_settings, cache)
    os_port, redis_port, http, grpc, metrics = _restartable_ports(5)
    settings = Settings(
        opensearch_url=f"http://127.0.0.1:{os_port}",
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        cache_dir=cache, opensearch_heap="512m",
        triton_url=f"127.0.0.1:{grpc}", triton_http_url=f"127.0.0.1:{http}",
        triton_protocol="grpc", triton_metrics_port=metrics, triton_instance_kind="KIND_CPU",
        heartbeat_file=root / "heartbeat",
        incidents_index="faults-incidents", models_index="faults-models",
        drift_index="faults-drift",
    )
    stack = FaultStack(settings, root, synthetic_model)
    repo = repository.assemble(repository.live_repository(settings), "KIND_CPU")
    repository.place_version(repo, synthetic_model)
    try:
        t0 = time.monotonic()
        stack.start_redis()
        stack.started_s["redis"] = time.monotonic() - t0
        stack.started_s["opensearch"] = stack.start_opensearch()
        t0 = time.monotonic()
        stack.start_triton()
        stack.started_s["triton"] = time.monotonic() - t0
    except process.StackError as exc:
        _stop_all(stack)
        pytest.fail(f"the fault suite's private servers did not start: {exc}", pytrace=False)
    yield stack
    _stop_all(stack)


def _stop_all(stack: FaultStack) -> None:
    for stop in (stack.stop_triton, stack.stop_opensearch, stack.stop_redis):
        try:
            stop()
        except Exception as exc:  # noqa: BLE001 - stop the others anyway
            print(f"fault suite: stopping a server failed: {exc}")


@pytest.fixture(scope="package")
def reference(fault_stack) -> dict:
    """The verdict of every document in a clean pass (no fault) over the suite's data."""
    return harness.reference_pass(fault_stack)


@pytest.fixture
def record():
    """`record(row)` keeps a scenario's row for the table."""
    return _ROWS.append


# --- the table ------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _ROWS:
        return
    table = harness.render_table(_ROWS)
    terminalreporter.write_sep("=", "fault suite")
    terminalreporter.write_line(table)
    run = {"rows": _ROWS, "started": _STARTED, "seconds": round(time.time() - _STARTED, 1),
           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
           "exit_status": int(exitstatus)}
    out = Path(Settings().cache_dir) / "faults" / "last_run.json"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(run, indent=2))
        terminalreporter.write_line(f"fault rows: {out}")
    except OSError as exc:
        terminalreporter.write_line(f"fault rows not written to {out}: {exc}")
    if os.environ.get("COLOG_RECORD_FAULTS") == "1":
        from colog.app.reporting import replace_section

        RUNS_JSON.write_text(json.dumps(run, indent=2) + "\n")
        replace_section(RESULTS, HEADING, harness.results_section(run))
        terminalreporter.write_line(f"recorded in {RESULTS} and {RUNS_JSON}")
