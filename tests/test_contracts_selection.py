"""Which operations a contract run covers (`--operation`), and the workflow family the spec's
resource model gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.cli import main
from acscontract.contracts.selection import select_operations
from acscontract.contracts.suite import commands
from acscontract.contracts.workflow import recording_families, recording_path
from acscontract.errors import UsageError
from acscontract.spec import operation, operation_names

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"

OP = operation()
PRODUCT = OP.product
ALL = select_operations("all")


def test_no_operation_selects_the_reference_operation():
    chosen = select_operations(None)
    assert chosen.names == (OP.name,)
    assert chosen.primary is OP
    assert chosen.lifecycle == (OP,)
    assert chosen.describe() == OP.name


def test_all_selects_every_operation_of_the_product_reference_first():
    names = operation_names(PRODUCT)
    assert len(ALL.operations) == len(names)
    assert set(ALL.names) == set(names)
    assert ALL.names[0] == OP.name
    assert ALL.primary.name == OP.name
    assert ALL.describe() == f"{len(names)} operations of {PRODUCT.name}/{PRODUCT.version}"
    # Every operation lands in exactly one tier.
    deep = {op.name for op in ALL.lifecycle}
    lean = {op.name for op in ALL.lean}
    assert deep | lean == set(ALL.names)
    assert not deep & lean
    assert {op.name for op in ALL.modelled} <= lean
    assert all(op.writes for op in ALL.writing)


def test_a_comma_list_keeps_its_order_drops_repeats_and_takes_qualified_names():
    chosen = select_operations(
        f" DescribeLiveUserTags, {PRODUCT.name}/{PRODUCT.version}/{OP.name} ,DescribeLiveUserTags"
    )
    assert chosen.names == ("DescribeLiveUserTags", OP.name)
    # The operation-agnostic contracts use the one with a lifecycle, wherever it was listed.
    assert chosen.primary.name == OP.name
    lean = select_operations("DescribeLiveUserTags")
    assert lean.primary.name == "DescribeLiveUserTags"
    assert not lean.needs_stream


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NoSuch", "There is no operation 'NoSuch' in"),
        ("RealTimeRecordComand", f"did you mean {OP.name}?"),
        ("realtimerecordcommand", f"did you mean {OP.name}?"),
        (" , ,", "names no operation"),
        ("a/b", "is not an operation name"),
        ("A" * 5_000, "There is no operation 'AAAAA"),  # echoed cut short, not 5,000 characters
        ("a/" * 2_000, "...' is not an operation name"),
    ],
)
def test_a_bad_name_is_one_line_with_close_names(value, message):
    with pytest.raises(UsageError) as raised:
        select_operations(value)
    text = str(raised.value)
    assert message in text
    assert "\n" not in text
    assert len(text) < 300


@pytest.mark.parametrize("command", [["run"], ["probe", "rate-limit", "--target", "emulator"]])
def test_the_cli_refuses_an_unknown_operation_with_exit_2_before_anything_runs(capsys, command):
    code = main([*command, "--operation", "NoSuch"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1
    assert "There is no operation 'NoSuch'" in err
    assert "Traceback" not in err
    assert out == ""


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_any_spelling_is_a_selection_or_one_usage_line(value):
    problem = None
    try:
        chosen = select_operations(value)
    except UsageError as exc:
        problem = str(exc)
    if problem is not None:
        assert problem.strip()
        assert "\n" not in problem
    else:
        assert chosen.operations
        assert {op.product.name for op in chosen.operations} == {PRODUCT.name}


def test_the_workflow_family_comes_from_the_resource_model():
    (family,) = recording_families(ALL.operations)
    assert family.lifecycle.name == OP.name
    # The roles, by effect kind on the resources the lifecycle touches.
    assert family.configure.effect.kind == "create"
    assert family.remove.effect.kind == "delete"
    assert family.update.effect.kind == "update"
    assert family.configure.effect.resource == family.configured == family.remove.effect.resource
    assert family.precondition.check == "exists"
    assert all(op.effect.window is not None for op in family.find)
    assert family.fetch.effect.kind == "read"
    assert family.fetch.effect.resource == family.produced
    # For Live, the operations the issue names.
    assert family.configure.name == "AddLiveAppRecordConfig"
    assert family.configure.effect.conflict == "ConfigAlreadyExists"
    assert family.remove.name == "DeleteLiveAppRecordConfig"
    assert family.describe.name == "DescribeLiveRecordConfig"
    assert "DescribeLiveStreamRecordIndexFiles" in {op.name for op in family.find}
    assert family.fetch.name == "DescribeLiveStreamRecordIndexFile"
    assert family.covered_by(ALL.operations)
    assert not family.covered_by(select_operations(None).operations)
    # Recording: out of the initial state through a transition that produces a file, and back.
    assert recording_path(OP.lifecycle, commands(OP)) == ("start", "stop", "cancel_delay")


def test_without_a_way_to_remove_the_configuration_there_is_no_workflow():
    without = [op for op in ALL.operations if op.name != "DeleteLiveAppRecordConfig"]
    assert recording_families(without) == ()


def test_the_workflow_runs_only_when_its_whole_family_is_selected(capsys):
    (family,) = recording_families(ALL.operations)
    names = ",".join(op.name for op in family.members)
    code = main(["run", "--operation", names, "--", "-k", "workflow"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "All 1 contracts hold." in out


def test_run_checks_the_pacing_store_url_whatever_the_target(capsys, monkeypatch):
    # Ignored with the emulator targets before: a typo passed there and failed only on the
    # first run against a real endpoint.
    code = main(["run", "--pacing-store", "nonsense"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err == (
        "acscontract: --pacing-store 'nonsense' is not a Redis URL; give redis://HOST:PORT/DB "
        "(or rediss:// for TLS), or leave it out for the file lock store.\n"
    )
    assert out == ""
    monkeypatch.setenv("ACSCONTRACT_PACING_STORE", "http://user:hunter2@cache:6379/0")
    code = main(["run"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "not a Redis URL" in err
    assert "hunter2" not in err


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("--acscontract-max-recordings=abc", "max-recordings must be a whole number"),
        ("--acscontract-profile=nope", "There is no contract profile 'nope'"),
        ("--acscontract-pacing-store=nonsense", "is not a Redis URL"),
    ],
)
def test_plain_pytest_with_a_bad_plugin_option_stops_with_one_line(given, message):
    # Run as `pytest contracts ...` (not through `acscontract run`): a bad count, profile or
    # pacing store was a collection error with a traceback in every contract module.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(CONTRACTS), "-q", "-p", "no:cacheprovider", given],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 4  # pytest's usage error
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, done.stderr
    assert message in errors[0]
    assert "Traceback" not in done.stdout + done.stderr
