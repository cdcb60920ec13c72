"""A minimal Prometheus text-format registry (counters and histograms), updated only from
the event loop thread."""
from __future__ import annotations

import bisect
from collections import defaultdict

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _labels(pairs: tuple) -> str:
    if not pairs:
        return ""
    esc = lambda v: str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")  # noqa: E731
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in pairs) + "}"


class Counter:
    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self.values: dict[tuple, float] = defaultdict(float)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] += amount

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        out += [f"{self.name}{_labels(k)} {v:g}" for k, v in sorted(self.values.items())]
        return out


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple = LATENCY_BUCKETS) -> None:
        self.name, self.help, self.buckets = name, help_text, buckets
        self.counts: dict[tuple, list[int]] = {}
        self.sums: dict[tuple, float] = defaultdict(float)

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[key] += value

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, counts in sorted(self.counts.items()):
            total = 0
            for le, c in zip((*self.buckets, float("inf")), counts):
                total += c
                bound = "+Inf" if le == float("inf") else f"{le:g}"
                out.append(f"{self.name}_bucket{_labels(key + (('le', bound),))} {total}")
            out.append(f"{self.name}_sum{_labels(key)} {self.sums[key]:.9g}")
            out.append(f"{self.name}_count{_labels(key)} {total}")
        return out


class Registry:
    def __init__(self) -> None:
        self.decisions = Counter("fastroute_decisions_total", "Routing decisions by router and chosen model.")
        self.routing_latency = Histogram("fastroute_routing_latency_seconds",
                                         "Time to decide (queueing, embedding and scoring), per request.")
        self.upstream_latency = Histogram("fastroute_upstream_latency_seconds",
                                          "Upstream chat-completion latency (to the last byte).")
        self.upstream_errors = Counter("fastroute_upstream_errors_total", "Upstream errors by model and status.")
        self.requests = Counter("fastroute_requests_total", "HTTP requests by endpoint and status.")
        self.tokens = Counter("fastroute_upstream_tokens_total", "Tokens reported by upstreams, by model and kind.")
        self.cost = Counter("fastroute_upstream_cost_usd_total",
                            "Estimated upstream cost from reported usage and the upstreams file's prices.")

    def render(self) -> str:
        parts = [self.decisions, self.routing_latency, self.upstream_latency, self.upstream_errors, self.requests,
                 self.tokens, self.cost]
        return "\n".join(line for m in parts for line in m.render()) + "\n"
