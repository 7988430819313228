"""Before a contract run sends its first contract: is everything it needs there?

`check_output_path` makes sure a report can be written before anything is sent (so a long run
never ends by losing its result). `preflight` then asks the target, with as little traffic as
possible:

1. it answers at all;
2. it accepts the credentials: one harmless signed call of the run's primary operation (see
   `acscontract.contracts.suite.harmless_call`: for RealTimeRecordCommand the opening command on
   a stream that does not exist, so that nothing can start) must get past the gateway: no
   signature, credential, clock or permission refusal;
3. the named resources exist: that call must reach the operation's stream check, which needs the
   domain and the app's record configuration; on an emulator the admin API also confirms that
   the stream exists and is online (and that the optional offline stream and app without record
   configuration are what they claim). A real account cannot confirm an online stream without
   starting a recording; the lifecycle contracts find out.

Each failure is a `UsageError` with one line that says what to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from acscontract.client import GatewayRefusals, TransportError
from acscontract.errors import UsageError

if TYPE_CHECKING:
    from acscontract.contracts.targets import ContractTarget

__all__ = ["PreflightResult", "check_output_path", "preflight"]

# Attempts of the harmless call when the account is throttled by other traffic.
_THROTTLED_ATTEMPTS = 3


def check_output_path(path: str | Path, option: str) -> Path:
    """`path` as a file this run can write, or UsageError naming `option` and the problem."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {target}: this is a folder; give a file name.")
    folder = target.parent if str(target.parent) else Path()
    if not folder.is_dir():
        raise UsageError(
            f"{option} {target}: the folder {folder} does not exist; create it or pick another."
        )
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"{option} {target}: not writable; pick a path you may write.")
    return target


@dataclass(frozen=True, slots=True)
class PreflightResult:
    """What the preflight learnt: the outcome of the harmless call, and the requests it sent."""

    outcome: str
    requests: int


def preflight(target: ContractTarget) -> PreflightResult:
    """Check the target before any contract runs (see the module's docstring)."""
    # Here, not at the top: `acscontract probe` imports `check_output_path` from this module, and
    # the checks and the suite need hypothesis (the contracts extra).
    from acscontract.contracts.checks import outcome_of
    from acscontract.contracts.selection import has_lifecycle
    from acscontract.contracts.suite import harmless_call

    if not target.usable:
        raise UsageError(target.missing[0])
    if target.store is not None:
        target.store.check()
    op = target.op
    resources = target.resources
    assert resources is not None  # usable
    if target.admin is not None and resources.stream:
        _emulator_resources(target)
    call = harmless_call(target, op)
    if call is None:
        raise UsageError(
            f"{op.name} may change state and has no request its spec refuses before it can, so "
            "the preflight cannot check the target harmlessly; name another operation first."
        )
    refusals = GatewayRefusals.for_operation(op)
    sent_before = target.requests_sent
    outcome = ""
    for _ in range(_THROTTLED_ATTEMPTS):
        try:
            response = target.call(call.params, operation=op)
        except TransportError as exc:
            raise UsageError(
                f"The target {target.endpoint} does not answer ({exc.reason}); check "
                "--target and that the endpoint is running."
            ) from None
        outcome = outcome_of(response)
        refusal = None
        if outcome not in call.accepted:
            refusal = refusals.refusal(response.status, response.code)
        if refusal is not None:
            raise UsageError(
                f"The target {target.endpoint} refused the preflight call: {refusal.reason}"
            )
        if not refusals.throttled(response.code):
            break
    else:
        raise UsageError(
            f"The target {target.endpoint} throttled the preflight call {_THROTTLED_ATTEMPTS} "
            "times: other traffic is using the account's limit. Try again when it is quiet."
        )
    if not response.api_body:  # a web page, no body or another service's JSON: not the API
        raise UsageError(
            f"The target {target.endpoint} answered the preflight call with HTTP "
            f"{response.status} with a body that is not the API's JSON; check that --target is "
            "the operation's endpoint."
        )
    if not has_lifecycle(op):
        if outcome not in call.accepted:
            raise UsageError(
                f"The target {target.endpoint} answered the preflight call ({op.name}, "
                f"{call.what}) with {outcome}, where the spec allows "
                f"{', '.join(sorted(call.accepted))}; check --domain, and that --target is the "
                "product's endpoint."
            )
        return PreflightResult(outcome, target.requests_sent - sent_before)
    stream_code = op.check_code("streamOnline")
    config_code = op.check_code("recordConfig")
    if outcome == config_code:
        raise UsageError(
            f"The app {resources.app!r} of domain {resources.domain!r} has no record "
            f"configuration ({config_code}), or the domain is not the account's: check --domain "
            "and --app (the app needs one, e.g. AddLiveAppRecordConfig with OnDemand=7)."
        )
    if outcome != stream_code:
        raise UsageError(
            f"The target {target.endpoint} answered the preflight call (a stream that does not "
            f"exist) with {outcome}, where the spec expects {stream_code}; check --domain and "
            "--app, and that --target is the operation's endpoint."
        )
    return PreflightResult(outcome, target.requests_sent - sent_before)


def _emulator_resources(target: ContractTarget) -> None:
    """On an emulator, the admin API tells whether the named streams and apps are what the
    options say."""
    resources = target.resources
    admin = target.admin
    assert resources is not None
    assert admin is not None
    streams = getattr(admin, "streams", None)
    if streams is None:
        return  # the in-process emulator: the resources come from its own seed
    known = {tuple(s["key"]): bool(s.get("online")) for s in streams()}
    key = (resources.domain, resources.app)
    online = known.get((*key, resources.stream))
    if online is None:
        apps = sorted({a for d, a, _ in known if d == resources.domain})
        where = (
            f"the domain {resources.domain!r} has the apps {', '.join(apps)}"
            if apps
            else f"it has no domain {resources.domain!r}"
        )
        raise UsageError(
            f"The emulator at {target.endpoint} has no stream {resources.stream!r} in "
            f"{resources.domain}/{resources.app} ({where}); check --domain, --app and --stream."
        )
    if not online:
        raise UsageError(
            f"The stream {resources.stream!r} of the emulator at {target.endpoint} is offline; "
            "name an online stream with --stream (or bring it online through the admin API)."
        )
    if resources.stream_offline and known.get((*key, resources.stream_offline)):
        raise UsageError(
            f"--stream-offline {resources.stream_offline!r} is online on the emulator at "
            f"{target.endpoint}; name an offline stream of the app."
        )
