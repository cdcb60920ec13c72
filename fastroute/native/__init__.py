"""The native engine (csrc/fastroute.h) from Python: where its shared libraries are, the
decider config a host opens them with, and a thin ctypes binding used to check the engine
against the Python package (tests) and by hosts that want it without the C header.

    libfastroute.so        the engine, for any host (Go, Rust, C, nginx): csrc/fastroute.h
    libfastroute_envoy.so  the engine as an Envoy HTTP filter (a dynamic module)

Both are built at install time when a C compiler and jansson are there (csrc/build_native.py);
`missing()` says why they are not. Importing this module loads nothing.
"""

from __future__ import annotations

import ctypes
import json
import threading
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

HERE = Path(__file__).resolve().parent
ENGINE_LIBRARY = "libfastroute.so"
ENVOY_MODULE = "libfastroute_envoy.so"
ENVOY_MODULE_NAME = "fastroute_envoy"  # what an Envoy config names (Envoy adds lib and .so)

__all__ = ["ENVOY_MODULE_NAME", "Decider", "Engine", "NativeError", "decider_config", "library_path", "missing"]


def library_path(name: str = ENGINE_LIBRARY) -> Path:
    """The path of a native library of this installation (it may not exist: see missing()), or
    of $FASTROUTE_NATIVE_DIR's copy (`make asan` points it at the sanitizer build)."""
    import os

    return Path(os.environ.get("FASTROUTE_NATIVE_DIR") or HERE) / name


def missing(name: str = ENGINE_LIBRARY) -> str:
    """Why the native library is not usable here, "" when it is."""
    path = library_path(name)
    if not path.is_file():
        return (
            f"{path} was not built: the install needs a C compiler and jansson's headers (Debian: "
            "apt-get install libjansson-dev), then `pip install --force-reinstall --no-deps fastroute` "
            "(or `python csrc/build_native.py` in a checkout)"
        )
    return ""


def decider_config(
    routers: "Sequence[str]" = ("mf",),
    strong_model: "str | None" = None,
    weak_model: "str | None" = None,
    *,
    scored_as: "Mapping[str, str] | None" = None,
    route_on: str = "last_user",
    profiles: "Sequence[str]" = (),
    aliases: "Mapping[str, str] | None" = None,
    max_body_bytes: int = 1 << 20,
    fail_open: "bool | None" = None,
) -> dict[str, Any]:
    """The JSON config of fastroute_decider_open (and of the Envoy module) for the same options
    as `fastroute serve`: router names become their shipped bundles' directories, profiles
    (shipped names or JSON files) are inlined with their router's directory, and the static
    embedder's directory is this installation's."""
    from ..embedders.static import MODEL_DIR
    from ..loader import DEFAULTS_DIR, default_bundle_dir, is_router_name

    def bundle(spec: str) -> str:
        if spec in ("length", "random"):
            return spec
        if is_router_name(spec):
            return str(default_bundle_dir(spec))
        path = Path(spec)
        if not path.is_dir():
            raise ValueError(f"{spec!r} is neither a bundle directory nor a router name")
        return str(path.resolve())

    names = {}
    for spec in routers:
        name = spec if is_router_name(spec) or "/" not in spec else Path(spec).name
        names[name] = bundle(spec)
    served = {}
    for spec in profiles:
        path = Path(spec) if Path(spec).is_file() else DEFAULTS_DIR / "profiles" / f"{spec}.json"
        if not path.is_file():
            raise ValueError(f"{spec!r} is neither a profile file nor a shipped profile")
        doc = json.loads(path.read_text())
        router = doc.get("router")
        local, shipped = path.parent / str(router), DEFAULTS_DIR / str(router)  # as profile_from_dict looks
        doc["router"] = (
            str((local if local.is_dir() else shipped).resolve())
            if local.is_dir() or shipped.is_dir()
            else bundle(str(router))
        )
        served[path.stem] = doc
    cfg: dict[str, Any] = {"routers": names, "embedder_dir": str(MODEL_DIR), "route_on": route_on}
    if strong_model:
        cfg["strong_model"] = strong_model
    if weak_model:
        cfg["weak_model"] = weak_model
    if scored_as:
        cfg["scored_as"] = dict(scored_as)
    if served:
        cfg["profiles"] = served
    if aliases:
        cfg["aliases"] = dict(aliases)
    cfg["max_body_bytes"] = int(max_body_bytes)
    if fail_open is not None:
        cfg["fail_open"] = bool(fail_open)
    return cfg


# ---- the ctypes binding -------------------------------------------------------------------------


