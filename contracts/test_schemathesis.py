"""schemathesis over the OpenAPI 3.1 document derived from the spec.

Every request is signed by an acscontract `requests` auth (V1 and V3 in turn). The document's
resource parameters are narrowed to the target's domain, app and streams, so positive cases reach
the operation. schemathesis' own checks run, except "positive data is accepted", which the
recording lifecycle makes wrong for this API (a second start is refused with 409): instead, a
positive case must get 200 or a state error the lifecycle model explains from the stream's state
before the call (read from the admin API). On a real account, a positive case that names the
stream is sent to a stream that does not exist instead, so that none can start a recording, and
must get the stream-online error. Negative cases may get any documented client error, 409
included.
"""

from __future__ import annotations

import itertools
import threading
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pytest
import requests
import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from acscontract.client import sign_prepared
from acscontract.contracts.checks import Observed, checks_for, outcome_of
from acscontract.contracts.lifecycle import LifecycleModel
from acscontract.contracts.plan import settings_for
from acscontract.contracts.plugin import (
    profile_name,
    profile_settings,
    selection,
    target_options,
)
from acscontract.contracts.strategies import OK, parameter_errors, ram_refusals
from acscontract.contracts.suite import ContractViolation
from acscontract.contracts.targets import (
    EMULATOR_TARGETS,
    planned_resources,
    target_is_emulator,
)
from acscontract.signing import Header, Param, Scheme, encode_pairs
from acscontract.spec import openapi_document

pytestmark = [pytest.mark.acscontract_area("schemathesis"), pytest.mark.mutates_state]

# The operations with a lifecycle among the run's (the reference operation by default): each
# gets its own OpenAPI document and test.
SELECTION = selection()
OPERATIONS = {op.name: op for op in SELECTION.lifecycle}


def observed(response) -> Observed:
    """A schemathesis response in the shape acscontract's checks read."""
    headers = {k.lower(): ", ".join(v) for k, v in response.headers.items()}
    return Observed(response.status_code, headers, response.text)


@schemathesis.check
def acscontract_response_contract(ctx, response, case):
    """acscontract's response checks (status per code, envelope, content type, RequestId)."""
    action = (case.query or {}).get(Param.ACTION)
    op = OPERATIONS.get(action) if isinstance(action, str) else None
    op = op or SELECTION.primary
    violations = checks_for(op).check(observed(response))
    if violations:
        raise ContractViolation("\n".join(str(v) for v in violations))


class SigningAuth(requests.auth.AuthBase):
    """Signs each prepared request with the target's key, V1 and V3 in turn, taking Action and
    Version from the query schemathesis generated (so a negative case keeps its wrong ones)."""

    def __init__(self, target):
        self.target = target
        known = {s.value for s in Scheme}
        methods = [Scheme(m.id) for m in target.op.protocol.signature_methods if m.id in known]
        self.schemes = itertools.cycle(methods)
        self.lock = threading.Lock()

    def __call__(self, prepared):
        # schemathesis fills the spec's security schemes with placeholders (an empty
        # Authorization header, an empty Signature parameter); the real signature replaces them.
        prepared.headers.pop(Header.AUTHORIZATION.value, None)
        parts = urlsplit(prepared.url)
        pairs = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k != Param.SIGNATURE
        ]
        prepared.url = urlunsplit(parts._replace(query=encode_pairs(pairs)))
        query = dict(pairs)
        with self.lock:
            scheme = next(self.schemes)
        if not all(_header_safe(query.get(name)) for name in (Param.ACTION, Param.VERSION)):
            scheme = Scheme.V1  # V3 carries Action and Version in headers; these cannot be
        action, version = query.get(Param.ACTION), query.get(Param.VERSION)
        # Counted, paced, and within the recording budget, like every request of the suite.
        sending = self.target.begin(action, version, pairs)
        self.target.pacer.wait()
        prepared.register_hook(
            "response", lambda response, *_, **__: self.target.finish(sending, response.status_code)
        )
        return sign_prepared(
            prepared,
            self.target.credentials,
            action=action,
            version=version,
            scheme=scheme,
            timestamp=self.target.now(),
        )


