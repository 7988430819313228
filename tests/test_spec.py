"""The spec: loading, validation errors, semantic checks, derivations and the model's rules."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from openapi_spec_validator import validate as validate_openapi

from acscontract import spec
from acscontract.spec import (
    SpecError,
    action_catalog,
    bundled_spec_dir,
    error_response_schema,
    load_document,
    load_operation,
    openapi_document,
    request_schema,
    response_schema,
    success_response_schema,
    validate_paths,
)
from acscontract.spec._cache import cache_directories, cached

OP = spec.operation()
SPEC_FILE = bundled_spec_dir() / "live" / "2016-11-01" / "RealTimeRecordCommand.yaml"


# --- what FACTS.md documents is what the spec holds -------------------------------------------


def test_the_bundled_spec_is_valid() -> None:
    assert validate_paths([bundled_spec_dir()]) == []


def test_identity_and_parameters_match_the_documentation() -> None:
    assert OP.qualified_name == "live/2016-11-01/RealTimeRecordCommand"
    assert OP.methods == ("POST", "GET")
    assert OP.schemes == ("http", "https")
    assert OP.product.style == "RPC"
    assert OP.product.default_endpoint == "live.aliyuncs.com"
    required = [p.name for p in OP.required_parameters]
    assert required == ["Command", "DomainName", "AppName", "StreamName"]
    assert OP.parameter("Command").enum == ("start", "stop", "cancel_delay", "restart")
    owner = OP.parameter("OwnerId")
    assert (owner.type, owner.format, owner.required) == ("integer", "int64", False)
    assert OP.parameter("RegionId").required is False


def test_errors_ram_and_flow_control_match_the_documentation() -> None:
    statuses = {e.code: e.http_status for e in OP.errors}
    assert statuses == {
        "MalformedParam": 400,
        "MissingParam": 400,
        "CodeConfigNotFound": 400,
        "StreamNotFound": 409,
        "TaskAlreadyStarted": 409,
        "InternalError": 500,
    }
    assert OP.ram.action == "live:RealTimeRecordCommand"
    assert OP.ram.access_level == "get"
    assert (OP.ram.writes, OP.ram.billable) == (True, True)
    (domain,) = OP.ram.resource_types
    assert domain.arn_template == "acs:cdn:*:{#accountId}:domain/{#DomainName}"
    assert domain.service == "cdn"
    assert domain.arn(accountId="1234567890123456", DomainName="a.example.com") == (
        "acs:cdn:*:1234567890123456:domain/a.example.com"
    )
    assert OP.ram.condition_keys == ()
    assert OP.ram.associated_actions == ()
    flow = OP.flow_control
    assert (flow.limit, flow.per, flow.scope) == (50, "second", "account")
    assert (flow.throttle_code, flow.throttle_status) == ("Throttling.User", 400)


def test_gateway_errors_and_envelope_come_from_the_protocol_file() -> None:
    protocol = OP.protocol
    assert protocol.gateway_error("SignatureDoesNotMatch").message_format is not None
    assert protocol.gateway_error("SignatureDoesNotMatch").message_format.endswith(
        "server string to sign is:{stringToSign}"
    )
    assert protocol.gateway_error("InvalidAccessKeyId.NotFound").statuses == (404, 400)
    assert protocol.error_content_type == "application/json;charset=utf-8"
    assert protocol.timestamp_skew_seconds == 900
    assert {m.id for m in protocol.signature_methods} == {"v1", "v3"}
    assert OP.status_of("Throttling.User") == 400
    assert OP.status_of("TaskAlreadyStarted") == 409


def test_lifecycle_is_complete_and_separates_undocumented_transitions() -> None:
    life = OP.lifecycle
    assert life is not None
    assert life.initial == "idle"
    assert life.timers == {"interruptionDelay": 180.0}
    commands = OP.parameter("Command").enum or ()
    for state in life.states:
        for command in commands:
            assert life.transition(state, command) is not None, (state, command)
    second_start = life.transition("recording", "start")
    assert second_start is not None
    assert (second_start.documented, second_start.error) == (True, "TaskAlreadyStarted")
    cancel = life.transition("stopped", "cancel_delay")
    assert cancel is not None
    assert (cancel.documented, cancel.target, cancel.produces_file) == (True, "idle", True)
    interrupt = life.transition("recording", "interrupt")
    assert interrupt is not None
    assert (interrupt.target, interrupt.start_timer) == ("stopped", "interruptionDelay")
    stop_idle = life.transition("idle", "stop")
    assert stop_idle is not None
    assert stop_idle.documented is False
    assert stop_idle.undocumented
    assert stop_idle.accepts_outcome("ok")
    assert not second_start.accepts_outcome("ok")


def test_every_undocumented_point_is_listed() -> None:
    pointers = [u.pointer for u in OP.undocumented]
    assert len(pointers) == len(set(pointers))
    assert "/x-flowControl/algorithm/undocumented" in pointers
    assert any(p.startswith("rpc.yaml#/freshness") for p in pointers)
    undocumented_transitions = [t for t in OP.lifecycle.transitions if not t.documented]  # type: ignore[union-attr]
    assert len(undocumented_transitions) == sum(
        1 for p in pointers if p.startswith("/x-lifecycle/transitions/undocumented/")
    )


# --- parameter rules ----------------------------------------------------------------------------

VALID = {"Command": "start", "DomainName": "a.example.com", "AppName": "app", "StreamName": "s"}


@pytest.mark.parametrize(
    ("change", "code", "parameter"),
    [
        ({"Command": None}, "MissingParam", "Command"),
        ({"StreamName": ""}, "MissingParam", "StreamName"),
        ({"Command": "pause"}, "MalformedParam", "Command"),
        ({"Command": "START"}, "MalformedParam", "Command"),
        ({"OwnerId": "12x"}, "MalformedParam", "OwnerId"),
        ({"OwnerId": str(2**63)}, "MalformedParam", "OwnerId"),
        ({"AppName": "a\nb"}, "MalformedParam", "AppName"),
    ],
)
def test_check_parameters_names_the_code_and_the_parameter(
    change: dict[str, str | None], code: str, parameter: str
) -> None:
    params = {**VALID, **change}
    problem = OP.check_parameters({k: v for k, v in params.items() if v is not None})
    assert problem is not None
    assert (problem.code, problem.parameter) == (code, parameter)
    assert parameter in problem.message


def test_check_parameters_accepts_valid_values() -> None:
    assert OP.check_parameters(VALID) is None
    assert OP.check_parameters({**VALID, "OwnerId": str(-(2**63)), "RegionId": ""}) is None


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(from_schema(request_schema(OP)))
def test_requests_generated_from_the_schema_satisfy_the_rules(params: dict[str, str]) -> None:
    assert OP.check_parameters(params) is None


_names = st.sampled_from([p.name for p in OP.parameters] + ["Extra"])
_values = st.one_of(
    st.sampled_from(["start", "stop", "cancel_delay", "restart", "", "12", "-3", "x\x00"]),
    st.text(max_size=12),
)


@settings(max_examples=300)
@given(st.dictionaries(_names, _values, max_size=7))
def test_requests_the_rules_refuse_are_refused_by_the_schema(params: dict[str, str]) -> None:
    validator = jsonschema.Draft202012Validator(request_schema(OP))
    if OP.check_parameters(params) is not None:
        assert not validator.is_valid(params)


# --- derived artefacts --------------------------------------------------------------------------


def test_response_schemas_accept_documented_bodies_and_refuse_others() -> None:
    success = jsonschema.Draft202012Validator(success_response_schema(OP))
    assert success.is_valid({"RequestId": "16A96B9A-F203-4EC5-8E43-CB92E68F4CD8"})
    assert not success.is_valid({})
    body = {
        "RequestId": "16A96B9A-F203-4EC5-8E43-CB92E68F4CD8",
        "HostId": "live.aliyuncs.com",
        "Code": "TaskAlreadyStarted",
        "Message": "x",
        "Recommend": "",
    }
    assert jsonschema.Draft202012Validator(error_response_schema(OP, 409)).is_valid(body)
    assert not jsonschema.Draft202012Validator(error_response_schema(OP, 400)).is_valid(body)
    assert not jsonschema.Draft202012Validator(error_response_schema(OP)).is_valid(
        {**body, "Code": "NoSuchCode"}
    )
    assert not jsonschema.Draft202012Validator(error_response_schema(OP)).is_valid(
        {k: v for k, v in body.items() if k != "RequestId"}
    )
    assert response_schema(OP, 418) is None
    assert response_schema(OP, 404) is not None


def test_openapi_document_is_valid_and_derived_from_the_spec() -> None:
    document = openapi_document(OP)
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/"}
    assert set(document["paths"]["/"]) == {"get", "post"}
    params = {p["name"]: p for p in document["paths"]["/"]["get"]["parameters"]}
    assert params["Action"]["schema"]["const"] == OP.name
    assert params["Version"]["schema"]["const"] == OP.product.version
    assert params["Command"]["schema"]["enum"] == list(OP.parameter("Command").enum or ())
    statuses = set(document["paths"]["/"]["post"]["responses"])
    assert {"200", "400", "403", "404", "409", "500", "503"} <= statuses
    assert set(document["components"]["securitySchemes"]) == {"AcsSignatureV1", "AcsSignatureV3"}


def test_action_catalog_comes_from_spec_and_metadata() -> None:
    catalog = spec.action_catalog()
    entry = catalog.entry("LIVE:realtimerecordcommand")
    assert entry is not None
    assert entry.resource_types[0].service == "cdn"
    assert len(catalog.known_actions) == 403
    assert "live:AddLiveDomain" in catalog.known_actions
    assert catalog.service_prefixes == frozenset({"live"})
    assert {k.key for k in catalog.global_condition_keys} >= {"acs:SourceIp", "acs:CurrentTime"}


# --- bad input: one precise message naming the file and the pointer -----------------------------


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled spec tree; returns the operation file's path."""
    shutil.copytree(
        bundled_spec_dir(), tmp_path / "spec", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path / "spec" / "live" / "2016-11-01" / "RealTimeRecordCommand.yaml"


def _problems(path: Path) -> list[str]:
    return [str(p) for p in validate_paths([path])]


@pytest.mark.parametrize("kind_line", ["", "kind: operations\n"])
def test_a_file_of_no_known_kind_is_told_so_once_not_checked_as_every_kind(
    tmp_path: Path, kind_line: str
) -> None:
    # A file without `kind` was checked against the operation, product and protocol schemas at
    # once: 32 problems (each required key twice) for a one-line file.
    path = tmp_path / "notes.yaml"
    path.write_text(f'specVersion: "1"\n{kind_line}title: my notes\n', encoding="utf-8")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:/")
    assert "kind" in problem


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("name: RealTimeRecordCommand", "name: [broken", "line "),
        (
            "      required: true\n      enum:",
            "      required: yes-please\n      enum:",
            "/parameters/0/schema/required",
        ),
        (
            'specVersion: "1"',
            'specVersion: "1"\nbogus: 1',
            ":/bogus: unknown key 'bogus'; the keys allowed here are",
        ),
        (
            "product: product.yaml",
            "product: missing.yaml",
            ":/product: the referenced file 'missing.yaml' does not exist",
        ),
        (
            "      example: start",
            "      example: begin",
            "/parameters/0/schema/example: the example is not a valid value",
        ),
        (
            "trigger: start, error: TaskAlreadyStarted}",
            "trigger: start, error: NoSuchCode}",
            "/x-lifecycle/transitions/documented/1/error: NoSuchCode is not a declared error code",
        ),
        (
            "domain/{#DomainName}",
            "domain/{#Domain}",
            "/x-ram/resourceTypes/0/arn: the placeholder {#Domain} names neither",
        ),
        (
            "      - {from: idle, trigger: start, to: recording}\n",
            "",
            "no transition says what start does in state idle",
        ),
        (
            "accepts: [ok, TaskAlreadyStarted, MalformedParam]",
            "accepts: [ok, Bogus]",
            "'Bogus' is neither 'ok' nor a documented error code",
        ),
        (
            "    errorCode: CodeConfigNotFound",
            "    errorCode: NoConfig",
            "/x-checks/2: NoConfig is neither an error code of the operation",
        ),
        (
            "name: RealTimeRecordCommand",
            "name: RealTimeRecordCommand\nname: Again",
            "appears twice",
        ),
        (
            "  resource: recordingTask\n  initial",
            "  of: recordingTask\n  initial",
            "unknown key 'of'",
        ),
    ],
)
def test_broken_specs_get_a_precise_message(
    spec_copy: Path, old: str, new: str, expected: str
) -> None:
    text = spec_copy.read_text(encoding="utf-8")
    assert old in text
    spec_copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = _problems(spec_copy)
    assert problems, "the broken spec was accepted"
    assert all(p.startswith(str(spec_copy) + ":") for p in problems)
    assert any(expected in p for p in problems), problems


