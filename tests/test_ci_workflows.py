"""The CI recipes run as written: every workflow of the repository and every workflow in docs/
passes actionlint, and installs acscontract from its repository at a pinned commit."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/acscontract/acscontract"
PINNED = re.compile(
    r'pip install "acscontract(\[[a-z,]+\])? @ git\+'
    + re.escape(REPOSITORY)
    + r'@\$\{ACSCONTRACT_COMMIT\}"'
)
_FENCE = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail("actionlint is not installed: pip install -e '.[test]' installs it.")
    return found


def _doc_workflows() -> dict[str, str]:
    """Every YAML block of docs/*.md that is a GitHub Actions workflow (it has `jobs`)."""
    found = {}
    for page in sorted((ROOT / "docs").glob("*.md")):
        for index, match in enumerate(_FENCE.finditer(page.read_text(encoding="utf-8"))):
            text = match.group(1)
            data = yaml.safe_load(text)
            if isinstance(data, dict) and "jobs" in data:
                found[f"{page.name}#{index}"] = text
    return found


REPO_WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
DOC_WORKFLOWS = _doc_workflows()


def test_there_are_workflows_to_check():
    assert [p.name for p in REPO_WORKFLOWS] == ["test.yml"]
    assert {name.split("#")[0] for name in DOC_WORKFLOWS} == {"ci.md", "ram-lint.md"}


@pytest.mark.parametrize("path", REPO_WORKFLOWS, ids=lambda p: p.name)
def test_repository_workflows_pass_actionlint(path):
    done = subprocess.run(
        [_actionlint(), "-no-color", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(DOC_WORKFLOWS))
def test_documented_workflows_pass_actionlint(name, tmp_path):
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    path = folder / (name.replace(".md#", "-") + ".yml")
    path.write_text(DOC_WORKFLOWS[name], encoding="utf-8")
    done = subprocess.run(
        [_actionlint(), "-no-color", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    """The check above can fail: a workflow with a typo is refused."""
    path = tmp_path / "broken.yml"
    path.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz:\n      - run: echo\n",
        encoding="utf-8",
    )
    done = subprocess.run([_actionlint(), "-no-color", str(path)], capture_output=True, check=False)
    assert done.returncode != 0


@pytest.mark.parametrize("name", sorted(DOC_WORKFLOWS))
def test_documented_workflows_install_acscontract_at_a_pinned_commit(name):
    text = DOC_WORKFLOWS[name]
    data = yaml.safe_load(text)
    installs = [line.strip() for line in text.splitlines() if "pip install" in line]
    assert installs, "the workflow installs acscontract"
    for line in installs:
        assert PINNED.search(line), f"{name}: {line!r} does not install a pinned commit"
    # The commit is the workflow's, set once, with a comment right above it saying why.
    assert "ACSCONTRACT_COMMIT" in data["env"]
    lines = text[: text.index("ACSCONTRACT_COMMIT:")].splitlines()[:-1]  # up to its own line
    comment = []
    for line in reversed(lines):
        if not line.strip().startswith("#"):
            break
        comment.append(line)
    why = " ".join(comment)
    assert "PyPI" in why
    assert "commit" in why


def test_the_repository_workflow_runs_make_test_with_redis():
    data = yaml.safe_load(REPO_WORKFLOWS[0].read_text(encoding="utf-8"))
    steps = data["jobs"]["test"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert any("redis-server" in run for run in runs)
    make = next(step for step in steps if step.get("run") == "make test")
    assert make["env"]["ACSCONTRACT_REQUIRE_REDIS"] == "1"


def test_ci_installs_redis_before_make_test():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert script.index("apt-get install -y") < script.index("make test")
    assert "command -v redis-server" in script  # guarded: nothing happens when it is there
    assert "ACSCONTRACT_REQUIRE_REDIS=1" in script
