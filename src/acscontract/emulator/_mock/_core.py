"""The interception core: which activation answers a call, and the patches, installed once.

Every transport adapter (requests, the legacy SDK's vendored requests, aiohttp, httpx) asks the
core one question per request, `route(url, reaches_network)`, and gets one of three
answers: the emulator of an activation answers it, it is refused (with the message to raise in the
transport's own connection error), or it goes on as if no mock were there.

Which activation answers: the innermost active `mock_live` block entered in the calling thread or
asyncio task (a `ContextVar` holds each context's stack of blocks), else, for a thread or task that
entered none, the most recently started active block anywhere. The adapters' patches are installed
when the first block starts and removed when the last one stops, whatever order blocks stop in;
a patched function that runs while no block is active behaves exactly like the original.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import threading
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from acscontract.emulator._types import EmulatorRequest, EmulatorResponse
from acscontract.signing import WireRequest

if TYPE_CHECKING:
    from acscontract.emulator._core import Emulator
    from acscontract.emulator._mock._routing import Routing

__all__ = [
    "DEFAULT_PORTS",
    "DROP_MESSAGE",
    "INTERCEPTOR",
    "Activation",
    "ClassPatch",
    "FaultPlan",
    "Interceptor",
    "LiveCall",
    "PatchedTransport",
    "Route",
    "TransportAdapter",
    "emulator_request",
    "is_library_function",
    "library_installed",
]

DEFAULT_PORTS: Final = {"http": 80, "https": 443}


# --- what the emulator sees -----------------------------------------------------------------


def host_header(scheme: str, netloc: str) -> str:
    """The Host header a client derives from a URL: the host, and the port unless the default."""
    parts = urlsplit(f"{scheme}://{netloc}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is None or parts.port == DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{parts.port}"


def emulator_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> EmulatorRequest:
    """The `EmulatorRequest` a real server would have seen for a request to `url`.

    The query stays raw (as the client encoded it), the Host header is the one the client set or
    else the one derived from the URL, and an https URL counts as secure transport.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    lowered: dict[str, str] = {}
    for name, value in headers:
        lowered.setdefault(str(name).lower(), str(value))
    lowered["host"] = lowered.get("host") or host_header(scheme, parts.netloc)
    if body and "content-length" not in lowered and "transfer-encoding" not in lowered:
        lowered["content-length"] = str(len(body))
    wire = WireRequest(method.upper(), parts.path or "/", parts.query, lowered, body)
    return EmulatorRequest.from_wire(wire, secure=scheme == "https")


@dataclass(frozen=True, slots=True)
class LiveCall:
    """One call the emulator answered: which transport carried it, the request and the answer."""

    transport: str
    request: EmulatorRequest
    response: EmulatorResponse


DROP_MESSAGE: Final = "The emulator dropped the connection without answering (a configured fault)."


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """How a transport carries out the emulator's faults for one answer: sleep `sleep_s`, then
    raise its read-timeout error (`timed_out`) or its connection error (`dropped`), or answer."""

    delay_s: float
    sleep_s: float
    timed_out: bool
    dropped: bool

    @classmethod
    def of(cls, response: EmulatorResponse, read_timeout: float | None) -> FaultPlan:
        """Sleep the delay, or only the read timeout when the delay is longer than it."""
        delay = max(response.delay_s, 0.0)
        if delay > 0 and read_timeout is not None and delay > read_timeout:
            return cls(delay, read_timeout, True, False)
        return cls(delay, delay, False, response.drop_connection)

    @property
    def timeout_message(self) -> str:
        return (
            f"The emulator delayed its answer by {self.delay_s} s (a configured fault), longer "
            f"than the client's read timeout of {self.sleep_s} s."
        )


def is_library_function(function: object, module: str, qualname: str) -> bool:
    """Whether `function` is the library's own `module.qualname`, not a mock standing in for it.

    The adapters use it to tell whether a request would go on to the network (the library's own
    send) or to a mock of the user's (`responses`, `aioresponses`, `respx`, pytest-httpx).
    """
    return (
        getattr(function, "__module__", None) == module
        and getattr(function, "__qualname__", None) == qualname
    )


# --- activations ----------------------------------------------------------------------------


@dataclass(eq=False)
class Activation:
    """One active `mock_live` block: its emulator, its URL rules and the calls it answered."""

    owner: object
    emulator: Emulator
    routing: Routing
    active: bool = False
    calls: list[LiveCall] = field(default_factory=list)
    #: Per-transport objects the adapters build lazily for this activation (adapters, registries).
    cache: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: EmulatorRequest, transport: str) -> EmulatorResponse:
        """Hand the request to the emulator and remember the call. A HEAD request gets the
        status and headers without the body, as from the server (HTTP has no body there)."""
        response = self.emulator.handle(request)
        if request.method.upper() == "HEAD" and response.body:
            response = dataclasses.replace(response, body=b"")
        with self.lock:
            self.calls.append(LiveCall(transport, request, response))
        return response

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """The object cached under `key`, built on first use."""
        with self.lock:
            if key not in self.cache:
                self.cache[key] = build()
            return self.cache[key]


@dataclass(frozen=True, slots=True)
class Route:
    """The core's answer for one request: `activation` answers it, or (`refused`) the transport
    raises its connection error with `refusal(method)`, or neither: it goes on unchanged."""

    activation: Activation | None = None
    refused: bool = False
    url: str = ""

    def refusal(self, method: str) -> str:
        """The message of the refusal (naming the host and the option that lets it through)."""
        assert self.activation is not None
        return self.activation.routing.refusal(method, self.url)


