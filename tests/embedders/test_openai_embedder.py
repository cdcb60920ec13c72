"""OpenAIEmbedder against a real HTTP server on loopback.

The stub server (http.server.ThreadingHTTPServer on 127.0.0.1, ephemeral port)
implements POST /v1/embeddings like OpenAI, with embeddings that are a
deterministic function of the input text. It records every request, and a test
can script its next responses. A guard on socket.create_connection fails any
test that tries to reach an address other than 127.0.0.1.
"""

from __future__ import annotations

import collections
import hashlib
import http.server
import json
import socket
import threading
import time

import numpy as np
import pytest

from fastroute.embedders import get_embedder
from fastroute.embedders.openai import EmbeddingRequestError, OpenAIEmbedder

WIDTH = 8
KEY_ENV = "FASTROUTE_TEST_OPENAI_EMBEDDER_KEY"
MAX_REQUESTS = 50  # hard cap per test: the stub refuses (non-retryable) beyond it
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def fake_embedding(text: str, width: int = WIDTH) -> list[float]:
    """A deterministic, hash-seeded vector; float32-exact so values round-trip exactly."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    return [float(x) for x in np.random.default_rng(seed).standard_normal(width).astype(np.float32)]


def expected(texts, width: int = WIDTH) -> np.ndarray:
    return np.asarray([fake_embedding(t, width) for t in texts], dtype=np.float32)


# ----------------------------------------------------------------------------- stub server


class StubState:
    """What the server saw, and what it will answer next."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # {"method", "path", "headers" (lower-case keys), "body" (parsed JSON)}
        self.script: collections.deque = collections.deque()  # callables body -> (status, headers, body)
        self.width = WIDTH
        self.release = threading.Event()  # set at teardown: wakes handlers that sleep
        self.base_url = ""

    # scripting helpers ---------------------------------------------------------------
    def then(self, status: int, body=None, headers: "dict | None" = None) -> None:
        """Answer the next unscripted request with `status` and `body` (dict -> JSON)."""
        self.script.append(lambda req: (status, headers or {}, body))

    def then_ok(self, *, reverse: bool = False, width: "int | None" = None) -> None:
        self.script.append(lambda req: (200, {}, self.answer(req, reverse=reverse, width=width)))

    def then_sleep(self, seconds: float) -> None:
        def sleepy(req):
            self.release.wait(seconds)
            return 200, {}, self.answer(req)

        self.script.append(sleepy)

    def answer(self, req: dict, *, reverse: bool = False, width: "int | None" = None) -> dict:
        data = [
            {"object": "embedding", "index": i, "embedding": fake_embedding(t, width or self.width)}
            for i, t in enumerate(req["input"])
        ]
        if reverse:
            data.reverse()
        return {
            "object": "list",
            "data": data,
            "model": req.get("model"),
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    # inspection ------------------------------------------------------------------------
    def inputs(self) -> list[list[str]]:
        return [r["body"]["input"] for r in self.requests]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_StubServer"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, headers: dict, body) -> None:
        if isinstance(body, (dict, list)):
            raw = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **headers}
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = body or b""
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except OSError:  # the client gave up (timeout test)
            pass

    def do_POST(self) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        req = {
            "method": "POST",
            "path": self.path,
            "body": body,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        with state.lock:
            state.requests.append(req)
            n = len(state.requests)
            action = state.script.popleft() if state.script else None
        if n > MAX_REQUESTS:
            return self._send(418, {}, {"error": {"message": "stub: too many requests in one test"}})
        if self.path != "/v1/embeddings":
            return self._send(404, {}, {"error": {"message": f"no route {self.path}"}})
        if action is None:
            return self._send(200, {}, state.answer(body))
        self._send(*action(body))


class _StubServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    state: StubState

    def handle_error(self, request, client_address) -> None:  # no tracebacks for closed sockets
        pass


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """No network but 127.0.0.1, and no proxy in between."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        host = address[0]
        if host != "127.0.0.1":
            raise AssertionError(f"test tried to connect to {address!r}; only 127.0.0.1 is allowed")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def server():
    state = StubState()
    httpd = _StubServer(("127.0.0.1", 0), _Handler)
    httpd.state = state
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def make(server, monkeypatch):
    """An OpenAIEmbedder pointed at the stub, with an API key set and fast retries."""
    monkeypatch.setenv(KEY_ENV, "sk-test-123")

    def _make(model: str = "my-model", **kw) -> OpenAIEmbedder:
        kw.setdefault("base_url", server.base_url)
        kw.setdefault("api_key_env", KEY_ENV)
        kw.setdefault("dim", WIDTH)
        kw.setdefault("backoff", 0.01)
        kw.setdefault("max_retries", 3)
        kw.setdefault("timeout", 5.0)
        return OpenAIEmbedder(model, **kw)

    return _make


# ----------------------------------------------------------------------------- 1. basic encode


def test_encode_shape_dtype_order_and_auth_header(server, make):
    texts = ["hello", "what is 2+2?", "route me", "a fourth prompt"]
    server.then_ok(reverse=True)  # `data` arrives in reverse order: the client must sort by index
    E = make().encode(texts)
    assert E.shape == (4, WIDTH)
    assert E.dtype == np.float32
    assert E.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(E, expected(texts))

    assert len(server.requests) == 1
    req = server.requests[0]
    assert req["path"] == "/v1/embeddings"
    assert req["headers"]["authorization"] == "Bearer sk-test-123"
    assert req["headers"]["content-type"] == "application/json"
    assert req["body"] == {"model": "my-model", "input": texts, "encoding_format": "float"}


def test_single_string_is_a_batch_of_one(server, make):
    E = make().encode("just one")
    assert E.shape == (1, WIDTH)
    np.testing.assert_array_equal(E, expected(["just one"]))
    assert server.inputs() == [["just one"]]


def test_empty_batch_sends_nothing(server, make):
    E = make().encode([])
    assert E.shape == (0, WIDTH) and E.dtype == np.float32
    assert server.requests == []


def test_no_authorization_header_without_key_env(server, make, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    E = make(api_key_env=None).encode(["x", "y"])
    np.testing.assert_array_equal(E, expected(["x", "y"]))
    assert len(server.requests) == 1
    assert "authorization" not in server.requests[0]["headers"]


def test_trailing_slash_in_base_url(server, make):
    make(base_url=server.base_url + "/").encode(["a"])
    assert [r["path"] for r in server.requests] == ["/v1/embeddings"]


# ----------------------------------------------------------------------------- 2. batching


def test_batching_splits_requests_and_concatenates_in_order(server, make):
    texts = [f"prompt number {i}" for i in range(7)]
    server.then_ok(reverse=True)
    server.then_ok(reverse=True)
    E = make(batch_size=3).encode(texts)
    assert [len(x) for x in server.inputs()] == [3, 3, 1]
    assert server.inputs() == [texts[0:3], texts[3:6], texts[6:7]]
    assert E.shape == (7, WIDTH)
    np.testing.assert_array_equal(E, expected(texts))


# ----------------------------------------------------------------------------- 3. retries


def test_429_with_retry_after_zero_is_retried(server, make):
    server.then(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"})
    E = make().encode(["a", "b"])
    np.testing.assert_array_equal(E, expected(["a", "b"]))
    assert len(server.requests) == 2
    assert server.requests[0]["body"] == server.requests[1]["body"]


def test_retry_after_is_honoured(server, make):
    server.then(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.3"})
    t0 = time.monotonic()
    E = make(backoff=0.001).encode(["a"])
    elapsed = time.monotonic() - t0
    np.testing.assert_array_equal(E, expected(["a"]))
    assert len(server.requests) == 2
    assert 0.3 <= elapsed < 3.0


def test_500_then_503_then_success(server, make):
    server.then(500, {"error": {"message": "boom"}})
    server.then(503, "service unavailable")
    E = make().encode(["a", "b", "c"])
    np.testing.assert_array_equal(E, expected(["a", "b", "c"]))
    assert len(server.requests) == 3


def test_retries_exhausted_raises_with_last_status(server, make):
    server.then(500, {"error": {"message": "first"}})
    server.then(503, {"error": {"message": "second"}})
    server.then(502, {"error": {"message": "bad gateway, last one"}})
    server.then_ok()  # never reached
    with pytest.raises(EmbeddingRequestError) as info:
        make(max_retries=2).encode(["a"])
    msg = str(info.value)
    assert "HTTP 502" in msg and "bad gateway, last one" in msg
    assert "3 attempts" in msg
    assert len(server.requests) == 3


def test_connection_refused_is_retried_then_raises(make):
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EmbeddingRequestError, match="2 attempts"):
        make(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1).encode(["a"])


# ----------------------------------------------------------------------------- 4. non-retryable


@pytest.mark.parametrize(
    "status, message", [(401, "Incorrect API key provided: sk-te***123"), (404, "The model `my-model` does not exist")]
)
def test_non_retryable_status_fails_at_once(server, make, status, message):
    server.then(status, {"error": {"message": message, "type": "invalid_request_error"}})
    with pytest.raises(EmbeddingRequestError) as info:
        make(max_retries=3).encode(["a"])
    assert f"HTTP {status}" in str(info.value)
    assert message in str(info.value)
    assert len(server.requests) == 1


def test_wrong_path_is_a_404(server, make):
    with pytest.raises(EmbeddingRequestError, match="HTTP 404.*no route /v2/embeddings"):
        make(base_url=server.base_url[: -len("/v1")] + "/v2").encode(["a"])
    assert len(server.requests) == 1


# ----------------------------------------------------------------------------- 5. timeout


def test_timeout_is_retried_then_raises(server, make):
    server.then_sleep(3.0)
    server.then_sleep(3.0)
    server.then_ok()  # never reached
    t0 = time.monotonic()
    with pytest.raises(EmbeddingRequestError) as info:
        make(timeout=0.2, max_retries=1).encode(["slow"])
    elapsed = time.monotonic() - t0
    assert "2 attempts" in str(info.value)
    assert "timed out" in str(info.value).lower()
    assert elapsed < 2.0
    assert len(server.requests) == 2


# ----------------------------------------------------------------------------- 6. input too long

TOO_LONG = {
    "error": {
        "message": "This model's maximum context length is 8192 tokens, however you requested "
        "9000 tokens (9000 in your prompt). Please reduce your prompt.",
        "type": "invalid_request_error",
        "code": None,
    }
}


def test_too_long_400_retries_with_inputs_cut_in_half(server, make):
    # the input fits max_tokens * 3 characters, but the server still says it is too long
    texts = ["x" * 100, "short"]
    server.then(400, TOO_LONG)
    E = make().encode(texts)
    first, second = server.inputs()
    assert first == texts
    assert len(second[0]) < len(first[0]), "the retry must send a shorter input"
    assert second[0] == "x" * 50
    assert second[1] == "short"
    np.testing.assert_array_equal(E, expected(second))


def test_too_long_400_with_small_max_tokens(server, make):
    server.then(400, TOO_LONG)
    E = make(max_tokens=10).encode(["y" * 50, "ok"])  # limit 30 characters
    assert server.inputs() == [["y" * 30, "ok"], ["y" * 15, "ok"]]
    np.testing.assert_array_equal(E, expected(["y" * 15, "ok"]))


def test_too_long_400_gives_up_after_three_cuts(server, make):
    for _ in range(10):
        server.then(400, TOO_LONG)
    with pytest.raises(EmbeddingRequestError, match="still too long") as info:
        make().encode(["z" * 100])
    lengths = [len(x[0]) for x in server.inputs()]
    assert lengths == [100, 50, 25, 12]
    assert "12 characters" in str(info.value)  # the last limit actually tried
    assert "maximum context length" in str(info.value)  # and the server's own words


def test_other_400_is_not_retried(server, make):
    server.then(400, {"error": {"message": "'input' is invalid: unsupported encoding_format"}})
    with pytest.raises(EmbeddingRequestError, match="HTTP 400.*unsupported encoding_format"):
        make().encode(["a" * 100])
    assert len(server.requests) == 1


# ----------------------------------------------------------------------------- 7. missing key


def test_missing_api_key_env_var(server, make, monkeypatch):
    monkeypatch.delenv("FASTROUTE_TEST_UNSET_KEY", raising=False)
    with pytest.raises(EmbeddingRequestError, match="FASTROUTE_TEST_UNSET_KEY"):
        make(api_key_env="FASTROUTE_TEST_UNSET_KEY").encode(["a"])
    assert server.requests == []


def test_empty_api_key_counts_as_missing(server, make, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "")
    with pytest.raises(EmbeddingRequestError, match=KEY_ENV):
        make().encode(["a"])
    assert server.requests == []


# ----------------------------------------------------------------------------- 8. malformed


def _emb(i: int, vec) -> dict:
    return {"object": "embedding", "index": i, "embedding": vec}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"object": "list", "model": "my-model"}, id="missing-data"),
        pytest.param({"object": "list", "data": [_emb(0, [0.0] * WIDTH)]}, id="too-few-embeddings"),
        pytest.param({"object": "list", "data": [_emb(i, [0.0] * WIDTH) for i in range(3)]}, id="too-many-embeddings"),
        pytest.param({"object": "list", "data": [{"embedding": [0.0] * WIDTH}] * 2}, id="no-index"),
        pytest.param(
            {"object": "list", "data": [_emb(0, [0.0] * WIDTH), _emb(0, [1.0] * WIDTH)]}, id="duplicate-index"
        ),
        pytest.param({"object": "list", "data": [_emb(0, [0.0] * WIDTH), _emb(1, [0.0] * 3)]}, id="ragged-widths"),
        pytest.param({"object": "list", "data": [_emb(0, [0.0] * WIDTH), _emb(1, "not a vector")]}, id="not-a-vector"),
        pytest.param({"object": "list", "data": [_emb(0, [0.0] * WIDTH), _emb(1, None)]}, id="null-embedding"),
        pytest.param(["not", "an", "object"], id="json-list"),
        pytest.param("<html>gateway says hi</html>", id="not-json"),
    ],
)
def test_malformed_response(server, make, body):
    server.then(200, body)
    with pytest.raises(EmbeddingRequestError):
        make(max_retries=3).encode(["a", "b"])
    assert len(server.requests) == 1  # a malformed answer is not retried


# ----------------------------------------------------------------------------- 9. input clean-up


def test_empty_inputs_sent_as_space_and_long_inputs_cut(server, make):
    texts = ["", "abc", "x" * 50, "y" * 12]
    E = make(max_tokens=4).encode(texts)  # cut to 12 characters
    sent = [" ", "abc", "x" * 12, "y" * 12]
    assert server.inputs() == [sent]
    np.testing.assert_array_equal(E, expected(sent))


# ----------------------------------------------------------------------------- 10. dim


def test_dim_discovery_probes_once(server, make):
    server.width = 5
    emb = make(dim=None)
    assert server.requests == []  # constructing sends nothing
    assert emb.dim == 5
    assert len(server.requests) == 1
    assert emb.dim == 5
    assert len(server.requests) == 1  # asked once
    E = emb.encode(["p", "q"])
    assert E.shape == (2, 5)
    np.testing.assert_array_equal(E, expected(["p", "q"], width=5))


def test_dim_mismatch_raises(server, make):
    with pytest.raises(EmbeddingRequestError, match="width 8.*expected 16"):
        make(dim=16).encode(["a"])


def test_known_model_width_needs_no_probe_and_is_checked(server, make):
    emb = make("text-embedding-3-small", dim=None)
    assert emb.dim == 1536
    assert server.requests == []
    with pytest.raises(EmbeddingRequestError, match="expected 1536"):
        emb.encode(["a"])


def test_width_change_between_batches_raises(server, make):
    server.then_ok(width=WIDTH)
    server.then_ok(width=4)
    with pytest.raises(EmbeddingRequestError):
        make(dim=None, batch_size=1).encode(["a", "b"])


# ----------------------------------------------------------------------------- 11. get_embedder


def test_get_embedder_openai(server):
    emb = get_embedder("openai:my-model", base_url=server.base_url, api_key_env=None, dim=WIDTH, backoff=0.01)
    assert isinstance(emb, OpenAIEmbedder)
    assert emb.name == "openai:my-model"
    assert emb.model == "my-model"
    assert emb.dim == WIDTH
    E = emb.encode(["via the registry", "second"])
    np.testing.assert_array_equal(E, expected(["via the registry", "second"]))
    assert server.requests[0]["body"]["model"] == "my-model"
    assert "authorization" not in server.requests[0]["headers"]
    assert (
        get_embedder("openai:my-model", base_url=server.base_url, api_key_env=None, dim=WIDTH, backoff=0.01) is emb
    )  # cached per name and options


def test_constructor_validates_arguments():
    with pytest.raises(ValueError):
        OpenAIEmbedder("m", batch_size=0)
    with pytest.raises(ValueError):
        OpenAIEmbedder("m", max_retries=-1)
    with pytest.raises(ValueError):
        OpenAIEmbedder("m", timeout=0)
