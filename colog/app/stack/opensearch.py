"""Local OpenSearch: the minimal distribution from Maven Central (2.19.x or 3.x).

The 2.19 integ-test-zip ships core plus the transport module only. ``fetch`` also assembles the
core modules the project uses that Maven Central publishes as plain jars (lang-painless,
ingest-common, reindex): each gets its jar, its runtime dependencies (minus what core already
ships) and a plugin descriptor, exactly as the full distribution lays them out. The 3.x zip
bundles those three already; a module the zip brings is kept as it is. 2.x runs on Java 17-23,
3.x on Java 21+ (``colog.app.stack.java`` picks one). Data lives per version
(``stack/opensearch/data/<version>``): a 3.x index cannot be opened by 2.19. The Alerting plugin is not on
Maven Central; :func:`capabilities` tells callers at run time what the server can do.

``python -m colog.app.stack.opensearch fetch|start|stop|status`` runs one step (install.sh uses it).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colog.app.stack import engine_http, process
from colog.app.stack.certs import Security
from colog.app.stack.process import StackError

NAME = "opensearch"
START_TIMEOUT_S = 180.0  # a cold JVM on a 2-core CI box takes 20-40 s; leave room
DIST_ARTIFACT = "org.opensearch.distribution.integ-test-zip:opensearch:{version}:zip"
COMPLETE_MARKER = ".colog-complete"


@dataclass(frozen=True)
class Module:
    """A core module published on Maven Central as a jar, installed under ``modules/``."""

    name: str
    artifact: str  # groupId:artifactId of the module's own jar
    classname: str
    description: str
    extended: str = ""  # plugins whose class loader this one extends
    policy: str = ""  # plugin-security.policy; empty = none needed


MODULES = (
    Module(
        name="lang-painless",
        artifact="org.opensearch.plugin:lang-painless",
        classname="org.opensearch.painless.PainlessPlugin",
        description="Painless scripting (script processor, scripted updates, alert conditions)",
        # Painless compiles scripts to classes at run time, in its own class loader.
        policy='grant {\n  permission java.lang.RuntimePermission "createClassLoader";\n'
        '  permission java.lang.RuntimePermission "getClassLoader";\n};\n',
    ),
    Module(
        name="ingest-common",
        artifact="org.opensearch.plugin:ingest-common",
        classname="org.opensearch.ingest.common.IngestCommonPlugin",
        description="Common ingest processors (set, script, rename, grok, ...)",
        # It adds its processors' methods to Painless's allow-list through Painless's SPI.
        extended="lang-painless",
    ),
    Module(
        name="reindex",
        artifact="org.opensearch.plugin:reindex-client",
        classname="org.opensearch.index.reindex.ReindexPlugin",
        description="_reindex, _update_by_query and _delete_by_query",
        # Reindex-from-remote opens sockets through the bundled REST client.
        policy='grant {\n  permission java.net.SocketPermission "*", "connect";\n'
        '  permission java.net.NetPermission "getProxySelector";\n};\n',
    ),
)

# Wanted but not on Maven Central for 2.19.x (checked: org.opensearch.plugin:opensearch-alerting
# has no maven-metadata there); the full distribution or its Docker image has it.
MISSING_FROM_MAVEN = ("opensearch-alerting",)


# --- where things live ----------------------------------------------------------------------


def dist_root(settings: Any) -> Path:
    return Path(settings.cache_dir) / "opensearch"


def home(settings: Any) -> Path:
    """The unpacked distribution (OPENSEARCH_HOME)."""
    return dist_root(settings) / f"opensearch-{settings.opensearch_version}"


def data_dir(settings: Any, state: Path) -> Path:
    """Per version: an index written by a newer major cannot be read by an older one."""
    return state / "data" / settings.opensearch_version


http_address = engine_http.http_address


# --- fetch ----------------------------------------------------------------------------------


def _require_mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "opensearch: Maven (`mvn`) is not installed; it fetches the distribution from Maven "
            "Central. Install it (Debian: `apt-get install maven`) and run again."
        )
    return mvn


def _mvn(args: list[str], what: str, cwd: Path | None = None, component: str = NAME,
         version_setting: str = "COLOG_OPENSEARCH_VERSION") -> None:
    cmd = [_require_mvn(), "-q", "-B", *args]
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [ln for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
        detail = "\n".join(lines[-8:])
        raise StackError(
            f"{component}: could not download {what} from Maven Central.\n{detail}\n"
            "Check the network or proxy (Maven reads ~/.m2/settings.xml), and that "
            f"{version_setting} names a published version; then run "
            f"`.venv/bin/python -m colog.app.stack.{component} fetch` again."
        )


def _unzip(archive: Path, dest: Path) -> None:
    """Unpack keeping the executable bits (zipfile alone drops them; bin/opensearch needs them)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode)


