"""The server's hot path: cheap batches scored on the event loop's thread (and only those),
and orjson parsing that gives exactly what the standard-library path gives."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("aiohttp")

from fastroute.serve import validation  # noqa: E402
from fastroute.serve.batcher import MicroBatcher  # noqa: E402
from fastroute.serve.errors import APIError  # noqa: E402


class _Timed:
    """A router that takes `seconds` per call and records the thread it ran on."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.threads = seconds, []

    def win_rates(self, texts):
        self.threads.append(threading.current_thread().name)
        time.sleep(self.seconds)
        if any("BAD" in t for t in texts):
            raise ValueError("cannot score BAD")
        return np.array([len(t) / 100.0 for t in texts])


def _submit_each(batcher: MicroBatcher, batches: list[list[str]]) -> list:
    async def main():
        return [await batcher.submit(b) for b in batches]  # one after another: the c = 1 case

    return asyncio.run(main())


def test_a_cheap_router_is_scored_on_the_loop_thread_after_the_first_batch():
    router = _Timed(0.0)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    batcher = MicroBatcher(router, pool, inline_below=0.005)
    out = _submit_each(batcher, [["a"], ["bb"], ["ccc"], ["dddd"]])
    pool.shutdown()
    np.testing.assert_allclose(np.concatenate(out), [0.01, 0.02, 0.03, 0.04])
    assert router.threads[0].startswith("score")  # nothing measured yet: the worker thread
    assert router.threads[1:] == [threading.main_thread().name] * 3
    assert batcher.inline_batches == 3


def test_a_slow_router_stays_on_the_worker_thread():
    router = _Timed(0.01)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    batcher = MicroBatcher(router, pool, inline_below=0.005)
    _submit_each(batcher, [["a"], ["bb"], ["ccc"]])
    pool.shutdown()
    assert all(t.startswith("score") for t in router.threads) and batcher.inline_batches == 0


def test_a_big_batch_of_a_cheap_router_goes_to_the_worker_thread():
    router = _Timed(0.001)  # ~1 ms a call: cheap for one prompt, not for a thousand
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    batcher = MicroBatcher(router, pool, inline_below=0.005)
    _submit_each(batcher, [["a"], ["b"], ["x"] * 1000])
    pool.shutdown()
    assert router.threads[1] == threading.main_thread().name
    assert router.threads[2].startswith("score")


def test_inline_is_off_by_default_and_a_failure_inline_stays_with_its_request():
    router = _Timed(0.0)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    assert MicroBatcher(router, pool).inline_below == 0.0
    batcher = MicroBatcher(router, pool, inline_below=0.005)
    _submit_each(batcher, [["warm"]])

    async def main():
        return await asyncio.gather(*(batcher.submit(t) for t in (["ok"], ["BAD"], ["fine"])), return_exceptions=True)

    ok, bad, fine = asyncio.run(main())
    pool.shutdown()
    np.testing.assert_allclose(ok, [0.02])
    np.testing.assert_allclose(fine, [0.04])
    assert isinstance(bad, ValueError) and "BAD" in str(bad)
    with pytest.raises(ValueError, match="inline_below"):
        MicroBatcher(router, pool, inline_below=-1)


def _standard(raw: bytes):
    """parse_json with the orjson path switched off."""
    saved = validation.orjson
    validation.orjson = None
    try:
        return validation.parse_json(raw)
    finally:
        validation.orjson = saved


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(st.text(max_size=8), _json, max_size=5))
def test_orjson_parsing_gives_the_standard_values(body):
    pytest.importorskip("orjson")
    raw = json.dumps(body).encode()
    assert validation.parse_json(raw) == _standard(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 123456789012345678901234567890}',  # orjson would read a float
        b'{"a": NaN}',
        b'{"a": 1e400}',
        b'{"a": "\\ud800"}',
        b'{"a": "x\ty"}',
        b"\xef\xbb\xbf{}",
        b"[1, 2]",
        b'{"a": ' + b"[" * 70 + b"]" * 70 + b"}",
        b"\xff{}",
    ],
)
def test_what_orjson_would_change_or_refuse_gets_the_standard_answer(raw):
    def outcome(parse):
        try:
            return ("ok", parse(raw))
        except APIError as err:
            return ("error", err.status, err.message)

    assert outcome(validation.parse_json) == outcome(_standard)
