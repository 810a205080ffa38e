"""The Helm chart lints, renders for each documented values set, validates offline against the
Kubernetes schemas, and rejects bad values with a clear message."""

from __future__ import annotations

import copy
import subprocess

import pytest

from tests.deploy.conftest import CHART
from tests.deploy.manifests import RenderError, by_kind, pod_specs, render, validation_errors

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
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = 10
    del scaled["spec"]["triggers"][0]["metadata"]["query"]
    errors = validation_errors(scaled)
    assert any("'query' is a required" in e for e in errors), errors
    assert any("10 is not of type" in e for e in errors), errors


def test_default_render_has_every_component(rendered):
    docs = rendered["default"]
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {"t-colog-worker", "t-colog-beat", "t-colog-triton",
                                "t-colog-redis-cache"}
    assert set(by_kind(docs, "StatefulSet")) == {"t-colog-redis"}
    assert set(by_kind(docs, "CronJob")) == {"t-colog-trainer"}
    assert set(by_kind(docs, "Service")) >= {"t-colog-triton", "t-colog-triton-headless",
                                             "t-colog-redis", "t-colog-redis-cache",
                                             "t-colog-worker-metrics", "t-colog-beat-metrics"}
    job = by_kind(docs, "Job")["t-colog-setup"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["setup"]
    config = by_kind(docs, "ConfigMap")["t-colog"]["data"]
    assert config["COLOG_REDIS_URL"] == "redis://t-colog-redis:6379/0"
    assert config["COLOG_CACHE_REDIS_URL"] == "redis://t-colog-redis-cache:6379/0"
    assert config["COLOG_RETRAIN_INTERVAL_S"] == "0"  # training runs in the trainer only
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
    seed = spec["initContainers"][0]
    assert seed["name"] == "seed-model-repository" and seed["command"][-2:] == ["--kind", "KIND_GPU"]
    assert by_kind(docs, "ConfigMap")["t-colog"]["data"]["COLOG_TRITON_INSTANCE_KIND"] == "KIND_GPU"
    shm = next(v for v in spec["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert {"--model-control-mode=explicit", "--load-model=colog",
            "--load-model=colog_embedder", "--model-config-name=gpu"} <= set(triton["args"])
    assert {p["containerPort"] for p in triton["ports"]} == {8000, 8001, 8002}
    cpu_triton = pod_specs(rendered["default"])["Deployment/t-colog-triton"]["containers"][0]
    assert "nvidia.com/gpu" not in cpu_triton["resources"].get("limits", {})


def test_keda_scales_workers_on_pending_documents_from_beat(rendered):
    docs = rendered["keda"]
    scaled = by_kind(docs, "ScaledObject")["t-colog-worker"]
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"]["query"] == (
        'max(colog_pending_documents{namespace="colog",job="t-colog-beat-metrics"})')
    assert trigger["metadata"]["threshold"] == "2000"
    assert trigger["metadata"]["serverAddress"].startswith("http://prometheus-operated.")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "t-colog-worker"
    # Capped by the partitions: 8 replicas x 2 threads = the 16 partitions of the example.
    config = by_kind(docs, "ConfigMap")["t-colog"]["data"]
    worker = pod_specs(docs)["Deployment/t-colog-worker"]["containers"][0]
    assert scaled["spec"]["maxReplicaCount"] * int(worker["args"][-1]) <= int(config["COLOG_PARTITIONS"])
    # The autoscaler owns the replica count.
    assert "replicas" not in by_kind(docs, "Deployment")["t-colog-worker"]["spec"]
    # The job the query names is beat's metrics Service, which selects the beat pod only.
    service = by_kind(docs, "Service")["t-colog-beat-metrics"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "beat"
    monitor = by_kind(docs, "ServiceMonitor")["t-colog"]
    assert "beat" in monitor["spec"]["selector"]["matchExpressions"][0]["values"]


def test_scaling_past_the_partitions_is_refused(helm):
    with pytest.raises(RenderError) as caught:
        render(helm, CHART, sets=("autoscaling.maxReplicas=5",))  # 5 x 2 threads > 8 partitions
    assert ("autoscaling.maxReplicas (5) x worker.concurrency (2) exceeds config.partitions (8)"
            in str(caught.value)) and "replicas beyond 4 would idle" in str(caught.value)
    docs = render(helm, CHART, sets=("autoscaling.maxReplicas=8", "config.partitions=16"))
    assert by_kind(docs, "ConfigMap")["t-colog"]["data"]["COLOG_PARTITIONS"] == "16"


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
    assert "COLOG_CACHE_REDIS_URL" not in config
    assert not by_kind(docs, "StatefulSet")
    env = {e["name"]: e for e in pod_specs(docs)["Deployment/t-colog-worker"]["containers"][0]["env"]}
    assert env["COLOG_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "colog-redis",
                                                                 "key": "redis-url"}
    assert env["COLOG_CACHE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "colog-redis", "key": "cache-redis-url"}
    trigger = by_kind(docs, "ScaledObject")["t-colog-worker"]["spec"]["triggers"][0]
    assert trigger["metadata"]["serverAddress"] == "https://prometheus.example.internal"
    assert trigger["authenticationRef"] == {"name": "colog-prometheus-auth"}


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
    redis = policies["t-colog-redis-ingress"]["spec"]
    assert redis["podSelector"]["matchExpressions"][0]["values"] == ["redis", "redis-cache"]
    redis_from = redis["ingress"][0]["from"]
    assert len(redis_from) == 1  # the release's own pods only
    assert redis_from[0]["podSelector"]["matchExpressions"][0]["values"] == ["worker", "beat",
                                                                             "trainer"]
    publishers = triton[0]["from"][1]["podSelector"]["matchLabels"]
    assert publishers["colog.io/model-publisher"] == "true"
    egress = policies["t-colog-app-egress"]["spec"]["egress"]
    ports = {p["port"] for rule in egress for p in rule["ports"]}
    assert ports == {53, 9200, 6379, 8000, 8001}


def test_service_monitor_and_image_baked_repository(helm):
    docs = render(helm, CHART, sets=("metrics.serviceMonitor.enabled=true",
                                     "triton.modelRepository.source=image",
                                     "trainer.enabled=false"))
    assert by_kind(docs, "ServiceMonitor")
    assert not by_kind(docs, "PersistentVolumeClaim") and not by_kind(docs, "CronJob")
    triton = pod_specs(docs)["Deployment/t-colog-triton"]
    assert triton["initContainers"][0]["name"] == "model-repository"
    models = next(v for v in triton["volumes"] if v["name"] == "models")
    assert models == {"name": "models", "emptyDir": {}}
    assert not [e for d in docs for e in validation_errors(d)]


BAD_VALUES = {
    "replicas-as-words": ("worker:\n  replicas: two\n",
                          "at '/worker/replicas': got string, want integer"),
    "unknown-autoscaling-mode": ("autoscaling:\n  mode: vpa\n",
                                 "at '/autoscaling': additional properties 'mode' not allowed"),
    "unknown-redis-mode": ("redis:\n  mode: sentinel\n",
                           "at '/redis/mode': value must be one of 'bundled', 'external'"),
    "typo-in-key": ("triton:\n  gpus: {enabled: true}\n", "additional properties 'gpus' not allowed"),
    "keda-without-prometheus": ("autoscaling:\n  keda:\n    serverAddress: ''\n",
                                "/autoscaling/keda/serverAddress"),
    "redis-state-without-fork-headroom": (
        "redis:\n  state:\n    maxMemoryMiB: 700\n    memoryLimitMiB: 1024\n",
        "redis.state.maxMemoryMiB (700) must be at most half of redis.state.memoryLimitMiB (1024)"),
    "redis-cache-limit-below-data": ("redis:\n  cache:\n    maxMemoryMiB: 512\n    memoryLimitMiB: 512\n",
                                     "redis.cache.maxMemoryMiB must be below"),
    "trainer-with-baked-repository": ("triton:\n  modelRepository:\n    source: image\n",
                                      "trainer.enabled needs triton.modelRepository.source=pvc"),
    "external-triton-without-url": ("triton:\n  enabled: false\n",
                                    "triton.enabled=false needs triton.external.url"),
    "trainer-overlap-allowed": ("trainer:\n  concurrencyPolicy: Allow\n",
                                "at '/trainer/concurrencyPolicy'"),
    "image-digest-not-sha256": ("image:\n  digest: latest\n", "at '/image/digest'"),
    "both-autoscalers": ("autoscaling:\n  keda: {enabled: true}\n  hpa: {enabled: true}\n",
                         "autoscaling.keda.enabled and autoscaling.hpa.enabled are both true"),
    "external-redis-without-url": ("redis:\n  mode: external\n",
                                   "set redis.external.url or redis.external.existingSecret"),
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
