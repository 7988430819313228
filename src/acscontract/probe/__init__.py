"""Rate-limit probes of an operation's flow control (RealTimeRecordCommand: 50 calls/s/account).

`check` asks whether an endpoint behaves as documented, politely enough for a real account;
`measure` estimates the limit, burst and kind of limiter behind an emulator or a sacrificial
account. Any operation whose spec documents a limit can be probed; every call is one that
changes nothing (see `probe_request`: a lifecycle's harmless command on a stream the probe cannot
disturb, a read, or a request the spec refuses). Build a `Target`
(`http_target`, `emulator_target`), decide a run with `plan_for` (the safety rules live there),
run it with `run_probe`, and write `write_json` / `write_plot`. See docs/probe.md.
"""

from __future__ import annotations

from acscontract.probe._analysis import (
    WindowCount,
    agrees,
    capacity_finding,
    enforcement_findings,
    estimate_limiter,
    sliding_max,
    tolerance,
    window_series,
)
from acscontract.probe._caller import Caller
from acscontract.probe._classify import ResponseClassifier
from acscontract.probe._clock import ProbeClock, RealClock, SettableClock, SimulatedClock
from acscontract.probe._model import (
    Attempt,
    Estimate,
    Finding,
    LimiterKind,
    Outcome,
    Phase,
    ProbeResult,
    Reply,
    Stop,
)
from acscontract.probe._plan import Ceilings, Mode, PhasePlan, ProbePlan, ProbeSettings, plan_probe
from acscontract.probe._probe import (
    PROBE_APP,
    PROBE_STREAM,
    ProbeCall,
    Resources,
    Target,
    emulator_target,
    harmless_command,
    http_target,
    plan_for,
    probe_call,
    probe_request,
    run_probe,
)
from acscontract.probe._report import (
    PLOT_FORMATS,
    REPORT_FORMAT,
    plot_format,
    result_json,
    write_json,
    write_plot,
)
from acscontract.probe._runner import ProbeObserver, Runner, deadlines

__all__ = [
    "PLOT_FORMATS",
    "PROBE_APP",
    "PROBE_STREAM",
    "REPORT_FORMAT",
    "Attempt",
    "Caller",
    "Ceilings",
    "Estimate",
    "Finding",
    "LimiterKind",
    "Mode",
    "Outcome",
    "Phase",
    "PhasePlan",
    "ProbeCall",
    "ProbeClock",
    "ProbeObserver",
    "ProbePlan",
    "ProbeResult",
    "ProbeSettings",
    "RealClock",
    "Reply",
    "Resources",
    "ResponseClassifier",
    "Runner",
    "SettableClock",
    "SimulatedClock",
    "Stop",
    "Target",
    "WindowCount",
    "agrees",
    "capacity_finding",
    "deadlines",
    "emulator_target",
    "enforcement_findings",
    "estimate_limiter",
    "harmless_command",
    "http_target",
    "plan_for",
    "plan_probe",
    "plot_format",
    "probe_call",
    "probe_request",
    "result_json",
    "run_probe",
    "sliding_max",
    "tolerance",
    "window_series",
    "write_json",
    "write_plot",
]