class _Error(ctypes.Structure):
    _fields_ = [
        ("status", ctypes.c_int),
        ("http_status", ctypes.c_int),
        ("type", ctypes.c_char * 32),
        ("param", ctypes.c_char * 128),
        ("message", ctypes.c_char * 1024),
    ]


class _EngineOptions(ctypes.Structure):
    _fields_ = [
        ("strong_model", ctypes.c_char_p),
        ("weak_model", ctypes.c_char_p),
        ("strong_scored_as", ctypes.c_char_p),
        ("weak_scored_as", ctypes.c_char_p),
        ("embedder_dir", ctypes.c_char_p),
        ("seed", ctypes.c_uint64),
        ("half_chars", ctypes.c_double),
    ]


class _ModelString(ctypes.Structure):
    _fields_ = [
        ("router", ctypes.c_void_p),
        ("router_len", ctypes.c_size_t),
        ("is_share", ctypes.c_int),
        ("value", ctypes.c_double),
    ]


class _Decision(ctypes.Structure):
    _fields_ = [
        ("routed", ctypes.c_int),
        ("model", ctypes.c_char_p),
        ("router", ctypes.c_char_p),
        ("profile", ctypes.c_char_p),
        ("win_rate", ctypes.c_double),
        ("quality", ctypes.c_double),
        ("cost_usd", ctypes.c_double),
        ("header_names", ctypes.c_char_p * 4),
        ("header_values", ctypes.c_char_p * 4),
        ("n_headers", ctypes.c_int),
        ("body", ctypes.c_void_p),
        ("body_len", ctypes.c_size_t),
    ]


class NativeError(Exception):
    """A refusal of the native engine: `status` (fastroute_status), and for a request the HTTP
    status, OpenAI error type, param and message fastroute serve would answer with."""

    def __init__(self, status: int, http_status: int, type_: str, param: "str | None", message: str) -> None:
        super().__init__(message)
        self.status, self.http_status, self.type, self.param, self.message = status, http_status, type_, param, message

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": None}}


class Decision(NamedTuple):
    model: str
    routed: bool
    headers: dict[str, str]
    body: "bytes | None"  # the rewritten body, None when unchanged
    win_rate: float


_LIB: Any = None
_LIB_LOCK = threading.Lock()


def _lib() -> Any:
    global _LIB
    with _LIB_LOCK:
        if _LIB is None:
            why = missing()
            if why:
                raise OSError(why)
            lib = ctypes.CDLL(str(library_path()))
            P, E = ctypes.c_void_p, ctypes.POINTER(_Error)
            lib.fastroute_engine_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(_EngineOptions), ctypes.POINTER(P), E]
            lib.fastroute_engine_close.argtypes = [P]
            lib.fastroute_scratch_for_engine.argtypes = [P]
            lib.fastroute_scratch_for_engine.restype = P
            lib.fastroute_scratch_for_decider.argtypes = [P]
            lib.fastroute_scratch_for_decider.restype = P
            lib.fastroute_scratch_free.argtypes = [P]
            lib.fastroute_engine_win_rates.argtypes = [
                P, P, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t,
                ctypes.POINTER(ctypes.c_double), E,
            ]  # fmt: skip
            lib.fastroute_engine_threshold_for.argtypes = [P, ctypes.c_double, ctypes.POINTER(ctypes.c_double), E]
            lib.fastroute_parse_model_string.argtypes = [
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.POINTER(_ModelString),
                E,
            ]
            lib.fastroute_decider_open.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(P), E]
            lib.fastroute_decider_close.argtypes = [P]
            lib.fastroute_decide_chat.argtypes = [P, P, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Decision), E]
            lib.fastroute_decide_text.argtypes = [
                P, P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Decision), E,
            ]  # fmt: skip
            lib.fastroute_version.restype = ctypes.c_char_p
            _LIB = lib
    return _LIB


def _raise(rc: int, err: _Error) -> None:
    if rc != 0:
        raise NativeError(
            int(err.status), int(err.http_status), err.type.decode(), err.param.decode() or None,
            err.message.decode("utf-8", "replace"),
        )  # fmt: skip


def parse_model_string(model: str) -> tuple[str, "float | None", "float | None"]:
    """(router, threshold, strong_pct) as the native grammar reads `model`; NativeError else."""
    raw = model.encode("utf-8", "surrogatepass")
    out, err = _ModelString(), _Error()
    _raise(_lib().fastroute_parse_model_string(raw, len(raw), ctypes.byref(out), ctypes.byref(err)), err)
    router = ctypes.string_at(out.router, out.router_len).decode("utf-8")
    return (router, None, out.value) if out.is_share else (router, out.value, None)


