"""The Live product emulator: every action answered, the recording workflow modelled.

The workflow runs with the official new SDK, unchanged, against the served emulator and through
`mock_live`: a start on an app without a record configuration fails, a configuration is added
(twice: a conflict), described, recorded into (start, stop, cancel_delay), its file found by
time window and by RecordId, then deleted, and a start fails again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
import pytest
from alibabacloud_live20161101 import models
from alibabacloud_live20161101.client import Client as LiveClient
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from alibabacloud_tea_openapi.models import Config
from aliyunsdkcore.acs_exception.exceptions import ServerException as LegacyServerException
from aliyunsdkcore.auth.credentials import AccessKeyCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdklive.request.v20161101.CheckLiveMessageUsersInGroupRequest import (
    CheckLiveMessageUsersInGroupRequest as LegacyCheckUsersInGroup,
)
from aliyunsdklive.request.v20161101.DeleteSnapshotFilesRequest import (
    DeleteSnapshotFilesRequest as LegacyDeleteSnapshotFiles,
)

from acscontract.client import Client
from acscontract.emulator import (
    EMULATION_HEADER,
    Emulator,
    ManualClock,
    StateDatabase,
    mock_live,
    serve_in_thread,
    signed_request,
)
from acscontract.signing import Credentials
from acscontract.spec import (
    example_parameters,
    example_value,
    operation,
    operation_names,
    product_operation,
)
from acscontract.spec._values import json_schema

OP = operation()
PRODUCT = OP.product
LIFECYCLE = OP.lifecycle
assert LIFECYCLE is not None
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
ACCOUNT = "1234567890123456"
DOMAIN, APP, STREAM = "push.example.com", "norecord", "stream1"
DELAY = LIFECYCLE.timers["interruptionDelay"]


def _layout(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(OP.protocol.timestamp_format)


# --- every action is answered --------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator()
    with serve_in_thread(emulator) as url:
        yield emulator, url


def test_the_served_emulator_answers_every_live_action(served: tuple[Emulator, str]) -> None:
    """Each of the product's operations, called with valid parameters, gets an answer its spec
    documents: a 200 whose body validates against its response schema, marked modelled or
    schema-only, or (for a modelled operation) one of its documented errors."""
    emulator, url = served
    client = Client(url, ROOT)
    names = operation_names(PRODUCT)
    assert len(names) == 403
    answered = {"modelled": 0, "schema-only": 0}
    for name in names:
        op = product_operation(PRODUCT, name)
        assert op is not None
        pairs = dict(example_parameters(op))
        if "DomainName" in pairs:
            pairs["DomainName"] = DOMAIN
        response = client.call(op.name, PRODUCT.version, pairs)
        if response.status == 200:
            jsonschema.validate(response.json, json_schema(op.success_schema))
            assert response.headers[EMULATION_HEADER] == (
                "modelled" if op.modelled else "schema-only"
            )
            answered[response.headers[EMULATION_HEADER]] += 1
        else:
            assert op.modelled, f"{name}: {response.status} {response.text[:200]}"
            assert response.code in op.all_error_codes, (name, response.code)
            assert response.status in op.documented_statuses(str(response.code))
    assert answered["schema-only"] == sum(
        1
        for n in names
        if not product_operation(PRODUCT, n).modelled  # type: ignore[union-attr]
    )
    assert emulator.unplanned_errors == 0


def test_unmodelled_operations_are_refused_on_request() -> None:
    strict = Emulator(unmodelled="refuse")
    op = product_operation(PRODUCT, "DescribeLiveDomainDetail")
    assert op is not None
    assert not op.modelled
    response = strict.handle(
        signed_request(example_parameters(op), ROOT, action=op.name, operation=op)
    )
    refusal = OP.protocol.gateway_error_for("unmodelledOperation")
    assert (response.status, json.loads(response.body)["Code"]) == (
        refusal.http_status,
        refusal.code,
    )
    # modelled operations still run
    assert strict.handle(signed_request(_rtrc("start", "live"), ROOT)).status == 200


def _rtrc(command: str, app: str = APP, stream: str = STREAM) -> dict[str, str]:
    return {"Command": command, "DomainName": DOMAIN, "AppName": app, "StreamName": stream}


def test_flow_control_is_per_operation_from_its_spec() -> None:
    """Each operation has its own per-account budget, from its documented limit."""
    clock = ManualClock()
    emulator = Emulator(clock=clock)
    files = product_operation(PRODUCT, "DescribeLiveStreamRecordIndexFiles")
    assert files is not None
    assert files.flow_control.limit is not None
    now = clock.now()
    params = {
        "DomainName": DOMAIN,
        "AppName": "live",
        "StreamName": "stream1",
        "StartTime": _layout(now - 3600),
        "EndTime": _layout(now),
    }
    codes = [
        emulator.handle(signed_request(params, ROOT, action=files.name, operation=files))
        for _ in range(files.flow_control.limit + 1)
    ]
    assert [r.status for r in codes[:-1]] == [200] * files.flow_control.limit
    assert json.loads(codes[-1].body)["Code"] == files.flow_control.throttle_code or (
        OP.protocol.gateway_error_for("accountThrottled").code
    )
    # Another operation's budget is untouched.
    assert emulator.handle(signed_request(_rtrc("start", "live"), ROOT)).status == 200
    clock.advance(files.flow_control.per_seconds)
    again = emulator.handle(signed_request(params, ROOT, action=files.name, operation=files))
    assert again.status == 200


def test_ram_authorises_each_action_on_its_documented_resource() -> None:
    """A RAM user may call what its policy allows: `live:<Action>` on `*` where the spec does not
    document the action's resource, on the documented ARN where it does."""
    seed = Emulator().seed.to_json()
    account = seed["accounts"][0]
    account["access_keys"].append(
        {"id": "LTAItestReader0000001", "secret": "reader-secret-not-real", "user": "reader"}
    )
    account["users"].append(
        {
            "name": "reader",
            "policies": [
                {
                    "Version": "1",
                    "Statement": [{"Effect": "Allow", "Action": "live:Describe*", "Resource": "*"}],
                }
            ],
        }
    )
    emulator = Emulator(seed)
    reader = Credentials("LTAItestReader0000001", "reader-secret-not-real")
    describe = product_operation(PRODUCT, "DescribeLiveRecordConfig")
    add = product_operation(PRODUCT, "AddLiveAppRecordConfig")
    assert describe is not None
    assert add is not None
    allowed = emulator.handle(
        signed_request({"DomainName": DOMAIN}, reader, action=describe.name, operation=describe)
    )
    assert allowed.status == 200
    denied = emulator.handle(
        signed_request(
            {"DomainName": DOMAIN, "AppName": APP, "OssEndpoint": "e", "OssBucket": "b"},
            reader,
            action=add.name,
            operation=add,
        )
    )
    document = json.loads(denied.body)
    assert document["Code"] == OP.protocol.gateway_error_for("permissionDenied").code
    assert document["AccessDeniedDetail"]["AuthAction"] == add.ram.action
    assert emulator.state.find("recordConfig", AppName=APP) == []


