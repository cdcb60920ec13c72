"""Micro-batching: concurrent requests for one router share one embed + score call.

Requests queue up while a batch is being scored (in a worker thread, so the event loop
never blocks); when it finishes, everything waiting (up to `max_batch` prompts) goes in
the next call. At low load a request is scored at once; `max_wait` (seconds) can hold a
batch open a little longer to fill it. The queue is bounded: past `max_queue` waiting
prompts, `submit` raises Overloaded (the server answers 503 with Retry-After).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
from collections import deque

import numpy as np


class Overloaded(Exception):
    pass


class MicroBatcher:
    def __init__(self, router, executor: concurrent.futures.Executor, max_batch: int = 256,
                 max_wait: float = 0.0, max_queue: int = 4096) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait < 0:
            raise ValueError("max_batch and max_queue must be >= 1, max_wait >= 0")
        self.router, self.executor = router, executor
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait, max_queue
        self._queue: deque[tuple[list[str], asyncio.Future]] = deque()
        self._waiting = 0
        self._worker: "asyncio.Task | None" = None
        self.batches = 0
        self.scored = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    async def submit(self, texts: list[str]) -> np.ndarray:
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
            batch, texts = [], []
            while self._queue and (not texts or len(texts) + len(self._queue[0][0]) <= self.max_batch):
                item = self._queue.popleft()
                batch.append(item)
                texts.extend(item[0])
            self._waiting -= len(texts)
            try:
                p = await loop.run_in_executor(self.executor, self.router.win_rates, texts)
            except Exception as exc:  # noqa: BLE001 - delivered to every waiting request
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            self.scored += len(texts)
            lo = 0
            for item_texts, fut in batch:
                if not fut.done():
                    fut.set_result(p[lo : lo + len(item_texts)])
                lo += len(item_texts)
