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
        self.clock = time.perf_counter  # what scoring times are read from (tests give a fake one)
        self._per_prompt = math.inf  # seconds, a moving average over recent batches (inf: not measured yet)
        self._queue: deque[tuple[list[str], asyncio.Future]] = deque()
        self._waiting = 0
        self._worker: "asyncio.Task | None" = None
        self._flush_handle: "asyncio.Handle | None" = None
        self._turn_handle: "asyncio.Handle | None" = None
        self._turn_arrivals = self._last_turn_arrivals = 0
        self._turn_loop: "asyncio.AbstractEventLoop | None" = None
        self.batches = 0
        self.scored = 0
        self.isolated_failures = 0  # batches that raised and were re-scored request by request
        self.inline_batches = 0  # batches scored on the event loop's thread

    @property
    def waiting(self) -> int:
        return self._waiting

    async def submit(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float64)
        if len(texts) > self.max_queue:
            raise ValueError(f"{len(texts)} prompts in one request; the queue holds at most {self.max_queue}")
        if self._waiting + len(texts) > self.max_queue:
            raise Overloaded(f"{self._waiting} prompts already waiting")
        loop = asyncio.get_running_loop()
        alone = self._arrive(loop)
        if alone and not self._queue and self._flush_handle is None and (self._worker is None or self._worker.done()):
            if self._per_prompt * len(texts) < self.inline_below:  # nothing to batch with: score at once
                p, seconds = self._timed(texts)  # its error is this request's own
                self._note(seconds, len(texts), inline=True)
                self.batches, self.scored = self.batches + 1, self.scored + len(texts)
                return p
        fut = loop.create_future()
        self._queue.append((texts, fut))
        self._waiting += len(texts)
        if self._flush_handle is None and (self._worker is None or self._worker.done()):
            # After the requests of this turn of the loop have queued: they share the batch.
            self._flush_handle = loop.call_soon(self._flush)
        return await fut

    def _arrive(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Counts the requests of this turn of the event loop; True when the last turn that had
        any had one only (a quiet server: no batch would form, so waiting a turn is waste)."""
        if self._turn_loop is not loop:  # a new event loop (tests run several): forget the old one's state
            self._turn_loop, self._turn_handle, self._turn_arrivals, self._last_turn_arrivals = loop, None, 0, 0
            self._flush_handle, self._worker = None, None
            _fail(self._queue, Overloaded("the event loop that queued this request has stopped"))
            self._queue.clear()
            self._waiting = 0
        if self._turn_handle is None:
            self._turn_handle = loop.call_soon(self._end_turn)
        self._turn_arrivals += 1
        return self._last_turn_arrivals <= 1 and self._turn_arrivals == 1

    def _end_turn(self) -> None:
        self._turn_handle = None
        self._last_turn_arrivals, self._turn_arrivals = self._turn_arrivals, 0

    def _flush(self) -> None:
        """Scores what waits right here when it is cheap (no task, no thread), else hands the
        queue to the worker task."""
        self._flush_handle = None
        loop = asyncio.get_running_loop()
        while self._queue and not self.max_wait and self._per_prompt * self._next_size() < self.inline_below:
            batch, texts = self._take()
            try:
                p, seconds = self._timed(texts)
            except Exception as exc:  # noqa: BLE001 - isolated by the worker: each request gets its own outcome
                self._worker = loop.create_task(self._run((batch, exc)))
                return
            self._note(seconds, len(texts), inline=True)
            self._deliver(batch, p)
        if self._queue:
            self._worker = loop.create_task(self._run())

    def _next_size(self) -> int:
        n = 0
        for item_texts, _ in self._queue:
            if n and n + len(item_texts) > self.max_batch:
                break
            n += len(item_texts)
        return n

    def _take(self) -> tuple[list[Any], list[str]]:
        batch: list[Any] = []
        texts: list[str] = []
        while self._queue and (not texts or len(texts) + len(self._queue[0][0]) <= self.max_batch):
            item = self._queue.popleft()
            batch.append(item)
            texts.extend(item[0])
        self._waiting -= len(texts)
        return batch, texts

    def _deliver(self, batch: list[Any], p: np.ndarray) -> None:
        self.batches += 1
        self.scored += sum(len(t) for t, _ in batch)
        lo = 0
        for item_texts, fut in batch:
            if not fut.done():
                fut.set_result(p[lo : lo + len(item_texts)])
            lo += len(item_texts)

    async def _run(self, failed: "tuple[list[Any], Exception] | None" = None) -> None:
        loop = asyncio.get_running_loop()
        if failed is not None:
            await self._score_alone_or_fail(*failed)
        while self._queue:
            if self.max_wait and self._waiting < self.max_batch:
                await asyncio.sleep(self.max_wait)
            batch, texts = self._take()
            try:
                p = await self._score(loop, texts)
            except asyncio.CancelledError:  # close(): the batch in flight is answered too
                _fail(batch, Overloaded("the server is shutting down"))
                raise
            except Exception as exc:  # noqa: BLE001 - isolated below: each request gets its own outcome
                await self._score_alone_or_fail(batch, exc)
                continue
            self._deliver(batch, p)

    async def _score_alone_or_fail(self, batch: list, exc: Exception) -> None:
        """_score_alone; if close() cancels it midway, the batch's unanswered requests get a 503."""
        try:
            await self._score_alone(batch, exc)
        except asyncio.CancelledError:
            _fail(batch, Overloaded("the server is shutting down"))
            raise

    async def _score(self, loop: asyncio.AbstractEventLoop, texts: list[str]) -> np.ndarray:
        """Scores one batch, inline when it is expected to be cheap."""
        inline = self._per_prompt * len(texts) < self.inline_below
        if inline:
            p, seconds = self._timed(texts)
        else:
            p, seconds = await loop.run_in_executor(self.executor, self._timed, texts)
        self._note(seconds, len(texts), inline)
        return p

    def _note(self, seconds: float, n: int, inline: bool) -> None:
        """Updates the estimate from the scoring time alone (a slow hop to the thread never counts)."""
        if n == 0:
            return
        per_prompt = seconds / n
        self._per_prompt = per_prompt if self._per_prompt == math.inf else 0.8 * self._per_prompt + 0.2 * per_prompt
        self.inline_batches += inline

    def _timed(self, texts: list[str]) -> tuple[np.ndarray, float]:
        t0 = self.clock()
        p = self.router.win_rates(texts)
        return p, self.clock() - t0

    async def close(self) -> None:
        """Stops the worker at shutdown; requests still waiting get Overloaded (a 503)."""
        for handle in (self._flush_handle, self._turn_handle):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._turn_handle = None
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
            try:
                fut.set_exception(exc)
            except RuntimeError:  # its event loop has closed: nothing waits for it any more
                pass
