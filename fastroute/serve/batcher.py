"""Micro-batching: concurrent requests for one router share one embed + score call.

Requests queue up while a batch is being scored (in a worker thread, so the event loop
never blocks); when it finishes, everything waiting (up to `max_batch` prompts) goes in
the next call. At low load a request is scored at once; `max_wait` (seconds) can hold a
batch open a little longer to fill it. The queue is bounded: past `max_queue` waiting
prompts, `submit` raises Overloaded (the server answers 503 with Retry-After).

One request never fails another: if a shared batch raises, each of its requests is scored
again on its own and gets its own result or its own exception.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
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
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait < 0:
            raise ValueError("max_batch and max_queue must be >= 1, max_wait >= 0")
        self.router, self.executor = router, executor
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait, max_queue
        self._queue: deque[tuple[list[str], asyncio.Future]] = deque()
        self._waiting = 0
        self._worker: "asyncio.Task | None" = None
        self.batches = 0
        self.scored = 0
        self.isolated_failures = 0  # batches that raised and were re-scored request by request

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
                p = await loop.run_in_executor(self.executor, self.router.win_rates, texts)
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
