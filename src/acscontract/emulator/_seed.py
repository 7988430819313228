"""The seed: the accounts, keys, RAM identities, domains, apps and streams an emulator starts with.

A seed is a YAML or JSON file, or a dict, checked against `seed.schema.json` (JSON Schema 2020-12)
and then for consistency (unique key ids, users and roles that exist, one owner per domain).
Every problem is raised as an `InputError` naming the file, the JSON Pointer and what to do.
Secrets (AccessKey secrets, STS tokens) are masked in every repr.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from acscontract._files import read_regular_text
from acscontract._resources import doc_reference
from acscontract._text import shorten
from acscontract.emulator._types import LATEST_TIME, LATEST_TIME_TEXT
from acscontract.errors import InputError
from acscontract.spec import SafeYamlLoader

__all__ = [
    "DEFAULT_SEED",
    "AccessKeySeed",
    "AccountSeed",
    "AppSeed",
    "DomainSeed",
    "PolicySource",
    "RoleSeed",
    "Seed",
    "StreamSeed",
    "StsTokenSeed",
    "UserSeed",
    "load_seed",
    "record_config_defaults",
    "seed_schema",
]

_MASK = "***"
_SECRET_FIELDS = frozenset({"secret", "token"})
_CREDENTIAL_LISTS = frozenset({"access_keys", "sts_tokens"})
_DEFAULT_SEED_NAME = "default_seed.yaml"
#: Sentinel for "the embedded default seed".
DEFAULT_SEED = "default"


@functools.cache
def seed_schema() -> Mapping[str, Any]:
    """The JSON Schema every seed must satisfy."""
    text = resources.files(__package__).joinpath("seed.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def record_config_defaults() -> dict[str, Any]:
    """The properties a seed's `record_config: true` stands for (the schema's defaults)."""
    properties = seed_schema()["$defs"]["record_config"]["properties"]
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(seed_schema())


@dataclass(frozen=True, slots=True)
class PolicySource:
    """A RAM policy document of a seed: its JSON text and where it came from."""

    text: str
    origin: str

    @property
    def document(self) -> Any:
        """The document as parsed JSON."""
        return json.loads(self.text)


@dataclass(frozen=True, slots=True, repr=False)
class AccessKeySeed:
    """An AccessKey: the account's root identity (no `user`) or a RAM user's key."""

    id: str
    secret: str
    user: str | None = None
    active: bool = True

    def __repr__(self) -> str:
        return (
            f"AccessKeySeed(id={self.id!r}, secret={_MASK!r}, user={self.user!r}, "
            f"active={self.active!r})"
        )


@dataclass(frozen=True, slots=True)
class UserSeed:
    """A RAM user and the identity policies attached to it."""

    name: str
    policies: tuple[PolicySource, ...] = ()
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class RoleSeed:
    """A RAM role that STS tokens act as, with its identity policies."""

    name: str
    policies: tuple[PolicySource, ...] = ()


@dataclass(frozen=True, slots=True, repr=False)
class StsTokenSeed:
    """A temporary STS credential: AccessKey pair plus security token, acting as `role`."""

    access_key_id: str
    secret: str
    token: str
    role: str
    session_name: str | None = None
    expires_at: float | None = None

    def __repr__(self) -> str:
        return (
            f"StsTokenSeed(access_key_id={self.access_key_id!r}, secret={_MASK!r}, "
            f"token={_MASK!r}, role={self.role!r}, session_name={self.session_name!r}, "
            f"expires_at={self.expires_at!r})"
        )


@dataclass(frozen=True, slots=True)
class StreamSeed:
    """A stream and whether it is online."""

    name: str
    online: bool = True


@dataclass(frozen=True, slots=True)
class AppSeed:
    """An app of a domain, whether it has a record configuration, and its streams."""

    name: str
    record_config: bool = False
    streams: tuple[StreamSeed, ...] = ()
    record_config_properties: Mapping[str, Any] = field(default_factory=dict)
    """The configuration's properties the seed gives (the schema's defaults fill the rest)."""


@dataclass(frozen=True, slots=True)
class DomainSeed:
    """A streaming domain and its apps."""

    name: str
    apps: tuple[AppSeed, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountSeed:
    """An Alibaba Cloud account: its keys, RAM identities and domains."""

    id: str
    name: str | None = None
    qps: int | None = None
    access_keys: tuple[AccessKeySeed, ...] = ()
    users: tuple[UserSeed, ...] = ()
    roles: tuple[RoleSeed, ...] = ()
    sts_tokens: tuple[StsTokenSeed, ...] = ()
    domains: tuple[DomainSeed, ...] = ()


@dataclass(frozen=True, slots=True)
class Seed:
    """A whole validated seed. `source` names where it came from, for messages."""

    accounts: tuple[AccountSeed, ...]
    source: str = "<seed>"
    description: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The seed as a JSON-able document that `load_seed` reads back (policies inline)."""
        accounts = []
        for account in self.accounts:
            item: dict[str, Any] = {"id": account.id}
            if account.name is not None:
                item["name"] = account.name
            if account.qps is not None:
                item["qps"] = account.qps
            keys = []
            for key in account.access_keys:
                entry: dict[str, Any] = {"id": key.id, "secret": key.secret}
                if key.user is not None:
                    entry["user"] = key.user
                if not key.active:
                    entry["status"] = "inactive"
                keys.append(entry)
            item["access_keys"] = keys
            item["users"] = [
                {
                    "name": u.name,
                    **({"display_name": u.display_name} if u.display_name else {}),
                    "policies": [p.document for p in u.policies],
                }
                for u in account.users
            ]
            item["roles"] = [
                {"name": r.name, "policies": [p.document for p in r.policies]}
                for r in account.roles
            ]
            tokens = []
            for token in account.sts_tokens:
                entry = {
                    "access_key_id": token.access_key_id,
                    "secret": token.secret,
                    "token": token.token,
                    "role": token.role,
                }
                if token.session_name is not None:
                    entry["session_name"] = token.session_name
                if token.expires_at is not None:
                    entry["expires_at"] = token.expires_at
                tokens.append(entry)
            item["sts_tokens"] = tokens
            item["domains"] = [
                {
                    "name": d.name,
                    "apps": [
                        {
                            "name": a.name,
                            "record_config": dict(a.record_config_properties)
                            if a.record_config and a.record_config_properties
                            else a.record_config,
                            "streams": [{"name": s.name, "online": s.online} for s in a.streams],
                        }
                        for a in d.apps
                    ],
                }
                for d in account.domains
            ]
            accounts.append(item)
        out: dict[str, Any] = {"accounts": accounts}
        if self.description is not None:
            out["description"] = self.description
        return out

    def credentials(self) -> list[dict[str, str]]:
        """Every credential of the seed, for `serve` to print (the one place secrets are shown)."""
        out = []
        for account in self.accounts:
            for key in account.access_keys:
                kind = f"RAM user {key.user}" if key.user else "root"
                if not key.active:
                    kind += ", inactive"
                out.append(
                    {"account": account.id, "kind": kind, "id": key.id, "secret": key.secret}
                )
            for token in account.sts_tokens:
                out.append(
                    {
                        "account": account.id,
                        "kind": f"STS role {token.role}",
                        "id": token.access_key_id,
                        "secret": token.secret,
                        "token": token.token,
                    }
                )
        return out


