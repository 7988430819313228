"""Benchmark: `acscontract ram lint` against parliament 1.6.4 on same-shaped policies.

Two figures, each with parliament measured in the same run as the anchor:

1. in process: lint 10,000 generated RAM policies from their text (parse, grammar and every
   lint check), and run `parliament.analyze_policy_string` (its default checks) on 10,000 AWS
   policies of the same shapes. Goal: at least 10x parliament's policies per second.
2. whole process: `acscontract ram lint DIR` over the 10,000 files written to a temporary
   folder, against `parliament --directory DIR`. Goal: at least 5x.

The corpus is seeded, so every run lints the same policies. Run: `python bench/ram_lint.py`
(parliament must be installed: `pip install -e '.[bench]'`).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acscontract.ram._lint import Linter
from acscontract.spec import action_catalog

COUNT = 10_000
SEED = 20261124
IN_PROCESS_GOAL = 10.0
CLI_GOAL = 5.0

_ACCOUNT = "1234567890123456"
_DOMAINS = ["live.example.com", "backup.example.com", "cdn.example.org", "play.example.net"]


class Shapes:
    """Draws policy shapes; `ram` and `aws` render one shape in each dialect."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        catalog = action_catalog()
        self.entry = next(iter(catalog.entries.values()))
        self.template = self.entry.resource_types[0]
        prefix = next(iter(catalog.service_prefixes))
        self.prefix = prefix
        self.live_actions = sorted(catalog.known_actions)
        self.describe = [a for a in self.live_actions if a.split(":")[1].startswith("Describe")]

    def policy(self) -> dict[str, Any]:
        rng = self.rng
        return {"statements": [self.statement() for _ in range(rng.randint(1, 5))]}

    def statement(self) -> dict[str, Any]:
        rng = self.rng
        shape: dict[str, Any] = {"effect": "Allow" if rng.random() < 0.8 else "Deny"}
        roll = rng.random()
        if roll < 0.35:
            shape["actions"] = ("exact", [self.entry.action])
        elif roll < 0.65:
            shape["actions"] = ("exact", rng.sample(self.describe, rng.randint(1, 6)))
        elif roll < 0.8:
            shape["actions"] = ("wild", ["Describe*"])
        elif roll < 0.84:
            shape["actions"] = ("all", [])
        elif roll < 0.98:
            shape["actions"] = ("exact", [self.entry.action, rng.choice(self.describe)])
        else:
            shape["actions"] = ("typo", [self.entry.action[:-3] + "mand"])
        roll = rng.random()
        if roll < 0.65:
            shape["resources"] = ("domains", rng.sample(_DOMAINS, rng.randint(1, 3)))
        elif roll < 0.8:
            shape["resources"] = ("star", [])
        elif roll < 0.95:
            shape["resources"] = ("subdomains", ["example.com"])
        elif roll < 0.98:
            shape["resources"] = ("wrong-service", [rng.choice(_DOMAINS)])
        else:
            shape["resources"] = ("bad-wildcard", ["example.com"])
        conditions = []
        if rng.random() < 0.4:
            ip = (
                "10.0.0.0/8"
                if rng.random() < 0.05
                else rng.choice(["203.0.113.0/24", "198.51.100.7"])
            )
            conditions.append(("ip", ip))
        if rng.random() < 0.3:
            conditions.append(("tls", "true"))
        if rng.random() < 0.2:
            until = "2020-01-01T00:00:00Z" if rng.random() < 0.1 else "2030-01-01T00:00:00Z"
            conditions.append(("until", until))
        shape["conditions"] = conditions
        return shape

    # RAM rendering ----------------------------------------------------------------------------

    def ram(self, policy: dict[str, Any]) -> str:
        statements = []
        for s in policy["statements"]:
            kind, names = s["actions"]
            if kind == "wild":
                actions: list[str] = [f"{self.prefix}:{n}" for n in names]
            elif kind == "all":
                actions = [f"{self.prefix}:*"]
            else:
                actions = list(names)
            rkind, values = s["resources"]
            if rkind == "star":
                resources = ["*"]
            elif rkind == "subdomains":
                resources = [self.template.arn(accountId=_ACCOUNT, DomainName="*." + values[0])]
            elif rkind == "bad-wildcard":
                resources = [self.template.arn(accountId=_ACCOUNT, DomainName="*" + values[0])]
            elif rkind == "wrong-service":
                arn = self.template.arn(accountId=_ACCOUNT, DomainName=values[0])
                resources = [arn.replace(f":{self.template.service}:", f":{self.prefix}:", 1)]
            else:
                resources = [self.template.arn(accountId=_ACCOUNT, DomainName=d) for d in values]
            statement: dict[str, Any] = {
                "Effect": s["effect"],
                "Action": actions if len(actions) > 1 else actions[0],
                "Resource": resources if len(resources) > 1 else resources[0],
            }
            condition: dict[str, Any] = {}
            for ckind, value in s["conditions"]:
                if ckind == "ip":
                    condition["IpAddress"] = {"acs:SourceIp": [value]}
                elif ckind == "tls":
                    condition["Bool"] = {"acs:SecureTransport": value}
                else:
                    condition["DateLessThan"] = {"acs:CurrentTime": value}
            if condition:
                statement["Condition"] = condition
            statements.append(statement)
        return json.dumps({"Version": "1", "Statement": statements}, indent=2)

    # AWS rendering (the same shapes in IAM's dialect, for parliament) -----------------------

    def aws(self, policy: dict[str, Any]) -> str:
        statements = []
        for s in policy["statements"]:
            kind, names = s["actions"]
            if kind == "wild":
                actions = ["s3:Get*"]
            elif kind == "all":
                actions = ["s3:*"]
            elif kind == "typo":
                actions = ["s3:GetObjct"]
            else:
                pool = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketPolicy"]
                actions = pool[: max(1, min(len(names), len(pool)))]
            rkind, values = s["resources"]
            if rkind == "star":
                resources = ["*"]
            elif rkind in ("subdomains", "bad-wildcard"):
                resources = ["arn:aws:s3:::example-*/*"]
            elif rkind == "wrong-service":
                resources = ["arn:aws:ec2:::bucket/x"]
            else:
                resources = [f"arn:aws:s3:::{d.replace('.', '-')}/*" for d in values]
            statement: dict[str, Any] = {
                "Effect": s["effect"],
                "Action": actions if len(actions) > 1 else actions[0],
                "Resource": resources if len(resources) > 1 else resources[0],
            }
            condition: dict[str, Any] = {}
            for ckind, value in s["conditions"]:
                if ckind == "ip":
                    condition["IpAddress"] = {"aws:SourceIp": [value]}
                elif ckind == "tls":
                    condition["Bool"] = {"aws:SecureTransport": value}
                else:
                    condition["DateLessThan"] = {"aws:CurrentTime": value}
            if condition:
                statement["Condition"] = condition
            statements.append(statement)
        return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def _interleaved(
    runs: dict[str, Callable[[list[int]], None]], count: int, rounds: int = 10
) -> dict[str, float]:
    """Policies per second for each runner, alternating them over `rounds` slices of the corpus
    so that a change in machine load during the run hits every runner alike."""
    spent = dict.fromkeys(runs, 0.0)
    size = -(-count // rounds)
    for start in range(0, count, size):
        chunk = list(range(start, min(count, start + size)))
        for name, run in runs.items():
            began = time.perf_counter()
            run(chunk)
            spent[name] += time.perf_counter() - began
    return {name: count / seconds for name, seconds in spent.items()}


def _best_rate(cmd: list[str], count: int, env: dict[str, str], tries: int = 2) -> float:
    """Policies per second of a whole command, the best of `tries` runs."""
    best = float("inf")
    for _ in range(tries):
        began = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, check=False)
        elapsed = time.perf_counter() - began
        if done.returncode not in (0, 1):
            raise SystemExit(f"{cmd[0]} failed: {done.stderr.decode()[-500:]}")
        best = min(best, elapsed)
    return count / best