def _header_safe(value):
    """Whether `value` may travel in an HTTP header (printable ASCII; RFC 9110 field values)."""
    return value is None or (value.isascii() and value.isprintable())


def target_document(op, resources, own_emulator) -> dict:
    """The spec's OpenAPI document of `op`, narrowed to the target's resources."""
    document = openapi_document(op)
    key = op.lifecycle.key
    values = {}
    if resources is not None:
        values = {
            key[0]: [resources.domain],
            key[1]: [resources.app],
            key[2]: list(resources.streams),
        }
    optional = {p.name for p in op.parameters if not p.required}
    for operation_object in document["paths"]["/"].values():
        kept = []
        for parameter in operation_object["parameters"]:
            if parameter["name"] in values:
                parameter["schema"] = {"type": "string", "enum": values[parameter["name"]]}
            if parameter["name"] in optional and not own_emulator:
                continue  # a real account may refuse arbitrary region or owner values
            kept.append(parameter)
        operation_object["parameters"] = kept
    return document


def schemathesis_config(emulator=True):
    """schemathesis' configuration for this API: its checks, and its phases.

    Against a real account the coverage phase is off: it adds every boundary case the document
    defines (hundreds) to hypothesis' examples, a cost the run could not bound by its profile.
    The fuzzing phase runs there with the account's examples (see contracts.plan).

    Off, each replaced by a judgement that knows this API:
    - "positive data accepted": the lifecycle refuses a second start with 409; positive cases are
      judged by the lifecycle model instead (see the test).
    - "negative data rejected": the OpenAPI document writes an int64 as at most 18 digits, which
      is stricter than the spec; a negative case that the spec's own rules accept may succeed.
    - "ignored auth": expects 401 or 403 where this gateway answers signature problems with 400
      or 404 (the gateway contracts check those with the spec's codes).
    - "unsupported method": wants an RFC 9110 Allow header that the spec does not promise (its
      method error is undocumented).
    """
    off = (
        "positive_data_acceptance",
        "negative_data_rejection",
        "ignored_auth",
        "unsupported_method",
    )
    return schemathesis.Config.from_dict(
        {
            "checks": {name: {"enabled": False} for name in off},
            "phases": {"coverage": {"enabled": emulator}},
        }
    )


# The schemas are built when the module is imported, from the resources the run will use, so
# that `schema.parametrize()` turns each operation (GET and POST) into a test; how many cases it
# generates depends on whether the target is an emulator, which is asked then too.
OPTIONS = target_options()
PLANNED = planned_resources(SELECTION.primary, OPTIONS) if OPERATIONS else None
EMULATOR = target_is_emulator(OPTIONS) if OPERATIONS else False


def spec_valid(op, params) -> bool:
    """Whether the spec's own rules accept these query parameters.

    Action and Version must be the operation's, and the operation's parameters must pass its
    checks. Other parameters are not the operation's business: the spec's checks do not refuse
    them (and the signature placeholder is replaced by the real signature before sending).
    """
    known = {p.name for p in op.parameters}
    mine = {k: v for k, v in params.items() if k in known}
    if any(not isinstance(v, str) for v in mine.values()):
        return False  # a repeated or structured value: the spec's parameters are single strings
    if (params.get(Param.ACTION), params.get(Param.VERSION)) != (op.name, op.product.version):
        return False
    return op.check_parameters(mine) is None


@pytest.fixture(scope="module")
def signed_session(target):
    session = requests.Session()
    session.trust_env = False
    session.auth = SigningAuth(target)
    yield session
    session.close()


