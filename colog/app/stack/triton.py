"""Local Triton Inference Server: the `tritonserver` binary shipped in the nvidia-pytriton wheel.

The wheel keeps the Python backend (`libtriton_python.so`, `triton_python_backend_utils.py`)
apart from the per-Python-version backend stubs; Triton expects all three in one
`<backend-directory>/python/` folder, so :func:`backend_directory` assembles that folder under
the cache directory. The stub runs our model code: it must load the same libpython as the
project's virtual environment and see its site-packages, which :func:`server_env` arranges.

Models are loaded in EXPLICIT control mode: `colog serve` renames a complete version into place
and then asks Triton to load it, so a half-copied version is never picked up (POLL could).
"""

from __future__ import annotations

import json
import shutil
import sys
import sysconfig
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from colog.app.stack.process import (
    StackError,
    ensure_port_free,
    log_file,
    running_pid,
    start_process,
    state_dir,
    status_record,
    stop_process,
    wait_until,
)
from colog.core.serving import repository
from colog.core.settings import PROJECT_ROOT

NAME = "triton"
READY_TIMEOUT_S = 180.0


def _pytriton_root() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("triton: the nvidia-pytriton package is not installed; "
                         "run the README's install command")
    return Path(next(iter(spec.submodule_search_locations)))


def distribution() -> dict[str, Path]:
    """Paths of the server binary, the Python backend, its stub and bundled libraries."""
    root = _pytriton_root()
    dist = root / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return {
        "binary": dist / "bin" / "tritonserver",
        "backend": dist / "backends" / "python",
        "stub": dist / "python_backend_stubs" / version / "triton_python_backend_stub",
        "libs": root.parent / "nvidia_pytriton.libs",
    }


