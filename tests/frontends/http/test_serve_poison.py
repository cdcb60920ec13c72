"""One request must never fail another: malformed requests mixed into a concurrent load get
their own 4xx, and every well-formed request still gets 200 and its own decision."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json

import numpy as np
import pytest

aiohttp = pytest.importorskip("aiohttp", reason="the serve extra is not installed")

from fastroute import RandomRouter, load_router  # noqa: E402
from fastroute.decision.batcher import MicroBatcher  # noqa: E402
from fastroute.decision.targets import Upstream  # noqa: E402

from serve_helpers import fastroute_server, serve_config  # noqa: E402

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
LONE = "\ud800"  # a lone surrogate: valid in a JSON string escape, not encodable as UTF-8


def _poison(i: int) -> dict:
    """Five kinds of malformed request, all of them 4xx."""
    kind = (i // 50) % 5
    if kind == 0:
        return {"router": "mf", "threshold": 0.5, "prompt": f"bad {i} {LONE}"}
    if kind == 1:
        return {"router": "mf", "threshold": 0.5, "messages": [{"role": "user", "content": f"x{LONE}"}]}
    if kind == 2:
        return {
            "router": "mf",
            "threshold": 0.5,
            "messages": [{"role": "user", "content": [{"type": "text", "text": 7}]}],
        }
    if kind == 3:
        return {"router": ["mf"], "threshold": 0.5, "prompt": "p"}
    return {"router": "mf", "threshold": True, "prompt": "p"}


class _FailsInTheBatch:
    """The mf router, except that scoring a batch holding a 'BATCHPOISON' prompt raises, as a
    prompt the embedder or a kernel rejects would: such a request passes the server's checks
    and reaches a shared micro-batch."""

    def __init__(self, router) -> None:
        self._router, self.shared_batches = router, 0

    def __getattr__(self, name):
        return getattr(self._router, name)

    def win_rates(self, texts=None, **kw):
        bad = [i for i, t in enumerate(texts) if "BATCHPOISON" in t]
        if bad:
            self.shared_batches += len(texts) > len(bad)
            raise ValueError(f"prompt {bad[0]} cannot be embedded")
        return self._router.win_rates(texts, **kw)


@pytest.mark.parametrize("where", ["request", "batch"])
def test_poisoned_load_fails_no_innocent_request(upstream, where):
    """where='request': malformed requests, caught before batching; where='batch': well-formed
    requests whose scoring fails inside a batch shared with innocent ones."""
    router = load_router("mf")
    served = _FailsInTheBatch(router) if where == "batch" else router
    cfg = serve_config(
        routers={"mf": served},
        strong_model=STRONG,
        weak_model=WEAK,
        default_upstream=Upstream(f"{upstream.url}/v1"),
        max_wait=0.002,
    )
    n, concurrency = 600, 48
    prompts = [f"question {i}: explain topic {i % 23} in depth" for i in range(n)]
    poisoned = {i for i in range(n) if i % 50 == 7}

    async def main(url):
        sem = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession() as s:

            async def one(i):
                if i in poisoned:
                    body = (
                        _poison(i)
                        if where == "request"
                        else {"router": "mf", "threshold": 0.5, "prompt": f"BATCHPOISON {i}"}
                    )
                elif i % 3 == 0:
                    body = {"model": "router-mf-0.5", "messages": [{"role": "user", "content": prompts[i]}]}
                else:
                    body = {"router": "mf", "threshold": 0.5, "prompt": prompts[i]}
                path = "/v1/chat/completions" if i % 3 == 0 and i not in poisoned else "/v1/route"
                async with sem:
                    async with s.post(
                        url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
                    ) as r:
                        return i, r.status, r.headers.get("x-fastroute-win-rate"), await r.json()

            return await asyncio.gather(*(one(i) for i in range(n)))

    with fastroute_server(cfg) as srv:
        results = asyncio.run(main(srv.url))
    expected = router.win_rates(prompts)
    innocent_failures, poison_statuses = [], []
    for i, status, header_p, body in results:
        if i in poisoned:
            poison_statuses.append(status)
            assert 400 <= status < 500 and set(body["error"]) == {"message", "type", "param", "code"}, (i, status, body)
            continue
        if status != 200:
            innocent_failures.append((i, status, body))
            continue
        p = float(header_p) if i % 3 == 0 else body["decisions"][0]["win_rate"]
        assert p == pytest.approx(expected[i], abs=1e-6), i  # its own decision, not a neighbour's
    assert innocent_failures == []
    assert len(poison_statuses) == len(poisoned) == 12
    if where == "batch":  # the poison really shared batches with innocent requests
        assert set(poison_statuses) == {400} and served.shared_batches > 0


def test_lone_surrogate_is_a_400_naming_the_field(upstream):
    cfg = serve_config(
        routers={"mf": load_router("mf")},
        strong_model=STRONG,
        weak_model=WEAK,
        default_upstream=Upstream(f"{upstream.url}/v1"),
    )

    async def main(url):
        async with aiohttp.ClientSession() as s:
            out = []
            for path, body in [
                ("/v1/route", {"router": "mf", "threshold": 0.5, "prompts": ["ok", f"a{LONE}"]}),
                (
                    "/v1/chat/completions",
                    {
                        "model": "router-mf-0.5",
                        "messages": [{"role": "user", "content": "fine"}, {"role": "user", "content": f"b{LONE}"}],
                    },
                ),
                (
                    "/v1/chat/completions",
                    {
                        "model": "passthrough",
                        "temperature": 0.1,
                        "messages": [{"role": "user", "content": "x"}],
                        "metadata": {"note": LONE},
                    },
                ),
            ]:
                async with s.post(url + path, data=json.dumps(body).encode()) as r:
                    out.append((r.status, (await r.json())["error"]))
            return out

    n_before = len(upstream.record)
    with fastroute_server(cfg) as srv:
        (s1, e1), (s2, e2), (s3, e3) = asyncio.run(main(srv.url))
    assert s1 == 400 and e1["param"] == "prompts[1]" and "UTF-8" in e1["message"]
    assert s2 == 400 and e2["param"] == "messages[1].content" and "UTF-8" in e2["message"]
    assert s3 == 400 and e3["param"] == "metadata.note"
    assert len(upstream.record) == n_before  # nothing was forwarded


class _Picky:
    """A router that fails on some texts: ValueError on 'BAD', RuntimeError on 'CRASH'."""

    strong_model, weak_model, embedder_spec, win_rate_quantiles = STRONG, WEAK, None, None

    def __init__(self) -> None:
        self.inner = RandomRouter(seed=3)
        self.calls: list[int] = []

    def win_rates(self, texts):
        self.calls.append(len(texts))
        for t in texts:
            if "BAD" in t:
                raise ValueError(f"cannot score {t!r}")
            if "CRASH" in t:
                raise RuntimeError("kernel exploded")
        return np.array([len(t) / 100.0 for t in texts])

    def decide(self, p, t):
        return [STRONG if x >= t else WEAK for x in p]


def test_batcher_fails_only_the_request_that_broke_the_batch():
    router = _Picky()
    pool = concurrent.futures.ThreadPoolExecutor(1)
    batcher = MicroBatcher(router, pool, max_batch=64, max_wait=0.01)

    async def main():
        texts = [["a"], ["bb", "ccc"], ["BAD one"], ["dddd"], ["CRASH"], ["eeeee"]]
        return await asyncio.gather(*(batcher.submit(t) for t in texts), return_exceptions=True)

    out = asyncio.run(main())
    pool.shutdown()
    assert router.calls[0] == 7  # they did share one batch
    np.testing.assert_allclose(out[0], [0.01])
    np.testing.assert_allclose(out[1], [0.02, 0.03])
    np.testing.assert_allclose(out[3], [0.04])
    np.testing.assert_allclose(out[5], [0.05])
    assert isinstance(out[2], ValueError) and "BAD one" in str(out[2])
    assert isinstance(out[4], RuntimeError)


def test_router_failures_become_json_errors_for_that_request_only(upstream):
    cfg = serve_config(
        routers={"picky": _Picky()},
        strong_model=STRONG,
        weak_model=WEAK,
        default_upstream=Upstream(f"{upstream.url}/v1"),
        max_wait=0.01,
    )

    async def main(url):
        async with aiohttp.ClientSession() as s:

            async def one(p):
                async with s.post(url + "/v1/route", json={"router": "picky", "threshold": 0.5, "prompt": p}) as r:
                    return r.status, r.content_type, await r.json()

            return await asyncio.gather(*(one(p) for p in ["ok", "BAD", "fine", "CRASH", "good"]))

    with fastroute_server(cfg) as srv:
        out = asyncio.run(main(srv.url))
    assert [s for s, _, _ in out] == [200, 400, 200, 500, 200]
    assert all(ct == "application/json" for _, ct, _ in out)
    assert "cannot score" in out[1][2]["error"]["message"]
    assert out[3][2]["error"]["type"] == "server_error" and "kernel exploded" not in out[3][2]["error"]["message"]


def test_batcher_with_a_real_router_isolates_a_prompt_the_embedder_rejects():
    """Past the server's own validation (e.g. a caller using the batcher directly): the real
    embedder's error for a lone surrogate fails only the request that holds it."""
    router = load_router("mf")
    pool = concurrent.futures.ThreadPoolExecutor(1)
    batcher = MicroBatcher(router, pool, max_batch=64, max_wait=0.01)
    texts = [["fine one"], [f"bad {LONE}"], ["fine two", "fine three"]]

    async def main():
        return await asyncio.gather(*(batcher.submit(t) for t in texts), return_exceptions=True)

    out = asyncio.run(main())
    pool.shutdown()
    assert isinstance(out[1], ValueError)
    np.testing.assert_allclose(out[0], router.win_rates(["fine one"]), atol=1e-9)
    np.testing.assert_allclose(out[2], router.win_rates(["fine two", "fine three"]), atol=1e-9)
    assert batcher.isolated_failures == 1


def test_batcher_close_stops_its_worker_and_answers_the_waiting():
    """At shutdown no batcher task is left pending, and queued requests get Overloaded."""
    import threading
    import time

    from fastroute.decision.batcher import Overloaded

    release = threading.Event()

    class Slow:
        def win_rates(self, texts):
            release.wait(5)
            return np.zeros(len(texts))

    pool = concurrent.futures.ThreadPoolExecutor(1)
    batcher = MicroBatcher(Slow(), pool, max_batch=1)

    async def main():
        first = asyncio.ensure_future(batcher.submit(["a"]))
        await asyncio.sleep(0.05)  # the worker is now scoring "a"; "b" waits in the queue
        second = asyncio.ensure_future(batcher.submit(["b"]))
        await asyncio.sleep(0.05)
        await batcher.close()
        release.set()
        out = await asyncio.gather(first, second, return_exceptions=True)
        return out, batcher._worker.done(), batcher.waiting

    t0 = time.perf_counter()
    (first, second), done, waiting = asyncio.run(main())
    pool.shutdown()
    assert done and waiting == 0 and time.perf_counter() - t0 < 4
    assert isinstance(first, Overloaded) and isinstance(second, Overloaded)
