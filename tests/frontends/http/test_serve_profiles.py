"""Routing profiles in the server: an upstreams file's [profiles.*] (candidates with prices,
scored as the router's models) or --profile routerbench, addressed by name as the `model`:
/v1/route returns the chosen model, its predicted quality and expected cost; a chat
completion goes to the chosen candidate's own upstream."""

from __future__ import annotations

import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
openai = pytest.importorskip("openai", reason="the serve extra is not installed")

from fastroute.frontends.http.server import build_config  # noqa: E402
from fastroute.profile import load_profile  # noqa: E402

from serve_helpers import BackgroundServer, fastroute_server, post_json, stub_upstream_app  # noqa: E402

PROMPTS = [f"{t} ({i})" for i, t in enumerate(["prove a theorem about primes", "hello", "write code", "a poem"] * 6)]


def _post(url, body):
    status, _, payload = post_json(url, body)
    return status, payload


@pytest.fixture(scope="module")
def two_upstreams():
    """Each candidate behind its own stub, so the test sees which one was called."""
    rec_a: list = []
    rec_b: list = []
    with BackgroundServer(stub_upstream_app(rec_a)) as a, BackgroundServer(stub_upstream_app(rec_b)) as b:
        a.record, b.record = rec_a, rec_b
        yield a, b


def _upstreams_file(tmp_path, a, b, value):
    f = tmp_path / "upstreams.toml"
    f.write_text(
        f"""
[models."gpt-4o"]
base_url = "{a.url}/v1"
price_per_1m_input = 5.0
price_per_1m_output = 15.0
scored_as = "gpt-4-1106-preview"

[models."gpt-4o-mini"]
base_url = "{b.url}/v1"
price_per_1m_input = 0.15
price_per_1m_output = 0.6
scored_as = "mixtral-8x7b-instruct-v0.1"

[profiles.smart]
router = "mf"
value = {value}
candidates = [{{ name = "gpt-4o" }}, {{ name = "gpt-4o-mini" }}]
"""
    )
    return f


@pytest.mark.parametrize("value", [0.0, 60.0])
def test_a_profile_from_the_upstreams_file(tmp_path, two_upstreams, value):
    a, b = two_upstreams
    cfg = build_config(["mf"], "gpt-4o", "gpt-4o-mini", upstreams_file=_upstreams_file(tmp_path, a, b, value))
    prof = cfg.decision.profiles["smart"]
    assert [(c.input_price, c.output_price, c.scored_as) for c in prof.candidates] == [
        (5.0, 15.0, "gpt-4-1106-preview"),
        (0.15, 0.6, "mixtral-8x7b-instruct-v0.1"),
    ]
    want = prof.choose(PROMPTS)
    if value:  # a lam that trades: both candidates are chosen for some prompts
        assert {d.model for d in want} == {"gpt-4o", "gpt-4o-mini"}
    with fastroute_server(cfg) as srv:
        code, body = _post(f"{srv.url}/v1/route", {"model": "smart", "prompts": PROMPTS})
        assert code == 200 and body["profile"] == "smart" and body["value"] == value
        assert [d["model"] for d in body["decisions"]] == [d.model for d in want]
        for got, d in zip(body["decisions"], want):
            assert got["quality"] == pytest.approx(d.quality) and got["cost_usd"] == pytest.approx(d.cost)
        client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="unused", max_retries=0)
        for prompt, d in zip(PROMPTS[:6], want):
            before = (len(a.record), len(b.record))
            raw = client.chat.completions.with_raw_response.create(
                model="smart", messages=[{"role": "user", "content": prompt}]
            )
            assert raw.headers["x-fastroute-model"] == d.model and raw.headers["x-fastroute-profile"] == "smart"
            called = a if d.model == "gpt-4o" else b
            assert (len(a.record), len(b.record)) == (before[0] + (called is a), before[1] + (called is b))
            assert called.record[-1]["body"]["model"] == d.model
        code, models = 200, client.models.list()
        assert "smart" in [m.id for m in models.data]


def test_a_shipped_profile_and_its_start_up_checks(tmp_path, two_upstreams):
    a, _ = two_upstreams
    cfg = build_config(["mf"], base_url=f"{a.url}/v1", profiles=["routerbench"])
    names = load_profile("routerbench").names
    with fastroute_server(cfg) as srv:
        code, body = _post(f"{srv.url}/v1/route", {"model": "routerbench", "prompt": "Prove Fermat's little theorem."})
        assert code == 200 and body["decisions"][0]["model"] in names and body["decisions"][0]["cost_usd"] > 0
        code, err = _post(f"{srv.url}/v1/route", {"model": "routerbench", "prompts": ["ok", 3]})
        assert code == 400
    with pytest.raises(ValueError, match="candidate of profile routerbench"):
        build_config(
            ["mf"],
            "gpt-4o",
            "gpt-4o-mini",
            upstreams_file=_upstreams_file(tmp_path, a, a, 0.0),
            profiles=["routerbench"],
        )
    bad = tmp_path / "bad.toml"
    bad.write_text(
        _upstreams_file(tmp_path, a, a, 0.0).read_text().replace('name = "gpt-4o" }', 'name = "gpt-4o", colour = 1 }')
    )
    with pytest.raises(ValueError, match=r"profile 'smart'.*candidates\[0\]"):
        build_config(["mf"], "gpt-4o", "gpt-4o-mini", upstreams_file=bad)


def test_profiles_have_their_own_bounded_queue(tmp_path, two_upstreams, monkeypatch):
    """A burst of profile requests answers 503 past max_queue and never holds up a router."""
    import threading
    import time

    a, b = two_upstreams
    cfg = build_config(["mf"], "gpt-4o", "gpt-4o-mini", upstreams_file=_upstreams_file(tmp_path, a, b, 0.0))
    cfg.decision.max_queue = 10
    prof = cfg.decision.profiles["smart"]
    slow_choose = prof.choose
    gate = threading.Event()

    def blocked(texts, **kw):
        gate.wait(10)
        return slow_choose(texts, **kw)

    monkeypatch.setattr(prof, "choose", blocked)
    with fastroute_server(cfg) as srv:
        results: list = []
        t = threading.Thread(
            target=lambda: results.append(_post(f"{srv.url}/v1/route", {"model": "smart", "prompts": PROMPTS[:8]}))
        )
        t.start()
        time.sleep(0.3)  # the first request now holds 8 of the 10 places
        code, err = _post(f"{srv.url}/v1/route", {"model": "smart", "prompts": PROMPTS[:4]})
        assert code == 503 and err["error"]["type"] == "server_overloaded"
        t0 = time.perf_counter()
        code, body = _post(f"{srv.url}/v1/route", {"model": "router-mf-0.5", "prompt": "hi"})
        assert code == 200 and time.perf_counter() - t0 < 2.0  # the router is not behind the profile
        gate.set()
        t.join(10)
        assert results and results[0][0] == 200
