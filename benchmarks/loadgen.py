"""A lean HTTP/1.1 load generator for loopback benchmarks: N keep-alive connections, each
sending one request after another (closed loop), bounded by a request count and a time
limit. Raw asyncio sockets keep the client's own CPU cost small, since on a 2-core
machine it shares the cores with the server it measures."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class LoadResult:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies: np.ndarray  # seconds, successful requests

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies.size else float("nan")

    def summary(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_s": round(self.throughput, 1),
            "p50_ms": round(1e3 * self.percentile(50), 3),
            "p99_ms": round(1e3 * self.percentile(99), 3),
        }


def build_request(host: str, port: int, path: str, body: dict, headers: "dict[str, str] | None" = None) -> bytes:
    payload = json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n{extra}\r\n"
    ).encode()
    return head + payload


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    for line in head.split(b"\r\n"):
        key = line[:18].lower()
        if key.startswith(b"content-length:"):
            await reader.readexactly(int(line[15:]))
            return status
        if key.startswith(b"transfer-encoding:") and b"chunked" in line.lower():
            await _read_chunked(reader)  # e.g. through Envoy or a proxy that re-chunks the answer
            return status
    raise RuntimeError("response with neither Content-Length nor chunked encoding")


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)  # the chunk and its CRLF
        if size == 0:
            return


async def run_load(
    host: str, port: int, requests: list[bytes], concurrency: int, time_limit: float = 10.0, warmup: int = 50
) -> LoadResult:
    """Sends the requests (cycled) over `concurrency` connections until all are sent or time runs out."""
    conns = [await asyncio.open_connection(host, port) for _ in range(concurrency)]
    for reader, writer in conns[:1]:  # warm up the server's code paths
        for i in range(warmup):
            writer.write(requests[i % len(requests)])
            await _read_response(reader)
    latencies: list[float] = []
    errors = 0
    next_index = 0
    deadline = time.perf_counter() + time_limit

    async def worker(reader, writer):
        nonlocal next_index, errors
        while next_index < len(requests) and time.perf_counter() < deadline:
            req = requests[next_index]
            next_index += 1
            t0 = time.perf_counter()
            writer.write(req)
            status = await _read_response(reader)
            if status == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in conns))
    elapsed = time.perf_counter() - t0
    for _, writer in conns:
        writer.close()
    return LoadResult(concurrency, len(latencies) + errors, errors, elapsed, np.array(latencies))
