"""The tree shows what ships: the layer is built from its ContentUri, and that folder holds only the
core package, its requirements and the Makefile that builds it. The CLI and the sandbox never ship."""

import subprocess

from guardian_sandbox.template import PROJECT_ROOT, template


def test_the_layer_folder_holds_only_the_core():
    content_uri = template().resources["GuardianLayer"]["Properties"]["ContentUri"].rstrip("/")
    listed = subprocess.run(
        ["git", "ls-files", content_uri], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    top = {path.removeprefix(content_uri + "/").split("/", 1)[0] for path in listed}
    assert top == {"guardian", "requirements.txt", "Makefile"}


def test_the_layer_build_copies_only_the_core_package():
    makefile = (PROJECT_ROOT / "layers" / "guardian" / "Makefile").read_text()
    copies = [line.split() for line in makefile.splitlines() if line.strip().startswith("cp ")]
    assert copies == [["cp", "-R", "guardian", '"$(ARTIFACTS_DIR)/python/"']]
