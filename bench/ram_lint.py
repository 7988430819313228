"""Benchmark: `acscontract ram lint` against parliament 1.6.4, measured side by side in one run.

Parliament is the anchor: the open-source IAM policy linter closest to ours. Every figure of
ours is printed next to parliament's, measured in the same run on the same shapes of policies
(written as AWS policies for parliament), interleaved so that a change in machine load hits both.

Corpus shapes (seeded, so every run lints the same policies):

- `mixed`: 1-5 statements with exact and wildcard actions, domain and `*` resources, IP, TLS
  and time conditions; about half have findings.
- `multi`: 8-16 statements per policy drawn from a small pool of overlapping pieces (wildcard
  and exact actions, domain wildcards and exact domains, the same conditions), so that the
  redundancy checks (`statement-subsumed`, `action-subsumed`, ...) compare many pairs and find
  covered statements.
- `least`: the typical reviewed file: one statement, the exact action, one or two domains, a
  TLS condition.
- `wide`: one or two statements listing 20-60 actions and 5-30 resources.
- `unique`: `mixed`, but every domain and every IP address appears in one statement only, so
  no cache keyed on a resource, an ARN or an address is ever hit across policies. The linter
  caches only what it derives from such small atoms (one pattern, one action name, one pair of
  patterns), bounded, never anything keyed on a statement or a document. `mixed` draws its
  domains from four names, so those caches are hit on nearly every policy there; this shape
  gives the rate without them (lower: the ARN and address checks run for every resource),
  which is what a corpus of policies that all name different resources sees.

Figures, for each shape:

1. in process: `Linter.check_source` (parse, grammar and every check) against parliament's
   `analyze_policy_string`. Goal: at least 10,000 policies per second.
2. the whole command over the corpus written as files: `acscontract ram lint DIR` against
   `parliament --directory DIR`. Goal: at least 10x parliament.

And once, what a pre-commit hook runs: the whole command on one file, after one run has built
the spec cache, against parliament on one file (the faster of its stdin and `--files` modes).
Goal: at least 2x faster. The time with a cold spec cache is printed too.

And the hostile inputs of issue 13, each linted by the whole command (text report to a file),
as seconds per megabyte of input. Goal: about 1 s per MB at most (and about 1 s for a file under
a megabyte, startup included), whatever the shape. Parliament is not run on these (they are
RAM-specific, and some would take it minutes).

The package is byte-compiled first (`compileall`, as `pip install` does for a wheel, and as
parliament's installed files are), so that an environment with `PYTHONDONTWRITEBYTECODE` set
does not time the compiler on every start of the command.

Run: `python bench/ram_lint.py [--count N] [--shapes mixed,multi,...] [--no-hostile]`
(parliament must be installed: `pip install -e '.[bench]'`, which `make bench` does).
"""

from __future__ import annotations

import argparse
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
IN_PROCESS_GOAL = 10_000  # policies per second
CLI_GOAL = 10.0  # times parliament
ONE_FILE_GOAL = 2.0  # times parliament

_ACCOUNT = "1234567890123456"
_DOMAINS = ["live.example.com", "backup.example.com", "cdn.example.org", "play.example.net"]
_S3_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketPolicy"]
_S3_MORE = [
    "s3:DeleteObject",
    "s3:GetObjectAcl",
    "s3:PutObjectAcl",
    "s3:GetBucketLocation",
    "s3:ListAllMyBuckets",
    "s3:GetBucketTagging",
    "s3:PutBucketTagging",
    "s3:GetObjectTagging",
]


