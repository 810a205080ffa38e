"""Which Java runs the local search engine: each engine version names the Java it needs.

OpenSearch 2.x runs on Java 17 up to 23 (it relies on the Java security manager, which Java 24
removed); OpenSearch 3.x and Elasticsearch 9.x need Java 21 or newer; Elasticsearch 8.x runs on
Java 17 or newer. Candidates are, in order: the engine's own variable (OPENSEARCH_JAVA_HOME or
ES_JAVA_HOME), JAVA_HOME, every JVM under /usr/lib/jvm, the `java` on PATH. An explicitly set
variable that does not fit is skipped with a note; the lowest fitting Java of the rest wins
(the one closest to what the engine was built and tested on).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from colog.app.stack.process import StackError

JVM_DIR = Path("/usr/lib/jvm")


@dataclass(frozen=True)
class JavaNeed:
    minimum: int
    maximum: int | None = None  # inclusive; None = no upper bound known

    def fits(self, major: int) -> bool:
        return major >= self.minimum and (self.maximum is None or major <= self.maximum)

    def describe(self) -> str:
        if self.maximum is None:
            return f"Java {self.minimum} or newer"
        return f"Java {self.minimum} to {self.maximum}"

    def install_hint(self) -> str:
        wanted = 21 if self.minimum > 17 else 17
        return (f"install it (Debian/Ubuntu: `apt-get install openjdk-{wanted}-jre-headless`, "
                f"or an Adoptium Temurin {wanted}+ JDK) and set JAVA_HOME to it")


def need_for(engine: str, version: str) -> JavaNeed:
    major = int(version.split(".")[0])
    if engine == "opensearch":
        return JavaNeed(21) if major >= 3 else JavaNeed(17, 23)
    return JavaNeed(21) if major >= 9 else JavaNeed(17)


def java_major(java: Path) -> int:
    result = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        raise StackError(f"cannot tell the version of {java}: {result.stderr.strip()}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8" means Java 8


def _candidates(own_var: str) -> tuple[list[tuple[str, Path]], list[Path]]:
    explicit = [(var, Path(os.environ[var])) for var in (own_var, "JAVA_HOME")
                if os.environ.get(var)]
    found: list[Path] = []
    if JVM_DIR.is_dir():
        found += sorted(p for p in JVM_DIR.iterdir() if (p / "bin" / "java").exists())
    on_path = shutil.which("java")
    if on_path:
        found.append(Path(os.path.realpath(on_path)).parent.parent)
    return explicit, found


def find_java(engine: str, version: str, own_var: str) -> Path:
    """JAVA_HOME for ``engine`` ``version``, or a StackError that says exactly what to install."""
    need = need_for(engine, version)
    explicit, found = _candidates(own_var)
    for var, home in explicit:
        if not (home / "bin" / "java").exists():
            print(f"{engine}: {var}={home} has no bin/java; looking elsewhere", file=sys.stderr)
            continue
        major = java_major(home / "bin" / "java")
        if need.fits(major):
            return home
        print(f"{engine}: {var}={home} is Java {major}; {engine} {version} needs "
              f"{need.describe()}; looking elsewhere", file=sys.stderr)
    fitting: dict[Path, int] = {}
    seen: list[str] = []
    for home in found:
        real = Path(os.path.realpath(home))
        if real in fitting or any(s.startswith(f"{real} ") for s in seen):
            continue
        try:
            major = java_major(real / "bin" / "java")
        except StackError:
            continue
        seen.append(f"{real} (Java {major})")
        if need.fits(major):
            fitting[real] = major
    if fitting:
        return min(fitting, key=lambda home: (fitting[home], str(home)))
    have = ", ".join(seen) or "none"
    raise StackError(f"{engine} {version} needs {need.describe()}; found: {have}. "
                     f"{need.install_hint()} (or {own_var})")


def main(argv: list[str]) -> int:
    """``python -m colog.app.stack.java ENGINE VERSION``: print the Java it would run on."""
    if len(argv) != 2 or argv[0] not in ("opensearch", "elasticsearch"):
        print("usage: python -m colog.app.stack.java opensearch|elasticsearch VERSION",
              file=sys.stderr)
        return 2
    own = "OPENSEARCH_JAVA_HOME" if argv[0] == "opensearch" else "ES_JAVA_HOME"
    try:
        home = find_java(argv[0], argv[1], own)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"   {argv[0]} {argv[1]}: Java {java_major(home / 'bin' / 'java')} at {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
