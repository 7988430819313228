"""A probe result as stable JSON, and as a PNG plot of accepted and refused calls over time."""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Any

from acscontract.errors import InputError, UsageError
from acscontract.probe._analysis import window_series
from acscontract.probe._model import Outcome, ProbeResult

__all__ = [
    "BIN_S",
    "PLOT_FORMATS",
    "REPORT_FORMAT",
    "plot_format",
    "result_json",
    "write_json",
    "write_plot",
]

#: The identifier of the JSON report's format; bumped on any incompatible change.
REPORT_FORMAT = "acscontract-probe/1"
#: The width of the plot's and the JSON's fine bins, in seconds.
BIN_S = 0.1
#: The plot formats, by the file name's suffix.
PLOT_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def plot_format(path: str | Path) -> str:
    """The plot format the file name asks for (`.png`, `.svg` or `.pdf`); UsageError otherwise,
    so that a wrong name is refused before the probe sends anything."""
    suffix = Path(path).suffix.lower()
    if suffix not in PLOT_FORMATS:
        shown = suffix or "no suffix"
        raise UsageError(
            f"--plot {path}: {shown} is not a plot format acscontract writes; name the file "
            f"{', '.join(PLOT_FORMATS)} (PNG, SVG or PDF)."
        )
    return PLOT_FORMATS[suffix]


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _end(result: ProbeResult) -> float:
    last = max((a.sent_at for a in result.attempts), default=result.origin)
    if result.phases:
        last = max(last, result.phases[-1].end)
    return last + 1e-9


def _series(result: ProbeResult, width: float) -> list[dict[str, Any]]:
    origin = result.origin
    paced = [a for a in result.attempts if a.phase != "preflight"]
    if not paced:
        return []
    bins = window_series(paced, width, start=origin, end=_end(result))
    return [
        {
            "start_s": round(b.start - origin, 3),
            "accepted": b.accepted,
            "throttled": b.throttled,
        }
        for b in bins
    ]


def result_json(result: ProbeResult) -> dict[str, Any]:
    """The report as JSON-able data. Times (`*_s`) are seconds from the first paced phase's
    start; `windows` are aligned to the probe clock's whole windows, `bins_100ms` likewise."""
    estimate = result.estimate
    origin = result.origin
    return {
        "format": REPORT_FORMAT,
        "mode": result.mode,
        "operation": result.operation,
        "target": result.target,
        "simulated_time": result.simulated,
        "passed": result.passed,
        "verdict": result.verdict,
        "inconclusive": result.inconclusive,
        "documented_limit": result.documented_limit,
        "expected_limit": result.expected_limit,
        "window_s": result.window_s,
        "estimated_limit": _round(estimate.limit, 2) if estimate else None,
        "burst": estimate.burst if estimate else None,
        "limiter_kind": estimate.kind.value if estimate else None,
        "requests": result.requests,
        "accepted": result.accepted,
        "throttled": result.throttled,
        "duration_s": round(result.duration_s, 3),
        "probe_time_s": round(result.probe_time_s, 3),
        "stopped": None
        if result.stop is None
        else {
            "kind": result.stop.kind,
            "reason": result.stop.reason,
            "status": result.stop.status,
            "code": result.stop.code,
        },
        "call": dict(result.call),
        "throttle_codes": list(result.throttle_codes),
        "phases": [
            {
                "name": p.name,
                "rate": round(p.rate, 3),
                "planned_calls": p.planned_calls,
                "sent": p.sent,
                "start_s": round(p.start - origin, 3),
                "end_s": round(p.end - origin, 3),
            }
            for p in result.phases
        ],
        "findings": [
            {"name": f.name, "passed": f.passed, "detail": f.detail} for f in result.findings
        ],
        "estimate": None
        if estimate is None
        else {
            "kind": estimate.kind.value,
            "limit": _round(estimate.limit, 3),
            "burst": estimate.burst,
            "refill_rate": _round(estimate.refill_rate, 3),
            "sliding_max": estimate.sliding_max,
            "steady_sliding_max": estimate.steady_sliding_max,
            "steady_window_counts": list(estimate.window_counts),
            "clump_sizes": list(estimate.clump_sizes),
            "notes": list(estimate.notes),
        },
        "windows": _series(result, result.window_s),
        "bins_100ms": _series(result, BIN_S),
    }


