"""`acscontract spec ...` through the command line, as a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openapi_spec_validator import validate as validate_openapi

from acscontract.cli import main
from acscontract.spec import bundled_spec_dir, find_spec_files

ROOT = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_default_is_the_bundled_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "spec", "validate")
    assert code == 0
    count = len(find_spec_files([bundled_spec_dir()]))
    assert out == f"{count} spec files are valid.\n"  # the result, on standard output
    assert err == ""


def test_validate_reports_file_pointer_message_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(
        bundled_spec_dir(), tmp_path / "spec", ignore=shutil.ignore_patterns("__pycache__")
    )
    target = tmp_path / "spec" / "live" / "2016-11-01" / "RealTimeRecordCommand.yaml"
    target.write_text(target.read_text().replace("limit: 50", "limit: -1"), encoding="utf-8")
    code, out, _ = run(capsys, "spec", "validate", str(tmp_path / "spec"))
    assert code == 1
    assert f"{target}:/x-flowControl/limit: -1 is less than the minimum of 1" in out


def test_validate_unreadable_path_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "spec", "validate", str(tmp_path / "nope"))
    assert code == 2
    assert out == ""
    assert err.strip().count("\n") == 0
    assert "no such file or folder" in err
    assert "Traceback" not in err


def test_show_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "spec", "show", "RealTimeRecordCommand", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["qualifiedName"] == "live/2016-11-01/RealTimeRecordCommand"
    assert data["flow_control"]["limit"] == 50
    assert data["undocumented"]
    code, out, _ = run(capsys, "spec", "show", "live/2016-11-01/RealTimeRecordCommand")
    assert code == 0
    assert "live:RealTimeRecordCommand" in out
    assert "acs:cdn:*:{#accountId}:domain/{#DomainName}" in out
    assert "undocumented" in out


def test_show_json_is_the_same_on_every_machine(capsys: pytest.CaptureFixture[str]) -> None:
    """Where the spec is installed is not part of it: the files it came from are named relative
    to the spec folder, so the JSON can be stored and compared across machines."""
    code, out, _ = run(capsys, "spec", "show", "RealTimeRecordCommand", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["path"] == "live/2016-11-01/RealTimeRecordCommand.yaml"
    assert data["product"]["path"] == "live/2016-11-01/product.yaml"
    assert data["product"]["protocol"]["path"] == "protocols/rpc.yaml"
    assert str(bundled_spec_dir()) not in out


def test_show_unknown_operation_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "spec", "show", "NoSuchOperation")
    assert code == 2
    assert "no operation 'NoSuchOperation'" in err


@pytest.mark.parametrize(
    "product",
    ["live", "live/2016-11-01", "RealTimeRecordCommand", "live/2016-11-01/RealTimeRecordCommand"],
)
def test_coverage_names_the_product_by_name_or_by_name_and_version(
    capsys: pytest.CaptureFixture[str], product: str
) -> None:
    code, out, err = run(capsys, "spec", "show", "--coverage", "--format", "json", product)
    assert (code, err) == (0, "")
    assert json.loads(out)["product"] == "live/2016-11-01"


@pytest.mark.parametrize("name", ["nosuchproduct", "live/1999-01-01", "../..", "live/../live", ""])
def test_coverage_of_no_product_is_one_line(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = run(capsys, "spec", "show", "--coverage", name)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert f"{name!r} names no product" in err


def test_openapi_to_file_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "openapi.json"
    code, _, _ = run(capsys, "spec", "openapi", "RealTimeRecordCommand", "-o", str(target))
    assert code == 0
    validate_openapi(json.loads(target.read_text()))


def test_import_then_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metadata = bundled_spec_dir() / "_meta" / "live-2016-11-01-api-docs.json"
    code, out, _ = run(
        capsys,
        "spec",
        "import",
        str(metadata),
        "--api",
        "RealTimeRecordCommand",
        "-o",
        str(tmp_path),
    )
    assert code == 0
    assert "Imported 1 operations" in out
    code, _, _ = run(capsys, "spec", "validate", str(tmp_path))
    assert code == 0


def test_wrong_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "spec", "show", "--format", "xml")
    assert code == 2
    assert "'xml' is not one of" in err


def test_the_wheel_carries_the_spec_and_works_outside_the_checkout(tmp_path: Path) -> None:
    """Build the wheel, unpack it alone on sys.path, and validate from another folder."""
    from hatchling.builders.wheel import WheelBuilder

    (built,) = WheelBuilder(str(ROOT)).build(
        directory=str(tmp_path / "dist"), versions=["standard"]
    )
    wheel = Path(built)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert "acscontract/_bundled/spec/live/2016-11-01/RealTimeRecordCommand.yaml" in names
    assert "acscontract/_bundled/spec/operation.schema.json" in names
    assert "acscontract/py.typed" in names
    # The guides travel with the package, so every "see ..." message names a page the user has.
    assert "acscontract/_bundled/docs/ram-lint.md" in names
    assert "acscontract/_bundled/docs/checks/analysis-undecided.md" in names
    assert not [n for n in names if n.endswith(".pickle") or "__pycache__" in n]
    # A license and the project's addresses.
    assert "acscontract-0.1.0.dist-info/licenses/LICENSE" in names
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("acscontract-0.1.0.dist-info/METADATA").decode("utf-8")
    assert "License-Expression: Apache-2.0" in metadata
    assert "Project-URL: Source, https://github.com/acscontract/acscontract" in metadata
    for extra in ("emulator", "contracts", "plot", "all"):
        assert f"Provides-Extra: {extra}" in metadata
    base = sorted(
        line.split(": ", 1)[1].split("<")[0].split(">")[0].split("=")[0].split("[")[0].lower()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    )
    assert base == ["click", "jsonschema", "pyyaml", "referencing"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "import acscontract, runpy; assert acscontract.__file__.startswith(sys.argv[1]); "
            "sys.argv = ['acscontract', 'spec', 'validate']; "
            "runpy.run_module('acscontract', run_name='__main__')",
            str(tmp_path / "site"),
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"{len(find_spec_files([bundled_spec_dir()]))} spec files are valid" in result.stdout
    # A message that names a guide names the installed copy of it.
    (elsewhere / "empty.toml").write_text("", encoding="utf-8")
    (elsewhere / "p.json").write_text("{}", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "from acscontract._resources import doc_reference; print(doc_reference('ram.md'))",
            str(tmp_path / "site"),
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    page = Path(result.stdout.strip())
    assert page.is_file()
    assert page.is_relative_to(tmp_path / "site")


def _requirements(distribution: str, seen: set[str]) -> None:
    """Every distribution `distribution` needs (no extras), from the installed metadata."""
    from importlib import metadata

    from packaging.requirements import Requirement

    key = distribution.lower().replace("_", "-")
    if key in seen:
        return
    seen.add(key)
    for line in metadata.requires(distribution) or []:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        _requirements(requirement.name, seen)


def test_the_base_install_is_light() -> None:
    """`pip install acscontract` brings the spec, signing, the RAM engine and the command line
    in at most 12 distributions; the emulator, the contracts and plotting are extras."""
    seen: set[str] = set()
    _requirements("acscontract", seen)
    assert len(seen) <= 12, sorted(seen)
    for heavy in ("pytest", "hypothesis", "schemathesis", "matplotlib", "uvicorn", "rich"):
        assert heavy not in seen


@pytest.mark.parametrize(
    ("name", "suggested"),
    [
        ("RealTimeRecordComand", "did you mean RealTimeRecordCommand?"),
        ("realtimerecordcommand", "did you mean RealTimeRecordCommand?"),
        ("live/2016-11-01/DescribeLiveRecordConfg", "did you mean DescribeLiveRecordConfig"),
        ("NoSuchThing", None),
    ],
)
def test_an_unknown_operation_is_one_line_with_close_names(
    capsys: pytest.CaptureFixture[str], name: str, suggested: str | None
) -> None:
    code, out, err = run(capsys, "spec", "show", name)
    assert code == 2
    assert out == ""
    (line,) = err.strip().splitlines()
    assert f"there is no operation {name!r}" in line
    if suggested is None:
        assert "did you mean" not in line
    else:
        assert suggested in line


@pytest.mark.parametrize(
    "name", ["RealTimeRecordCommand", "DescribeLiveStreamsOnlineList", "AllowPushStream"]
)
def test_show_says_what_flow_control_the_spec_leaves_open(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """An operation with no documented limit, or no documented refusal, is shown as such with
    what the emulator does, never as 'None (HTTP None)'."""
    from acscontract.spec import DEFAULT_PRODUCT, product, product_operation

    op = product_operation(product(DEFAULT_PRODUCT), name)
    assert op is not None
    flow = op.flow_control
    code, out, _ = run(capsys, "spec", "show", name)
    assert code == 0
    (line,) = [row for row in out.splitlines() if row.startswith("Flow control")]
    assert "None" not in line
    if not flow.limit:
        assert line == "Flow control undocumented (the emulator does not throttle it)"
        return
    assert f"{flow.limit} per {flow.per} per {flow.scope}" in line
    if flow.throttle_code is None:
        fallback = op.protocol.gateway_error_for("accountThrottled")
        assert "the error for excess calls is undocumented" in line
        assert f"the emulator answers {fallback.code}, HTTP {fallback.http_status}" in line
    else:
        assert f"excess calls get {flow.throttle_code} (HTTP {flow.throttle_status})" in line


def test_show_says_when_the_documentation_gives_no_example_or_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Operations imported without examples or a summary (DeleteLivePackageConfig has
    neither) are shown as such, never as 'e.g. None' or an empty summary."""
    from acscontract.spec import DEFAULT_PRODUCT, product, product_operation

    name = "DeleteLivePackageConfig"
    op = product_operation(product(DEFAULT_PRODUCT), name)
    assert op is not None
    assert not op.summary
    assert any(p.example is None and not p.enum for p in op.parameters)
    code, out, _ = run(capsys, "spec", "show", name)
    assert code == 0
    assert "None" not in out
    assert out.splitlines()[0] == f"{op.qualified_name}: (no documented summary)"
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    for p in op.parameters:
        if p.example is None and not p.enum:
            assert rows[p.name].endswith("(no documented example)"), rows[p.name]
