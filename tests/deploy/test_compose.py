"""deploy/docker-compose.yml: structure checked always; `docker compose config` when the compose
plugin is installed (it is not on the development machines, hence the allowed skip)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.deploy.conftest import ROOT

COMPOSE = ROOT / "deploy" / "docker-compose.yml"
EXPECTED = {"opensearch", "dashboards", "redis", "triton", "worker", "beat", "demo-loader"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _compose_plugin() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if done.returncode != 0:
        return f"the docker compose plugin is not installed ({(done.stderr or done.stdout).strip()})"
    return None


def test_docker_compose_config_validates():
    missing = _compose_plugin()
    if missing:
        pytest.skip(f"docker compose config not run: {missing}")
    done = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_services_and_dependencies(compose):
    services = compose["services"]
    assert set(services) == EXPECTED
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    assert services["worker"]["depends_on"]["demo-loader"]["condition"] == "service_completed_successfully"


def test_official_images_and_project_builds(compose):
    services = compose["services"]
    assert services["opensearch"]["image"].startswith("opensearchproject/opensearch:2.19")
    assert services["dashboards"]["image"].startswith("opensearchproject/opensearch-dashboards:2.19")
    assert services["redis"]["image"].startswith("redis:")
    assert services["triton"]["build"]["dockerfile"] == "deploy/docker/triton.Dockerfile"
    for name in ("worker", "beat", "demo-loader"):
        assert services[name]["build"]["dockerfile"] == "deploy/docker/worker.Dockerfile", name
        assert services[name]["read_only"] is True and services[name]["cap_drop"] == ["ALL"]
    assert services["worker"]["command"] == ["worker", "--concurrency", "2"]
    assert services["beat"]["command"] == ["beat"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "colog", "health"]
    loader = services["demo-loader"]["command"][0]
    assert loader.index("colog setup") < loader.index("colog ingest")


def test_demo_loader_reads_the_bundled_samples_with_known_formats(compose):
    """The mounted folder exists and every sample's format (its file-name prefix) is one that
    `colog ingest --format` knows."""
    mount = compose["services"]["demo-loader"]["volumes"][0]
    default = re.fullmatch(r"\$\{COLOG_DEMO_DATA:-([^}]+)\}:/data:ro", mount)
    assert default, f"unexpected demo-loader mount {mount!r}"
    host_path = default.group(1)
    samples = (COMPOSE.parent / host_path).resolve()
    logs = sorted(samples.glob("*_2k.log"))
    assert len(logs) >= 3, f"no bundled samples under {samples}"
    done = subprocess.run([sys.executable, "-c", "from colog.app.cli import app; app()",
                           "convert", "--list-formats"],
                          capture_output=True, text=True, timeout=120)
    known = {line.split()[0] for line in done.stdout.splitlines() if line and not line[0].isspace()}
    missing = {p.name for p in logs if p.name.removesuffix("_2k.log") not in known}
    assert not missing, f"no --format for {missing}; known: {sorted(known)}"


def test_demo_security_is_off_and_said_so(compose):
    opensearch = compose["services"]["opensearch"]
    assert opensearch["environment"]["DISABLE_SECURITY_PLUGIN"] == "true"
    assert "security plugin is DISABLED" in COMPOSE.read_text(encoding="utf-8")
    # Demo ports bind to loopback only.
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
