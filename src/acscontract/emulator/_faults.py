"""Fault injection: rules that make chosen calls fail, slow down or lose their connection.

A rule matches calls by Action, command, domain, app and stream (each optional), then fires on
every Nth matching call, or with a probability drawn from the emulator's seeded RNG
(deterministic for a given seed and call sequence), or on every matching call. Faults apply after
the gateway has accepted a call and before the operation runs, so an `error` or `drop` leaves
state unchanged."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from acscontract._text import shorten
from acscontract.errors import InputError

__all__ = ["FAULT_KINDS", "FaultDecision", "FaultInjector", "FaultRule"]

#: `error` answers with a server error, `latency` delays the answer, `drop` closes the connection.
FAULT_KINDS = ("error", "latency", "drop")


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One fault: what it does (`kind`), which calls it matches, and how often it fires.

    `code` (for `error`) must be one of the spec's `server` gateway errors; the first one when
    not given. `times` caps how often the rule fires in total (None: no cap).
    """

    kind: str
    code: str | None = None
    latency_s: float = 0.0
    action: str | None = None
    command: str | None = None
    domain: str | None = None
    app: str | None = None
    stream: str | None = None
    probability: float | None = None
    every_nth: int | None = None
    times: int | None = None
    id: str = ""

    def __post_init__(self) -> None:
        where = f"fault rule {self.id or '(new)'}"
        if self.kind not in FAULT_KINDS:
            raise InputError(
                where, f"kind {shorten(repr(self.kind))} is not one of {', '.join(FAULT_KINDS)}."
            )
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise InputError(where, f"probability {self.probability} is not between 0 and 1.")
        if self.every_nth is not None and self.every_nth < 1:
            raise InputError(where, f"every_nth {self.every_nth} is not a positive integer.")
        if self.probability is not None and self.every_nth is not None:
            raise InputError(where, "give probability or every_nth, not both.")
        if self.latency_s < 0:
            raise InputError(where, f"latency_s {self.latency_s} is negative.")
        if self.kind == "latency" and self.latency_s == 0:
            raise InputError(where, "a latency fault needs latency_s greater than 0.")
        if self.times is not None and self.times < 1:
            raise InputError(where, f"times {self.times} is not a positive integer.")

    def matches(
        self,
        action: str,
        params: Mapping[str, str],
        command_name: str | None,
        key_names: tuple[str, ...],
    ) -> bool:
        """Whether a call of `action` with these business parameters is one this rule is about.

        `command_name` is the command parameter's name, and `key_names` the lifecycle key's
        parameter names (domain, app, stream), both from the spec.
        """
        if self.action is not None and action != self.action:
            return False
        if self.command is not None and (
            command_name is None or params.get(command_name) != self.command
        ):
            return False
        for index, value in enumerate((self.domain, self.app, self.stream)):
            if value is None:
                continue
            if index >= len(key_names) or params.get(key_names[index]) != value:
                return False
        return True

    def to_json(self) -> dict[str, Any]:
        """The rule as a JSON-able dict, without the fields left at their defaults."""
        data = asdict(self)
        return {
            k: v
            for k, v in data.items()
            if v not in (None, "") and not (k == "latency_s" and v == 0.0)
        }

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        """A rule from a JSON object (the admin API's body); InputError on a bad one."""
        if not isinstance(data, Mapping):
            raise InputError("fault rule", "a fault rule must be a JSON object.")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise InputError(
                "fault rule",
                f"unknown field(s) {', '.join(unknown)}; the fields are {', '.join(_FIELDS)}.",
            )
        if "kind" not in data:
            raise InputError("fault rule", f"kind is required: one of {', '.join(FAULT_KINDS)}.")
        types: dict[str, tuple[type, ...]] = {
            "id": (str,),
            "kind": (str,),
            "code": (str,),
            "latency_s": (int, float),
            "action": (str,),
            "command": (str,),
            "domain": (str,),
            "app": (str,),
            "stream": (str,),
            "probability": (int, float),
            "every_nth": (int,),
            "times": (int,),
        }
        values: dict[str, Any] = {}
        for name, value in data.items():
            if value is None and name not in ("kind", "id"):
                continue
            if not isinstance(value, types[name]) or isinstance(value, bool):
                raise InputError(
                    "fault rule",
                    f"{name} must be a {types[name][0].__name__}, not {shorten(repr(value))}.",
                )
            values[name] = value
        for name in ("latency_s", "probability"):
            if name in values:
                try:
                    values[name] = float(values[name])
                except OverflowError:  # an integer too large for a float
                    raise InputError("fault rule", f"{name} is too large.") from None
        return cls(**values)