class Engine:
    """One router bundle in the native engine (fastroute_engine), with its own scratch: use one
    Engine per thread, or guard it."""

    def __init__(
        self,
        spec: str,
        strong_model: "str | None" = None,
        weak_model: "str | None" = None,
        *,
        strong_scored_as: "str | None" = None,
        weak_scored_as: "str | None" = None,
        embedder_dir: "str | None" = None,
        seed: int = 0,
        half_chars: float = 0.0,
    ) -> None:
        from ..embedders.static import MODEL_DIR
        from ..loader import default_bundle_dir, is_router_name

        if is_router_name(spec) and spec not in ("length", "random"):
            spec = str(default_bundle_dir(spec))
        enc = lambda s: None if s is None else s.encode()  # noqa: E731
        opts = _EngineOptions(
            enc(strong_model), enc(weak_model), enc(strong_scored_as), enc(weak_scored_as),
            enc(embedder_dir or str(MODEL_DIR)), seed, half_chars,
        )  # fmt: skip
        self._lib, handle, err = _lib(), ctypes.c_void_p(), _Error()
        _raise(
            self._lib.fastroute_engine_open(spec.encode(), ctypes.byref(opts), ctypes.byref(handle), ctypes.byref(err)),
            err,
        )
        self._handle: "ctypes.c_void_p | None" = handle
        self._scratch = self._lib.fastroute_scratch_for_engine(handle)
        if not self._scratch:
            self.close()
            raise MemoryError("no scratch for the native engine")

    def win_rates(self, texts: Sequence[str]) -> list[float]:
        raw = [t.encode("utf-8") for t in texts]
        arr = (ctypes.c_char_p * len(raw))(*raw)
        lens = (ctypes.c_size_t * len(raw))(*map(len, raw))
        out, err = (ctypes.c_double * len(raw))(), _Error()
        _raise(
            self._lib.fastroute_engine_win_rates(
                self._handle, self._scratch, arr, lens, len(raw), out, ctypes.byref(err)
            ),
            err,
        )
        return list(out)

    def threshold_for(self, share: float) -> float:
        t, err = ctypes.c_double(), _Error()
        _raise(self._lib.fastroute_engine_threshold_for(self._handle, share, ctypes.byref(t), ctypes.byref(err)), err)
        return t.value

    def close(self) -> None:
        if getattr(self, "_scratch", None):
            self._lib.fastroute_scratch_free(self._scratch)
            self._scratch = None
        if getattr(self, "_handle", None):
            self._lib.fastroute_engine_close(self._handle)
            self._handle = None

    __del__ = close


class Decider:
    """A decider of the native engine (fastroute_decider) over `config` (decider_config()), with
    its own scratch: one per thread."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        raw = json.dumps(config).encode()
        self._lib, handle, err = _lib(), ctypes.c_void_p(), _Error()
        _raise(self._lib.fastroute_decider_open(raw, len(raw), ctypes.byref(handle), ctypes.byref(err)), err)
        self._handle: "ctypes.c_void_p | None" = handle
        self._scratch = self._lib.fastroute_scratch_for_decider(handle)
        if not self._scratch:
            self.close()
            raise MemoryError("no scratch for the native decider")

    @staticmethod
    def _decision(d: _Decision) -> Decision:
        headers = {d.header_names[i].decode(): d.header_values[i].decode() for i in range(d.n_headers)}
        body = ctypes.string_at(d.body, d.body_len) if d.body else None
        return Decision(d.model.decode(), bool(d.routed), headers, body, float(d.win_rate))

    def decide_chat(self, body: bytes) -> Decision:
        out, err = _Decision(), _Error()
        _raise(
            self._lib.fastroute_decide_chat(
                self._handle, self._scratch, body, len(body), ctypes.byref(out), ctypes.byref(err)
            ),
            err,
        )
        return self._decision(out)

    def decide_text(self, model: str, text: str) -> Decision:
        raw = text.encode("utf-8")
        out, err = _Decision(), _Error()
        rc = self._lib.fastroute_decide_text(
            self._handle, self._scratch, model.encode(), raw, len(raw), ctypes.byref(out), ctypes.byref(err)
        )
        _raise(rc, err)
        return self._decision(out)

    def close(self) -> None:
        if getattr(self, "_scratch", None):
            self._lib.fastroute_scratch_free(self._scratch)
            self._scratch = None
        if getattr(self, "_handle", None):
            self._lib.fastroute_decider_close(self._handle)
            self._handle = None

    __del__ = close
