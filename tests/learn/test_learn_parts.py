"""The parts of `fastroute learn` one at a time: reading logs, sampling, the judge's verdicts,
graders, the retrying client, the cache and the budget."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from fastroute.learn.budget import Budget, BudgetExceeded, Price, most_input_tokens
from fastroute.learn.cache import CallCache, call_key
from fastroute.learn.inputs import read_prompts
from fastroute.learn.judge import grader, judge_messages, parse_verdict, strong_score


def test_prompts_are_read_from_logged_request_bodies_and_nothing_is_lost_silently(tmp_path):
    body = {"model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "q1"}]}
    rows = [
        {"prompt": "plain", "reference": "42"},
        body,
        {"ts": 1, "request": body | {"messages": [{"role": "user", "content": [{"type": "text", "text": "q2"}]}]}},
        {"ts": 2, "body": json.dumps({"messages": [{"role": "user", "content": "q3"}]})},  # a JSON string
        {"ts": 3, "response": {"id": "x"}},  # an access-log line: no prompt
        {"messages": [{"content": "no role"}]},
        {"prompt": "   "},
    ]
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "logs" / "b.txt").write_text("from a text file\n\n")
    prompts, report = read_prompts(tmp_path / "logs")
    assert [p.text for p in prompts] == ["plain", "q1", "q2", "q3", "from a text file"]
    assert prompts[0].reference == "42" and prompts[1].messages == tuple(body["messages"])  # sent as logged
    assert report.records == 9 and sum(report.skipped.values()) == 4
    text = "\n".join(report.lines())
    assert "no prompt, messages or logged request body" in text and "a.jsonl:5" in text
    assert "malformed messages" in text and "empty prompt" in text and "empty line" in text
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no prompt files"):
        read_prompts(tmp_path / "empty")


def test_the_sample_is_deterministic_split_by_hash_and_decontaminated():
    from fastroute.embedders import get_embedder
    from fastroute.learn.inputs import Prompt
    from fastroute.learn.sample import sample

    texts = [f"question number {i} about topic {i % 7} and its details" for i in range(300)]
    texts += texts[:20]  # duplicates are dropped
    prompts = [Prompt(t, ({"role": "user", "content": t},)) for t in texts]
    emb = get_embedder("static")
    a, rep = sample(prompts, max_prompts=200, heldout_fraction=0.25, seed=0, embedder=emb)
    b, _ = sample(prompts, max_prompts=200, heldout_fraction=0.25, seed=0, embedder=emb)
    assert [r.id for r in a] == [r.id for r in b] and rep.distinct == 300 and rep.sampled == 200
    split = {r.prompt.text: r.split for r in a}
    c, _ = sample(prompts, max_prompts=300, heldout_fraction=0.25, seed=1, embedder=emb)
    assert all(split[r.prompt.text] == r.split for r in c if r.prompt.text in split)  # a prompt keeps its part
    assert rep.decontaminated > 0  # these prompts are near-duplicates of each other
    E = emb.encode([r.prompt.text for r in a])
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    tr = np.array([r.split == "train" for r in a])
    assert (E[tr] @ E[~tr].T).max() < 0.95
    with pytest.raises(ValueError, match="held-out fraction"):
        sample(prompts, max_prompts=10, heldout_fraction=1.0, seed=0, embedder=emb)


@pytest.mark.parametrize(
    "reply,verdict",
    [
        ("A is clearly better.\n[[A]]", "A"),
        ("[[B]]", "B"),
        ("They tie. [[C]]", "tie"),
        ("I pick [[A]]. Final: [[A]]", "A"),
        ("Hmm, [[A]] or maybe [[B]]", None),  # two different verdicts: off-format
        ("Answer A is better.", None),
        ("[A]", None),
        ("", None),
    ],
)
def test_verdicts(reply, verdict):
    assert parse_verdict(reply) == verdict


def test_both_orders_cancel_position_bias():
    assert strong_score("A", "B") == 1.0  # strong first and chosen; weak first and not chosen
    assert strong_score("B", "A") == 0.0
    assert strong_score("A", "A") == 0.5  # always the first answer: no preference
    assert strong_score("tie", "B") == 0.75
    assert strong_score(None, "B") is None and strong_score("A", None) is None
    m = judge_messages("the question", "answer one", "answer two")
    assert "the question" in m[1]["content"] and m[1]["content"].index("answer one") < m[1]["content"].index(
        "answer two"
    )


def test_graders(tmp_path, monkeypatch):
    exact = grader("exact")
    assert exact("q", "  Paris. ", "paris") == 1.0 and exact("q", "Lyon", "Paris") == 0.0
    rx = grader(r"regex:answer:\s*(\S+)")
    assert rx("q", "work... answer: 12\nanswer: 42", "42") == 1.0 and rx("q", "no match", "42") == 0.0
    (tmp_path / "mygrade.py").write_text("def close(p, a, r):\n    return abs(float(a) - float(r)) < 0.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = grader("python:mygrade:close")
    assert fn("q", "3.2", "3") == 1.0 and fn("q", "4", "3") == 0.0
    (tmp_path / "badgrade.py").write_text("def g(p, a, r):\n    return 7\n")
    with pytest.raises(ValueError, match="returned 7"):
        grader("python:badgrade:g")("q", "a", "r")
    for bad, message in (
        ("fuzzy", "use exact"),
        ("regex:(", "not a regular expression"),
        ("python:x", "module:function"),
    ):
        with pytest.raises(ValueError, match=message):
            grader(bad)


def test_the_cache_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "calls.jsonl"
    key = call_key("m", [{"role": "user", "content": "hi"}], {"max_tokens": 5})
    assert key != call_key("m", [{"role": "user", "content": "hi"}], {"max_tokens": 6})
    with CallCache(path) as c:
        c.put(key, {"text": "hello", "cost_usd": 0.1})
    with open(path, "a") as fh:
        fh.write('{"key": "abc", "text": "cut of')  # the process died mid-write
    c = CallCache(path)
    assert c.torn_lines == 1 and c.get(key)["text"] == "hello"
    c.put("k2", {"text": "next"})
    c.close()
    again = CallCache(path)
    assert again.torn_lines == 1 and again.get("k2")["text"] == "next"  # written on a line of its own


def test_the_budget_reserves_the_most_a_call_can_cost():
    b = Budget(1.0)
    price = Price(10.0, 30.0)
    held = b.reserve(price.cost(1000, 10_000))  # 0.01 + 0.3
    b.reserve(0.5)
    with pytest.raises(BudgetExceeded, match="could cross"):
        b.reserve(0.2)
    b.settle(held, 0.05)  # billed less than reserved: room again
    b.reserve(0.2)
    with pytest.raises(BudgetExceeded, match="over the"):
        Budget(1.0).check_plan(1.5, "labelling")
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="budget-usd"):
            Budget(bad)
    assert most_input_tokens([{"role": "user", "content": "héllo"}]) == 6 + 16  # UTF-8 bytes + template


class _Resp:
    def __init__(self, status, body, headers=None):
        self.status, self._body, self.headers = status, body, headers or {}

    async def read(self):
        return self._body

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


class _Session:
    """Answers each post with the next scripted response (or raises it)."""

    def __init__(self, script):
        self.script, self.posts = list(script), 0

    def post(self, *a, **k):
        self.posts += 1
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def _chat(script, **kw):
    pytest.importorskip("aiohttp")
    from fastroute.decision.targets import Upstream
    from fastroute.learn.client import RetryPolicy, chat

    waits = []

    async def sleep(s):
        waits.append(s)

    session = _Session(script)
    policy = RetryPolicy(attempts=4, base_delay=0.01, max_delay=5.0)
    result = asyncio.run(
        chat(session, Upstream("http://h/v1"), "m", [{"role": "user", "content": "q"}], max_tokens=5,
             policy=policy, sleep=sleep, **kw)
    )  # fmt: skip
    return result, waits, session.posts


def test_the_client_retries_what_can_succeed_and_honours_retry_after():
    import aiohttp

    from fastroute.learn.client import CallFailed

    ok = json.dumps(
        {"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    )
    reply, waits, posts = _chat(
        [
            _Resp(429, b"slow", {"retry-after": "2"}),
            aiohttp.ClientConnectionError("reset"),
            _Resp(200, b"<html>garbage</html>"),
            _Resp(200, ok.encode()),
        ]
    )
    assert (reply.text, reply.input_tokens, reply.output_tokens, reply.attempts) == ("hi", 3, 1, 4)
    assert waits[0] >= 2.0 and len(waits) == 3  # Retry-After is a floor
    with pytest.raises(CallFailed, match="HTTP 400"):  # the same request will not do better
        _chat([_Resp(400, b"bad request"), _Resp(200, ok.encode())])
    with pytest.raises(CallFailed, match=r"HTTP 503 .*after 4 attempts"):
        _chat([_Resp(503, b"")] * 4)
    with pytest.raises(CallFailed, match="no text content"):
        _chat([_Resp(200, json.dumps({"choices": [{"message": {"content": None}}]}).encode())] * 4)


def test_labels_without_a_difference_are_refused_clearly(tmp_path):
    from fastroute.cli import main
    from fastroute.learn.workdir import WorkDir, write_jsonl

    wd = WorkDir(tmp_path / "work")
    wd.write_models({"strong": "s", "weak": "w", "judge": "j"})
    prompts = [f"question {i} about topic {i % 9}" for i in range(60)]
    rows = [{"prompt": p, "model_a": "s", "model_b": "w", "winner": "tie", "source": "t"} for p in prompts[:40]]
    write_jsonl(wd.battles, rows)
    write_jsonl(wd.heldout, ({"prompt": p, "s": 0.5, "w": 0.5} for p in prompts[40:]))
    assert main(["learn", "fit", "--workdir", str(wd.root)]) == 2  # one line, no traceback
    write_jsonl(wd.heldout, ({"prompt": p, "s": 1.0 if i % 3 else 0.5, "w": 0.5} for i, p in enumerate(prompts[40:])))
    with pytest.raises(ValueError, match="all 40 labelled training pairs are ties"):
        from fastroute.learn.report import fit_step

        fit_step(wd, embedder="static", seed=0, n_boot=0, target=0.95, log=lambda _: None)