class Shapes:
    """Draws abstract policy shapes; `ram` and `aws` render one shape in each dialect."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.serial = 0  # numbers the domains and addresses of the `unique` shape
        catalog = action_catalog()
        self.entry = next(iter(catalog.entries.values()))
        self.template = self.entry.resource_types[0]
        self.prefix = next(iter(catalog.service_prefixes))
        self.live_actions = sorted(catalog.known_actions)
        self.describe = [a for a in self.live_actions if a.split(":")[1].startswith("Describe")]

    # Shapes ---------------------------------------------------------------------------------

    def policy(self, shape: str) -> dict[str, Any]:
        rng = self.rng
        if shape == "mixed":
            return {"statements": [self.statement() for _ in range(rng.randint(1, 5))]}
        if shape == "multi":
            return {"statements": [self.overlapping() for _ in range(rng.randint(8, 16))]}
        if shape == "least":
            return {
                "statements": [
                    {
                        "effect": "Allow",
                        "actions": ("exact", [self.entry.action]),
                        "resources": ("domains", rng.sample(_DOMAINS, rng.randint(1, 2))),
                        "conditions": [("tls", "true")],
                    }
                ]
            }
        if shape == "wide":
            return {"statements": [self.wide() for _ in range(rng.randint(1, 2))]}
        if shape == "unique":
            return {"statements": [self.unique(self.statement()) for _ in range(rng.randint(1, 5))]}
        raise ValueError(shape)

    def unique(self, statement: dict[str, Any]) -> dict[str, Any]:
        """`statement` with domains and addresses that no other policy uses."""
        self.serial += 1
        tag = f"u{self.serial}-{self.rng.randrange(10**6)}"
        kind, values = statement["resources"]
        statement["resources"] = (kind, [f"{tag}.{v}" for v in values])
        host = self.serial
        statement["conditions"] = [
            (c, f"198.{(host >> 16) & 255}.{(host >> 8) & 255}.{host & 255}" if c == "ip" else v)
            for c, v in statement["conditions"]
        ]
        return statement

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
        shape["conditions"] = self.conditions(0.4, 0.3, 0.2)
        return shape

    def overlapping(self) -> dict[str, Any]:
        """A statement from a small pool of pieces, so that statements often cover others."""
        rng = self.rng
        shape: dict[str, Any] = {"effect": "Allow" if rng.random() < 0.85 else "Deny"}
        roll = rng.random()
        if roll < 0.3:
            shape["actions"] = ("exact", [self.entry.action])
        elif roll < 0.55:
            shape["actions"] = ("exact", rng.sample(self.describe[:8], rng.randint(1, 4)))
        elif roll < 0.75:
            shape["actions"] = ("wild", rng.sample(["Describe*", "DescribeLive*", "Real*"], 1))
        elif roll < 0.9:
            shape["actions"] = (
                "mixed",
                [self.entry.action, *rng.sample(self.describe[:8], rng.randint(1, 3))],
            )
        else:
            shape["actions"] = ("all", [])
        roll = rng.random()
        if roll < 0.5:
            shape["resources"] = ("domains", rng.sample(_DOMAINS, rng.randint(1, 3)))
        elif roll < 0.8:
            shape["resources"] = ("subdomains", ["example.com"])
        else:
            shape["resources"] = ("star", [])
        shape["conditions"] = self.conditions(0.3, 0.4, 0.0)
        return shape

    def wide(self) -> dict[str, Any]:
        rng = self.rng
        actions = rng.sample(self.live_actions, rng.randint(20, 60))
        domains = [f"d{rng.randint(0, 999)}.example.com" for _ in range(rng.randint(5, 30))]
        return {
            "effect": "Allow",
            "actions": ("exact", actions),
            "resources": ("domains", domains),
            "conditions": self.conditions(0.5, 0.5, 0.0),
        }

    def conditions(self, ip: float, tls: float, until: float) -> list[tuple[str, str]]:
        rng = self.rng
        found = []
        if rng.random() < ip:
            private = rng.random() < 0.05
            found.append(
                ("ip", "10.0.0.0/8" if private else rng.choice(["203.0.113.0/24", "198.51.100.7"]))
            )
        if rng.random() < tls:
            found.append(("tls", "true"))
        if rng.random() < until:
            expired = rng.random() < 0.1
            found.append(("until", "2020-01-01T00:00:00Z" if expired else "2030-01-01T00:00:00Z"))
        return found

    # RAM rendering ---------------------------------------------------------------------------

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
                actions = [f"s3:Get{'Object' if 'Live' in names[0] else ''}*"]
            elif kind == "all":
                actions = ["s3:*"]
            elif kind == "typo":
                actions = ["s3:GetObjct"]
            else:
                pool = _S3_ACTIONS + _S3_MORE
                actions = [pool[i % len(pool)] for i in range(max(1, len(names)))]
                actions = list(dict.fromkeys(actions))
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


def _seconds(cmd: list[str], env: dict[str, str], stdin: Path | None = None) -> float:
    began = time.perf_counter()
    with open(stdin or os.devnull, "rb") as source:
        done = subprocess.run(cmd, env=env, capture_output=True, stdin=source, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def _best_interleaved(
    commands: dict[str, tuple[list[str], Path | None]], env: dict[str, str], tries: int
) -> dict[str, float]:
    """The best time of each command over `tries` alternating runs."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(tries):
        for name, (cmd, stdin) in commands.items():
            best[name] = min(best[name], _seconds(cmd, env, stdin))
    return best


def _in_process(ram_texts: list[str], aws_texts: list[str]) -> tuple[float, float, int, int]:
    from parliament import analyze_policy_string  # type: ignore[import-untyped]

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

    rates = _interleaved({"acscontract": ours, "parliament": theirs}, len(ram_texts))
    return rates["acscontract"], rates["parliament"], found["acscontract"], found["parliament"]


