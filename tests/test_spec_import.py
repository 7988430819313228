"""Importing Alibaba's api-docs.json metadata into spec files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from acscontract.errors import InputError, UsageError
from acscontract.spec import bundled_spec_dir, load_operation, operation, validate_paths
from acscontract.spec._importer import import_metadata

METADATA = bundled_spec_dir() / "_meta" / "live-2016-11-01-api-docs.json"


@pytest.fixture(scope="module")
def imported_all(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imported")
    import_metadata(METADATA, out)
    return out


def test_all_403_operations_import_and_validate(imported_all: Path) -> None:
    files = list((imported_all / "live" / "2016-11-01").glob("*.yaml"))
    assert len([f for f in files if f.stem != "product"]) == 403
    assert validate_paths([imported_all]) == []


def test_imported_operation_agrees_with_the_hand_written_spec(imported_all: Path) -> None:
    imported = load_operation(imported_all / "live" / "2016-11-01" / "RealTimeRecordCommand.yaml")
    written = operation()
    raw = json.loads(METADATA.read_text(encoding="utf-8"))["apis"]["RealTimeRecordCommand"]
    assert imported.methods == written.methods
    assert imported.schemes == written.schemes
    assert imported.operation_type == written.operation_type == raw["systemTags"]["operationType"]
    for field in ("name", "location", "type", "required", "format", "enum", "example"):
        for parameter in imported.parameters:
            mine = written.parameter(parameter.name)
            if field == "enum" and parameter.enum is None:
                continue  # the metadata lists the commands only in prose
            assert getattr(parameter, field) == getattr(mine, field), (parameter.name, field)
    assert {(e.code, e.http_status) for e in imported.errors} == {
        (e.code, e.http_status) for e in written.errors
    }
    assert set(imported.success_schema["properties"]) == set(written.success_schema["properties"])
    assert imported.product.endpoints == written.product.endpoints


def test_imported_specs_mark_ram_unknown_and_read_flow_control_from_the_docs(
    imported_all: Path,
) -> None:
    folder = imported_all / "live" / "2016-11-01"
    imported = load_operation(folder / "AddLiveDomain.yaml")
    assert imported.ram.action == "live:AddLiveDomain"
    assert imported.ram.known is False
    assert imported.ram.resource_types == ()
    # "本接口的单用户QPS限制为30次/秒" in the operation's description
    assert (imported.flow_control.limit, imported.flow_control.per) == (30, "second")
    assert "/x-ram/undocumented" in {u.pointer for u in imported.undocumented}
    silent = load_operation(folder / "AllowPushStream.yaml")
    assert silent.flow_control.limit is None
    assert "/x-flowControl/undocumented" in {u.pointer for u in silent.undocumented}


def test_import_selected_apis_only(tmp_path: Path) -> None:
    result = import_metadata(METADATA, tmp_path, ["RealTimeRecordCommand", "AddLiveDomain"])
    assert [p.stem for p in result.operation_files] == ["RealTimeRecordCommand", "AddLiveDomain"]
    assert validate_paths([tmp_path]) == []


def test_invalid_published_examples_are_kept_aside_not_dropped(tmp_path: Path) -> None:
    result = import_metadata(METADATA, tmp_path, ["DescribeLiveSnapshotDetectPornConfig"])
    assert any("not a valid value" in note for note in result.skipped_examples)
    text = result.operation_files[0].read_text(encoding="utf-8")
    assert "x-exampleAsPublished" in text


def test_unknown_api_and_bad_metadata_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no operation named NoSuchApi"):
        import_metadata(METADATA, tmp_path, ["NoSuchApi"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        import_metadata(bad, tmp_path / "out")
    bad.write_text('{"apis": []}', encoding="utf-8")
    with pytest.raises(InputError, match="no `apis` mapping"):
        import_metadata(bad, tmp_path / "out")
    with pytest.raises(InputError, match="cannot read"):
        import_metadata(tmp_path / "missing.json", tmp_path / "out")


_INFO = {"style": "RPC", "product": "live", "version": "2016-11-01"}
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_SEGMENT = st.sampled_from(["live", "2016-11-01", "..", "../up", "a/b", "", ".hidden", "X"])
_HOSTILE_METADATA = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {
            "info": st.fixed_dictionaries(
                {"style": st.just("RPC"), "product": _SEGMENT, "version": _SEGMENT}
            ),
            "apis": st.dictionaries(_SEGMENT, _JSON, max_size=3),
        },
        optional={"endpoints": _JSON},
    ),
    st.builds(
        lambda api: {"info": _INFO, "apis": {"RealTimeRecordCommand": api}},
        st.dictionaries(
            st.sampled_from(["parameters", "responses", "description", "errorCodes", "title"]),
            _JSON,
            max_size=3,
        ),
    ),
)


@settings(max_examples=150, deadline=None)
@given(document=_HOSTILE_METADATA)
def test_importing_any_metadata_writes_inside_the_output_or_is_one_error(
    tmp_path_factory: pytest.TempPathFactory, document: object
) -> None:
    # Found by hand: API names and info.product/version became paths (`../../etc` wrote
    # outside the output folder), and an API or parameter list of the wrong type crashed.
    work = tmp_path_factory.mktemp("fuzz")
    source = work / "api-docs.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    out = work / "out"
    try:
        result = import_metadata(source, out)
    except (InputError, UsageError) as exc:
        event("refused")
        problem = str(exc)
        assert problem.startswith(str(source))
    else:
        event("imported")
        for path in (result.product_file, *result.operation_files):
            assert path.resolve().is_relative_to(out.resolve())
    assert {p.name for p in work.iterdir()} <= {"api-docs.json", "out"}


def test_an_operation_that_cannot_be_converted_leaves_the_output_folder_as_it_was(
    tmp_path: Path,
) -> None:
    # Operations were written one by one, so the import stopped at the first too-deep operation
    # with the earlier ones (and product.yaml) already written: a partial, mixed folder.
    data = json.loads(METADATA.read_text(encoding="utf-8"))
    data["apis"]["ZzzTooDeep"] = "DEEP"
    nested = '{"type": "object", "properties": {"a": ' * 400 + '{"type": "string"}' + "}}" * 400
    deep = '{"parameters": [{"name": "P", "in": "query", "schema": ' + nested + "}]}"
    source = tmp_path / "api-docs.json"
    source.write_text(json.dumps(data).replace('"DEEP"', deep), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="ZzzTooDeep: the operation is nested too deeply"):
        import_metadata(source, out, ["AddLiveDomain", "ZzzTooDeep"])
    assert [p.name for p in out.iterdir()] == ["kept.txt"]


def test_a_ctrl_c_while_writing_stops_the_import_after_its_last_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write phase is all or nothing for an interruption: a Ctrl+C on the third file still
    stops the import, once every file is written, so no folder holds part of a product."""
    import os
    import signal

    from acscontract.spec import _importer

    names = ["RealTimeRecordCommand", "AddLiveAppRecordConfig", "DescribeLiveRecordConfig"]
    real_write = _importer._write
    calls: list[Path] = []

    def write_then_interrupt(path: Path, text: str) -> None:
        calls.append(path)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        real_write(path, text)

    monkeypatch.setattr(_importer, "_write", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        import_metadata(METADATA, tmp_path, names)
    product_dir = tmp_path / "live" / "2016-11-01"
    assert sorted(p.name for p in product_dir.iterdir()) == sorted(
        [f"{n}.yaml" for n in names] + ["product.yaml"]
    )
    assert validate_paths([tmp_path]) == []
    # Python's own handler is back once the import has stopped.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
