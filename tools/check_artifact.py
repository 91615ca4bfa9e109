"""`make build` checks what `sam build` produced: compiled wheels for the runtime and architecture the
template declares (pydantic-core for python3.13 on arm64, say), bytecode for that Python beside every
module of the layer and none for another, no boto3/botocore of its own (the runtime's serve), and how big
each artifact is."""

import re
import sys
from pathlib import Path

from guardian_sandbox.template import template

ARCH_TAG = {"arm64": "aarch64", "x86_64": "x86_64"}
# The runtime bundles these; the layer ships them only if a call the guardian makes needs a newer one (say why).
RUNTIME_SDK = ("boto3", "botocore")
SDK_SHIPPED_BECAUSE: str | None = None


def check(build_dir: Path) -> list[str]:
    globals_ = template().document["Globals"]["Function"]
    version = globals_["Runtime"].removeprefix("python").replace(".", "")
    arch = ARCH_TAG[globals_["Architectures"][0]]
    problems = []
    compiled = list(build_dir.glob("*/python/**/*.so"))
    if not compiled:
        problems.append(f"no compiled extension in {build_dir}: was the layer built?")
    for library in compiled:
        match = re.search(r"cpython-(\d+)-(\w+?)-linux", library.name)
        if not match or match.groups() != (version, arch):
            problems.append(f"{library.relative_to(build_dir)} is not built for cpython-{version} on {arch}")
    for layer in build_dir.glob("*/python"):
        problems += bytecode_problems(layer, version)
        if SDK_SHIPPED_BECAUSE is None:
            problems += [f"{layer / sdk} ships; the runtime has it" for sdk in RUNTIME_SDK if (layer / sdk).exists()]
    return problems


def bytecode_problems(layer: Path, version: str) -> list[str]:
    """Every module compiled for cpython-<version> (what the runtime loads without compiling: /opt is
    read-only), and no bytecode for any other Python."""
    problems = []
    for source in layer.rglob("*.py"):
        if not (source.parent / "__pycache__" / f"{source.stem}.cpython-{version}.pyc").is_file():
            problems.append(f"{source.relative_to(layer.parent)} has no cpython-{version} bytecode")
    for compiled in layer.rglob("*.pyc"):
        if f".cpython-{version}." not in compiled.name:
            problems.append(f"{compiled.relative_to(layer.parent)} is bytecode for another Python")
    return problems


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> int:
    build_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build")
    for artifact in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        print(f"{artifact.name:<16} {size(artifact) / 1e6:7.1f} MB unzipped")
    problems = check(build_dir)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print("compiled wheels and bytecode match the template's runtime and architecture; no SDK of its own")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