def load_seed(
    seed: Seed | Mapping[str, Any] | str | Path | None,
    *,
    base_dir: Path | None = None,
    allow_files: bool = True,
    source: str | None = None,
) -> Seed:
    """Read and validate a seed: a `Seed`, a dict, a YAML/JSON file, or None for the default.

    Policy file paths in the seed are relative to the seed file (or to `base_dir`, or the current
    directory, for a dict); `allow_files=False` refuses them (for seeds that arrive over HTTP or
    in a snapshot). `source` names a dict seed in messages (`<seed>` by default). Raises
    `InputError` with the file, a JSON Pointer and the problem; no message ever shows a value
    of the seed that could be a secret.
    """
    if isinstance(seed, Seed):
        return seed
    if seed is None or (isinstance(seed, str) and seed == DEFAULT_SEED):
        ref = resources.files(__package__).joinpath(_DEFAULT_SEED_NAME)
        text = ref.read_text("utf-8")
        data = yaml.load(text, Loader=SafeYamlLoader)  # noqa: S506 - a SafeLoader subclass
        return _build(data, f"<embedded {_DEFAULT_SEED_NAME}>", base_dir or Path.cwd())
    if isinstance(seed, str | Path):
        path = Path(seed)
        return _build(read_document(path, "seed"), str(path), path.resolve().parent)
    # A mapping, or any other data (a list, a scalar): the schema says what is wrong with it.
    base = None if not allow_files else (base_dir or Path.cwd())
    return _build(seed, source or "<seed>", base)