# --- the recording workflow with the official SDK ------------------------------------------


def _client(endpoint: str, protocol: str) -> LiveClient:
    return LiveClient(
        Config(
            access_key_id=ROOT.access_key_id,
            access_key_secret=ROOT.access_key_secret,
            endpoint=endpoint,
            protocol=protocol,
        )
    )


def _code(call: Callable[[], Any]) -> str | None:
    try:
        call()
    except ClientException as error:
        return str(error.code)
    return None


def workflow(client: LiveClient, emulator: Emulator, *, use_async: bool = False) -> None:
    """The Done-when workflow of the Live product emulator issue, step by step."""

    def run(method: str, request: Any) -> Any:
        if use_async:
            return asyncio.run(getattr(client, f"{method}_async")(request))
        return getattr(client, method)(request)

    command = lambda c: models.RealTimeRecordCommandRequest(  # noqa: E731
        command=c, domain_name=DOMAIN, app_name=APP, stream_name=STREAM
    )
    config_missing = OP.check_code("recordConfig")
    # 1. start on an app without a configuration fails
    assert _code(lambda: run("real_time_record_command", command("start"))) == config_missing
    # 2. add a configuration, then add it again (conflict)
    add = models.AddLiveAppRecordConfigRequest(
        domain_name=DOMAIN,
        app_name=APP,
        oss_endpoint="oss-cn-shanghai.aliyuncs.com",
        oss_bucket="workflow-bucket",
        on_demand=7,
        record_format=[
            models.AddLiveAppRecordConfigRequestRecordFormat(format="m3u8", slice_duration=30)
        ],
    )
    assert run("add_live_app_record_config", add).status_code == 200
    conflict = product_operation(PRODUCT, "AddLiveAppRecordConfig").effect.conflict  # type: ignore[union-attr]
    assert _code(lambda: run("add_live_app_record_config", add)) == conflict
    # 3. describe it
    described = run(
        "describe_live_record_config",
        models.DescribeLiveRecordConfigRequest(domain_name=DOMAIN, app_name=APP),
    ).body
    assert described.total_num == 1
    (config,) = described.live_app_record_list.live_app_record
    assert (config.oss_bucket, config.on_demond, config.app_name) == ("workflow-bucket", 7, APP)
    assert config.record_format_list.record_format[0].format == "m3u8"
    # 4. start, stop, cancel_delay
    started = emulator.clock.now()
    assert run("real_time_record_command", command("start")).status_code == 200
    emulator.advance_clock(42)
    assert run("real_time_record_command", command("stop")).status_code == 200
    assert run("real_time_record_command", command("cancel_delay")).status_code == 200
    # 5. find the file by time window, then by RecordId
    files = run(
        "describe_live_stream_record_index_files",
        models.DescribeLiveStreamRecordIndexFilesRequest(
            domain_name=DOMAIN,
            app_name=APP,
            stream_name=STREAM,
            start_time=_layout(started - 60),
            end_time=_layout(started + 3600),
        ),
    ).body
    assert files.total_num == 1
    (found,) = files.record_index_info_list.record_index_info
    assert found.oss_bucket == "workflow-bucket"
    assert found.duration == pytest.approx(42, abs=2)
    outside = run(
        "describe_live_stream_record_index_files",
        models.DescribeLiveStreamRecordIndexFilesRequest(
            domain_name=DOMAIN,
            app_name=APP,
            stream_name=STREAM,
            start_time=_layout(started - 7200),
            end_time=_layout(started - 3600),
        ),
    ).body
    assert outside.total_num == 0
    one = run(
        "describe_live_stream_record_index_file",
        models.DescribeLiveStreamRecordIndexFileRequest(
            domain_name=DOMAIN, app_name=APP, stream_name=STREAM, record_id=found.record_id
        ),
    ).body
    assert one.record_index_info.record_id == found.record_id
    assert one.record_index_info.record_url == found.record_url
    # 6. delete the configuration, and start fails again
    deleted = run(
        "delete_live_app_record_config",
        models.DeleteLiveAppRecordConfigRequest(domain_name=DOMAIN, app_name=APP),
    )
    assert deleted.status_code == 200
    assert _code(lambda: run("real_time_record_command", command("start"))) == config_missing
    # The emulator's own view agrees with what the SDK saw.
    (recording,) = emulator.recordings()
    assert recording.fields["RecordId"] == found.record_id
    assert recording.reason == "cancel_delay"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_the_recording_workflow_against_the_served_emulator(use_async: bool) -> None:
    emulator = Emulator(clock=ManualClock())
    with serve_in_thread(emulator) as url:
        workflow(_client(url.split("://", 1)[1], "http"), emulator, use_async=use_async)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_the_recording_workflow_through_mock_live(use_async: bool) -> None:
    with mock_live(passthrough=False) as emulator:
        workflow(_client(PRODUCT.default_endpoint, "https"), emulator, use_async=use_async)


