"""`fastroute learn` end to end against stub upstreams on loopback (stub_upstreams.py): it must
learn the judge's hidden rule from at most 2,000 labelled prompts, beat every baseline on the
held-out prompts, and get within 90% of the oracle, while upstreams fail, rate-limit and
return garbage, the judge answers off-format, the process is killed mid-run, and a budget
caps the spend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("aiohttp")

from stub_upstreams import JUDGE, STRONG, WEAK, StubServer, StubWorld, make_prompts, upstreams_toml, write_prompts

from fastroute.cli import main
from fastroute.learn.cache import CallCache, call_key

FAST_RETRIES = ["--retry-delay", "0.001", "--retries", "3"]


def _world(prompts: dict[str, str], faults: bool = True) -> StubWorld:
    world = StubWorld(prompts)
    if faults:
        rng = np.random.default_rng(1)
        names = list(prompts)
        pick = lambda share: {names[i] for i in rng.choice(len(names), int(share * len(names)), replace=False)}  # noqa: E731
        world.always_fail = {(WEAK, p) for p in pick(0.01)}
        world.garbage_always = {(STRONG, p) for p in pick(0.005)}
        world.once_429 = {(STRONG, p) for p in pick(0.05)}
        world.once_garbage = {(WEAK, p) for p in pick(0.05)}
        world.once_503 = pick(0.03)
        world.off_format = pick(0.03)
        world.position_biased = pick(0.05)
    return world


def _files(tmp_path, world: StubWorld, prompts, prices=None):
    src = tmp_path / "logs"
    src.mkdir(exist_ok=True)
    write_prompts(src / "requests.jsonl", prompts)
    ups = tmp_path / "upstreams.toml"
    ups.write_text(upstreams_toml(world, prices))
    return src, ups


def _args(step, wd, ups, *extra):
    models = ["--upstreams", str(ups), "--strong-model", STRONG, "--weak-model", WEAK]
    return ["learn", step, "--workdir", str(wd), *models, *extra]


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_learn_learns_the_hidden_rule_through_the_faults(tmp_path):
    kinds = make_prompts(1600, seed=0)
    world = _world(kinds)
    with StubServer(world):
        src, ups = _files(tmp_path, world, kinds)
        wd = tmp_path / "work"
        argv = _args("run", wd, ups, "--prompts", str(src), "--judge-model", JUDGE, "--bootstrap", "200")
        assert main(argv + ["--concurrency", "32", *FAST_RETRIES]) == 0
        first_run = world.total_hits()
        assert main(argv + ["--concurrency", "32", *FAST_RETRIES]) == 0  # a rerun pays for nothing new...
        again = world.total_hits() - first_run
    labels = {r["id"]: r for r in _jsonl(wd / "labels.jsonl")}
    prompts = {r["id"]: r for r in _jsonl(wd / "prompts.jsonl")}
    sampled = {p["prompt"] for p in prompts.values()}
    # ...but the calls that failed: they were never cached, so they are tried again (4 attempts each)
    failing = [p for _, p in world.always_fail | world.garbage_always if p in sampled]
    assert again == 4 * len(failing)
    assert len(labels) == len(prompts) and len(prompts) <= 1600
    by_status: dict[str, set] = {}
    for i, r in labels.items():
        by_status.setdefault(r["status"], set()).add(prompts[i]["prompt"])
    broken = {p for _, p in world.always_fail | world.garbage_always}
    assert by_status["no answers"] == broken & sampled  # each fails alone
    assert by_status["off-format"] == (world.off_format - broken) & sampled
    assert all(labels[i]["score"] is None for i in labels if labels[i]["status"] != "ok")  # never guessed
    trained = {json.loads(line)["prompt"] for line in (wd / "battles.jsonl").read_text().splitlines()}
    held = {r["prompt"] for r in _jsonl(wd / "heldout.jsonl")}
    assert not (trained | held) & (by_status["no answers"] | by_status["off-format"])
    assert not trained & held
    biased = world.position_biased & trained  # both orders cancel a judge's position bias
    scores = {prompts[i]["prompt"]: r["score"] for i, r in labels.items()}
    assert biased and all(scores[p] == 0.5 for p in biased)
    retried = [(m, p) for m, p in world.once_429 | world.once_garbage if p in sampled - broken]
    assert retried and all(world.served[k] == 1 and world.hits[k] == 2 for k in retried)  # retried, then answered

    report = json.loads((wd / "report" / "report.json").read_text())
    m = report["metrics"]
    chosen = m[report["chosen"]]["APGR"]
    assert report["bundle"] and (wd / "learned" / "fastroute.json").is_file()
    assert chosen >= 0.9 * m["optimal"]["APGR"], m
    assert chosen > m["random"]["APGR"] and chosen > m["prompt length"]["APGR"], m
    assert report["strong_share_at_target"] is not None and report["model_string"].startswith("router-")
    from fastroute.loader import load_router

    router = load_router(report["bundle"])
    s_prompts = [p for p, k in kinds.items() if k == "S"][:50]
    w_prompts = [p for p, k in kinds.items() if k == "W"][:50]
    assert np.median(router.win_rates(s_prompts)) > np.median(router.win_rates(w_prompts))


def test_a_crashed_run_resumes_without_paying_twice(tmp_path):
    kinds = make_prompts(400, seed=2)
    world = _world(kinds, faults=False)
    with StubServer(world):
        src, ups = _files(tmp_path, world, kinds)
        wd = tmp_path / "work"
        assert main(["learn", "prepare", "--workdir", str(wd), "--prompts", str(src)]) == 0
        env = {**os.environ, "FASTROUTE_PROGRESS": "0"}
        cmd = [sys.executable, "-m", "fastroute.cli", *_args("answer", wd, ups, "--concurrency", "2")]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while world.total_hits() < 200 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # a crash: no cleanup, no flush beyond what was written
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
        served_before = sum(world.served.values())
        cached = CallCache(wd / "calls.jsonl").entries
        assert 0 < len(cached) <= served_before < 2 * len(_jsonl(wd / "prompts.jsonl"))
        params = {"max_tokens": 512, "temperature": 0.0}
        rows = _jsonl(wd / "prompts.jsonl")
        keys = {(m, r["prompt"]): call_key(m, r["messages"], params) for r in rows for m in (STRONG, WEAK)}
        before = world.hits.copy()
        assert main(_args("answer", wd, ups)) == 0
    new = world.hits - before
    assert sum(new.values()) == 2 * len(rows) - len(cached)  # exactly the calls the crash lost
    assert not [k for k in new if keys[k] in cached]  # nothing cached is asked again
    answers = _jsonl(wd / "answers.jsonl")
    assert len(answers) == len(rows) and all("text" in a["strong"] and "text" in a["weak"] for a in answers)


def test_the_budget_is_checked_before_any_call_and_never_crossed(tmp_path):
    kinds = make_prompts(200, seed=3)
    world = _world(kinds, faults=False)
    world.bill_bytes = True  # upstreams bill the most they can: more than the plan's estimate
    prices = {STRONG: (10.0, 30.0), WEAK: (0.5, 1.5), JUDGE: (5.0, 15.0)}
    with StubServer(world):
        src, ups = _files(tmp_path, world, kinds, prices)
        wd = tmp_path / "work"
        run = _args("run", wd, ups, "--prompts", str(src), "--judge-model", JUDGE, "--bootstrap", "50")
        assert main(run + ["--budget-usd", "0.5"]) == 3  # the plan is refused...
        assert world.total_hits() == 0  # ...before any call
        unpriced = tmp_path / "unpriced.toml"
        unpriced.write_text(upstreams_toml(world))
        assert main(_args("answer", wd, unpriced, "--budget-usd", "1")) == 2  # a cap needs every price
        # the answers' plan fits $3.25 (it is $3.20), but the upstreams bill more than it, so the run stops short
        assert main(_args("answer", wd, ups, "--budget-usd", "3.25")) == 3
        spent = sum(r["cost_usd"] for r in CallCache(wd / "calls.jsonl").entries.values())
        made = world.total_hits()
        assert 0 < made < 2 * len(_jsonl(wd / "prompts.jsonl")) and spent <= 3.25
        assert main(_args("answer", wd, ups, "--budget-usd", "10")) == 0  # goes on from there
    assert world.total_hits() == 2 * len(_jsonl(wd / "prompts.jsonl"))
    assert max(world.hits.values()) == 1


def test_graded_against_references_instead_of_judged(tmp_path):
    kinds = make_prompts(600, seed=4)
    world = _world(kinds, faults=False)
    world.references = {p: str(i) for i, p in enumerate(kinds)}
    with StubServer(world):
        ups = tmp_path / "upstreams.toml"
        ups.write_text(upstreams_toml(world))
        src = tmp_path / "prompts.jsonl"
        src.write_text("".join(json.dumps({"prompt": p, "reference": r}) + "\n" for p, r in world.references.items()))
        wd = tmp_path / "work"
        argv = _args("run", wd, ups, "--prompts", str(src), "--grader", r"regex:ANSWER: (\S+)", "--bootstrap", "50")
        assert main(argv) == 0
    assert not any(m == JUDGE for m, _ in world.hits)  # graded: no judge was called
    labels = _jsonl(wd / "labels.jsonl")
    prompts = {r["id"]: r["prompt"] for r in _jsonl(wd / "prompts.jsonl")}
    for r in labels:
        assert r["status"] == "ok" and r["weak_grade"] == float(kinds[prompts[r["id"]]] != "S")
    report = json.loads((wd / "report" / "report.json").read_text())
    m = report["metrics"]
    assert (
        m[report["chosen"]]["APGR"] >= 0.9 * m["optimal"]["APGR"]
        and "grade by regex" in (wd / "report" / "report.md").read_text()
    )
