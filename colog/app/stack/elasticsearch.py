"""Local Elasticsearch: the minimal distribution (integ-test-zip) from Maven Central, 8.x or 9.x.

The zip holds core plus transport-netty4, x-pack-core and x-pack-security (and apm): no
ingest-common, lang-painless or reindex, so `colog setup` installs no ingest pipeline there and
says so (the worker finds new documents without it). Security is switched off for the plain
local stack; :func:`start` with a :class:`Security` switches it on with TLS on the HTTP layer
and a file-realm user (the security tests do). Data lives per version
(``stack/elasticsearch/data/<version>``).

``python -m colog.app.stack.elasticsearch fetch|start|stop|status`` runs one step.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from colog.app.stack import engine_http, process
from colog.app.stack import opensearch as os_stack
from colog.app.stack.certs import Security
from colog.app.stack.process import StackError

NAME = "elasticsearch"
START_TIMEOUT_S = 180.0
DIST_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
COMPLETE_MARKER = ".colog-complete"

http_address = engine_http.http_address


def dist_root(settings: Any) -> Path:
    return Path(settings.cache_dir) / "elasticsearch"


def home(settings: Any) -> Path:
    return dist_root(settings) / f"elasticsearch-{settings.elasticsearch_version}"


def data_dir(settings: Any, state: Path) -> Path:
    return state / "data" / settings.elasticsearch_version


def fetch(settings: Any) -> dict[str, Any]:
    """Download and unpack the distribution (idempotent: a complete one is left alone)."""
    root = dist_root(settings)
    target = home(settings)
    report: dict[str, Any] = {"home": str(target), "downloaded": False}
    if not (target / COMPLETE_MARKER).exists():
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
            tmp_path = Path(tmp)
            artifact = DIST_ARTIFACT.format(version=settings.elasticsearch_version)
            os_stack._mvn(["dependency:copy", f"-Dartifact={artifact}",
                           f"-DoutputDirectory={tmp_path}"],
                          f"the Elasticsearch distribution {artifact}", component=NAME,
                          version_setting="COLOG_ELASTICSEARCH_VERSION")
            archive = next(tmp_path.glob("*.zip"))
            unpacked = tmp_path / "unpacked"
            os_stack._unzip(archive, unpacked)
            inner = unpacked / target.name
            if not (inner / "bin" / "elasticsearch").exists():
                raise StackError(f"elasticsearch: {archive.name} does not hold "
                                 f"{target.name}/bin/elasticsearch")
            modules = sorted(p.name for p in (inner / "modules").iterdir() if p.is_dir())
            (inner / COMPLETE_MARKER).write_text(json.dumps({"modules": modules}))
            if not (target / COMPLETE_MARKER).exists():
                if target.exists():
                    shutil.rmtree(target)
                inner.rename(target)
        report["downloaded"] = True
        report["seconds"] = round(time.monotonic() - t0, 1)
    report["modules"] = json.loads((target / COMPLETE_MARKER).read_text()).get("modules", [])
    return report


def java_home(version: str) -> Path:
    from colog.app.stack.java import find_java

    return find_java("elasticsearch", version, "ES_JAVA_HOME")


def answers(settings: Any, timeout: float = 2.0) -> bool:
    """True when the Elasticsearch at the configured URL reports health yellow or green."""
    return engine_http.healthy(settings, timeout)


def _security_settings(security: Security | None, conf: Path) -> str:
    if security is None:
        # The archive's first start would otherwise generate certificates and a password.
        return "xpack.security.enabled: false\n"
    tls = security.tls
    for source in (tls.node_cert, tls.node_key, tls.ca):
        shutil.copy2(source, conf / source.name)
    return (
        "xpack.security.enabled: true\n"
        "xpack.security.http.ssl.enabled: true\n"
        f"xpack.security.http.ssl.certificate: {tls.node_cert.name}\n"
        f"xpack.security.http.ssl.key: {tls.node_key.name}\n"
        f"xpack.security.http.ssl.certificate_authorities: [{tls.ca.name}]\n"
        # One node, no transport peers; transport TLS is what a production cluster adds.
        "xpack.security.transport.ssl.enabled: false\n"
        "xpack.security.authc.realms.file.local.order: 0\n"
    )


def _write_config(settings: Any, state: Path, port: int, host: str,
                  node_settings: Mapping[str, str] | None,
                  security: Security | None) -> Path:
    conf = state / "config"
    if conf.exists():
        shutil.rmtree(conf)
    shutil.copytree(home(settings) / "config", conf)
    (conf / "elasticsearch.yml").write_text(
        "# written by colog.app.stack.elasticsearch at each start\n"
        "cluster.name: colog-local\n"
        "node.name: colog-local-1\n"
        f"network.host: {host}\n"
        f"http.port: {port}\n"
        "discovery.type: single-node\n"
        f"path.data: {data_dir(settings, state)}\n"
        f"path.logs: {state / 'logs'}\n"
        "cluster.routing.allocation.disk.threshold_enabled: false\n"
        "action.auto_create_index: true\n"
        + _security_settings(security, conf)
        + "".join(f"{key}: {value}\n" for key, value in (node_settings or {}).items())
    )
    jvm = conf / "jvm.options"
    jvm.write_text(
        jvm.read_text()
        .replace("file=logs/gc.log", f"file={state / 'logs' / 'gc.log'}")
        .replace("HeapDumpPath=data", f"HeapDumpPath={data_dir(settings, state)}")
        .replace("ErrorFile=logs/", f"ErrorFile={state / 'logs'}/")
    )
    return conf


def _add_user(settings: Any, conf: Path, java: Path, security: Security) -> None:
    """The file-realm superuser; the password goes through stdin, never argv."""
    env = {"ES_JAVA_HOME": str(java), "ES_PATH_CONF": str(conf), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [str(home(settings) / "bin" / "elasticsearch-users"), "useradd", security.user,
         "-r", "superuser"], input=f"{security.password}\n{security.password}\n",
        capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        detail = (result.stdout + result.stderr).replace(security.password, "***")
        raise StackError(f"elasticsearch: could not add the file-realm user: {detail.strip()}")


def start(settings: Any, *, node_settings: Mapping[str, str] | None = None,
          security: Security | None = None) -> None:
    """Start one node (idempotent) and wait for health yellow; StackError says what to do."""
    host, port, _ = http_address(settings)
    state = process.state_dir(settings, NAME)
    log = process.log_file(settings, NAME)
    pid = process.running_pid(settings, NAME)
    if pid is not None:
        process.wait_until(lambda: answers(settings), START_TIMEOUT_S, NAME, log, pid)
        return
    process.ensure_port_free(host, port, NAME, "COLOG_OPENSEARCH_URL")
    java = java_home(settings.elasticsearch_version)
    if not (home(settings) / COMPLETE_MARKER).exists():
        fetch(settings)
    user = os_stack._run_user()
    for sub in ("logs", "tmp"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    data_dir(settings, state).mkdir(parents=True, exist_ok=True)
    conf = _write_config(settings, state, port, host, node_settings, security)
    if security is not None:
        _add_user(settings, conf, java, security)
    if user is not None:
        os_stack._check_reachable(home(settings), user)
        os_stack._check_reachable(state, user)
        os_stack._chown_tree(state, user)
        log.touch()
    env = {
        "ES_JAVA_HOME": str(java),
        "ES_PATH_CONF": str(conf),
        "ES_TMPDIR": str(state / "tmp"),
        "ES_JAVA_OPTS": f"-Xms{settings.opensearch_heap} -Xmx{settings.opensearch_heap}",
    }
    if user is not None:
        env["HOME"] = str(state)
        env["USER"] = user.pw_name
    pid = process.start_process(NAME, [str(home(settings) / "bin" / "elasticsearch")], env,
                                state, log, user=user)
    process.wait_until(lambda: answers(settings), START_TIMEOUT_S, NAME, log, pid)


def stop(settings: Any) -> None:
    process.stop_process(NAME, settings, timeout=60.0)


def status(settings: Any) -> dict[str, Any]:
    _, port, _ = http_address(settings)
    return process.server_status(settings, NAME, port, answers(settings, timeout=1.0),
                                 "an Elasticsearch")


def main(argv: list[str]) -> int:
    from colog.core.settings import get_settings

    if len(argv) != 1 or argv[0] not in ("fetch", "start", "stop", "status"):
        print("usage: python -m colog.app.stack.elasticsearch fetch|start|stop|status",
              file=sys.stderr)
        return 2
    settings = get_settings()
    t0 = time.monotonic()
    try:
        if argv[0] == "fetch":
            report = fetch(settings)
            state = "downloaded" if report["downloaded"] else "already present"
            print(f"   Elasticsearch {settings.elasticsearch_version}: {state} at "
                  f"{report['home']}")
            print(f"   modules in the distribution: {', '.join(report['modules'])}")
        elif argv[0] == "start":
            start(settings)
        elif argv[0] == "stop":
            stop(settings)
        else:
            print(json.dumps(status(settings)))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"   ({argv[0]}: {time.monotonic() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
