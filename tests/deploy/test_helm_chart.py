"""The Helm chart lints, renders for each documented values set, validates offline against the
Kubernetes schemas, and rejects bad values with a clear message."""

from __future__ import annotations

import copy
import subprocess

import pytest

from tests.deploy.conftest import CHART
from tests.deploy.manifests import (RenderError, by_kind, pod_specs, render,
                                    validation_errors)

EXAMPLES = CHART / "examples"
VALUE_SETS = {
    "default": (),
    "gpu": (EXAMPLES / "values-gpu.yaml",),
    "keda": (EXAMPLES / "values-keda.yaml",),
    "external-redis": (EXAMPLES / "values-external-redis.yaml",),
}


@pytest.fixture(scope="module")
def rendered(helm):
    return {name: render(helm, CHART, *files) for name, files in VALUE_SETS.items()}


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_helm_lint_strict(helm, name):
    cmd = [str(helm), "lint", "--strict", str(CHART)]
    for path in VALUE_SETS[name]:
        cmd += ["-f", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_every_manifest_validates_offline(rendered, name):
    docs = rendered[name]
    assert len(docs) >= 10, f"{name}: only {len(docs)} manifests rendered"
    errors = [err for doc in docs for err in validation_errors(doc)]
    assert not errors, "\n".join(errors)


def test_validator_catches_a_broken_manifest(rendered):
    """The offline validation can fail: an unknown field and a wrongly typed trigger value."""
    deployment = copy.deepcopy(next(d for d in rendered["default"] if d["kind"] == "Deployment"))
    deployment["spec"]["replicaz"] = 2
    assert any("replicaz" in e for e in validation_errors(deployment))
    scaled = copy.deepcopy(next(d for d in rendered["keda"] if d["kind"] == "ScaledObject"))
    scaled["spec"]["triggers"][0]["metadata"]["listLength"] = 10
    del scaled["spec"]["triggers"][0]["metadata"]["listName"]
    errors = validation_errors(scaled)
    assert any("listName" in e for e in errors) and any("10 is not of type" in e for e in errors)


def test_default_render_has_every_component(rendered):
    docs = rendered["default"]
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {"t-colog-worker", "t-colog-beat", "t-colog-triton", "t-colog-redis"}
    assert set(by_kind(docs, "Service")) >= {"t-colog-triton", "t-colog-redis", "t-colog-worker-metrics"}
    job = by_kind(docs, "Job")["t-colog-setup"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["setup"]
    config = by_kind(docs, "ConfigMap")["t-colog"]["data"]
    assert config["COLOG_REDIS_URL"] == "redis://t-colog-redis:6379/0"
    assert config["COLOG_TRITON_URL"] == "t-colog-triton:8001"
    assert config["COLOG_TRITON_INSTANCE_KIND"] == "KIND_CPU"
    assert not by_kind(docs, "ScaledObject") and not by_kind(docs, "HorizontalPodAutoscaler")


def test_worker_probes_and_graceful_shutdown(rendered):
    spec = pod_specs(rendered["default"])["Deployment/t-colog-worker"]
    worker = spec["containers"][0]
    assert worker["args"] == ["worker", "--concurrency", "2"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert worker[probe]["exec"]["command"] == ["colog", "health"]
    assert spec["terminationGracePeriodSeconds"] >= 120
    assert worker["lifecycle"]["preStop"]["sleep"]["seconds"] > 0


def test_beat_runs_exactly_once(rendered):
    for docs in rendered.values():
        beat = by_kind(docs, "Deployment")["t-colog-beat"]
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_every_pod_is_restricted(rendered):
    for name, docs in rendered.items():
        for workload, spec in pod_specs(docs).items():
            where = f"{name}: {workload}"
            assert spec["securityContext"]["runAsNonRoot"] is True, where
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
            for container in spec["containers"] + spec.get("initContainers", []):
                ctx = container["securityContext"]
                assert ctx["allowPrivilegeEscalation"] is False, where
                assert ctx["capabilities"]["drop"] == ["ALL"], where
                assert ctx["readOnlyRootFilesystem"] is True, where
                mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
                if container["name"] in ("worker", "beat", "setup", "triton"):
                    assert "/tmp" in mounts, f"{where}: {container['name']} has no writable /tmp"


def test_gpu_values_request_gpus_and_switch_instance_kind(rendered):
    docs = rendered["gpu"]
    spec = pod_specs(docs)["Deployment/t-colog-triton"]
    triton = spec["containers"][0]
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert spec["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "KIND_GPU" in spec["initContainers"][0]["command"][-1]
    assert by_kind(docs, "ConfigMap")["t-colog"]["data"]["COLOG_TRITON_INSTANCE_KIND"] == "KIND_GPU"
    shm = next(v for v in spec["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert {"--model-control-mode=explicit", "--load-model=*"} <= set(triton["args"])
    assert {p["containerPort"] for p in triton["ports"]} == {8000, 8001, 8002}
    cpu_triton = pod_specs(rendered["default"])["Deployment/t-colog-triton"]["containers"][0]
    assert "nvidia.com/gpu" not in cpu_triton["resources"].get("limits", {})


def test_keda_scales_workers_on_the_celery_list(rendered):
    docs = rendered["keda"]
    scaled = by_kind(docs, "ScaledObject")["t-colog-worker"]
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == "colog"
    assert trigger["metadata"]["address"] == "t-colog-redis.colog.svc:6379"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "t-colog-worker"
    # The autoscaler owns the replica count.
    assert "replicas" not in by_kind(docs, "Deployment")["t-colog-worker"]["spec"]
    # KEDA's operator may read the bundled Redis.
    redis_policy = by_kind(docs, "NetworkPolicy")["t-colog-redis-ingress"]
    peers = redis_policy["spec"]["ingress"][0]["from"]
    assert any(p.get("namespaceSelector", {}).get("matchLabels", {}).get(
        "kubernetes.io/metadata.name") == "keda" for p in peers)


def test_hpa_on_cpu_when_keda_is_off(helm):
    docs = render(helm, CHART, sets=("autoscaling.hpa.enabled=true",))
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["t-colog-worker"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert not by_kind(docs, "ScaledObject")
    assert not [e for d in docs for e in validation_errors(d)]


def test_external_redis_comes_from_a_secret(rendered):
    docs = rendered["external-redis"]
    assert "t-colog-redis" not in by_kind(docs, "Deployment")
    config = by_kind(docs, "ConfigMap")["t-colog"]["data"]
    assert "COLOG_REDIS_URL" not in config  # the URL carries a password: Secret only
    env = {e["name"]: e for e in pod_specs(docs)["Deployment/t-colog-worker"]["containers"][0]["env"]}
    assert env["COLOG_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "colog-redis",
                                                                 "key": "redis-url"}
    trigger = by_kind(docs, "ScaledObject")["t-colog-worker"]["spec"]["triggers"][0]
    assert trigger["metadata"]["address"] == "redis.example.internal:6380"
    assert trigger["authenticationRef"] == {"name": "colog-redis-auth"}


def test_opensearch_credentials_are_files_not_values(helm):
    docs = render(helm, CHART, sets=("opensearch.auth.username=colog",
                                     "opensearch.auth.password=s3cret-value",
                                     "opensearch.tls.caCert=-----BEGIN CERTIFICATE-----"))
    config = by_kind(docs, "ConfigMap")["t-colog"]["data"]
    assert "s3cret-value" not in str(config)
    worker = pod_specs(docs)["Deployment/t-colog-worker"]
    env = {e["name"]: e for e in worker["containers"][0]["env"]}
    assert env["COLOG_SECRETS_DIR"]["value"] == "/etc/colog/secrets"
    assert env["COLOG_OPENSEARCH_PASSWORD_FILE"]["value"] == "/etc/colog/secrets/COLOG_OPENSEARCH_PASSWORD"
    assert env["COLOG_OPENSEARCH_CA_CERTS"]["value"] == "/etc/colog/secrets/ca.crt"
    assert "value" not in env["COLOG_OPENSEARCH_USER"]
    secrets = next(v for v in worker["volumes"] if v["name"] == "secrets")["projected"]["sources"]
    assert [s["secret"]["name"] for s in secrets] == ["t-colog-opensearch-auth", "t-colog-opensearch-ca"]
    assert not [e for d in docs for e in validation_errors(d)]


def test_network_policies_keep_triton_and_redis_private(rendered):
    policies = by_kind(rendered["default"], "NetworkPolicy")
    deny = policies["t-colog-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny
    triton = policies["t-colog-triton-ingress"]["spec"]["ingress"]
    inference, metrics = triton
    assert {p["port"] for p in inference["ports"]} == {"http", "grpc"}
    assert inference["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    assert metrics["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert metrics["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"}
    redis_from = policies["t-colog-redis-ingress"]["spec"]["ingress"][0]["from"]
    assert len(redis_from) == 1  # workers and beat only (no KEDA by default)
    assert redis_from[0]["podSelector"]["matchExpressions"][0]["values"] == ["worker", "beat"]
    egress = policies["t-colog-app-egress"]["spec"]["egress"]
    ports = {p["port"] for rule in egress for p in rule["ports"]}
    assert ports == {53, 9200, 6379, 8000, 8001}


def test_service_monitor_and_pvc_options(helm):
    docs = render(helm, CHART, sets=("metrics.serviceMonitor.enabled=true",
                                     "triton.modelRepository.source=pvc"))
    assert by_kind(docs, "ServiceMonitor")
    claim = by_kind(docs, "PersistentVolumeClaim")["t-colog-models"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    triton = pod_specs(docs)["Deployment/t-colog-triton"]
    assert "initContainers" not in triton
    assert not [e for d in docs for e in validation_errors(d)]


BAD_VALUES = {
    "replicas-as-words": ("worker:\n  replicas: two\n",
                          "at '/worker/replicas': got string, want integer"),
    "unknown-autoscaling-mode": ("autoscaling:\n  mode: vpa\n",
                                 "at '/autoscaling': additional properties 'mode' not allowed"),
    "unknown-redis-mode": ("redis:\n  mode: sentinel\n",
                           "at '/redis/mode': value must be one of 'bundled', 'external'"),
    "typo-in-key": ("triton:\n  gpus: {enabled: true}\n", "additional properties 'gpus' not allowed"),
    "keda-without-list": ("autoscaling:\n  keda:\n    listName: ''\n", "/autoscaling/keda/listName"),
    "both-autoscalers": ("autoscaling:\n  keda: {enabled: true}\n  hpa: {enabled: true}\n",
                         "autoscaling.keda.enabled and autoscaling.hpa.enabled are both true"),
    "external-redis-without-url": ("redis:\n  mode: external\n",
                                   "set redis.external.url or redis.external.existingSecret"),
    "external-secret-url-keda-no-address": (
        "redis:\n  mode: external\n  external: {existingSecret: r}\nautoscaling:\n  keda: {enabled: true}\n",
        "autoscaling.keda.redisAddress is required"),
}


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_bad_values_are_rejected_with_a_clear_message(helm, tmp_path, case):
    text, expected = BAD_VALUES[case]
    bad = tmp_path / f"{case}.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(RenderError) as caught:
        render(helm, CHART, bad)
    assert expected in str(caught.value)


def test_setup_job_passes_dashboards_and_monitors(helm):
    docs = render(helm, CHART, sets=("setup.dashboardsUrl=http://dashboards:5601", "setup.monitors=true"))
    job = by_kind(docs, "Job")["t-colog-setup"]["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["setup", "--dashboards", "http://dashboards:5601", "--monitors"]
    egress = by_kind(docs, "NetworkPolicy")["t-colog-app-egress"]["spec"]["egress"]
    assert 5601 in {p["port"] for rule in egress for p in rule["ports"]}
