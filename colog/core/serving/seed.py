"""A live repository for an image, and the first version of a shared one.

- `build`: assemble a live repository (configs, the embedder, `colog` version 1 from a model
  directory) at image build time. Triton's explicit mode with `--load-model=*` refuses to start
  on a `colog` without versions, so an image built from the bare templates could never serve.
- `seed`: copy the image's repository into the shared model volume when that holds no `colog`
  version yet (the Triton pods' init container, on install). A volume that already has versions
  is left alone: published models are never overwritten by an older image. Each Triton replica
  runs it; version folders are renamed into place, so two replicas seeding at once leave one
  complete copy.

    python -m colog.core.serving.seed build --model MODEL_DIR --out DIR [--kind KIND_GPU]
    python -m colog.core.serving.seed seed --from /opt/colog/model-repository --into /models
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from colog.core.serving import repository


def build(out: Path, model_dir: Path, kind: str = "KIND_CPU") -> int:
    """A live repository at `out` serving `model_dir` as the first `colog` version."""
    out = Path(out)
    if repository.list_versions(out):
        raise repository.RepositoryError(f"{out} already holds colog versions "
                                         f"{repository.list_versions(out)}: build into an empty "
                                         "directory")
    repository.assemble(out, kind)
    return repository.place_version(out, Path(model_dir), kind)


def _copy_version(source: Path, target: Path, version: int) -> bool:
    """Copy one version folder into place via a staging folder; False when it exists there."""
    final = target / repository.COLOG / str(version)
    if final.exists():
        return False
    staging = target / repository.COLOG / f".seed-{os.getpid()}-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source / repository.COLOG / str(version), staging)
    try:
        os.rename(staging, final)
    except OSError:
        if not final.exists():
            raise
        return False  # another replica seeded it first
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def seed(source: Path, target: Path, kind: str | None = None) -> list[int]:
    """Seed `target` from `source` when `target` has no `colog` version; return the versions
    copied ([] when `target` already had some). Configs are (re)written either way, so a
    changed image (new templates, a GPU node) applies to the volume."""
    source, target = Path(source), Path(target)
    available = repository.list_versions(source)
    if not available:
        raise repository.RepositoryError(f"{source} holds no colog version to seed from: build "
                                         "the image with a model (deploy/docker/triton.Dockerfile)")
    kind = kind or repository.instance_kind(source)
    copied: list[int] = []
    if not repository.list_versions(target):
        (target / repository.COLOG).mkdir(parents=True, exist_ok=True)
        copied = [v for v in available if _copy_version(source, target, v)]
    repository.assemble(target, kind)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colog.core.serving.seed")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="assemble a live repository with a first version")
    b.add_argument("--model", type=Path, required=True)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--kind", default="KIND_CPU", choices=repository.KINDS)
    s = sub.add_parser("seed", help="seed a shared repository that has no version yet")
    s.add_argument("--from", dest="source", type=Path, required=True)
    s.add_argument("--into", dest="target", type=Path, required=True)
    s.add_argument("--kind", default=None, choices=repository.KINDS)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            version = build(args.out, args.model, args.kind)
            print(f"built {args.out}: colog version {version}, kind {args.kind}")
        else:
            copied = seed(args.source, args.target, args.kind)
            print(f"seeded {args.target} with colog versions {copied}" if copied else
                  f"{args.target} already holds colog versions "
                  f"{repository.list_versions(args.target)}; configs refreshed")
    except repository.RepositoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