def main() -> int:
    started = time.perf_counter()
    shapes = Shapes(SEED)
    policies = [shapes.policy() for _ in range(COUNT)]
    ram_texts = [shapes.ram(p) for p in policies]
    aws_texts = [shapes.aws(p) for p in policies]

    from parliament import analyze_policy_string  # type: ignore[import-untyped]

    print(f"In process, {COUNT:,} policies (1-5 statements, conditions, wildcards, findings):")
    linter = Linter()
    linter.check_source(ram_texts[0])  # load the catalog, as any run does before its first file
    analyze_policy_string(aws_texts[0])  # load parliament's IAM definitions likewise
    found = {"acscontract": 0, "parliament": 0}

    def ours(chunk: list[int]) -> None:
        for i in chunk:
            found["acscontract"] += len(linter.check_source(ram_texts[i], name=f"p{i}.json"))

    def theirs(chunk: list[int]) -> None:
        for i in chunk:
            found["parliament"] += len(analyze_policy_string(aws_texts[i]).findings)

    rates = _interleaved({"acscontract": ours, "parliament": theirs}, COUNT)
    with_findings = sum(1 for t in ram_texts[:1000] if linter.check_source(t)) / 10
    for name, rate in rates.items():
        print(f"  {name:<12} {rate:>9,.0f} policies/s  ({found[name]:,} findings)")
    ratio = rates["acscontract"] / rates["parliament"]
    print(
        f"  ratio {ratio:.1f}x (goal >= {IN_PROCESS_GOAL:.0f}x); "
        f"{with_findings:.0f}% of the RAM policies have findings"
    )

    print(f"Whole process, {COUNT:,} files in a temporary folder:")
    tmp = Path(tempfile.mkdtemp(prefix="ram-lint-bench-"))
    try:
        ram_dir, aws_dir = tmp / "ram", tmp / "aws"
        ram_dir.mkdir()
        aws_dir.mkdir()
        for i, (r, a) in enumerate(zip(ram_texts, aws_texts, strict=True)):
            (ram_dir / f"p{i:05}.json").write_text(r, encoding="utf-8")
            (aws_dir / f"p{i:05}.json").write_text(a, encoding="utf-8")
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "NO_COLOR": "1"}
        ours_cmd = [
            str(bin_dir / "acscontract"),
            "ram",
            "lint",
            str(ram_dir),
            "--format",
            "json",
            "--fail-on",
            "never",
            "-o",
            str(tmp / "ours.json"),
        ]
        theirs_cmd = [
            str(bin_dir / "parliament"),
            "--directory",
            str(aws_dir),
            "--include_policy_extension",
            "json",
            "--json",
        ]

        cli_ours = _best_rate(ours_cmd, COUNT, env)
        cli_theirs = _best_rate(theirs_cmd, COUNT, env)
        print(f"  acscontract ram lint DIR    {cli_ours:>9,.0f} policies/s (best of 2)")
        print(f"  parliament --directory DIR  {cli_theirs:>9,.0f} policies/s (best of 2)")
        cli_ratio = cli_ours / cli_theirs
        print(f"  ratio {cli_ratio:.1f}x (goal >= {CLI_GOAL:.0f}x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Total time {time.perf_counter() - started:.0f} s.")
    ok = ratio >= IN_PROCESS_GOAL and cli_ratio >= CLI_GOAL
    # A figure, not a gate: the machine's load moves both tools, so the verdict is printed only.
    print("Goals met." if ok else "Goals NOT met on this run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