def read_document(path: Path, what: str) -> Any:
    """Parse a YAML or JSON file; InputError with a clear message when it cannot be read."""
    try:
        text = read_regular_text(path)
    except FileNotFoundError:
        raise InputError(str(path), f"the {what} file does not exist; check the path.") from None
    except IsADirectoryError:
        raise InputError(str(path), f"is a folder; give the {what} file.") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path), f"the {what} file is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None
    except OSError as exc:
        raise InputError(
            str(path), f"the {what} file cannot be read ({exc.strerror or exc})."
        ) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=SafeYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise InputError(
            str(path), f"the {what} file is nested too deeply to read; flatten it."
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}:{exc.colno}",
            f"the {what} file is not valid JSON ({exc.msg}); fix the syntax there.",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        # Only the parser's description: str(exc) quotes the offending line, maybe a secret.
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(
            where, f"the {what} file is not valid YAML ({problem}); fix the syntax there."
        ) from None


def _pointer(parts: Sequence[Any]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _fail(source: str, parts: Sequence[Any], problem: str) -> InputError:
    return InputError(f"{source}:{_pointer(parts) if parts else '/'}", problem)


_TYPE_NAMES = {
    "object": "an object (a mapping)",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _type_words(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    return " or ".join(_TYPE_NAMES.get(str(n), str(n)) for n in names)


def _describe(error: Any) -> str:
    """What is wrong, in words built from the schema only: never a value from the seed.

    jsonschema's own messages quote the offending value, which may be (or contain) a secret:
    an account written as a mapping, a key written as a list, a secret put under the wrong name.
    Property names are structure and may be named; values never are.
    """
    validator, expected, instance = error.validator, error.validator_value, error.instance
    if validator == "type":
        return f"must be {_type_words(expected)}"
    if validator == "required":
        present = instance if isinstance(instance, Mapping) else {}
        missing = [str(name) for name in expected if name not in present]
        return f"the property {missing[0]!r} is required" if missing else "a property is missing"
    if validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(str(k) for k in instance if k not in allowed)
        shown = ", ".join(repr(k[:40]) for k in extra[:3])
        known = ", ".join(sorted(allowed))
        return f"unknown propert{'ies' if len(extra) > 1 else 'y'} {shown}; known ones: {known}"
    if validator == "enum":
        return f"must be one of {', '.join(repr(v) for v in expected)}"
    if validator == "const":
        return f"must be {expected!r}"
    if validator == "pattern":
        return f"must match the pattern {expected}"
    if validator == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if validator == "maxLength":
        return f"must be at most {expected} characters"
    if validator == "minimum":
        return f"must be {expected} or more"
    if validator == "maximum":
        return f"must be {expected} or less"
    if validator == "minItems":
        return f"must have at least {expected} item{'s' if expected != 1 else ''}"
    if validator in ("oneOf", "anyOf"):
        return "matches none of the forms the seed format allows"
    return f"breaks the seed schema's {validator!r} rule"


def _schema_problem(data: Any, source: str) -> InputError | None:
    errors = sorted(
        _validator().iter_errors(data), key=lambda e: (len(e.absolute_path), list(e.path))
    )
    if not errors:
        return None
    error = errors[0]
    # The most specific context of a oneOf failure says more than "is not valid under any".
    while error.context:
        error = sorted(error.context, key=lambda e: -len(e.absolute_path))[0]
    message = _describe(error)
    path = list(error.absolute_path)
    if any(p in _SECRET_FIELDS for p in path) or any(p in _CREDENTIAL_LISTS for p in path):
        message += " (the value is not shown: it may hold a secret)"
    return _fail(
        source,
        path,
        f"{message} (the seed format is described in {doc_reference('emulator.md')}).",
    )


def _expires(value: Any, source: str, parts: list[Any]) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        # The bound first: math.isfinite cannot take an integer too large for a float.
        if abs(value) > LATEST_TIME or not math.isfinite(value):
            raise _fail(
                source, parts, f"write a time as Unix seconds at or before {LATEST_TIME_TEXT}."
            )
        return float(value)
    text = shorten(str(value))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(
            source,
            parts,
            f"{text!r} is not a time; write Unix seconds or ISO 8601 with a zone, "
            "e.g. 2030-01-01T00:00:00Z.",
        ) from None
    if moment.tzinfo is None:
        raise _fail(source, parts, f"{text!r} has no time zone; add one, e.g. Z for UTC.") from None
    return moment.timestamp()


def _policies(
    items: Sequence[Any], source: str, parts: list[Any], base: Path | None
) -> tuple[PolicySource, ...]:
    out = []
    for index, item in enumerate(items):
        where = [*parts, index]
        if isinstance(item, str):
            if base is None:
                raise _fail(
                    source,
                    where,
                    "this seed may not name policy files; put the policy document inline.",
                )
            path = Path(item)
            if not path.is_absolute():
                path = base / path
            try:
                text = read_regular_text(path)
            except OSError as exc:
                raise _fail(
                    source,
                    where,
                    f"the policy file {str(path)!r} cannot be read ({exc.strerror or exc}); "
                    "policy paths are relative to the seed file.",
                ) from None
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                raise _fail(
                    source,
                    where,
                    f"the policy file {str(path)!r} is not valid JSON (line {exc.lineno}, "
                    f"column {exc.colno}: {exc.msg}).",
                ) from None
            except RecursionError:
                raise _fail(
                    source, where, f"the policy file {str(path)!r} is nested too deeply to read."
                ) from None
            out.append(PolicySource(text, str(path)))
        else:
            out.append(PolicySource(json.dumps(item, indent=2), f"{source}:{_pointer(where)}"))
    return tuple(out)


def _build(data: Any, source: str, base: Path | None) -> Seed:
    problem = _schema_problem(data, source)
    if problem is not None:
        raise problem
    key_ids: dict[str, str] = {}
    domain_owner: dict[str, str] = {}
    accounts = []
    account_ids: set[str] = set()
    for a_index, raw in enumerate(data["accounts"]):
        here: list[Any] = ["accounts", a_index]
        if raw["id"] in account_ids:
            raise _fail(source, [*here, "id"], f"the account {raw['id']} appears twice.")
        account_ids.add(raw["id"])
        users = []
        user_names: set[str] = set()
        for u_index, user in enumerate(raw.get("users", ())):
            where = [*here, "users", u_index]
            if user["name"] in user_names:
                raise _fail(source, [*where, "name"], f"the user {user['name']!r} appears twice.")
            user_names.add(user["name"])
            users.append(
                UserSeed(
                    user["name"],
                    _policies(user.get("policies", ()), source, [*where, "policies"], base),
                    user.get("display_name"),
                )
            )
        roles = []
        role_names: set[str] = set()
        for r_index, role in enumerate(raw.get("roles", ())):
            where = [*here, "roles", r_index]
            if role["name"] in role_names:
                raise _fail(source, [*where, "name"], f"the role {role['name']!r} appears twice.")
            role_names.add(role["name"])
            roles.append(
                RoleSeed(
                    role["name"],
                    _policies(role.get("policies", ()), source, [*where, "policies"], base),
                )
            )
        keys = []
        for k_index, key in enumerate(raw.get("access_keys", ())):
            where = [*here, "access_keys", k_index]
            if key["id"] in key_ids:
                raise _fail(
                    source,
                    [*where, "id"],
                    f"the AccessKey ID {key['id']!r} is already used at {key_ids[key['id']]}; "
                    "every key id must be unique across the seed.",
                )
            key_ids[key["id"]] = _pointer(where)
            user_name = key.get("user")
            if user_name is not None and user_name not in user_names:
                raise _fail(
                    source,
                    [*where, "user"],
                    f"the key belongs to the user {user_name!r}, which the account does not "
                    "define; add it under users.",
                )
            keys.append(
                AccessKeySeed(
                    key["id"], key["secret"], user_name, key.get("status", "active") == "active"
                )
            )
        tokens = []
        for t_index, token in enumerate(raw.get("sts_tokens", ())):
            where = [*here, "sts_tokens", t_index]
            if token["access_key_id"] in key_ids:
                raise _fail(
                    source,
                    [*where, "access_key_id"],
                    f"the AccessKey ID {token['access_key_id']!r} is already used at "
                    f"{key_ids[token['access_key_id']]}; every key id must be unique.",
                )
            key_ids[token["access_key_id"]] = _pointer(where)
            if token["role"] not in role_names:
                raise _fail(
                    source,
                    [*where, "role"],
                    f"the token acts as the role {token['role']!r}, which the account does not "
                    "define; add it under roles.",
                )
            tokens.append(
                StsTokenSeed(
                    token["access_key_id"],
                    token["secret"],
                    token["token"],
                    token["role"],
                    token.get("session_name"),
                    _expires(token.get("expires_at"), source, [*where, "expires_at"]),
                )
            )
        domains = []
        for d_index, domain in enumerate(raw.get("domains", ())):
            where = [*here, "domains", d_index]
            name = domain["name"]
            if name in domain_owner:
                raise _fail(
                    source,
                    [*where, "name"],
                    f"the domain {name!r} is already defined at {domain_owner[name]}; a domain "
                    "belongs to one account.",
                )
            domain_owner[name] = _pointer(where)
            apps = []
            app_names: set[str] = set()
            for p_index, app in enumerate(domain.get("apps", ())):
                app_where = [*where, "apps", p_index]
                if app["name"] in app_names:
                    raise _fail(
                        source, [*app_where, "name"], f"the app {app['name']!r} appears twice."
                    )
                app_names.add(app["name"])
                streams = []
                stream_names: set[str] = set()
                for s_index, stream in enumerate(app.get("streams", ())):
                    if stream["name"] in stream_names:
                        raise _fail(
                            source,
                            [*app_where, "streams", s_index, "name"],
                            f"the stream {stream['name']!r} appears twice.",
                        )
                    stream_names.add(stream["name"])
                    streams.append(StreamSeed(stream["name"], stream.get("online", True)))
                config = app.get("record_config", False)
                apps.append(
                    AppSeed(
                        app["name"],
                        bool(config is not False),
                        tuple(streams),
                        dict(config) if isinstance(config, dict) else {},
                    )
                )
            domains.append(DomainSeed(name, tuple(apps)))
        accounts.append(
            AccountSeed(
                id=raw["id"],
                name=raw.get("name"),
                qps=raw.get("qps"),
                access_keys=tuple(keys),
                users=tuple(users),
                roles=tuple(roles),
                sts_tokens=tuple(tokens),
                domains=tuple(domains),
            )
        )
    return Seed(tuple(accounts), source, data.get("description"))