_PASS: Final = Route()


class TransportAdapter(Protocol):
    """One client library's hook: patches that route its requests through the core."""

    name: str

    def install(self) -> None:
        """Put the patches in place."""
        ...

    def uninstall(self) -> None:
        """Take them out again (leaving alone any patch someone else put on top of them)."""
        ...


class ClassPatch:
    """Replace one attribute of a class (or module) and restore it exactly once.

    Unlike `unittest.mock.patch`, restoring checks that the attribute is still ours: when another
    library patched it on top of us and is still active, we leave its patch alone (our function,
    which it calls through, is transparent while no block is active).
    """

    def __init__(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        self.owner = owner
        self.name = name
        self._make = make
        self._installed: Any = None
        self._had_own = False
        self._previous: Any = None

    def install(self) -> None:
        vars_ = vars(self.owner)
        self._had_own = self.name in vars_
        self._previous = vars_.get(self.name)
        current = getattr(self.owner, self.name)
        self._installed = self._make(current)
        setattr(self.owner, self.name, self._installed)

    def uninstall(self) -> None:
        if self._installed is None:
            return
        if vars(self.owner).get(self.name) is self._installed:
            if self._had_own:
                setattr(self.owner, self.name, self._previous)
            else:
                delattr(self.owner, self.name)
        self._installed = None
        self._previous = None


class PatchedTransport:
    """A transport adapter made of class patches, put in and taken out together."""

    def __init__(self, name: str, patches: Iterable[ClassPatch]) -> None:
        self.name = name
        self._patches = tuple(patches)

    def install(self) -> None:
        for patch in self._patches:
            patch.install()

    def uninstall(self) -> None:
        for patch in reversed(self._patches):
            patch.uninstall()


#: The adapters, by the library they need: each module is imported only when its library is.
_ADAPTER_MODULES: Final = (
    ("requests", "acscontract.emulator._mock._requests"),
    ("aiohttp", "acscontract.emulator._mock._aiohttp"),
    ("httpx", "acscontract.emulator._mock._httpx"),
)


def library_installed(library: str) -> bool:
    """Whether `library` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(library) is not None
    except (ImportError, ValueError):
        return False


def available_adapters() -> list[TransportAdapter]:
    """An adapter for every supported client library that is installed."""
    adapters: list[TransportAdapter] = []
    for library, module_name in _ADAPTER_MODULES:
        if not library_installed(library):
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            # Never run with a library left unhooked: its Live calls would reach the network.
            missing = error.name or "a module"
            raise ImportError(
                f"mock_live cannot hook {library}, which is installed: it needs {missing}, which "
                f"cannot be imported ({error}). Install {missing}, or uninstall {library}."
            ) from error
        adapters.extend(module.adapters())
    return adapters


_BLOCKS: ContextVar[tuple[Activation, ...]] = ContextVar("acscontract_mock_live", default=())


class Interceptor:
    """The process-wide registry of active blocks, and the owner of the transport patches."""

    def __init__(self, adapters: Callable[[], list[TransportAdapter]]) -> None:
        self._lock = threading.RLock()
        self._active: tuple[Activation, ...] = ()
        self._adapters_factory = adapters
        self._installed: list[TransportAdapter] = []

    @property
    def active(self) -> tuple[Activation, ...]:
        """The active blocks, oldest first."""
        return self._active

    @property
    def installed(self) -> tuple[str, ...]:
        """The names of the transports whose patches are in place."""
        return tuple(adapter.name for adapter in self._installed)

    def activate(self, activation: Activation) -> None:
        """Start answering for `activation` in the calling context (patching on the first one)."""
        with self._lock:
            if not self._active:
                self._install()
            activation.active = True
            self._active = (*self._active, activation)
        _BLOCKS.set((*(a for a in _BLOCKS.get() if a.active), activation))

    def deactivate(self, activation: Activation) -> None:
        """Stop answering for `activation`; remove the patches when it was the last one."""
        with self._lock:
            if not activation.active:
                return
            activation.active = False
            self._active = tuple(a for a in self._active if a is not activation)
            if not self._active:
                self._uninstall()
        _BLOCKS.set(tuple(a for a in _BLOCKS.get() if a.active))

    def in_context(self) -> tuple[Activation, ...]:
        """The active blocks entered in the calling thread or task, outermost first."""
        return tuple(a for a in _BLOCKS.get() if a.active)

    def current(self) -> Activation | None:
        """The activation that answers the calling context's requests, if any is active."""
        for activation in reversed(_BLOCKS.get()):
            if activation.active:
                return activation
        active = self._active
        return active[-1] if active else None

    def route(self, url: str, reaches_network: Callable[[], bool]) -> Route:
        """Who answers a request to `url`: the emulator, a refusal, or whatever would without us.

        `reaches_network` says whether, without the mock, the request would go to the network
        (rather than to another mock); it is asked only for URLs the mock does not answer.
        """
        activation = self.current()
        if activation is None:
            return _PASS
        if activation.routing.is_live(url):
            return Route(activation=activation)
        if activation.routing.refuses(url) and reaches_network():
            return Route(activation=activation, refused=True, url=url)
        return _PASS

    def _install(self) -> None:
        adapters = self._adapters_factory()
        try:
            for adapter in adapters:
                adapter.install()
                self._installed.append(adapter)
        except BaseException:
            self._uninstall()
            raise

    def _uninstall(self) -> None:
        while self._installed:
            self._installed.pop().uninstall()


INTERCEPTOR: Final = Interceptor(available_adapters)