def write_json(result: ProbeResult, path: str | Path) -> None:
    """Write the JSON report to `path`."""
    target = Path(path)
    try:
        target.write_text(json.dumps(result_json(result), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(str(target), f"cannot write the JSON report: {exc.strerror}.") from None


def _trailing_counts(times: list[float], grid: list[float], width: float) -> list[int]:
    """Accepted calls in the window-long span ending at each grid point, `(t - width, t]`."""
    return [bisect.bisect_right(times, t) - bisect.bisect_right(times, t - width) for t in grid]


def write_plot(result: ProbeResult, path: str | Path) -> None:
    """Draw the run in the format the file name asks for (PNG, SVG or PDF, see `plot_format`):
    calls per 100 ms bin (accepted and throttled, stacked) over the limit's per-bin equivalent,
    and below it the accepted calls in the trailing window against the limit itself."""
    kind = plot_format(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    origin = result.origin
    bins = _series(result, BIN_S)
    limit = result.expected_limit
    window = result.window_s
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    starts = [b["start_s"] for b in bins]
    accepted = [b["accepted"] for b in bins]
    throttled = [b["throttled"] for b in bins]
    top.bar(starts, accepted, width=BIN_S, align="edge", color="#2e8b57", label="accepted")
    top.bar(
        starts,
        throttled,
        width=BIN_S,
        align="edge",
        bottom=accepted,
        color="#e4572e",
        label="throttled",
    )
    per_bin = limit * BIN_S / window
    which = "documented limit" if limit == result.documented_limit else "expected limit"
    top.axhline(
        per_bin,
        color="#1f3b73",
        linestyle="--",
        linewidth=1.4,
        label=f"{which} {limit} per {window:g} s = {per_bin:g} per {BIN_S * 1000:.0f} ms",
    )
    highest = max((a + t for a, t in zip(accepted, throttled, strict=True)), default=0)
    top.set_ylim(0, max(highest, per_bin) * 1.35 + 1)
    top.set_ylabel(f"calls per {BIN_S * 1000:.0f} ms bin")
    top.legend(loc="upper right", fontsize=9, framealpha=0.95)
    top.grid(axis="y", alpha=0.3)

    times = sorted(
        a.sent_at - origin
        for a in result.attempts
        if a.outcome is Outcome.ACCEPTED and a.phase != "preflight"
    )
    end = (_end(result) - origin) if result.attempts else 1.0
    steps = max(2, math.ceil(end / 0.01))
    grid = [i * end / (steps - 1) for i in range(steps)]
    trailing = _trailing_counts(times, grid, window)
    bottom.axhline(
        limit,
        color="#1f3b73",
        linestyle="--",
        linewidth=1.4,
        label=f"{which}: {limit} per {window:g} s",
        zorder=3,
    )
    bottom.plot(
        grid,
        trailing,
        color="#2e8b57",
        linewidth=1.8,
        label=f"accepted in the trailing {window:g} s",
        zorder=2,
    )
    bottom.set_ylim(0, max([limit, *trailing]) * 1.35 + 1)
    bottom.set_ylabel(f"accepted per {window:g} s")
    bottom.set_xlabel("seconds since the first paced call")
    bottom.legend(loc="upper right", fontsize=9, framealpha=0.95)
    bottom.grid(alpha=0.3)

    for k, phase in enumerate(result.phases):
        shade = "#f4f4f4" if k % 2 == 0 else "#e8eef7"
        for axis in (top, bottom):
            axis.axvspan(phase.start - origin, phase.end - origin, color=shade, zorder=0)
        top.annotate(
            f"{phase.name}: {phase.rate:g} calls/s",
            xy=(phase.start - origin, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, 3),
            textcoords="offset points",
            fontsize=9,
            color="#333333",
            va="bottom",
        )

    estimate = result.estimate
    verdict = result.verdict
    if estimate is not None and estimate.limit is not None:
        summary = (
            f"estimated {estimate.limit:.4g} per {window:g} s, burst {estimate.burst}, "
            f"{estimate.kind.value}"
        )
    elif estimate is not None:
        summary = f"no limit estimated ({estimate.kind.value})"
    else:
        summary = f"{result.accepted} accepted, {result.throttled} throttled"
    where = result.target
    if not result.simulated and "time)" not in where:
        where += ", real time"
    name = result.operation.rsplit("/", 1)[-1]
    figure.suptitle(
        f"{name} rate-limit probe, {result.mode} ({verdict}): {summary}\n{where}",
        fontsize=11,
    )
    figure.tight_layout()
    try:
        figure.savefig(Path(path), format=kind, dpi=110)
    except OSError as exc:
        raise InputError(str(path), f"cannot write the plot: {exc.strerror}.") from None
    finally:
        plt.close(figure)