def test_the_workflow_survives_a_restart_of_the_served_state(tmp_path: Any) -> None:
    """Record configurations and recordings are world records: the live store keeps them."""
    path = tmp_path / "emulator.db"
    emulator = Emulator(clock=ManualClock())
    add = product_operation(PRODUCT, "AddLiveAppRecordConfig")
    assert add is not None
    with StateDatabase(path) as database:
        emulator.attach(database)
        params = {"DomainName": DOMAIN, "AppName": APP, "OssEndpoint": "e", "OssBucket": "b"}
        assert (
            emulator.handle(signed_request(params, ROOT, action=add.name, operation=add)).status
            == 200
        )
        emulator.detach()
    again = Emulator(clock=ManualClock())
    with StateDatabase(path) as database:
        assert again.attach(database) is True
        assert [c["OssBucket"] for c in again.state.find("recordConfig", AppName=APP)] == ["b"]
        assert again.handle(signed_request(_rtrc("start"), ROOT)).status == 200
        again.detach()


def test_an_admin_change_alone_is_written_to_the_live_store(tmp_path: Any) -> None:
    """A change no request made (a stream going offline through the admin API) is durable too."""
    path = tmp_path / "emulator.db"
    binding = PRODUCT.seed
    assert binding is not None
    with StateDatabase(path) as database:
        emulator = Emulator(clock=ManualClock())
        emulator.attach(database)
        emulator.set_stream_online(DOMAIN, "live", "stream3", False)
        emulator.detach()
    with StateDatabase(path) as database:
        again = Emulator(clock=ManualClock())
        assert again.attach(database) is True
        assert again.state.streams[(DOMAIN, "live", "stream3")] is False
        again.detach()


