"""Benchmark: RAM evaluator decisions per second.

The policies are the three examples in ram_policies/ attached together, plus a generated
least-privilege policy for 20 domains; the requests are a seeded mix of actions, domains and
contexts (about half allowed). Three figures:

1. `Evaluator.is_allowed`: the decision alone, policies compiled once. Goal: >= 100,000/s.
2. `Evaluator.evaluate`: the decision with its deciding statements and notes.
3. The anchor, measured in the same run: `evaluate(...)`, which parses and compiles the
   policies for every request, as a tool without precompilation would.

Run: `python bench/ram_eval.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from acscontract.ram import (
    Evaluator,
    ParseResult,
    PolicyDocument,
    evaluate,
    generate_json,
    load_policy,
    parse,
)
from acscontract.spec import action_catalog

ROOT = Path(__file__).resolve().parent.parent
GOAL = 100_000

Request = tuple[str, str, dict[str, str]]


def policies() -> list[PolicyDocument | ParseResult]:
    docs: list[PolicyDocument | ParseResult] = [
        load_policy(ROOT / "ram_policies" / name)
        for name in (
            "recorder-least-privilege.json",
            "guardrail-deny-outside-office.json",
            "operations-read-only.json",
        )
    ]
    domains = [f"stream-{i:02d}.example.com" for i in range(20)]
    text = generate_json(
        "1234567890123456", domains, source_ips=["203.0.113.0/24"], require_tls=True
    )
    docs.append(parse(text, name="generated.json"))
    return docs


def requests(n: int, seed: int = 20261124) -> list[Request]:
    rng = random.Random(seed)
    entry = next(iter(action_catalog().entries.values()))
    resource_type = entry.resource_types[0]
    actions = [entry.action, entry.action.lower(), "live:DescribeLiveStreamsOnlineList"]
    domains = ["live.example.com", "backup.example.com", "stream-07.example.com", "x.example.net"]
    accounts = ["1234567890123456", "9999999999999999"]
    out: list[Request] = []
    for _ in range(n):
        context: dict[str, str] = {}
        if rng.random() < 0.9:
            context["acs:SourceIp"] = rng.choice(["203.0.113.7", "203.0.113.200", "192.0.2.1"])
        if rng.random() < 0.9:
            context["acs:SecureTransport"] = rng.choice(["true", "true", "false"])
        if rng.random() < 0.3:
            context["acs:CurrentTime"] = "2026-11-24T12:00:00Z"
        resource = resource_type.arn(accountId=rng.choice(accounts), DomainName=rng.choice(domains))
        out.append((rng.choice(actions), resource, context))
    return out


def rate(fn: Callable[[Request], object], reqs: Sequence[Request]) -> tuple[float, int]:
    allowed = 0
    start = time.perf_counter()
    for r in reqs:
        if fn(r) is True:
            allowed += 1
    elapsed = time.perf_counter() - start
    return len(reqs) / elapsed, allowed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args(argv)
    docs = policies()
    ev = Evaluator(docs)
    reqs = requests(args.requests)
    ev.is_allowed(*reqs[0])  # warm the per-action cache

    fast, allowed = rate(lambda r: ev.is_allowed(*r), reqs)
    explained, allowed_explained = rate(
        lambda r: ev.evaluate(*r).allowed, reqs[: max(1, len(reqs) // 4)]
    )
    anchor_reqs = reqs[: max(1, len(reqs) // 100)]
    anchor, _ = rate(lambda r: evaluate(docs, *r).allowed, anchor_reqs)

    print(f"requests: {len(reqs):,} ({allowed / len(reqs):.0%} allowed), {len(docs)} policies")
    print(f"Evaluator.is_allowed  {fast:12,.0f} decisions/s   (goal >= {GOAL:,})")
    print(f"Evaluator.evaluate    {explained:12,.0f} decisions/s   (with statements and notes)")
    print(f"anchor: evaluate()    {anchor:12,.0f} decisions/s   (parse and compile every time)")
    print(f"speed-up over the anchor: {fast / anchor:,.0f}x")
    if allowed_explained == 0 and allowed:
        print("the explained path allowed nothing; the benchmark is broken", file=sys.stderr)
        return 1
    return 0 if fast >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