def test_non_utf8_and_non_mapping_files_are_problems_not_crashes(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"\xff\xfe\x00bad")
    (tmp_path / "b.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    problems = _problems(tmp_path)
    assert any("a.yaml" in p and "not UTF-8" in p for p in problems)
    assert any("b.yaml" in p and "must hold a mapping" in p for p in problems)


def test_load_operation_raises_spec_error_listing_problems(spec_copy: Path) -> None:
    text = spec_copy.read_text(encoding="utf-8").replace("limit: 50", "limit: fifty")
    spec_copy.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_operation(spec_copy)
    assert "/x-flowControl/limit" in str(caught.value)
    assert str(spec_copy) in str(caught.value)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_validate_never_crashes_on_arbitrary_text(tmp_path: Path, text: str) -> None:
    target = tmp_path / "fuzz.yaml"
    target.write_text(text, encoding="utf-8")
    problems = validate_paths([target])
    assert all(p.file == str(target) for p in problems)


@pytest.mark.parametrize("value", ["0000-0-0 0:00:00", "2020-13-01", "2020-01-01 10:00:00+30:00"])
def test_a_date_that_names_no_day_is_one_problem_at_its_line(tmp_path: Path, value: str) -> None:
    # YAML reads these as timestamps; PyYAML's own error is a ValueError without a position.
    target = tmp_path / "dates.yaml"
    target.write_text(f"name: x\nwhen: {value}\n", encoding="utf-8")
    (problem,) = validate_paths([target])
    assert problem.file == str(target)
    assert problem.message.startswith("line 2, column 7: ")
    assert "a value that reads as a date names no real day" in problem.message
    assert value not in problem.message  # a seed read with the same loader may hold secrets


def test_resolve_operation_by_short_and_qualified_name() -> None:
    assert spec.resolve_operation("RealTimeRecordCommand") == SPEC_FILE
    assert spec.resolve_operation("live/2016-11-01/RealTimeRecordCommand") == SPEC_FILE
    with pytest.raises(spec.SpecError.__mro__[2]):  # UsageError's base, AcsContractError
        spec.resolve_operation("live/2099-01-01/RealTimeRecordCommand")


def test_spec_is_json_serialisable_through_show() -> None:
    from acscontract.cli._spec import normalized

    # Values kept on the spec objects once used (memos) are not part of it, whatever ran first.
    OP.parameter_names  # noqa: B018 - fills a memo
    OP.malformed_parameter({})
    data = normalized(OP)
    assert json.loads(json.dumps(data))["ram"]["action"] == OP.ram.action
    assert "_memo" not in data


@pytest.mark.parametrize(
    "change", [{"AppName": "app\n"}, {"OwnerId": "12\n"}, {"StreamName": "s\x7f"}]
)
def test_schema_refuses_trailing_newlines_and_control_characters(change: dict[str, str]) -> None:
    """Python's `$` matches before a final newline; the derived patterns must not."""
    params = {**VALID, **change}
    assert OP.check_parameters(params) is not None
    assert not jsonschema.Draft202012Validator(request_schema(OP)).is_valid(params)


def test_the_endpoint_rules_name_every_listed_regional_endpoint() -> None:
    rules = OP.product.protocol.endpoint_rules
    assert rules is not None
    patterns = [re.compile(p) for p in rules.host_patterns(OP.product.name)]
    for host in {OP.product.default_endpoint, *OP.product.endpoints.values()}:
        assert rules.is_under_domain(host), host
        assert any(p.fullmatch(host) for p in patterns), host
    assert not any(p.fullmatch(f"{OP.product.name}.evil.test") for p in patterns)
    assert not rules.is_under_domain(f"not{rules.domain}")


def _protocol_problems(spec_copy: Path, old: str, new: str) -> tuple[Path, list[str]]:
    """The problems of the spec copy's protocol file with its first `old` replaced by `new`."""
    protocol = spec_copy.parents[2] / "protocols" / "rpc.yaml"
    text = protocol.read_text(encoding="utf-8")
    assert old in text
    protocol.write_text(text.replace(old, new, 1), encoding="utf-8")
    return protocol, _problems(protocol)


def test_an_unknown_endpoint_template_field_gets_a_precise_message(spec_copy: Path) -> None:
    protocol, problems = _protocol_problems(
        spec_copy, "{product}{network}.{regionId}.{domain}", "{product}.{zone}.{domain}"
    )
    assert any(
        p.startswith(f"{protocol}:/endpointRules/templates/0: unknown template field(s) zone")
        for p in problems
    ), problems


def test_a_boolean_spelling_of_both_values_is_a_spec_problem(spec_copy: Path) -> None:
    protocol, problems = _protocol_problems(
        spec_copy, '"false": ["false", "False"]', '"false": ["false", "True"]'
    )
    assert f"{protocol}:/booleanValues: True spells both true and false" in problems


def test_a_broken_protocol_file_is_one_problem_not_one_per_operation(tmp_path: Path) -> None:
    source = bundled_spec_dir()
    tree = tmp_path / "spec"
    for part in ("protocols", "_meta"):
        shutil.copytree(source / part, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
    folder = tree / "live" / "2016-11-01"
    folder.mkdir(parents=True)
    for name in (
        "product",
        "RealTimeRecordCommand",
        "AddLiveAppRecordConfig",
        "DeleteSnapshotFiles",
    ):
        shutil.copy(source / "live" / "2016-11-01" / f"{name}.yaml", folder)
    protocol = tree / "protocols" / "rpc.yaml"
    text = protocol.read_text(encoding="utf-8")
    protocol.write_text(text.replace("\nfreshness:", "\nfreshnes:", 1), encoding="utf-8")
    problems = _problems(tree)
    assert any(p.startswith(f"{protocol}:/: 'freshness' is a required property") for p in problems)
    assert len(problems) == len(set(problems)) == 2, problems  # and `freshnes` is unknown


# --- the precompiled cache: read back when nothing changed, rebuilt when anything did ----------


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "spec"
    shutil.copytree(bundled_spec_dir(), root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.delenv("ACSCONTRACT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    return root


def _counting_build(calls: list[int], value: object) -> Callable[[], object]:
    def build() -> object:
        calls.append(1)
        return value

    return build


def test_the_cache_is_read_back_until_a_file_changes(cache_root: Path) -> None:
    calls: list[int] = []
    assert cached("probe", cache_root, _counting_build(calls, {"n": 1})) == {"n": 1}
    assert cached("probe", cache_root, _counting_build(calls, {"n": 2})) == {"n": 1}  # from disk
    assert len(calls) == 1
    written = list((cache_root / "__pycache__").glob("acscontract-probe-*.pickle"))
    assert len(written) == 1  # next to the spec, like bytecode
    # Same size, new content (and so a new modification time): a miss, never a stale answer.
    operation_file = cache_root / "live" / "2016-11-01" / "RealTimeRecordCommand.yaml"
    text = operation_file.read_text(encoding="utf-8")
    before = operation_file.stat()
    operation_file.write_text(text.replace("Starts", "Begins", 1), encoding="utf-8")
    os.utime(operation_file, ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    assert operation_file.stat().st_size == before.st_size
    assert cached("probe", cache_root, _counting_build(calls, {"n": 3})) == {"n": 3}
    # A new file is a miss too, and the old entry is replaced, not kept.
    (cache_root / "live" / "2016-11-01" / "New.yaml").write_text("x: 1\n", encoding="utf-8")
    assert cached("probe", cache_root, _counting_build(calls, {"n": 4})) == {"n": 4}
    assert len(list((cache_root / "__pycache__").glob("acscontract-probe-*.pickle"))) == 1


def test_a_read_only_package_falls_back_to_the_user_cache_then_memory(
    cache_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cache_root / "__pycache__").write_text("a file where the folder would go", encoding="utf-8")
    calls: list[int] = []
    assert cached("probe", cache_root, _counting_build(calls, 1)) == 1
    assert list((tmp_path / "user-cache" / "acscontract").glob("acscontract-probe-*.pickle"))
    assert cached("probe", cache_root, _counting_build(calls, 2)) == 1
    # Nowhere writable: the value is still right, only not kept.
    monkeypatch.setenv("ACSCONTRACT_CACHE_DIR", str(cache_root / "__pycache__" / "below-a-file"))
    assert cached("probe", cache_root, _counting_build(calls, 3)) == 3
    monkeypatch.setenv("ACSCONTRACT_CACHE_DIR", "off")
    assert cache_directories(cache_root) == []
    assert cached("probe", cache_root, _counting_build(calls, 4)) == 4


def test_a_corrupt_or_foreign_cache_file_is_a_miss(cache_root: Path) -> None:
    calls: list[int] = []
    cached("probe", cache_root, _counting_build(calls, "first"))
    (entry,) = (cache_root / "__pycache__").glob("acscontract-probe-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert cached("probe", cache_root, _counting_build(calls, "rebuilt")) == "rebuilt"
    entry.write_bytes(pickle.dumps((("another", "key"), "foreign")))
    assert cached("probe", cache_root, _counting_build(calls, "again")) == "again"


def test_the_cached_catalog_is_the_catalog_the_spec_builds() -> None:
    from acscontract.spec._catalog import _build_catalog

    assert action_catalog() == _build_catalog(bundled_spec_dir())


def test_reading_the_catalog_imports_neither_yaml_nor_jsonschema() -> None:
    code = (
        "import sys; from acscontract.spec import action_catalog; action_catalog(); "
        "from acscontract.ram._lint import Linter; Linter().check_source('{}'); "
        "print(sorted(m for m in ('yaml', 'jsonschema', 'rich', 'requests') if m in sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # builds it
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"


def test_spec_public_names_resolve() -> None:
    for name in spec.__all__:
        assert getattr(spec, name) is not None


def test_an_operation_pickles_after_its_values_were_checked(cache_root: Path) -> None:
    # CI on main found this: a parameter keeps its JSON Schema validator once a structured value
    # was checked, and the cache then failed to pickle the operation that held it.
    from acscontract.spec import operation

    op = operation("AddCasterLayout")
    structured = next(p for p in op.parameters if p.structured)
    # Checking a structured value builds the validator and keeps it on the parameter.
    op.malformed_parameter({f"{structured.name}.1": "x", structured.name: "[]"})
    assert "validator" in structured._memo
    copy = pickle.loads(pickle.dumps(op))  # noqa: S301 - our own bytes
    assert copy == op
    assert not next(p for p in copy.parameters if p.name == structured.name)._memo
    # A value the cache cannot keep is still returned, only not written.
    calls: list[int] = []
    unpicklable = lambda: None  # noqa: E731
    assert cached("lambda", cache_root, _counting_build(calls, unpicklable)) is unpicklable
    assert not list((cache_root / "__pycache__").glob("acscontract-lambda-*.pickle"))


def _laughs(levels: int) -> str:
    """A "billion laughs" YAML file: each level lists the one before nine times."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        previous = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{previous}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_laughs(8), "its aliases expand the document to more than 1,000,000 values"),
        ("a: &a [1, *a]\n", "an alias refers to a value that contains it"),
    ],
)
def test_yaml_aliases_that_explode_or_loop_are_one_problem_found_at_once(
    tmp_path: Path, text: str, message: str
) -> None:
    # Aliases let a few lines stand for hundreds of millions of values: a seed of eight such
    # levels took 11 s to refuse, and each further level nine times as long. A value that
    # contains itself recursed without end.
    target = tmp_path / "aliases.yaml"
    target.write_text(text, encoding="utf-8")
    (problem,) = validate_paths([target])
    assert message in problem.message
    assert problem.message.startswith("line ")


def test_yaml_aliases_within_the_limit_are_read_as_usual(tmp_path: Path) -> None:
    target = tmp_path / "aliases.yaml"
    target.write_text(_laughs(4), encoding="utf-8")  # 59,049 values
    data = load_document(target)
    assert data["l4"][0][0][0][0] == ["lol"] * 9
