"""The server's hot path: cheap batches scored on the event loop's thread (and only those),
and orjson parsing that gives exactly what the standard-library path gives."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("aiohttp")

from fastroute.decision import validation  # noqa: E402
from fastroute.decision.batcher import MicroBatcher  # noqa: E402
from fastroute.decision.errors import APIError  # noqa: E402


class _Timed:
    """A router that takes `seconds` per call on a fake clock (so that what the batcher
    measures does not depend on the machine's load) and records the thread it ran on."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.threads, self.now = seconds, [], 0.0

    def clock(self) -> float:
        return self.now

    def win_rates(self, texts):
        self.threads.append(threading.current_thread().name)
        self.now += self.seconds
        if any("BAD" in t for t in texts):
            raise ValueError("cannot score BAD")
        return np.array([len(t) / 100.0 for t in texts])


def _batcher(router: _Timed, pool, **kwargs) -> MicroBatcher:
    batcher = MicroBatcher(router, pool, **kwargs)
    batcher.clock = router.clock
    return batcher


def _submit_each(batcher: MicroBatcher, batches: list[list[str]]) -> list:
    async def main():
        return [await batcher.submit(b) for b in batches]  # one after another: the c = 1 case

    return asyncio.run(main())


def test_a_cheap_router_is_scored_on_the_loop_thread_after_the_first_batch():
    router = _Timed(1e-5)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    batcher = _batcher(router, pool, inline_below=0.005)
    out = _submit_each(batcher, [["a"], ["bb"], ["ccc"], ["dddd"]])
    pool.shutdown()
    np.testing.assert_allclose(np.concatenate(out), [0.01, 0.02, 0.03, 0.04])
    assert router.threads[0].startswith("score")  # nothing measured yet: the worker thread
    assert router.threads[1:] == [threading.main_thread().name] * 3
    assert batcher.inline_batches == 3


def test_a_slow_router_stays_on_the_worker_thread():
    router = _Timed(0.01)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    batcher = _batcher(router, pool, inline_below=0.005)
    _submit_each(batcher, [["a"], ["bb"], ["ccc"]])
    pool.shutdown()
    assert all(t.startswith("score") for t in router.threads) and batcher.inline_batches == 0


def test_a_big_batch_of_a_cheap_router_goes_to_the_worker_thread():
    router = _Timed(0.001)  # ~1 ms a call: cheap for one prompt, not for a thousand
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    batcher = _batcher(router, pool, inline_below=0.005)
    _submit_each(batcher, [["a"], ["b"], ["x"] * 1000])
    pool.shutdown()
    assert router.threads[1] == threading.main_thread().name
    assert router.threads[2].startswith("score")


def test_inline_is_off_by_default_and_a_failure_inline_stays_with_its_request():
    router = _Timed(1e-5)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    assert MicroBatcher(router, pool).inline_below == 0.0
    batcher = _batcher(router, pool, inline_below=0.005)
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


def test_requests_of_one_loop_turn_share_one_inline_batch():
    class Counting(_Timed):
        def win_rates(self, texts):
            self.sizes = [*getattr(self, "sizes", []), len(texts)]
            return super().win_rates(texts)

    router = Counting(0.0)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    batcher = _batcher(router, pool, max_batch=4, inline_below=0.005)
    _submit_each(batcher, [["warm"]])

    async def main():
        return await asyncio.gather(*(batcher.submit([t]) for t in ("a", "bb", "ccc", "dddd", "eeeee", "ffffff")))

    out = asyncio.run(main())
    pool.shutdown()
    np.testing.assert_allclose(np.concatenate(out), [0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    # The first of the burst arrives at a quiet server and is scored at once; the rest, which
    # arrived in the same turn of the loop, share batches of at most max_batch.
    assert router.sizes[1:] == [1, 4, 1]
    assert router.threads[1:] == [threading.main_thread().name] * 3


def test_a_quiet_server_scores_each_request_at_once_without_a_turn_of_the_loop():
    router = _Timed(1e-5)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="score")
    batcher = _batcher(router, pool, inline_below=0.005)

    async def main():
        await batcher.submit(["warm"])
        await asyncio.sleep(0)  # the turn ends
        loop = asyncio.get_running_loop()
        created = []
        real = loop.create_future
        loop.create_future = lambda: created.append(1) or real()  # type: ignore[method-assign]
        out = [await batcher.submit([t]) for t in ("a", "bb")]
        for t in ("ccc", "dddd"):
            await asyncio.sleep(0)  # the next turn of the loop
            out.append(await batcher.submit([t]))
        loop.create_future = real  # type: ignore[method-assign]
        return out, created

    out, created = asyncio.run(main())
    pool.shutdown()
    np.testing.assert_allclose(np.concatenate(out), [0.01, 0.02, 0.03, 0.04])
    # "a" was scored at once; "bb" came in the same turn, so it waited for a batch, and so did
    # "ccc", the turn after a busy one; "dddd" followed a quiet turn and was scored at once.
    assert created == [1, 1]


def test_an_empty_submission_is_an_empty_answer():
    batcher = _batcher(_Timed(1e-5), concurrent.futures.ThreadPoolExecutor(1), inline_below=0.005)

    async def main():
        return await batcher.submit([]), await asyncio.gather(batcher.submit([]), batcher.submit(["a"]))

    alone, (empty, one) = asyncio.run(main())
    assert alone.shape == (0,) and empty.shape == (0,)
    np.testing.assert_allclose(one, [0.01])


def test_close_while_a_failed_batch_is_rescored_answers_every_request():
    """close() cancels the worker while it re-scores a failed shared batch one request at a
    time: the requests not yet re-scored get Overloaded, none is left waiting."""
    from fastroute.decision.batcher import Overloaded

    release = threading.Event()

    class FailsTogether:
        def win_rates(self, texts):
            if len(texts) > 1:
                raise ValueError("a shared batch fails")
            release.wait(5)
            return np.zeros(len(texts))

    pool = concurrent.futures.ThreadPoolExecutor(1)
    batcher = MicroBatcher(FailsTogether(), pool, max_batch=8)

    async def main():
        futs = [asyncio.ensure_future(batcher.submit([t])) for t in ("a", "b", "c")]
        await asyncio.sleep(0.1)  # the shared batch failed; "a" is being re-scored alone
        await batcher.close()
        release.set()
        return await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 5)

    out = asyncio.run(main())
    pool.shutdown()
    assert all(isinstance(x, Overloaded) for x in out), out


def test_a_batcher_outlives_its_event_loop_without_hanging_the_next():
    batcher = _batcher(_Timed(1e-5), concurrent.futures.ThreadPoolExecutor(1), inline_below=0.0)

    async def leave_a_pending_flush():
        asyncio.ensure_future(batcher.submit(["x"]))
        await asyncio.sleep(0)  # queued, its flush scheduled; the loop then stops

    loop = asyncio.new_event_loop()
    loop.run_until_complete(leave_a_pending_flush())
    loop.close()

    async def next_loop():
        return await asyncio.wait_for(batcher.submit(["abc"]), 5)

    np.testing.assert_allclose(asyncio.run(next_loop()), [0.03])


def test_json_out_takes_integers_beyond_64_bits():
    from fastroute.decision.json_io import dumps

    body = validation.parse_json(b'{"seed": 18446744073709551616, "m": {"n": -9223372036854775809}}')
    assert json.loads(dumps(body)) == body == json.loads(json.dumps(body))


@pytest.mark.parametrize("depth", [999, 1000, 1010, 1030])
def test_upstream_json_nesting_is_refused_as_the_standard_path_refuses_it(depth):
    raw = b"[" * depth + b"]" * depth
    saved = validation.orjson
    try:
        validation.orjson = None
        try:
            expected = ("ok", validation.loads_strict(raw) is not None)
        except ValueError:
            expected = ("error",)
    finally:
        validation.orjson = saved
    try:
        got = ("ok", validation.loads_strict(raw) is not None)
    except ValueError:
        got = ("error",)
    assert got == expected