def _cli(
    tmp: Path, shape: str, ram_texts: list[str], aws_texts: list[str], env: dict[str, str]
) -> tuple[float, float]:
    ram_dir, aws_dir = tmp / f"{shape}-ram", tmp / f"{shape}-aws"
    ram_dir.mkdir()
    aws_dir.mkdir()
    for i, (r, a) in enumerate(zip(ram_texts, aws_texts, strict=True)):
        (ram_dir / f"p{i:05}.json").write_text(r, encoding="utf-8")
        (aws_dir / f"p{i:05}.json").write_text(a, encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    ours = [str(bin_dir / "acscontract"), "ram", "lint", str(ram_dir), "--format", "json"]
    ours += ["--fail-on", "never", "-o", str(tmp / "ours.json")]
    theirs = [str(bin_dir / "parliament"), "--directory", str(aws_dir)]
    theirs += ["--include_policy_extension", "json", "--json"]
    best = _best_interleaved({"ours": (ours, None), "theirs": (theirs, None)}, env, tries=2)
    count = len(ram_texts)
    return count / best["ours"], count / best["theirs"]


def _one_file(tmp: Path, shapes: Shapes, env: dict[str, str], tries: int) -> None:
    policy = shapes.policy("mixed")
    ram_file, aws_file = tmp / "one-ram.json", tmp / "one-aws.json"
    ram_file.write_text(shapes.ram(policy), encoding="utf-8")
    aws_file.write_text(shapes.aws(policy), encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    ours = [str(bin_dir / "acscontract"), "ram", "lint", str(ram_file)]
    cold_env = {**env, "ACSCONTRACT_CACHE_DIR": str(tmp / "cold-cache")}
    cold = []
    for i in range(3):  # a fresh cache folder each time: the spec is loaded and validated
        cold_env["ACSCONTRACT_CACHE_DIR"] = str(tmp / f"cold-cache-{i}")
        cold.append(_seconds(ours, cold_env))
    _seconds(ours, env)  # build the cache, as the first run after installing does
    parliament = str(bin_dir / "parliament")
    best = _best_interleaved(
        {
            "ours": (ours, None),
            "stdin": ([parliament], aws_file),
            "files": ([parliament, "--files", str(aws_file)], None),
        },
        env,
        tries,
    )
    theirs = min(best["stdin"], best["files"])
    mode = "stdin" if best["stdin"] <= best["files"] else "--files"
    ratio = theirs / best["ours"]
    print(f"One file (what a pre-commit hook runs), best of {tries} interleaved runs:")
    print(f"  acscontract ram lint FILE   {best['ours'] * 1000:>7.0f} ms (spec cache built)")
    print(f"  acscontract, cold cache     {min(cold) * 1000:>7.0f} ms (spec loaded and validated)")
    print(f"  parliament ({mode:<7}) FILE  {theirs * 1000:>7.0f} ms")
    verdict = "met" if ratio >= ONE_FILE_GOAL else "NOT met"
    print(f"  {ratio:.1f}x faster (goal >= {ONE_FILE_GOAL:.0f}x: {verdict})")
    _GOALS.append(ratio >= ONE_FILE_GOAL)


_GOALS: list[bool] = []
HOSTILE_GOAL = 1.0  # seconds per megabyte


def _hostile_inputs(shapes: Shapes) -> dict[str, str]:
    """The shapes that used to take minutes: (name, text)."""
    rng = random.Random(SEED)
    template = shapes.template
    arn = template.arn
    found: dict[str, str] = {}
    found["one line, 20,000 duplicate keys (300 KB)"] = (
        "{" + ",".join('"Version":"1"' for _ in range(20_000)) + ',"Statement":[]}'
    )
    found["one statement, 5,000 wildcard actions"] = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [f"{shapes.prefix}:Describe{i}*" for i in range(5000)],
                    "Resource": "*",
                }
            ],
        }
    )
    found["wildcards with 10-20 `?` (all pairs compared)"] = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        f"{shapes.prefix}:*{c}{'?' * rng.randint(10, 20)}*" for c in "abcdefgh"
                    ],
                    "Resource": [
                        arn(accountId=_ACCOUNT, DomainName=f"*{c}{'?' * 12}*") for c in "xyz"
                    ],
                }
            ],
        }
    )
    statements: list[str] = []
    size = 0
    while size < 10_000_000:
        domain = f"d{rng.randint(0, 10**6)}.example.com"
        statements.append(
            json.dumps(
                {
                    "Effect": "Allow",
                    "Action": [
                        f"{shapes.prefix}:Describe{rng.randint(0, 999)}*",
                        shapes.entry.action,
                    ],
                    "Resource": arn(accountId=_ACCOUNT, DomainName=domain),
                    "Condition": {"IpAddress": {"acs:SourceIp": ["203.0.113.0/24"]}},
                }
            )
        )
        size += len(statements[-1]) + 2
    found[f"10 MB: {len(statements):,} statements"] = (
        '{"Version": "1", "Statement": [' + ",\n".join(statements) + "]}"
    )
    actions: list[str] = []
    size = 0
    while size < 10_000_000:
        actions.append(f"{shapes.prefix}:D{rng.randint(0, 10**9)}*x{rng.randint(0, 99)}")
        size += len(actions[-1]) + 4
    found["10 MB: one Action list of wildcards"] = json.dumps(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    )
    addresses = [f"203.0.{rng.randint(0, 255)}.{rng.randint(0, 255)}" for _ in range(600_000)]
    found["10 MB: one condition of 600,000 addresses"] = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": shapes.entry.action,
                    "Resource": arn(accountId=_ACCOUNT, DomainName="x" * 1_000_000),
                    "Condition": {"IpAddress": {"acs:SourceIp": addresses}},
                }
            ],
        }
    )
    return found


