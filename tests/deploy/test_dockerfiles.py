"""The worker image installs Python exactly as deploy/local/install.sh (what CI and the tests use)
does. No Docker engine runs here, so the steps are compared, not built."""

from __future__ import annotations

import re
import shlex

from tests.deploy.conftest import ROOT

INSTALL_SH = ROOT / "deploy" / "local" / "install.sh"
WORKER = ROOT / "deploy" / "docker" / "worker.Dockerfile"
TRITON = ROOT / "deploy" / "docker" / "triton.Dockerfile"
PYPROJECT = ROOT / "pyproject.toml"


def _commands(text: str) -> list[list[str]]:
    """Shell commands of a script or Dockerfile: continuation lines joined, split on the shell's
    own separators (quote-aware), keywords such as `then` dropped."""
    joined = re.sub(r"\\\n", " ", text)
    commands = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("RUN "):
            line = line[4:]
        if not line or line.startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in lexer:
            if set(token) <= set(";&|"):
                commands.append(current)
                current = []
            elif not (not current and token in {"if", "then", "else", "fi", "do", "done"}):
                current.append(token)
        commands.append(current)
    return [c for c in commands if c]


def _installs(text: str) -> list[dict]:
    """Every `... uv pip install ...` / `python -m pip install ...` with its options and targets."""
    found = []
    for words in _commands(text):
        if "install" not in words:
            continue
        head = words[:words.index("install")]
        tool = next((w for w in head if re.search(r"(^|/)(uv|python3?)$", w)), None)
        if tool is None:
            continue
        args = words[words.index("install") + 1:]
        options = {a for a in args if a.startswith("-")}
        targets = [a for a in args if not a.startswith("-") and not a.startswith("$")
                   and a not in {".venv/bin/python"}]
        found.append({"uv": tool.endswith("uv"), "options": options, "targets": targets})
    return found


def _project_install(installs: list[dict]) -> dict:
    matches = [i for i in installs if i["uv"] and any(t.strip('"').startswith(".") for t in i["targets"])]
    assert len(matches) == 1, f"expected one uv install of the project, found {matches}"
    return matches[0]


def test_worker_image_installs_the_project_like_install_sh():
    local = _project_install(_installs(INSTALL_SH.read_text(encoding="utf-8")))
    image = _project_install(_installs(WORKER.read_text(encoding="utf-8")))
    # Same installer and flags (quiet, explicit --python interpreter).
    assert local["options"] - {"-e"} == image["options"] - {"--index-url"}, (local, image)
    # Same project from the repository root; the image drops only the editable flag and `dev`.
    local_target = local["targets"][-1].strip('"')
    assert local_target.split("[")[0] == image["targets"][-1] == "."
    local_extras = set(re.findall(r"\[(.*)\]", local_target)[0].split(",")) if "[" in local_target else set()
    assert local_extras - {"dev"} == set(), "install.sh installs extras the image would lack"


def test_both_upgrade_pip_and_uv_first():
    for path in (INSTALL_SH, WORKER):
        bootstrap = [i for i in _installs(path.read_text(encoding="utf-8")) if not i["uv"]]
        assert bootstrap and set(bootstrap[0]["targets"]) == {"pip", "uv"}, path
        assert "--upgrade" in bootstrap[0]["options"], path


def test_image_python_matches_the_project():
    requires = re.search(r'requires-python\s*=\s*"([^"]+)"', PYPROJECT.read_text()).group(1)
    base = re.search(r"^FROM python:(\d+)\.(\d+)", WORKER.read_text(), re.M)
    assert base, "worker.Dockerfile must start FROM python:X.Y"
    minor = int(base.group(2))
    low = re.search(r">=\s*3\.(\d+)", requires)
    high = re.search(r"<\s*3\.(\d+)", requires)
    assert int(low.group(1)) <= minor and (high is None or minor < int(high.group(1))), requires


def test_worker_image_runs_colog_as_non_root():
    text = WORKER.read_text(encoding="utf-8")
    assert re.search(r"^USER 10001", text, re.M)
    assert 'ENTRYPOINT ["colog"]' in text
    assert "EXPOSE 9108" in text


def test_triton_image_is_nvidia_plus_the_project():
    text = TRITON.read_text(encoding="utf-8")
    assert re.search(r"^FROM nvcr\.io/nvidia/tritonserver:\$\{TRITON_VERSION\}-py3", text, re.M)
    installs = _installs(text)
    assert any(i["uv"] and "." in i["targets"] for i in installs), installs
    assert "/opt/colog/model-repository" in text and "--model-control-mode=explicit" in text


def test_triton_image_builds_a_live_repository_with_a_version():
    """The image's repository must hold a `colog` version (explicit mode with --load-model=colog
    does not start without one): the build step places SEED_MODEL with colog.core.serving.seed."""
    text = TRITON.read_text(encoding="utf-8")
    commands = _commands(text)
    build = [c for c in commands if c[:4] == ["python3", "-m", "colog.core.serving.seed", "build"]]
    assert build, "triton.Dockerfile must run `python3 -m colog.core.serving.seed build`"
    args = build[0]
    assert args[args.index("--out") + 1] == "/opt/colog/model-repository"
    assert re.search(r"^COPY \$\{SEED_MODEL\} " + re.escape(args[args.index("--model") + 1]), text, re.M)
    assert "KNOWN BLOCKER" not in text


def test_images_ship_the_templates_the_publisher_and_seed_read():
    for path in (WORKER, TRITON):
        text = path.read_text(encoding="utf-8")
        assert re.search(r"^COPY triton_models /opt/colog/triton_models$", text, re.M), path
        assert "COLOG_TRITON_TEMPLATES=/opt/colog/triton_models" in text, path


def test_triton_base_image_python_is_admitted_by_the_project():
    """25.xx images run Python 3.12 (Ubuntu 24.04); requires-python must include it."""
    text = TRITON.read_text(encoding="utf-8")
    version = re.search(r"^ARG TRITON_VERSION=(\d+)\.(\d+)$", text, re.M)
    assert version and int(version.group(1)) >= 25, "the Python backend needs a 3.12 image"
    requires = re.search(r'requires-python\s*=\s*"([^"]+)"', PYPROJECT.read_text()).group(1)
    high = re.search(r"<\s*3\.(\d+)", requires)
    assert high is None or int(high.group(1)) > 12, requires
