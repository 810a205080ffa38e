"""Render the chart with helm and validate each manifest offline (helpers, no fixtures)."""

from __future__ import annotations

import json
import subprocess
from functools import lru_cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

SCHEMAS = Path(__file__).resolve().parent / "schemas"
# The chart's kubeVersion floor and the newest schemas kubernetes-validate ships.
K8S_VERSIONS = ("1.30.0", "1.37.0")
CUSTOM_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject.schema.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.schema.json",
}


class RenderError(Exception):
    """helm refused the values; the message is helm's stderr."""


def render(helm: Path, chart: Path, *values: Path, sets: tuple[str, ...] = (),
           kube_version: str = K8S_VERSIONS[0]) -> list[dict]:
    cmd = [str(helm), "template", "t", str(chart), "--namespace", "colog",
           "--kube-version", kube_version]
    for path in values:
        cmd += ["-f", str(path)]
    for item in sets:
        cmd += ["--set", item]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RenderError(done.stderr.strip())
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@lru_cache(maxsize=None)
def _custom_validator(file_name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / file_name).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def validation_errors(doc: dict) -> list[str]:
    """Every problem with one manifest, against each Kubernetes version (strict: no unknown
    fields), or against the hand-written CRD subset for custom resources."""
    kind, api = doc.get("kind"), doc.get("apiVersion")
    name = f"{kind}/{doc.get('metadata', {}).get('name')}"
    custom = CUSTOM_SCHEMAS.get((api, kind))
    if custom:
        return [f"{name}: {'/'.join(map(str, e.path))}: {e.message}"
                for e in _custom_validator(custom).iter_errors(doc)]
    errors = []
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name} (k8s {version}): {'/'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{name}: no schema for {api} {kind} (add one under tests/deploy/schemas)")
    return errors


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[dict]) -> dict[str, dict]:
    """name -> pod spec for every workload (Deployment, Job)."""
    return {f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]["spec"]
            for d in docs if d["kind"] in ("Deployment", "Job")}