def test_mock_live_answers_or_refuses_unmodelled_actions_through_the_official_sdk() -> None:
    request = models.DescribeLiveDomainDetailRequest(domain_name=DOMAIN)
    mock = mock_live()
    with mock:
        client = _client("live.aliyuncs.com", "https")
        body = client.describe_live_domain_detail(request).body
        assert body.request_id  # a body built from the response schema, parsed by the SDK
        assert dict(mock.calls[-1].response.headers)[EMULATION_HEADER] == "schema-only"
    with mock_live(unmodelled="refuse"):
        client = _client("live.aliyuncs.com", "https")
        refusal = OP.protocol.gateway_error_for("unmodelledOperation")
        with pytest.raises(ServerException) as raised:  # a 5xx, as the SDK classifies it
            client.describe_live_domain_detail(request)
        assert (raised.value.code, raised.value.status_code) == (
            refusal.code,
            refusal.http_status,
        )
        # the recording workflow is modelled, so it still runs
        start = models.RealTimeRecordCommandRequest(
            command="start", domain_name=DOMAIN, app_name="live", stream_name=STREAM
        )
        assert _code(lambda: client.real_time_record_command(start)) is None
    with pytest.raises(ValueError, match="unmodelled='strict'; it is one of answer, refuse"):
        mock_live(unmodelled="strict")
    with pytest.raises(ValueError, match="both a state and unmodelled"):
        mock_live(state=Emulator(), unmodelled="refuse")


def _sent(request: Any) -> dict[str, str]:
    """The parameters a call to the mock carried, in its query and its form body."""
    return dict(parse_qsl(request.query) + parse_qsl(request.body.decode()))


def test_booleans_are_taken_as_both_python_sdks_send_them() -> None:
    """The Python SDKs write a bool with `str()` (`RemoveFile=True`); the protocol spec lists the
    spellings the gateway takes, and the emulator takes every one of them and no other."""
    the_op = product_operation(PRODUCT, "DeleteSnapshotFiles")
    assert the_op is not None
    assert the_op.parameter("RemoveFile").type == "boolean"
    mock = mock_live()
    with mock:
        client = _client("live.aliyuncs.com", "https")
        for remove in (True, False):
            request = models.DeleteSnapshotFilesRequest(
                domain_name=DOMAIN,
                app_name="live",
                stream_name=STREAM,
                create_timestamp_list=[1700000000000],
                remove_file=remove,
            )
            assert client.delete_snapshot_files(request).body.request_id
            assert _sent(mock.calls[-1].request)["RemoveFile"] == str(remove)
        legacy = AcsClient(
            region_id="cn-shanghai",
            credential=AccessKeyCredential(ROOT.access_key_id, ROOT.access_key_secret),
        )
        old = LegacyDeleteSnapshotFiles()
        old.set_DomainName(DOMAIN)
        old.set_AppName("live")
        old.set_StreamName(STREAM)
        old.set_CreateTimestampLists([1700000000000])
        old.set_RemoveFile(True)
        assert json.loads(legacy.do_action_with_exception(old))["RequestId"]
        assert _sent(mock.calls[-1].request)["RemoveFile"] == "True"
    spellings = OP.protocol.boolean_values
    assert {"True", "False"} <= set(spellings)
    emulator = Emulator()

    def call(spelling: str) -> Any:
        params = dict(example_parameters(the_op), RemoveFile=spelling)
        return emulator.handle(signed_request(params, ROOT, action=the_op.name, operation=the_op))

    for spelling in spellings:
        assert call(spelling).status == 200
    refused = call("TRUE")
    assert refused.status == 400
    body = json.loads(refused.body)
    assert body["Code"] == OP.protocol.gateway_error_for("malformedParameter").code
    assert "RemoveFile" in body["Message"]


