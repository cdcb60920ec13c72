"""Micro-batching: concurrent requests for one router share one embed + score call.

Requests queue up while a batch is being scored (in a worker thread, so the event loop
never blocks); when it finishes, everything waiting (up to `max_batch` prompts) goes in
the next call. At low load a request is scored at once; `max_wait` (seconds) can hold a
batch open a little longer to fill it. A batch expected to take less than `inline_below`
seconds (from the measured time per prompt of earlier batches) is scored on the event loop's
own thread: for a cheap router (mf on one short prompt: ~30 us) the hop to a worker thread
and back costs more than the scoring. Anything bigger still goes to the worker thread. The queue is bounded: past `max_queue` waiting
prompts, `submit` raises Overloaded (the server answers 503 with Retry-After).

One request never fails another: if a shared batch raises, each of its requests is scored
again on its own and gets its own result or its own exception.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import time
from collections import deque
from typing import Any

import numpy as np


class Overloaded(Exception):
    pass


class MicroBatcher:
    def __init__(
        self,
        router,
        executor: concurrent.futures.Executor,
        max_batch: int = 256,
        max_wait: float = 0.0,
        max_queue: int = 4096,
        inline_below: float = 0.0,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait < 0 or inline_below < 0:
            raise ValueError("max_batch and max_queue must be >= 1, max_wait and inline_below >= 0")
        self.router, self.executor = router, executor
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait, max_queue
        self.inline_below = inline_below
        self._per_prompt = math.inf  # seconds, a moving average over recent batches (inf: not measured yet)
        self._queue: deque[tuple[list[str], asyncio.Future]] = deque()
        self._waiting = 0
        self._worker: "asyncio.Task | None" = None
        self.batches = 0
        self.scored = 0
        self.isolated_failures = 0  # batches that raised and were re-scored request by request
        self.inline_batches = 0  # batches scored on the event loop's thread

    @property
    def waiting(self) -> int:
        return self._waiting

    async def submit(self, texts: list[str]) -> np.ndarray:
        if len(texts) > self.max_queue:
            raise ValueError(f"{len(texts)} prompts in one request; the queue holds at most {self.max_queue}")
        if self._waiting + len(texts) > self.max_queue:
            raise Overloaded(f"{self._waiting} prompts already waiting")
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((texts, fut))
        self._waiting += len(texts)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            if self.max_wait and self._waiting < self.max_batch:
                await asyncio.sleep(self.max_wait)
            batch: list[Any] = []
            texts: list[str] = []
            while self._queue and (not texts or len(texts) + len(self._queue[0][0]) <= self.max_batch):
                item = self._queue.popleft()
                batch.append(item)
                texts.extend(item[0])
            self._waiting -= len(texts)
            try:
                p = await self._score(loop, texts)
            except asyncio.CancelledError:  # close(): the batch in flight is answered too
                _fail(batch, Overloaded("the server is shutting down"))
                raise
            except Exception as exc:  # noqa: BLE001 - isolated below: each request gets its own outcome
                await self._score_alone(batch, exc)
                continue
            self.batches += 1
            self.scored += len(texts)
            lo = 0
            for item_texts, fut in batch:
                if not fut.done():
                    fut.set_result(p[lo : lo + len(item_texts)])
                lo += len(item_texts)

    async def _score(self, loop: asyncio.AbstractEventLoop, texts: list[str]) -> np.ndarray:
        """Scores one batch, inline when it is expected to be cheap, and updates the estimate
        (the scoring time alone, so that a slow hop to the thread never counts against it)."""
        if self._per_prompt * len(texts) < self.inline_below:
            p, seconds = self._timed(texts)
            self.inline_batches += 1
        else:
            p, seconds = await loop.run_in_executor(self.executor, self._timed, texts)
        per_prompt = seconds / len(texts)
        self._per_prompt = per_prompt if self._per_prompt == math.inf else 0.8 * self._per_prompt + 0.2 * per_prompt
        return p

    def _timed(self, texts: list[str]) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        p = self.router.win_rates(texts)
        return p, time.perf_counter() - t0

    async def close(self) -> None:
        """Stops the worker at shutdown; requests still waiting get Overloaded (a 503)."""
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        _fail(self._queue, Overloaded("the server is shutting down"))
        self._queue.clear()
        self._waiting = 0

    async def _score_alone(self, batch: list, exc: Exception) -> None:
        """A batch raised: find whose request caused it by scoring each one alone."""
        if len(batch) == 1:
            if not batch[0][1].done():
                batch[0][1].set_exception(exc)
            return
        self.isolated_failures += 1
        loop = asyncio.get_running_loop()
        for item_texts, fut in batch:
            if fut.done():  # its client has gone
                continue
            try:
                p = await loop.run_in_executor(self.executor, self.router.win_rates, item_texts)
            except Exception as own:  # noqa: BLE001 - this request's own error
                if not fut.done():
                    fut.set_exception(own)
                continue
            if not fut.done():
                fut.set_result(p)


def _fail(items, exc: Exception) -> None:
    for _, fut in items:
        if not fut.done():
            fut.set_exception(exc)
