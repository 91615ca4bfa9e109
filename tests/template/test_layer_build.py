"""What the layer ships for a fast cold start: bytecode compiled for the runtime's own Python (a .pyc of any
other version is ignored, and /opt is read-only, so every import would compile again), and no boto3 or
botocore of its own (the runtime's serve). `make build` refuses an artifact that breaks either rule
(tools/check_artifact.py), and the layer's Makefile refuses to compile with another Python."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guardian_sandbox.template import PROJECT_ROOT, template

sys.path.insert(0, str(PROJECT_ROOT / "tools"))
import check_artifact  # a build tool, not a package: imported from its folder

LAYER = PROJECT_ROOT / "layers" / "guardian"
RUNTIME = template().document["Globals"]["Function"]["Runtime"]  # python3.13
VERSION = RUNTIME.removeprefix("python").replace(".", "")  # 313


def built_layer(root: Path, tag: str = VERSION, sdk: bool = False) -> Path:
    """An artifact as sam build leaves it: a module, its bytecode tagged ``tag``, a compiled extension."""
    layer = root / "GuardianLayer" / "python"
    (layer / "guardian" / "__pycache__").mkdir(parents=True)
    (layer / "guardian" / "runtime.py").write_text("")
    (layer / "guardian" / "__pycache__" / f"runtime.cpython-{tag}.pyc").write_bytes(b"")
    (layer / "pydantic_core").mkdir()
    (layer / "pydantic_core" / f"_pydantic_core.cpython-{VERSION}-aarch64-linux-gnu.so").write_bytes(b"")
    if sdk:
        (layer / "botocore").mkdir()
    return root


def test_a_layer_compiled_for_the_runtime_without_its_own_sdk_passes(tmp_path):
    assert check_artifact.check(built_layer(tmp_path)) == []


def test_a_module_without_bytecode_for_the_runtime_is_refused(tmp_path):
    root = built_layer(tmp_path)
    (root / "GuardianLayer" / "python" / "guardian" / "sweep.py").write_text("")
    assert check_artifact.check(root) == [f"python/guardian/sweep.py has no cpython-{VERSION} bytecode"]


def test_bytecode_for_another_python_is_refused(tmp_path):
    problems = check_artifact.check(built_layer(tmp_path, tag="311"))
    assert f"python/guardian/runtime.py has no cpython-{VERSION} bytecode" in problems
    assert "python/guardian/__pycache__/runtime.cpython-311.pyc is bytecode for another Python" in problems


def test_a_layer_carrying_its_own_botocore_is_refused(tmp_path):
    problems = check_artifact.check(built_layer(tmp_path, sdk=True))
    assert len(problems) == 1 and "botocore ships" in problems[0]


def test_the_layer_installs_every_requirement_but_the_runtimes_sdk():
    makefile = (LAYER / "Makefile").read_text()
    pattern = re.search(r"^RUNTIME_SDK := (.+)$", makefile, re.M).group(1)
    lines = [line for line in (LAYER / "requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    installed = {line.split("==")[0] for line in lines if not re.search(pattern, line)}
    assert "boto3" not in installed and "botocore" not in installed
    assert {"aws-lambda-powertools", "pydantic", "slack-sdk", "tzdata"} <= installed


def test_the_layer_is_compiled_by_the_runtimes_python_with_hashes_not_timestamps():
    """A zip keeps timestamps to two seconds: a timestamp-checked .pyc could be found stale and ignored."""
    makefile = (LAYER / "Makefile").read_text()
    assert re.search(r"^COMPILE_PYTHON \?= python\$\(LAMBDA_PYTHON\)$", makefile, re.M)
    assert "-m compileall" in makefile and "--invalidation-mode unchecked-hash" in makefile


def runtime_python() -> str | None:
    """An interpreter of the runtime's version that runs (the root Makefile looks in the same places)."""
    version = RUNTIME.removeprefix("python")
    pyenv = sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))
    for candidate in [f"python{version}", *map(str, pyenv)]:
        if shutil.which(candidate) and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(runtime_python() is None, reason="no interpreter of the runtime's Python version here")
def test_the_makefile_refuses_to_compile_with_another_python(tmp_path):
    result = subprocess.run(
        ["make", "-s", "build-GuardianLayer", f"ARTIFACTS_DIR={tmp_path}", f"COMPILE_PYTHON={sys.executable}"],
        cwd=LAYER,
        capture_output=True,
        text=True,
    )
    this = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if this == RUNTIME.removeprefix("python"):
        pytest.skip("the tests run on the runtime's own Python")
    assert result.returncode != 0
    assert f"the layer needs {RUNTIME} bytecode" in result.stderr
    assert not any(tmp_path.iterdir()), "nothing is installed once the interpreter is refused"


@pytest.mark.skipif(runtime_python() is None, reason="no interpreter of the runtime's Python version here")
def test_the_core_compiled_as_the_makefile_does_passes_the_check(tmp_path):
    layer = tmp_path / "GuardianLayer" / "python"
    shutil.copytree(LAYER / "guardian", layer / "guardian", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [runtime_python(), "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(layer)], check=True
    )
    assert check_artifact.bytecode_problems(layer, VERSION) == []
