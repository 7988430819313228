"""The product's spec: every Live operation, the resource model, effects, checks and values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract import spec
from acscontract.spec import (
    CHECK_KINDS,
    EFFECT_KINDS,
    SpecError,
    bundled_spec_dir,
    load_operation,
    validate_paths,
)
from acscontract.spec._importer import flow_control_from_description
from acscontract.spec._values import decode, json_schema

PRODUCT_DIR = bundled_spec_dir() / "live" / "2016-11-01"
METADATA = json.loads(
    (bundled_spec_dir() / "_meta" / "live-2016-11-01-api-docs.json").read_text("utf-8")
)
RECORDING_FAMILY = (
    "AddLiveAppRecordConfig",
    "UpdateLiveAppRecordConfig",
    "DeleteLiveAppRecordConfig",
    "DescribeLiveRecordConfig",
    "RealTimeRecordCommand",
    "DescribeLiveStreamRecordIndexFiles",
    "DescribeLiveStreamRecordIndexFile",
    "DescribeLiveStreamRecordContent",
    "DescribeLiveStreamsOnlineList",
)


def test_every_operation_of_the_metadata_has_a_bundled_spec() -> None:
    files = {p.stem for p in PRODUCT_DIR.glob("*.yaml")} - {"product"}
    assert files == set(METADATA["apis"])
    assert len(files) == 403


@pytest.mark.parametrize("name", sorted(METADATA["apis"])[::20])
def test_bundled_specs_keep_the_metadata_as_published(name: str) -> None:
    op = spec.operation(name)
    api = METADATA["apis"][name]
    assert [p.name for p in op.parameters] == [p["name"] for p in api["parameters"]]
    assert op.success_schema == api["responses"]["200"]["schema"]
    published = {e["errorCode"] for codes in api.get("errorCodes", {}).values() for e in codes}
    assert {e.code for e in op.errors} == published
    assert op.ram.action == f"live:{name}"


def test_the_recording_family_is_modelled_and_the_rest_is_not() -> None:
    modelled = {
        p.stem
        for p in PRODUCT_DIR.glob("*.yaml")
        if p.stem != "product" and spec.operation(p.stem).modelled
    }
    assert modelled == set(RECORDING_FAMILY)
    assert spec.operation("DescribeLiveStreamRecordIndexFiles").modelled
    assert not spec.operation("DescribeLiveDomainDetail").modelled


def test_the_resource_model_names_the_recording_workflow() -> None:
    product = spec.operation().product
    assert set(product.resources) == {
        "domain",
        "stream",
        "recordConfig",
        "recordingTask",
        "recording",
    }
    assert product.resource("recordingTask").lifecycle == "RealTimeRecordCommand"
    assert product.resource("recording").identifiers == ("RecordId",)
    lifecycle = spec.operation().lifecycle
    assert lifecycle is not None
    assert lifecycle.key == ("DomainName", "AppName", "StreamName")
    assert lifecycle.event_for_role("streamOffline") == "interrupt"
    assert lifecycle.event_for_role("streamOnline") == "resume"


def test_effects_declare_conflicts_paging_and_windows() -> None:
    add = spec.operation("AddLiveAppRecordConfig").effect
    assert add is not None
    assert (add.kind, add.resource) == ("create", "recordConfig")
    assert add.conflict == "ConfigAlreadyExists"
    files = spec.operation("DescribeLiveStreamRecordIndexFiles")
    assert files.effect is not None
    assert files.effect.paging is not None
    assert (files.effect.paging.page_num, files.effect.paging.page_size) == ("PageNum", "PageSize")
    assert files.effect.window == ("StartTime", "EndTime")
    window = next(c for c in files.checks if c.check == "timeWindow")
    assert window.options["maxSeconds"] == 4 * 86_400
    assert "InvalidEndTime.Mismatch" in window.codes


def test_operations_without_checks_get_the_products_default_checks() -> None:
    op = spec.operation("DescribeLiveDomainDetail")
    assert [c.check for c in op.checks] == ["missingParameter", "malformedParameter"]
    assert op.check_code("missingParameter") == "MissingParameter"
    assert op.protocol.gateway_error(op.check_code("malformedParameter")).undocumented


def test_product_errors_belong_to_the_operations_that_answer_them() -> None:
    add = spec.operation("AddLiveAppRecordConfig")
    assert "InvalidDomain.NotFound" in add.all_error_codes
    assert add.status_of("InvalidDomain.NotFound") == 404
    assert "InvalidDomain.NotFound" not in spec.operation().all_error_codes


def test_flow_control_comes_from_the_operations_documentation() -> None:
    assert spec.operation().flow_control.limit == 50
    online = spec.operation("DescribeLiveStreamsOnlineList").flow_control
    assert (online.limit, online.per) == (10_000, "minute")
    assert flow_control_from_description("本接口的单用户QPS限制为30次/秒。")["limit"] == 30
    none = flow_control_from_description("本接口无单用户QPS限制，请您根据实际需要合理调用。")
    assert none["limit"] is None
    assert "no per-user QPS limit" in none["undocumented"]
    assert flow_control_from_description("")["limit"] is None


def test_kinds_in_the_meta_schema_come_from_the_registries() -> None:
    document = yaml.safe_load((PRODUCT_DIR / "AddLiveAppRecordConfig.yaml").read_text("utf-8"))
    for kind in CHECK_KINDS:
        assert kind in {"missingParameter", "malformedParameter", "exists", "range", "timeWindow"}
    assert document["x-effect"]["kind"] in EFFECT_KINDS


# --- broken effects and checks are precise problems --------------------------------------------


@pytest.fixture
def product_copy(tmp_path: Path) -> Path:
    """A copy of the bundled spec folder (operations of the recording family only)."""
    target = tmp_path / "spec"
    shutil.copytree(
        bundled_spec_dir() / "protocols",
        target / "protocols",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(bundled_spec_dir() / "_meta", target / "_meta")
    folder = target / "live" / "2016-11-01"
    folder.mkdir(parents=True)
    for name in ("product", *RECORDING_FAMILY):
        shutil.copy(PRODUCT_DIR / f"{name}.yaml", folder / f"{name}.yaml")
    return folder


def _edit(path: Path, change: Any) -> None:
    document = yaml.safe_load(path.read_text("utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")


def _set(path: str, value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        node = document
        parts = path.split("/")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value

    return change


@pytest.mark.parametrize(
    ("name", "change", "pointer", "words"),
    [
        ("AddLiveAppRecordConfig", _set("x-effect/resource", "nosuch"), "/x-effect/resource",
         "not a resource"),
        ("AddLiveAppRecordConfig", _set("x-effect/kind", "destroy"), "/x-effect/kind", "destroy"),
        ("AddLiveAppRecordConfig", _set("x-effect/conflict", "NoSuchCode"), "/x-effect",
         "NoSuchCode"),
        ("AddLiveAppRecordConfig", _set("x-effect/requires/0/match", {"Bogus": "$DomainName"}),
         "/x-effect/requires/0/match/Bogus", "not a field of domain"),
        ("AddLiveAppRecordConfig", _set("x-effect/requires/0/match", {"DomainName": "$Nope"}),
         "/x-effect/requires/0/match/DomainName", "names no parameter"),
        ("AddLiveAppRecordConfig", _set("x-checks/2/check", "teleport"), "/x-checks/2/check",
         "teleport"),
        ("AddLiveAppRecordConfig", _set("x-checks/2/parameter", "Nope"), "/x-checks/2/parameter",
         "not a parameter"),
        ("AddLiveAppRecordConfig", _set("x-checks/3/errors/sideways", "X"), "/x-checks/3",
         "sideways"),
        ("DescribeLiveRecordConfig", _set("x-effect/response/items", "LiveAppRecordList"),
         "/x-effect/response/items", "not an array"),
        ("DescribeLiveRecordConfig", _set("x-effect/paging/orderBy", "Nope"),
         "/x-effect/paging/orderBy", "not a field"),
        ("RealTimeRecordCommand", _set("x-lifecycle/events/interrupt/role", "moonrise"),
         "/x-lifecycle/events/interrupt/role", "moonrise"),
        ("RealTimeRecordCommand", _set("x-lifecycle/produces/span/end", "Finish"),
         "/x-lifecycle/produces/span", "Finish"),
    ],
)  # fmt: skip
def test_broken_effects_and_checks_get_a_precise_problem(
    product_copy: Path, name: str, change: Any, pointer: str, words: str
) -> None:
    path = product_copy / f"{name}.yaml"
    _edit(path, change)
    problems = validate_paths([path])
    assert problems, "the broken spec validated"
    assert any(p.pointer.startswith(pointer) and words in p.message for p in problems), problems
    with pytest.raises(SpecError):
        load_operation(path)


def test_a_resource_whose_lifecycle_names_another_operation_is_refused(product_copy: Path) -> None:
    _edit(product_copy / "product.yaml", _set("x-resources/recordingTask/lifecycle", "Other"))
    problems = validate_paths([product_copy / "RealTimeRecordCommand.yaml"])
    assert any("names 'Other' as its lifecycle" in p.message for p in problems)


# --- parameter values: repeatList, json, simple ------------------------------------------------

ADD = spec.operation("AddLiveAppRecordConfig")
ADD_VALID = {
    "DomainName": "push.example.com",
    "AppName": "live",
    "OssEndpoint": "oss-cn-shanghai.aliyuncs.com",
    "OssBucket": "bucket",
}


def test_repeat_list_values_decode_to_typed_arrays() -> None:
    params = {
        **ADD_VALID,
        "RecordFormat.1.Format": "m3u8",
        "RecordFormat.1.SliceDuration": "30",
        "RecordFormat.2.Format": "flv",
        "TranscodeTemplates.1": "sd",
        "TranscodeTemplates.2": "hd",
        "DelayTime": "180",
    }
    assert ADD.check_parameters(params) is None
    values = ADD.decode(params)
    assert values["RecordFormat"] == [{"Format": "m3u8", "SliceDuration": 30}, {"Format": "flv"}]
    assert values["TranscodeTemplates"] == ["sd", "hd"]
    assert values["DelayTime"] == 180


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"RecordFormat.1.SliceDuration": "thirty"}, "RecordFormat[0].SliceDuration"),
        ({"RecordFormat.0.Format": "m3u8"}, "start at 1"),
        ({"RecordFormat.x.Format": "m3u8"}, "RecordFormat"),
        ({f"RecordFormat.{i}.Format": "flv" for i in range(1, 5)}, "RecordFormat"),
        ({"RecordFormat.2.Format": "flv"}, "RecordFormat[0]"),
        ({"DelayTime": "soon"}, "DelayTime"),
    ],
)
def test_malformed_repeat_lists_are_refused_with_where(extra: dict[str, str], words: str) -> None:
    problem = ADD.check_parameters({**ADD_VALID, **extra})
    assert problem is not None
    assert problem.code == ADD.check_code("malformedParameter")
    assert words in problem.message


def test_a_required_repeat_list_counts_as_missing_when_absent() -> None:
    op = spec.operation("AddCasterLayout")
    required = [p for p in op.parameters if p.style == "repeatList" and p.required]
    assert required
    problem = op.check_parameters({p.name: "x" for p in op.parameters if not p.structured})
    assert problem is not None
    assert problem.code == op.check_code("missingParameter")


def test_json_and_simple_parameters_decode_and_validate() -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    assert decode("Ids", "simple", schema, {"Ids": "1,2,3"}) == (True, [1, 2, 3])
    assert decode("Doc", "json", {"type": "object"}, {"Doc": '{"a": 1}'}) == (True, {"a": 1})
    assert decode("Doc", "json", {"type": "object"}, {}) == (False, None)
    op = spec.operation("CreateMessageApp")
    json_params = [p for p in op.parameters if p.style == "json"]
    assert json_params
    params = {p.name: "x" for p in op.parameters if p.required and not p.structured}
    problem = op.check_parameters({**params, json_params[0].name: "{not json"})
    assert problem is not None
    assert "not valid JSON" in problem.message


def test_json_schema_turns_metadata_schemas_into_json_schema() -> None:
    meta = {
        "type": "object",
        "properties": {
            "Size": {"type": "integer", "format": "int32", "minimum": "5", "required": True},
            "Name": {"type": "string", "required": False},
        },
    }
    schema = json_schema(meta)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["Size"]
    assert schema["properties"]["Size"]["minimum"] == 5
    assert jsonschema.Draft202012Validator(schema).is_valid({"Size": 5})
    assert not jsonschema.Draft202012Validator(schema).is_valid({"Size": 4})


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.from_regex(r"RecordFormat(\.[0-9a-zA-Z_]{0,3}){0,3}", fullmatch=True),
        st.text(max_size=6),
        max_size=6,
    )
)
def test_any_repeat_list_keys_get_an_answer_not_an_exception(extra: dict[str, str]) -> None:
    problem = ADD.check_parameters({**ADD_VALID, **extra})
    if problem is None:
        assert isinstance(ADD.decode({**ADD_VALID, **extra}), dict)
    else:
        assert problem.code in {ADD.check_code("malformedParameter")}