def _check_distribution(paths: dict[str, Path]) -> None:
    needed = [paths["binary"], paths["stub"], paths["backend"] / "libtriton_python.so",
              paths["backend"] / "triton_python_backend_utils.py"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise StackError(
            "triton: the nvidia-pytriton wheel is incomplete for Python "
            f"{sys.version_info.major}.{sys.version_info.minor} (missing {', '.join(missing)}); "
            "reinstall it with `.venv/bin/uv pip install --python .venv/bin/python "
            "--reinstall nvidia-pytriton`"
        )


def backend_directory(settings: Any) -> Path:
    """`<cache>/triton/backends` with `python/` = backend library + utils + the stub for our
    Python version. Files are refreshed when the wheel's copy differs (after an upgrade)."""
    paths = distribution()
    _check_distribution(paths)
    target = Path(settings.cache_dir) / "triton" / "backends" / "python"
    target.mkdir(parents=True, exist_ok=True)
    sources = {
        "libtriton_python.so": paths["backend"] / "libtriton_python.so",
        "triton_python_backend_utils.py": paths["backend"] / "triton_python_backend_utils.py",
        "triton_python_backend_stub": paths["stub"],
    }
    for name, src in sources.items():
        dst = target / name
        if (not dst.exists() or dst.stat().st_size != src.stat().st_size
                or dst.stat().st_mtime < src.stat().st_mtime):
            tmp = target / f".{name}.tmp"
            shutil.copy2(src, tmp)
            tmp.replace(dst)
    return target.parent


def server_env(settings: Any) -> dict[str, str]:
    """Environment for tritonserver and the stubs it forks.

    - LD_LIBRARY_PATH: the wheel's bundled libraries (the copied stub lost its $ORIGIN rpath)
      and this interpreter's libpython, ahead of the system's, so the stub embeds the same
      Python build as the venv.
    - PYTHONPATH: the project root (colog) and the venv's site-packages (torch, numpy, ...).
    - OMP_NUM_THREADS / MKL_NUM_THREADS: `triton_cpu_threads` torch threads per model process.
    """
    import os

    paths = distribution()
    libdirs = [str(paths["libs"]), str(Path(sys.base_prefix) / "lib")]
    if os.environ.get("LD_LIBRARY_PATH"):
        libdirs.append(os.environ["LD_LIBRARY_PATH"])
    pythonpath = [str(PROJECT_ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    if os.environ.get("PYTHONPATH"):
        pythonpath.append(os.environ["PYTHONPATH"])
    return {
        "LD_LIBRARY_PATH": ":".join(dict.fromkeys(libdirs)),
        "PYTHONPATH": ":".join(dict.fromkeys(pythonpath)),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        # Each model instance is a process, and torch gives each as many threads as there are
        # cores: two models answering at once (embedder and CoLog, or a shadow) then fight
        # over them. torch reads these at import, so every version's stub obeys.
        "OMP_NUM_THREADS": str(settings.triton_cpu_threads),
        "MKL_NUM_THREADS": str(settings.triton_cpu_threads),
        # Read by colog.core.serving.backend inside each stub (ONNX Runtime's own thread count).
        "COLOG_TRITON_ONNX_THREADS": str(settings.triton_onnx_threads),
        "COLOG_INFERENCE_RUNTIME": settings.inference_runtime,
    }


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def ports(settings: Any) -> dict[str, tuple[str, int]]:
    http = _host_port(settings.triton_http_url.split("://")[-1])
    grpc = _host_port(settings.triton_url.split("://")[-1]) if settings.triton_protocol == "grpc" \
        else (http[0], 8001)
    metrics = (http[0], int(settings.triton_metrics_port))
    return {"http": http, "grpc": grpc, "metrics": metrics}


def command(settings: Any, repo: Path, backends: Path, config_name: str | None = None,
            load: list[str] | None = None) -> list[str]:
    p = ports(settings)
    argv = [
        str(distribution()["binary"]),
        f"--model-repository={repo}",
        "--model-control-mode=explicit",
        f"--backend-directory={backends}",
        f"--http-address={p['http'][0]}", f"--http-port={p['http'][1]}",
        f"--grpc-address={p['grpc'][0]}", f"--grpc-port={p['grpc'][1]}",
        f"--metrics-address={p['metrics'][0]}", f"--metrics-port={p['metrics'][1]}",
        "--allow-metrics=true",
        "--strict-readiness=true",
        "--exit-timeout-secs=10",
        "--log-verbose=0",
        # 16 MiB of /dev/shm per model instance instead of 64 (our batches are < 1 MiB), growing
        # in 8 MiB steps: containers with Docker's 64 MiB /dev/shm still fit both models.
        "--backend-config=python,shm-default-byte-size=16777216",
        "--backend-config=python,shm-growth-byte-size=8388608",
    ]
    if config_name:
        argv.append(f"--model-config-name={config_name}")
    argv += [f"--load-model={name}" for name in (load or [])]
    return argv


def models_to_load(repo: Path) -> list[str]:
    """The embedder always; `colog` once a version has been placed (Triton refuses a model
    with no versions)."""
    names = [repository.EMBEDDER]
    if repository.list_versions(repo):
        names.append(repository.COLOG)
    return names


# --- HTTP health (urllib: no client library needed to ask for readiness) ---------------------


def _http_ok(base: str, path: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{base}{path}", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _http_base(settings: Any) -> str:
    host, port = ports(settings)["http"]
    return f"{host}:{port}"


def ready(settings: Any, models: list[str]) -> bool:
    base = _http_base(settings)
    return _http_ok(base, "/v2/health/ready") and all(
        _http_ok(base, f"/v2/models/{name}/ready") for name in models)


def load(settings: Any, name: str, timeout: float = READY_TIMEOUT_S) -> None:
    """Ask the running server to (re)load `name` from the repository (EXPLICIT mode)."""
    request = urllib.request.Request(f"http://{_http_base(settings)}/v2/repository/models/{name}/load",
                                     data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        raise StackError(f"triton: loading {name} failed: {body}. Log: {log_file(settings, NAME)}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StackError(f"triton: cannot reach {_http_base(settings)} to load {name}: {exc}") from exc


def loaded_models(settings: Any) -> dict[str, list[str]]:
    """{model: [ready versions]} from the repository index."""
    request = urllib.request.Request(f"http://{_http_base(settings)}/v2/repository/index",
                                     data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            index = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return {}
    found: dict[str, list[str]] = {}
    for entry in index:
        if entry.get("state") == "READY":
            found.setdefault(entry["name"], []).append(str(entry.get("version", "")))
    return found


# --- component interface ---------------------------------------------------------------------


def start(settings: Any, timeout: float = READY_TIMEOUT_S, *, config_name: str | None = None,
          name: str = NAME) -> None:
    """Start tritonserver on the live repository and wait until it and its models are ready.
    Idempotent: an already-running server is only waited for (and loads a first `colog`).
    `config_name="gpu"` serves the repository's `configs/gpu.pbtxt` (KIND_GPU) instead."""
    repo = repository.assemble(repository.live_repository(settings), settings.triton_instance_kind)
    wanted = models_to_load(repo)
    log_path = log_file(settings, name)
    pid = running_pid(settings, name)
    if pid is None:
        backends = backend_directory(settings)
        for label, (host, port) in ports(settings).items():
            setting = {"http": "COLOG_TRITON_HTTP_URL", "grpc": "COLOG_TRITON_URL",
                       "metrics": "COLOG_TRITON_METRICS_PORT"}[label]
            ensure_port_free(host, port, f"triton ({label})", setting)
        argv = command(settings, repo, backends, config_name=config_name, load=wanted)
        pid = start_process(name, argv, server_env(settings), state_dir(settings, name), log_path)
    elif _http_ok(_http_base(settings), "/v2/health/live"):
        # Already running: load what a previous run did not have (e.g. the first placed version).
        for name in wanted:
            if not _http_ok(_http_base(settings), f"/v2/models/{name}/ready"):
                load(settings, name)
    wait_until(lambda: ready(settings, wanted), timeout, "triton", log_path=log_path, pid=pid)


def stop(settings: Any, *, name: str = NAME) -> None:
    stop_process(name, settings, timeout=30.0)


def status(settings: Any, *, name: str = NAME) -> dict[str, Any]:
    pid = running_pid(settings, name)
    healthy = pid is not None and _http_ok(_http_base(settings), "/v2/health/ready")
    detail = ""
    if healthy:
        models = loaded_models(settings)
        detail = ", ".join(f"{name} v{'/'.join(sorted(v))}" for name, v in sorted(models.items())) \
            or "no model loaded"
    return status_record(name, pid, ports(settings)["http"][1], healthy, detail)