def fetch(settings: Any) -> dict[str, Any]:
    """Download and unpack the distribution and install the Maven-published modules.

    Idempotent: a complete install (marker file) is left alone. Returns what was done.
    """
    root = dist_root(settings)
    target = home(settings)
    report: dict[str, Any] = {"home": str(target), "downloaded": False, "modules": []}
    if not (target / COMPLETE_MARKER).exists():
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
            tmp_path = Path(tmp)
            artifact = DIST_ARTIFACT.format(version=settings.opensearch_version)
            _mvn(["dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={tmp_path}"],
                 f"the OpenSearch distribution {artifact}")
            archive = next(tmp_path.glob("*.zip"))
            unpacked = tmp_path / "unpacked"
            _unzip(archive, unpacked)
            inner = unpacked / target.name
            if not (inner / "bin" / "opensearch").exists():
                raise StackError(f"opensearch: {archive.name} does not hold {target.name}/bin/opensearch")
            failed: list[str] = []
            bundled: list[str] = []
            for module in MODULES:
                if (inner / "modules" / module.name).is_dir():
                    report["modules"].append(module.name)  # the 3.x zip ships it
                    bundled.append(module.name)
                    continue
                try:
                    _install_module(inner, module, settings.opensearch_version, tmp_path)
                    report["modules"].append(module.name)
                except StackError as exc:
                    # The server runs without it; capabilities() reports the gap at run time.
                    shutil.rmtree(inner / "modules" / module.name, ignore_errors=True)
                    failed.append(module.name)
                    print(f"warning: {exc}", file=sys.stderr)
            marker = {"modules": report["modules"], "failed": failed, "bundled": bundled}
            (inner / COMPLETE_MARKER).write_text(json.dumps(marker))
            if not (target / COMPLETE_MARKER).exists():  # else a parallel fetch finished first
                if target.exists():  # a half-finished earlier attempt
                    shutil.rmtree(target)
                inner.rename(target)  # all or nothing: the marker travels with the tree
        report["downloaded"] = True
        report["seconds"] = round(time.monotonic() - t0, 1)
    marker = json.loads((target / COMPLETE_MARKER).read_text())
    report["modules"] = marker.get("modules", [])
    report["bundled"] = marker.get("bundled", [])
    report["missing"] = [*marker.get("failed", []), *MISSING_FROM_MAVEN]
    return report


def _install_module(os_home: Path, module: Module, version: str, work: Path) -> None:
    """modules/<name>/: the module jar and its runtime dependencies that core does not ship."""
    group, artifact = module.artifact.split(":")
    pom_dir = work / f"pom-{module.name}"
    pom_dir.mkdir()
    (pom_dir / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>colog.local</groupId><artifactId>module-fetch</artifactId><version>1</version>"
        "<packaging>pom</packaging><dependencies><dependency>"
        f"<groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>"
        "</dependency></dependencies></project>"
    )
    jars = pom_dir / "jars"
    _mvn(["dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={jars}"],
         f"the {module.name} module ({module.artifact}:{version})", cwd=pom_dir)
    # Core's own jars (server, lucene, ...) are on the boot class path already; a second copy
    # in the module would fail OpenSearch's jar-hell check at start.
    core = {p.name for p in (os_home / "lib").glob("*.jar")}
    dest = os_home / "modules" / module.name
    dest.mkdir(parents=True)
    for jar in sorted(jars.glob("*.jar")):
        if jar.name not in core:
            shutil.copy2(jar, dest / jar.name)
    descriptor = {
        "description": module.description,
        "version": version,
        "name": module.name,
        "classname": module.classname,
        "java.version": "11",
        "opensearch.version": version,
        "extended.plugins": module.extended,
        "has.native.controller": "false",
    }
    (dest / "plugin-descriptor.properties").write_text(
        "".join(f"{key}={value}\n" for key, value in descriptor.items())
    )
    if module.policy:
        (dest / "plugin-security.policy").write_text(module.policy)