# The rule's fields as the admin API reads and writes them (its own id first).
_FIELDS = ("id", *(f.name for f in fields(FaultRule) if f.name != "id"))


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What the matching rules decided for one call."""

    code: str | None = None
    delay_s: float = 0.0
    drop: bool = False
    rules: tuple[str, ...] = ()


@dataclass(slots=True)
class _RuleState:
    rule: FaultRule
    matched: int = 0
    fired: int = 0


@dataclass(slots=True)
class FaultInjector:
    """The active rules, their counters and the seeded RNG. Called under the state lock."""

    rng_seed: int = 0
    default_code: str | None = None
    allowed_codes: tuple[str, ...] = ()
    command_name: str | None = None
    key_names: tuple[str, ...] = ()
    _rules: list[_RuleState] = field(default_factory=list)
    _rng: random.Random = field(init=False)
    _next_id: int = 1

    def __post_init__(self) -> None:
        self._rng = random.Random(self.rng_seed)  # noqa: S311 - deterministic test faults

    def add(self, rule: FaultRule) -> FaultRule:
        """Add a rule (giving it an id if it has none) and return it as stored."""
        if rule.kind == "error":
            code = rule.code or self.default_code
            if code not in self.allowed_codes:
                raise InputError(
                    f"fault rule {rule.id or '(new)'}",
                    f"code {shorten(repr(rule.code))} is not a server error of the spec; use one "
                    f"of {', '.join(self.allowed_codes)}.",
                )
            rule = _replace(rule, code=code)
        if not rule.id:
            while any(s.rule.id == f"f{self._next_id}" for s in self._rules):
                self._next_id += 1
            rule = _replace(rule, id=f"f{self._next_id}")
            self._next_id += 1
        elif any(s.rule.id == rule.id for s in self._rules):
            raise InputError(f"fault rule {rule.id}", "a rule with this id already exists.")
        self._rules.append(_RuleState(rule))
        return rule

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; False when there is none with that id."""
        before = len(self._rules)
        self._rules = [s for s in self._rules if s.rule.id != rule_id]
        return len(self._rules) != before

    def clear(self) -> None:
        """Remove every rule and restart the RNG from its seed."""
        self._rules.clear()
        self._rng = random.Random(self.rng_seed)  # noqa: S311
        self._next_id = 1

    def rules(self) -> tuple[FaultRule, ...]:
        """The active rules, in the order they are checked."""
        return tuple(s.rule for s in self._rules)

    def counters(self) -> list[dict[str, Any]]:
        """Per rule: how many calls matched and how many times it fired."""
        return [{"id": s.rule.id, "matched": s.matched, "fired": s.fired} for s in self._rules]

    def __bool__(self) -> bool:
        return bool(self._rules)

    def decide(self, action: str, params: Mapping[str, str]) -> FaultDecision | None:
        """Apply every rule to one call, in order; None when none fires.

        Latency adds up over the rules that fire; the first `error` or `drop` that fires wins.
        """
        code: str | None = None
        drop = False
        delay = 0.0
        fired: list[str] = []
        for state in self._rules:
            rule = state.rule
            if not rule.matches(action, params, self.command_name, self.key_names):
                continue
            state.matched += 1
            if rule.times is not None and state.fired >= rule.times:
                continue
            if rule.every_nth is not None:
                fires = state.matched % rule.every_nth == 0
            elif rule.probability is not None:
                fires = self._rng.random() < rule.probability
            else:
                fires = True
            if not fires:
                continue
            if rule.kind == "latency":
                delay += rule.latency_s
            elif code is not None or drop:
                continue
            elif rule.kind == "error":
                code = rule.code
            else:
                drop = True
            state.fired += 1
            fired.append(rule.id)
        if not fired:
            return None
        return FaultDecision(code, delay, drop, tuple(fired))

    def load(self, rules: Iterable[Any]) -> None:
        """Replace the rules with these JSON rules (restoring a snapshot)."""
        self.clear()
        for item in rules:
            self.add(FaultRule.from_json(item))


def _replace(rule: FaultRule, **changes: Any) -> FaultRule:
    data = {name: getattr(rule, name) for name in _FIELDS}
    data.update(changes)
    return FaultRule(**data)
