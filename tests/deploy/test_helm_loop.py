"""The chart closes the loop the product exists for, read off `helm template`: a trainer
workload writes versions into a shared model repository that every Triton pod serves and loads
them on each pod; Redis is split by role with persistence where state lives; probes and
shutdown; images pinned by registry and digest; an external Triton stays reachable."""

from __future__ import annotations

import pytest

from tests.deploy.conftest import CHART
from tests.deploy.manifests import by_kind, pod_specs, render, validation_errors


@pytest.fixture(scope="module")
def default(helm):
    return render(helm, CHART)


def _env(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def _mounts(container: dict) -> dict:
    return {m["name"]: m for m in container.get("volumeMounts", [])}


def _volume(spec: dict, name: str) -> dict:
    return next(v for v in spec["volumes"] if v["name"] == name)


def test_trainer_cronjob_retrains_from_opensearch_into_the_shared_repository(default):
    cron = by_kind(default, "CronJob")["t-colog-trainer"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["colog.io/model-publisher"] == "true"
    trainer = pod["spec"]["containers"][0]
    assert trainer["args"] == ["train", "--from-opensearch"]
    env = _env(trainer)
    assert env["COLOG_TRITON_MODEL_REPOSITORY"]["value"] == "/models"
    assert _mounts(trainer)["models"]["mountPath"] == "/models"
    assert not _mounts(trainer)["models"].get("readOnly")
    assert _volume(pod["spec"], "models")["persistentVolumeClaim"]["claimName"] == "t-colog-models"
    # Training left the workers: no model volume there, and scheduled retraining is off.
    worker = pod_specs(default)["Deployment/t-colog-worker"]
    assert "models" not in {v["name"] for v in worker["volumes"]}
    assert by_kind(default, "ConfigMap")["t-colog"]["data"]["COLOG_RETRAIN_INTERVAL_S"] == "0"
    assert not [e for d in default for e in validation_errors(d)]


def test_one_off_job_runs_the_same_pod_for_a_rollback(helm, tmp_path):
    values = tmp_path / "rollback.yaml"
    values.write_text('trainer:\n  oneOff: {enabled: true, id: rb1, args: [rollback, --to, "3"]}\n')
    docs = render(helm, CHART, values)
    job = by_kind(docs, "Job")["t-colog-trainer-rb1"]["spec"]["template"]["spec"]
    cron = by_kind(docs, "CronJob")["t-colog-trainer"]["spec"]["jobTemplate"]["spec"]
    assert job["containers"][0]["args"] == ["rollback", "--to", "3"]
    assert job["volumes"] == cron["template"]["spec"]["volumes"]
    assert _env(job["containers"][0]) == _env(cron["template"]["spec"]["containers"][0])
    assert not [e for d in docs for e in validation_errors(d)]


def test_triton_pods_serve_the_shared_volume_seeded_once(default):
    claim = by_kind(default, "PersistentVolumeClaim")["t-colog-models"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    spec = pod_specs(default)["Deployment/t-colog-triton"]
    assert _volume(spec, "models")["persistentVolumeClaim"]["claimName"] == "t-colog-models"
    seed = spec["initContainers"][0]
    assert seed["command"][:4] == ["python3", "-m", "colog.core.serving.seed", "seed"]
    assert seed["command"][4:8] == ["--from", "/opt/colog/model-repository", "--into", "/models"]
    assert _mounts(seed)["models"]["mountPath"] == "/models"
    triton = spec["containers"][0]
    assert _mounts(triton)["models"] == {"name": "models", "mountPath": "/models", "readOnly": True}
    assert "--model-repository=/models" in triton["args"]


def test_publish_loads_on_every_triton_pod_through_the_headless_service(helm, default):
    headless = by_kind(default, "Service")["t-colog-triton-headless"]["spec"]
    triton = by_kind(default, "Deployment")["t-colog-triton"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is False
    assert headless["selector"] == triton["spec"]["selector"]["matchLabels"]
    assert {p["port"] for p in headless["ports"]} == {8000, 8001}
    trainer = by_kind(default, "CronJob")["t-colog-trainer"]["spec"]["jobTemplate"]["spec"][
        "template"]["spec"]["containers"][0]
    assert _env(trainer)["COLOG_TRITON_LOAD_ENDPOINTS"]["value"] == \
        "dns:t-colog-triton-headless.colog.svc:8001"
    http = render(helm, CHART, sets=("triton.protocol=http", "triton.replicas=3"))
    trainer = by_kind(http, "CronJob")["t-colog-trainer"]["spec"]["jobTemplate"]["spec"][
        "template"]["spec"]["containers"][0]
    assert _env(trainer)["COLOG_TRITON_LOAD_ENDPOINTS"]["value"] == \
        "dns:t-colog-triton-headless.colog.svc:8000"
    assert by_kind(http, "ConfigMap")["t-colog"]["data"]["COLOG_TRITON_URL"] == "t-colog-triton:8000"


def test_redis_is_split_by_role_with_persistence_for_state(default):
    state = by_kind(default, "StatefulSet")["t-colog-redis"]
    container = state["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    flags = dict(zip(args[1::2], args[2::2]))
    assert flags["--appendonly"] == "yes" and flags["--maxmemory-policy"] == "noeviction"
    assert flags["--maxmemory"] == "400mb" and container["resources"]["limits"]["memory"] == "1024Mi"
    assert _mounts(container)["data"]["mountPath"] == "/data"
    template = state["spec"]["volumeClaimTemplates"][0]
    assert template["metadata"]["name"] == "data"
    assert template["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert "volumes" not in state["spec"]["template"]["spec"]  # no emptyDir: the claim holds it
    cache = by_kind(default, "Deployment")["t-colog-redis-cache"]["spec"]["template"]["spec"]
    cache_args = cache["containers"][0]["args"]
    cache_flags = dict(zip(cache_args[1::2], cache_args[2::2]))
    assert cache_flags["--maxmemory-policy"] == "allkeys-lru"
    assert cache_flags["--appendonly"] == "no" and cache_flags["--save"] == ""
    assert cache_flags["--maxmemory"] == "256mb"
    assert cache["containers"][0]["resources"]["limits"]["memory"] == "320Mi"
    config = by_kind(default, "ConfigMap")["t-colog"]["data"]
    assert config["COLOG_REDIS_URL"] != config["COLOG_CACHE_REDIS_URL"]


def test_beat_has_a_probe_and_exports_the_pending_gauge(default):
    beat = pod_specs(default)["Deployment/t-colog-beat"]["containers"][0]
    assert beat["livenessProbe"]["exec"]["command"] == ["colog", "health", "--beat"]
    assert {p["name"]: p["containerPort"] for p in beat["ports"]} == {"metrics": 9108}
    config = by_kind(default, "ConfigMap")["t-colog"]["data"]
    assert config["COLOG_BEAT_METRICS_PORT"] == "9108"  # beat's own pod: the same port is free
    policy = by_kind(default, "NetworkPolicy")["t-colog-worker-ingress"]["spec"]
    assert policy["podSelector"]["matchExpressions"][0]["values"] == ["worker", "beat"]
    worker = pod_specs(default)["Deployment/t-colog-worker"]
    assert worker["terminationGracePeriodSeconds"] == 300
    assert worker["containers"][0]["livenessProbe"]["exec"]["command"] == ["colog", "health"]


def test_restricted_repository_api_key_reaches_the_trainer_only(helm):
    docs = render(helm, CHART, sets=("triton.restrictRepositoryApi.enabled=true",
                                     "triton.restrictRepositoryApi.existingSecret=triton-admin"))
    triton = pod_specs(docs)["Deployment/t-colog-triton"]["containers"][0]
    assert "--grpc-restricted-protocol=model-repository:colog-admin=$(TRITON_REPOSITORY_API_KEY)" \
        in triton["args"]
    pod = by_kind(docs, "CronJob")["t-colog-trainer"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = _env(pod["containers"][0])
    assert env["COLOG_TRITON_REPOSITORY_API_HEADER"]["value"] == "colog-admin"
    assert env["COLOG_TRITON_REPOSITORY_API_KEY_FILE"]["value"] == "/etc/colog/repository-api/key"
    assert _volume(pod, "repository-api")["secret"]["secretName"] == "triton-admin"
    for name, spec in pod_specs(docs).items():
        if name != "Deployment/t-colog-triton":
            assert "triton-admin" not in str(spec), f"{name} can read the repository API key"
    assert not [e for d in docs for e in validation_errors(d)]


def test_external_triton_is_reachable_when_the_chart_runs_none(helm):
    docs = render(helm, CHART, sets=("triton.enabled=false", "triton.external.url=triton.ml:8001",
                                     "triton.external.loadEndpoints=dns:triton-pods.ml:8001",
                                     "triton.modelRepository.pvc.existingClaim=ml-models",
                                     "networkPolicy.externalTriton.peers[0].ipBlock.cidr=10.9.0.0/16"))
    assert "t-colog-triton" not in by_kind(docs, "Deployment")
    config = by_kind(docs, "ConfigMap")["t-colog"]["data"]
    assert config["COLOG_TRITON_URL"] == "triton.ml:8001"
    egress = by_kind(docs, "NetworkPolicy")["t-colog-app-egress"]["spec"]["egress"]
    rule = next(r for r in egress if {p["port"] for p in r["ports"]} == {8000, 8001})
    assert rule["to"] == [{"ipBlock": {"cidr": "10.9.0.0/16"}}]
    pod = by_kind(docs, "CronJob")["t-colog-trainer"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert _env(pod["containers"][0])["COLOG_TRITON_LOAD_ENDPOINTS"]["value"] == "dns:triton-pods.ml:8001"
    assert _volume(pod, "models")["persistentVolumeClaim"]["claimName"] == "ml-models"
    assert not [e for d in docs for e in validation_errors(d)]


def test_images_carry_registry_tag_and_digest(helm, default):
    digest = "sha256:" + "ab" * 32
    docs = render(helm, CHART, sets=("image.registry=registry.example.internal/colog",
                                     f"image.digest={digest}", "triton.image.tag=0.2.0",
                                     "redis.image.registry=mirror.example.internal"))
    specs = pod_specs(docs)
    assert specs["Deployment/t-colog-worker"]["containers"][0]["image"] == \
        f"registry.example.internal/colog/colog:0.1.0@{digest}"
    assert specs["Deployment/t-colog-triton"]["containers"][0]["image"] == "colog-triton:0.2.0"
    assert specs["Deployment/t-colog-redis-cache"]["containers"][0]["image"] == \
        "mirror.example.internal/redis:7.4-alpine"
    assert pod_specs(default)["Deployment/t-colog-worker"]["containers"][0]["image"] == "colog:0.1.0"


def test_secrets_revision_restarts_the_pods_that_read_secrets(helm, default):
    docs = render(helm, CHART, sets=("secretsRevision=2026-12-02",))
    for name in ("t-colog-worker", "t-colog-beat"):
        annotations = by_kind(docs, "Deployment")[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["colog.io/secrets-revision"] == "2026-12-02"
        before = by_kind(default, "Deployment")[name]["spec"]["template"]["metadata"]["annotations"]
        assert "colog.io/secrets-revision" not in before


def _triton(docs) -> dict:
    return pod_specs(docs)["Deployment/t-colog-triton"]["containers"][0]


def test_triton_loads_the_live_models_by_name_and_onnx_settings_reach_its_models(default):
    triton = _triton(default)
    assert "--load-model=colog" in triton["args"] and "--load-model=colog_embedder" in triton["args"]
    assert "--load-model=*" not in triton["args"]  # the GPU-only steps never load on CPU pods
    assert not [a for a in triton["args"] if a.startswith("--model-config-name")]
    env = _env(triton)
    assert env["COLOG_INFERENCE_RUNTIME"]["value"] == "onnx"
    assert env["COLOG_TRITON_ONNX_THREADS"]["value"] == "2"


def test_gpu_pods_serve_the_gpu_configs(helm, tmp_path):
    values = tmp_path / "gpu.yaml"
    values.write_text("triton:\n  gpu: {enabled: true}\n  inference: {runtime: onnx, onnxThreads: 4}\n")
    docs = render(helm, CHART, values)
    triton = _triton(docs)
    assert "--model-config-name=gpu" in triton["args"]
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert _env(triton)["COLOG_TRITON_ONNX_THREADS"]["value"] == "4"
    assert not [e for d in docs for e in validation_errors(d)]


def test_unknown_inference_runtime_is_refused(helm, tmp_path):
    values = tmp_path / "bad.yaml"
    values.write_text("triton:\n  inference: {runtime: tensorflow, onnxThreads: 2}\n")
    with pytest.raises(Exception, match="runtime"):
        render(helm, CHART, values)