# --- java -----------------------------------------------------------------------------------


def java_home(version: str) -> Path:
    """The Java that OpenSearch ``version`` runs on, or a StackError saying what to install."""
    from colog.app.stack.java import find_java

    return find_java("opensearch", version, "OPENSEARCH_JAVA_HOME")


# --- run as whom ------------------------------------------------------------------------------


def _run_user() -> pwd.struct_passwd | None:
    """OpenSearch refuses to run as root; as root we run it as `nobody`. None = as ourselves."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("nobody")


def _check_reachable(path: Path, user: pwd.struct_passwd) -> None:
    """`nobody` must be able to walk to the distribution and the state directory.

    We only get here as root (CI, containers): a parent directory that others cannot enter
    gets the traverse bit (o+x, no read), said on stderr, rather than failing the run.
    """
    for parent in [*reversed(path.parents), path]:
        if not parent.exists():
            continue
        mode = parent.stat().st_mode
        if mode & stat.S_IXOTH:
            continue
        try:
            os.chmod(parent, mode | stat.S_IXOTH)
            print(f"opensearch: OpenSearch runs as `{user.pw_name}` (it refuses root); gave "
                  f"{parent} the traverse bit (o+x) so it can reach {path}", file=sys.stderr)
        except OSError as error:
            raise StackError(
                f"opensearch: running as root, so OpenSearch runs as `{user.pw_name}`, which cannot "
                f"enter {parent} (mode {stat.filemode(mode)}) and chmod failed ({error}). Run "
                f"`chmod o+x {parent}` or set COLOG_CACHE_DIR to a directory outside it "
                "(e.g. /var/tmp/colog).") from error


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    for dirpath, _dirnames, filenames in os.walk(path):
        os.chown(dirpath, user.pw_uid, user.pw_gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), user.pw_uid, user.pw_gid)


# --- security (TLS and basic auth, for the security tests and secured local stacks) -------------

SECURITY_ARTIFACT = "org.opensearch.plugin:opensearch-security:{version}.0:zip"


def secure_home(settings: Any, java: Path) -> Path:
    """A copy of the distribution with the security plugin (from Maven Central) installed.

    A copy, because a node with the plugin refuses to start without its TLS settings: the
    plain distribution stays as it is for the unsecured stack."""
    target = dist_root(settings) / f"opensearch-{settings.opensearch_version}-security"
    if (target / COMPLETE_MARKER).exists():
        return target
    with tempfile.TemporaryDirectory(dir=dist_root(settings), prefix=".secure-") as tmp:
        tmp_path = Path(tmp)
        artifact = SECURITY_ARTIFACT.format(version=settings.opensearch_version)
        _mvn(["dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={tmp_path}"],
             f"the security plugin {artifact}")
        plugin = next(tmp_path.glob("*.zip"))
        inner = tmp_path / target.name
        shutil.copytree(home(settings), inner, symlinks=True)
        result = subprocess.run(
            [str(inner / "bin" / "opensearch-plugin"), "install", "--batch", plugin.as_uri()],
            capture_output=True, text=True, check=False,
            env={**os.environ, "OPENSEARCH_JAVA_HOME": str(java),
                 "OPENSEARCH_PATH_CONF": str(inner / "config")})
        if result.returncode != 0:
            raise StackError(f"opensearch: installing {plugin.name} failed:\n"
                             + "\n".join((result.stdout + result.stderr).splitlines()[-8:]))
        if target.exists():
            shutil.rmtree(target)
        inner.rename(target)
    return target


def _security_settings(security: Security, conf: Path) -> str:
    """opensearch.yml lines for the security plugin, and its user database (a bcrypt hash)."""
    import bcrypt

    tls = security.tls
    for source in (tls.node_cert, tls.node_key, tls.ca):
        shutil.copy2(source, conf / source.name)
    digest = bcrypt.hashpw(security.password.encode(), bcrypt.gensalt(12)).decode()
    (conf / "opensearch-security" / "internal_users.yml").write_text(
        '_meta:\n  type: "internalusers"\n  config_version: 2\n'
        f"{security.user}:\n  hash: \"{digest}\"\n  reserved: true\n"
        '  backend_roles: ["admin"]\n  description: "colog local administrator"\n')
    paths = {"pemcert_filepath": tls.node_cert.name, "pemkey_filepath": tls.node_key.name,
             "pemtrustedcas_filepath": tls.ca.name}
    lines = [f"plugins.security.ssl.{layer}.{key}: {value}"
             for layer in ("transport", "http") for key, value in paths.items()]
    lines += [
        "plugins.security.ssl.transport.enforce_hostname_verification: false",
        "plugins.security.ssl.http.enabled: true",
        # The security index is created from config/opensearch-security/*.yml at first start.
        "plugins.security.allow_default_init_securityindex: true",
        f"plugins.security.authcz.admin_dn: ['{tls.admin_dn}']",
        f"plugins.security.nodes_dn: ['{tls.node_dn}']",
        "plugins.security.audit.type: noop",
        "plugins.security.restapi.roles_enabled: ['all_access']",
    ]
    return "".join(line + "\n" for line in lines)


# --- start / stop / status ------------------------------------------------------------------


def answers(settings: Any, timeout: float = 2.0) -> bool:
    """True when the OpenSearch at the configured URL reports health yellow or green."""
    return engine_http.healthy(settings, timeout)


def _write_config(settings: Any, state: Path, port: int, host: str,
                  node_settings: Mapping[str, str] | None = None, dist: Path | None = None,
                  security: Security | None = None) -> Path:
    """Our own config dir under the state dir: the distribution stays read-only and shared.
    ``node_settings`` adds static node settings (e.g. a tiny write queue for the fault suite)."""
    conf = state / "config"
    if conf.exists():
        shutil.rmtree(conf)
    shutil.copytree((dist or home(settings)) / "config", conf)
    (conf / "opensearch.yml").write_text(
        "# written by colog.app.stack.opensearch at each start\n"
        "cluster.name: colog-local\n"
        "node.name: colog-local-1\n"
        f"network.host: {host}\n"
        f"http.port: {port}\n"
        # transport binds the first free port of its default range; nobody connects to it.
        "discovery.type: single-node\n"
        f"path.data: {data_dir(settings, state)}\n"
        f"path.logs: {state / 'logs'}\n"
        # CI disks are often >90% full; watermarks would block writes, not protect anything.
        "cluster.routing.allocation.disk.threshold_enabled: false\n"
        "action.auto_create_index: true\n"
        + (_security_settings(security, conf) if security is not None else "")
        + "".join(f"{key}: {value}\n" for key, value in (node_settings or {}).items())
    )
    # The launcher runs from OPENSEARCH_HOME, so jvm.options' relative gc-log / heap-dump
    # paths would write into the shared (and, for `nobody`, read-only) distribution.
    jvm = conf / "jvm.options"
    jvm.write_text(
        jvm.read_text()
        .replace("file=logs/gc.log", f"file={state / 'logs' / 'gc.log'}")
        .replace("HeapDumpPath=data", f"HeapDumpPath={data_dir(settings, state)}")
        .replace("ErrorFile=logs/", f"ErrorFile={state / 'logs'}/")
    )
    return conf


def start(settings: Any, *, node_settings: Mapping[str, str] | None = None,
          security: Security | None = None) -> None:
    """Start one node (idempotent) and wait for health yellow; StackError says what to do.

    Another node can run beside the local stack's from the same distribution: give it its own
    ``cache_dir`` whose ``opensearch`` entry links to the fetched distribution, and its own
    port (the fault suite does this, so it can restart its node without touching the shared one).
    """
    host, port, _ = http_address(settings)
    state = process.state_dir(settings, NAME)
    log = process.log_file(settings, NAME)
    pid = process.running_pid(settings, NAME)
    if pid is not None:
        process.wait_until(lambda: answers(settings), START_TIMEOUT_S, "opensearch", log, pid)
        return
    process.ensure_port_free(host, port, "opensearch", "COLOG_OPENSEARCH_URL")
    java = java_home(settings.opensearch_version)
    if not (home(settings) / COMPLETE_MARKER).exists():
        fetch(settings)
    dist = home(settings) if security is None else secure_home(settings, java)
    user = _run_user()
    for sub in ("logs", "tmp"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    data_dir(settings, state).mkdir(parents=True, exist_ok=True)
    conf = _write_config(settings, state, port, host, node_settings, dist, security)
    if user is not None:
        _check_reachable(dist, user)
        _check_reachable(state, user)
        _chown_tree(state, user)
        log.touch()
    env = {
        "OPENSEARCH_JAVA_HOME": str(java),
        "OPENSEARCH_PATH_CONF": str(conf),
        "OPENSEARCH_TMPDIR": str(state / "tmp"),
        # Replaces jvm.options' -Xms1g/-Xmx1g; the last -Xm* on the command line wins.
        "OPENSEARCH_JAVA_OPTS": f"-Xms{settings.opensearch_heap} -Xmx{settings.opensearch_heap}",
    }
    if user is not None:
        env["HOME"] = str(state)
        env["USER"] = user.pw_name
    pid = process.start_process(
        NAME, [str(dist / "bin" / "opensearch")], env, state, log, user=user
    )
    process.wait_until(lambda: answers(settings), START_TIMEOUT_S, "opensearch", log, pid)


def stop(settings: Any) -> None:
    process.stop_process(NAME, settings, timeout=60.0)


def status(settings: Any) -> dict[str, Any]:
    _, port, _ = http_address(settings)
    return process.server_status(settings, NAME, port, answers(settings, timeout=1.0),
                                 "an OpenSearch")


# --- what the running server can do -----------------------------------------------------------


def capabilities(client: Any) -> dict[str, bool]:
    """Features the project uses, as the server reports them (modules, plugins, processors).
    ``client``: a colog.engine SearchEngine or a raw client of either engine."""
    from colog.core.engine import as_engine

    engine = as_engine(client)
    names = engine.node_modules()
    processors = engine.ingest_processors()
    return {
        "ingest_pipeline_processors": {"set", "script"} <= processors,
        "painless": "lang-painless" in names,
        "reindex": "reindex" in names,
        "alerting": "opensearch-alerting" in names,
    }


WHAT_TO_DO = {
    "ingest_pipeline_processors": "the ingest-common module (set/script processors)",
    "painless": "the lang-painless module",
    "reindex": "the reindex module",
    "alerting": "the Alerting plugin (opensearch-alerting, in the full OpenSearch distribution "
    "and its Docker image; not on Maven Central)",
}


class FeatureMissing(StackError):
    """The OpenSearch in use lacks a feature; the message names it and where to get it."""


def require(client: Any, feature: str) -> None:
    """Raise FeatureMissing unless the server has ``feature`` (a key of :func:`capabilities`)."""
    if feature not in WHAT_TO_DO:
        raise ValueError(f"unknown OpenSearch feature {feature!r}; known: {sorted(WHAT_TO_DO)}")
    if not capabilities(client)[feature]:
        raise FeatureMissing(
            f"This OpenSearch lacks {WHAT_TO_DO[feature]}. Use an OpenSearch that has it "
            "(e.g. the official image via deploy/docker-compose.yml), or skip this step."
        )


# --- command line -----------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    from colog.core.settings import get_settings

    if len(argv) != 1 or argv[0] not in ("fetch", "start", "stop", "status"):
        print("usage: python -m colog.app.stack.opensearch fetch|start|stop|status", file=sys.stderr)
        return 2
    settings = get_settings()
    t0 = time.monotonic()
    try:
        if argv[0] == "fetch":
            report = fetch(settings)
            state = "downloaded" if report["downloaded"] else "already present"
            print(f"   OpenSearch {settings.opensearch_version}: {state} at {report['home']}")
            fetched = [m for m in report["modules"] if m not in report["bundled"]]
            print(f"   modules installed from Maven Central: {', '.join(fetched) or 'none'}"
                  f"; in the distribution already: {', '.join(report['bundled']) or 'none'}")
            print(f"   not on Maven Central (detected at run time): {', '.join(report['missing'])}")
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