def _hostile(tmp: Path, shapes: Shapes, env: dict[str, str]) -> None:
    print("Hostile inputs, the whole command (text report to a file):")
    bin_dir = Path(sys.executable).parent
    for i, (name, text) in enumerate(_hostile_inputs(shapes).items()):
        path = tmp / f"hostile-{i}.json"
        path.write_text(text, encoding="utf-8")
        megabytes = path.stat().st_size / 1e6
        cmd = [str(bin_dir / "acscontract"), "ram", "lint", str(path), "-o", str(tmp / "h.txt")]
        seconds = _seconds(cmd, env)
        # About 1 s per MB, and about 1 s for anything under a megabyte (startup included).
        allowed = HOSTILE_GOAL * max(megabytes, 1.0)
        met = seconds <= allowed
        print(
            f"  {name:<48} {megabytes:>6.2f} MB {seconds:>6.2f} s  "
            f"{seconds / max(megabytes, 1.0):>5.2f} s/MB  goal <= {allowed:.0f} s: "
            f"{'met' if met else 'NOT met'}"
        )
        _GOALS.append(met)
        path.unlink()


def _compile_package() -> None:
    """Byte-compile acscontract, as installing a wheel does (no-op where it is compiled)."""
    import compileall

    import acscontract

    folder = Path(acscontract.__file__).parent
    if not compileall.compile_dir(str(folder), quiet=1, force=False):
        print(f"Note: {folder} could not be byte-compiled; startup figures include compiling.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=COUNT, help="policies per shape")
    parser.add_argument("--shapes", default="mixed,multi,least,wide,unique")
    parser.add_argument("--tries", type=int, default=7, help="runs of the one-file figure")
    parser.add_argument("--no-hostile", action="store_true", help="skip the hostile inputs")
    args = parser.parse_args()
    started = time.perf_counter()
    shapes = Shapes(SEED)
    env = {**os.environ, "NO_COLOR": "1"}
    _compile_package()
    tmp = Path(tempfile.mkdtemp(prefix="ram-lint-bench-"))
    try:
        _one_file(tmp, shapes, env, args.tries)
        if not args.no_hostile:
            _hostile(tmp, shapes, env)
        for shape in args.shapes.split(","):
            policies = [shapes.policy(shape) for _ in range(args.count)]
            ram_texts = [shapes.ram(p) for p in policies]
            aws_texts = [shapes.aws(p) for p in policies]
            statements = sum(len(p["statements"]) for p in policies) / len(policies)
            print(f"Shape {shape!r}: {args.count:,} policies, {statements:.1f} statements each")
            ours, theirs, ours_found, theirs_found = _in_process(ram_texts, aws_texts)
            met = ours >= IN_PROCESS_GOAL
            print(
                f"  in process   acscontract {ours:>8,.0f}/s ({ours_found:,} findings)   "
                f"parliament {theirs:>6,.0f}/s ({theirs_found:,} findings)   "
                f"{ours / theirs:>5.1f}x   goal >= {IN_PROCESS_GOAL:,}/s: "
                f"{'met' if met else 'NOT met'}"
            )
            cli_ours, cli_theirs = _cli(tmp, shape, ram_texts, aws_texts, env)
            ratio = cli_ours / cli_theirs
            print(
                f"  whole command acscontract {cli_ours:>7,.0f}/s   "
                f"parliament {cli_theirs:>6,.0f}/s   {ratio:>5.1f}x   goal >= "
                f"{CLI_GOAL:.0f}x: {'met' if ratio >= CLI_GOAL else 'NOT met'}"
            )
            _GOALS.extend([met, ratio >= CLI_GOAL])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Total time {time.perf_counter() - started:.0f} s.")
    # A figure, not a gate: the machine's load moves both tools, so the verdict is printed only.
    print("Every goal met." if all(_GOALS) else "Some goals NOT met on this run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