@pytest.fixture(scope="module")
def transport_kwargs(target):
    """Where cases go: the in-process emulator's ASGI app, or the target's URL."""
    planned = PLANNED
    if planned is None or target.resources is None:
        pytest.skip("the target has no resources to build the schema from")
    same = (planned.domain, planned.app) == (target.resources.domain, target.resources.app)
    if not same or not set(planned.streams) <= set(target.resources.streams):
        pytest.skip("the target's resources differ from those the schema was built for")
    if target.is_emulator != EMULATOR:
        pytest.skip("the target changed kind (emulator or not) after the schema was built")
    if target.in_process:
        from acscontract.emulator import asgi_app

        return {"app": asgi_app(target.emulator)}
    return {"base_url": target.endpoint}


def openapi_tests(op):
    """The schemathesis tests of `op`, one per HTTP method of its OpenAPI document (`GET`,
    `POST`), each case signed and judged.

    One test per method, not one for the whole document: schemathesis tells a document's
    operations apart only by the item's name (`[GET /]`), which pytest 9.2 leaves out of the test
    id, so both would report under one id (in JUnit XML too) and a failure of one method could
    not be told from the other's pass.
    """
    document = target_document(op, PLANNED, OPTIONS.target in EMULATOR_TARGETS)
    schema = schemathesis.openapi.from_dict(document, config=schemathesis_config(EMULATOR))
    return {
        method.upper(): openapi_test(op, schema.include(method=method.upper()))
        for method in document["paths"]["/"]
    }


def openapi_test(op, schema):
    """The schemathesis test of `op` over `schema`: each case signed and judged."""
    command_name = op.command_parameter.name
    key = op.lifecycle.key

    @schema.parametrize()
    @settings_for(profile_settings(), emulator=EMULATOR, profile=profile_name())
    def test_openapi_cases(case, target, signed_session, transport_kwargs, exchanges):
        params = case.query or {}
        real_stream = params.get(key[2]) in target.resources.streams
        if real_stream and not target.is_emulator:
            # A real account: generated commands never name a stream that could record.
            case.query[key[2]] = target.absent_stream()
            params = case.query
        stream_key = tuple(str(params.get(name, "")) for name in key)
        resources = target.resources
        named = stream_key[:2] == (resources.domain, resources.app)
        named = named and stream_key[2] in resources.streams
        admin = target.admin
        known = admin.task_state(*stream_key) if admin is not None and named else None
        response = case.call(session=signed_session, **transport_kwargs)
        exchanges.record(response)
        case.validate_response(
            response,
            excluded_checks=[positive_data_acceptance, negative_data_rejection],
            additional_checks=[acscontract_response_contract],
            transport_kwargs=dict(transport_kwargs),
        )
        mode = case.meta.generation.mode if case.meta is not None else None
        outcome = outcome_of(observed(response))
        command = str(params.get(command_name, ""))
        if mode is not None and mode.is_positive and not spec_valid(op, params):
            # The OpenAPI document can be looser than the spec (Python's `$` lets a trailing
            # newline through a pattern): such a case must get a parameter error, as the spec
            # says (or a RAM denial, when the bad value names the RAM resource and the key's
            # policies scope it).
            named_values = target.resource_parameters(op=op)
            accepted = parameter_errors(op).union(
                *(ram_refusals(op, k) for k, v in named_values.items() if params.get(k) != v)
            )
            assert outcome in accepted, (
                f"a request the spec refuses got {outcome} (HTTP {response.status_code}): {params}"
            )
        elif mode is not None and mode.is_positive and stream_key[2] == target.absent_stream():
            assert outcome == op.check_code("streamOnline"), (
                f"a stream that does not exist got {outcome} (HTTP {response.status_code}): "
                f"{params}"
            )
        elif mode is not None and mode.is_positive and command:
            judgement = LifecycleModel(op, known).observe(command, outcome)
            assert judgement.acceptable, f"positive case: {judgement.describe()}"
        elif mode is not None and not mode.is_positive and outcome == OK:
            assert spec_valid(op, params), (
                f"a request the spec refuses was accepted (HTTP {response.status_code}): {params}"
            )

    return test_openapi_cases


for _name, _op in OPERATIONS.items():
    for _method, _test in openapi_tests(_op).items():
        globals()[f"test_openapi_cases_{_name}_{_method}"] = _test
