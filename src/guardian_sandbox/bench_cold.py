"""Cold start: how long each function's handler module takes to import in a fresh interpreter, the layer
laid out as Lambda mounts it (/opt/python) and the runtime's own SDK after it on the path (/var/runtime).

Two layers are measured, each assembled from this machine's installed packages (so it runs here whatever
the Lambda architecture): the one built before (sources only, its own boto3/botocore) and the one the
layer's Makefile builds now (bytecode compiled with unchecked hashes, boto3/botocore from the runtime).
Each figure is the least CPU time of a few fresh processes importing the handler (Python's own start is
not counted: the runtime has started before it imports the handler).
"""

import compileall
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAYER_SOURCE = PROJECT_ROOT / "layers" / "guardian"
FUNCTIONS = PROJECT_ROOT / "functions"
TARGET_MS = 300.0
# What every Lambda Python runtime bundles (/var/runtime): the layer leaves these out unless a call needs newer.
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six")
RUNS = 5

# Run in the child: import the handler module as the runtime does (by file), print the seconds it took. CPU
# time, not wall: on a machine shared with other work a wall clock measures the neighbours too.
_CHILD = """
import importlib.util, sys, time
path = sys.argv[1]
started = time.process_time()
spec = importlib.util.spec_from_file_location("app", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(time.process_time() - started)
"""


class ImportFailed(Exception):
    """A handler module that raised on import: the message has its last line of error."""


@dataclass(frozen=True)
class LayerBuild:
    """How a layer is laid out: whether it ships bytecode, and whether it carries its own boto3/botocore."""

    label: str
    compiled: bool
    own_sdk: bool


BEFORE = LayerBuild("before: sources only, own boto3/botocore", compiled=False, own_sdk=True)
NOW = LayerBuild("now: .pyc (unchecked-hash), runtime's boto3/botocore", compiled=True, own_sdk=False)


def _distributions(requirements: Path) -> set[str]:
    """The layer's requirements and everything they pull in, as installed here (normalised names)."""
    wanted = [Requirement(line).name for line in _requirement_lines(requirements)]
    seen: set[str] = set()
    while wanted:
        name = wanted.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
    return seen


def _requirement_lines(requirements: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line]


def _copy_distribution(name: str, target: Path) -> None:
    """The distribution's installed files (no bytecode, no metadata), as pip --no-compile would leave them."""
    for file in metadata.files(name) or []:
        parts = file.parts
        if parts[0].endswith((".dist-info", ".data")) or "__pycache__" in parts or parts[0] == "..":
            continue
        source = Path(str(file.locate()))
        if source.is_file():
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def assemble(build: LayerBuild, root: Path) -> list[Path]:
    """Lay the layer out under ``root`` (opt/python, and var/runtime for the runtime's SDK); the path list."""
    layer, runtime = root / "opt" / "python", root / "var" / "runtime"
    shutil.copytree(LAYER_SOURCE / "guardian", layer / "guardian", ignore=shutil.ignore_patterns("__pycache__"))
    for name in sorted(_distributions(LAYER_SOURCE / "requirements.txt")):
        in_runtime = name in RUNTIME_SDK and not build.own_sdk
        _copy_distribution(name, runtime if in_runtime else layer)
    if build.compiled:
        compileall.compile_dir(
            layer, quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
    if runtime.exists():  # the runtime's bundled SDK is shipped compiled
        compileall.compile_dir(runtime, quiet=1, workers=0)
    return [layer, runtime]


def import_seconds(function: str, path: list[Path], runs: int = RUNS) -> float:
    """The median time a fresh interpreter takes to import ``function``'s handler module."""
    app = FUNCTIONS / function / "app.py"
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(str(p) for p in path),
        "PYTHONDONTWRITEBYTECODE": "1",  # /opt is read-only on Lambda: what is not shipped compiled never is
        "AWS_LAMBDA_FUNCTION_NAME": function,
    }
    times = []
    for _ in range(runs):
        finished = subprocess.run(
            [sys.executable, "-S", "-c", _CHILD, str(app)], env=environment, capture_output=True, text=True
        )
        if finished.returncode:
            reason = (finished.stderr.strip().splitlines() or ["no output"])[-1]
            raise ImportFailed(f"{function}'s handler does not import: {reason}")
        times.append(float(finished.stdout.strip().splitlines()[-1]))
    return min(times)  # the least disturbed run: a busy machine only ever adds time


def functions() -> list[str]:
    return sorted(p.name for p in FUNCTIONS.iterdir() if (p / "app.py").is_file())


def measure(builds: tuple[LayerBuild, ...] = (BEFORE, NOW)) -> dict[str, dict[str, float]]:
    """Milliseconds per function per layer build."""
    figures: dict[str, dict[str, float]] = {}
    for build in builds:
        with tempfile.TemporaryDirectory(prefix="guardian-cold-") as scratch:
            path = assemble(build, Path(scratch))
            for function in functions():
                try:
                    seconds = import_seconds(function, path)
                except ImportFailed as error:
                    print(f"  {error}")
                    seconds = float("nan")
                figures.setdefault(function, {})[build.label] = 1000 * seconds
    return figures


def print_cold_starts() -> dict[str, dict[str, float]]:
    """`make bench`'s section: each handler's import time, before and now, against the target."""
    version = ".".join(map(str, sys.version_info[:2]))
    print(f"\nHandler import time (cold, least of {RUNS} fresh python{version} processes, target {TARGET_MS:.0f} ms)")
    figures = measure()
    print(f"  {'function':<12} {'before (no .pyc, own SDK)':>26} {'now (.pyc, runtime SDK)':>25}")
    for function, by_build in figures.items():
        now = by_build[NOW.label]
        verdict = "ok" if now < TARGET_MS else "over target"
        print(f"  {function:<12} {by_build[BEFORE.label]:>23.0f} ms {now:>22.0f} ms  {verdict}")
    return figures


if __name__ == "__main__":
    print_cold_starts()