def test_a_simple_array_is_read_comma_joined_only_as_the_spec_says() -> None:
    """`parameterStyles.undocumented`: the new SDK joins a `simple` array with commas and is
    answered; the legacy SDK numbers it, which the emulator does not read (MissingParameter)."""
    assert "numbered" in OP.protocol.raw["parameterStyles"]["undocumented"]
    the_op = product_operation(PRODUCT, "CheckLiveMessageUsersInGroup")
    assert the_op is not None
    assert the_op.parameter("UserIds").style == "simple"
    required = {p.name: str(example_value(p.schema)) for p in the_op.required_parameters}
    mock = mock_live()
    with mock:
        client = _client("live.aliyuncs.com", "https")
        request = models.CheckLiveMessageUsersInGroupRequest(
            app_id=required["AppId"], group_id=required["GroupId"], user_ids=["u1", "u2"]
        )
        assert client.check_live_message_users_in_group(request).body.request_id
        assert _sent(mock.calls[-1].request)["UserIds"] == "u1,u2"
        legacy = AcsClient(
            region_id="cn-shanghai",
            credential=AccessKeyCredential(ROOT.access_key_id, ROOT.access_key_secret),
        )
        old = LegacyCheckUsersInGroup()
        old.set_AppId(required["AppId"])
        old.set_GroupId(required["GroupId"])
        old.set_UserIds(["u1", "u2"])
        with pytest.raises(LegacyServerException) as raised:
            legacy.do_action_with_exception(old)
        assert raised.value.get_error_code() == "MissingParameter"
        assert _sent(mock.calls[-1].request)["UserIds.2"] == "u2"


def test_a_streams_own_record_configuration_wins_over_its_apps() -> None:
    """The lifecycle copies from `[$StreamName, ""]`: the stream's own configuration first, even
    when the app's was there before it (the seed's app configuration is older)."""
    clock = ManualClock()
    emulator = Emulator(clock=clock)
    add = product_operation(PRODUCT, "AddLiveAppRecordConfig")
    assert add is not None
    own = {
        "DomainName": DOMAIN,
        "AppName": "live",
        "StreamName": STREAM,
        "OssEndpoint": "oss-cn-beijing.aliyuncs.com",
        "OssBucket": "stream-own-bucket",
        "DelayTime": "20",
        "RecordFormat.1.Format": "m3u8",
        "RecordFormat.1.OssObjectPrefix": "own/{StreamName}/{EscapedStartTime}",
    }
    added = emulator.handle(signed_request(own, ROOT, action=add.name, operation=add))
    assert added.status == 200, added.body
    assert emulator.handle(signed_request(_rtrc("start", "live"), ROOT)).status == 200
    clock.advance(5)
    assert emulator.handle(signed_request(_rtrc("stop", "live"), ROOT)).status == 200
    emulator.advance_clock(20)  # the stream's DelayTime, not the app's nor the default 180 s
    (recording,) = [r for r in emulator.state.find("recording") if r["StreamName"] == STREAM]
    assert recording["OssBucket"] == "stream-own-bucket"
    assert recording["OssEndpoint"] == "oss-cn-beijing.aliyuncs.com"


def test_paged_lists_mark_and_keep_their_undocumented_page_numbers() -> None:
    """What a PageNum below 1 or past the last page gets is not documented: every paged list's
    spec says so, and the emulator answers as that note says (page 1, an empty page)."""
    paged = [
        op
        for name in operation_names(PRODUCT)
        if (op := product_operation(PRODUCT, name)) is not None
        and op.effect is not None
        and op.effect.paging is not None
    ]
    assert {op.name for op in paged} >= {"DescribeLiveStreamRecordIndexFiles"}
    for op in paged:
        assert any(p.pointer == "/x-effect/paging/undocumented" for p in op.undocumented), op.name
    configs = product_operation(PRODUCT, "DescribeLiveRecordConfig")
    assert configs is not None
    assert configs.effect is not None
    paging = configs.effect.paging
    assert paging is not None
    emulator = Emulator()

    def page(number: str) -> dict[str, Any]:
        params = {"DomainName": DOMAIN, paging.page_num: number}
        response = emulator.handle(
            signed_request(params, ROOT, action=configs.name, operation=configs)
        )
        assert response.status == 200, response.body
        body: dict[str, Any] = json.loads(response.body)
        return body

    def without_id(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k != "RequestId"}

    first = page("1")
    assert first[paging.page_num] == 1
    assert first[paging.total_num or ""] >= 1
    for below in ("0", "-3"):
        assert without_id(page(below)) == without_id(first)
    beyond = page(str(int(first[paging.total_page or ""]) + 1))
    *path, last = (configs.effect.items or "").split(".")
    container = beyond
    for part in path:
        container = container[part]
    assert container[last] == []
    assert beyond[paging.total_num or ""] == first[paging.total_num or ""]
