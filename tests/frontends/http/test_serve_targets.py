"""The server with RouteLLM's model semantics: --strong-model / --weak-model are the models to
call (any names), scored as the router's own pair unless they match its models or a scored_as
mapping says otherwise; OPENAI_BASE_URL is the default upstream; no upstream at all fails at
start-up; router-<router>-<percent>% is calibrated from the bundle's stored quantiles."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
openai = pytest.importorskip("openai", reason="the serve extra is not installed")

from fastroute import load_router  # noqa: E402
from fastroute.frontends.http.server import build_config  # noqa: E402

from serve_helpers import fastroute_server, post_json  # noqa: E402

MIXTRAL_ANYSCALE = "anyscale/mistralai/Mixtral-8x7B-Instruct-v0.1"
PROMPTS = [f"{t} ({i})" for i, t in enumerate(["prove a theorem about primes", "hello", "write code", "a poem"] * 8)]


def _post(url, body):
    status, _, payload = post_json(url, body)
    return status, payload


@pytest.fixture(autouse=True)
def no_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.mark.parametrize("strong, weak", [("gpt-4o", "gpt-4o-mini"), ("gpt-4-1106-preview", MIXTRAL_ANYSCALE)])
def test_targets_through_the_openai_client(upstream, strong, weak):
    cfg = build_config(["mf", "random", "length"], strong, weak, base_url=f"{upstream.url}/v1")
    mf = cfg.decision.routers["mf"]
    assert (mf.strong_model, mf.weak_model) == ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    with fastroute_server(cfg) as srv:
        client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="unused", max_retries=0)
        for model, want in (("router-mf-0.0", strong), ("router-mf-1.0", weak), ("router-random-0.0", strong)):
            out = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            assert out.model == want and upstream.record[-1]["body"]["model"] == want
        # the share form: calibrated from the bundle's stored quantiles
        t = mf.threshold_for(0.5)
        rates = mf.win_rates(PROMPTS)
        for prompt, rate in zip(PROMPTS[:4], rates):
            raw = client.chat.completions.with_raw_response.create(
                model="router-mf-50%", messages=[{"role": "user", "content": prompt}]
            )
            assert raw.headers["x-fastroute-model"] == (strong if rate >= t else weak)
        code, body = _post(f"{srv.url}/v1/route", {"model": "router-mf-50%", "prompts": PROMPTS})
        assert code == 200 and body["threshold"] == pytest.approx(t)
        assert [d["model"] for d in body["decisions"]] == [strong if x >= t else weak for x in rates]
        code, same = _post(f"{srv.url}/v1/route", {"router": "mf", "strong_pct": 0.5, "prompts": PROMPTS})
        assert code == 200 and same["decisions"] == body["decisions"]
        code, rnd = _post(f"{srv.url}/v1/route", {"model": "router-random-50%", "prompt": "x"})
        assert code == 200 and rnd["threshold"] == 0.5  # uniform win rates: no calibration needed
        code, err = _post(f"{srv.url}/v1/route", {"model": "router-length-50%", "prompt": "x"})
        assert code == 400 and "stores no win-rate quantiles" in err["error"]["message"]
        assert "use a raw threshold" in err["error"]["message"] and err["error"]["param"] == "model"
        code, err = _post(f"{srv.url}/v1/route", {"router": "mf", "threshold": 0.5, "strong_pct": 0.5, "prompt": "x"})
        assert code == 400 and "not both" in err["error"]["message"]
        with urllib.request.urlopen(f"{srv.url}/v1/models", timeout=5) as resp:
            models = {m["id"]: m for m in json.loads(resp.read())["data"]}
        assert models["router-mf-50%"]["strong_model"] == strong and models["router-mf-50%"]["weak_model"] == weak
        assert models["router-mf-50%"]["scored_pair"] == ["gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"]
        assert "router-random-0.5" in models


def test_defaults_to_each_bundles_own_pair(upstream):
    cfg = build_config(["mf"], base_url=f"{upstream.url}/v1")
    assert (cfg.decision.strong_model, cfg.decision.weak_model) == ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    assert cfg.decision.routers["mf"].targets == (cfg.decision.strong_model, cfg.decision.weak_model)


def test_openai_base_url_is_the_default_upstream(upstream, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", f"{upstream.url}/v1/")
    cfg = build_config(["mf"], "gpt-4o", "gpt-4o-mini")
    assert cfg.default_upstream is not None and cfg.default_upstream.base_url == f"{upstream.url}/v1"
    with fastroute_server(cfg) as srv:
        client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="unused", max_retries=0)
        out = client.chat.completions.create(model="router-mf-1", messages=[{"role": "user", "content": "x"}])
        assert out.model == "gpt-4o-mini"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="OPENAI_BASE_URL: upstream base URL holds '@'"):
        build_config(["random"])


def test_no_upstream_fails_at_start_up(tmp_path, upstream):
    with pytest.raises(ValueError) as info:
        build_config(["mf"], "gpt-4o", "gpt-4o-mini")
    msg = str(info.value)
    assert "no upstream serves 'gpt-4o' (strong model of router mf); 'gpt-4o-mini' (weak model of router mf)" in msg
    assert "--base-url" in msg and "OPENAI_BASE_URL" in msg and "--upstreams" in msg
    assert build_config(["mf"], "gpt-4o", "gpt-4o-mini", route_only=True).default_upstream is None
    path = tmp_path / "up.toml"
    path.write_text(f'[models."gpt-4o"]\nbase_url = "{upstream.url}/v1"\n')
    with pytest.raises(ValueError, match=r"no upstream serves 'gpt-4o-mini' \(weak model of router mf\)"):
        build_config(["mf"], "gpt-4o", "gpt-4o-mini", upstreams_file=path)


def test_upstreams_file_scored_as(tmp_path, upstream):
    path = tmp_path / "up.toml"
    path.write_text(
        f'[models."gpt-4o"]\nbase_url = "{upstream.url}/v1"\nscored_as = "gpt-4-0314"\n\n'
        f'[models."local-llama"]\nbase_url = "{upstream.url}/v1"\nscored_as = "llama-2-7b-chat"\n'
    )
    cfg = build_config(["mf"], "gpt-4o", "local-llama", upstreams_file=path)
    mf = cfg.decision.routers["mf"]
    assert (mf.strong_model, mf.weak_model) == ("gpt-4-0314", "llama-2-7b-chat")
    assert mf.targets == ("gpt-4o", "local-llama") and mf.win_rate_quantiles is None
    with fastroute_server(cfg) as srv:
        code, body = _post(f"{srv.url}/v1/route", {"model": "router-mf-0", "prompt": "x"})
        assert code == 200 and body["decisions"][0]["model"] == "gpt-4o"
    with pytest.raises(ValueError, match="scored as 'gpt-4-0314' in .* and as 'gpt-4-0613' by --scored-as"):
        build_config(["mf"], "gpt-4o", "local-llama", upstreams_file=path, scored_as={"gpt-4o": "gpt-4-0613"})
    path.write_text(f'[models."gpt-4o"]\nbase_url = "{upstream.url}/v1"\nscored_as = 4\n')
    with pytest.raises(ValueError, match="scored_as must name"):
        build_config(["mf"], "gpt-4o", "x", upstreams_file=path)


def test_serve_command_without_upstream_says_what_to_pass():
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "fastroute.cli", "serve", "--routers", "random", "--strong-model", "gpt-4o"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2
    assert "no upstream serves 'gpt-4o' (strong model of router random)" in out.stderr
    assert "pass --base-url URL" in out.stderr and "Traceback" not in out.stderr
    bad = subprocess.run([*cmd, "--scored-as", "nope"], capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2 and "expected NAME=MODEL" in bad.stderr


def test_serve_command_with_targets(upstream):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "fastroute.cli", "serve", "--routers", "mf", "--port", str(port)]
    cmd += ["--strong-model", "gpt-4o", "--weak-model", MIXTRAL_ANYSCALE, "--scored-as", "gpt-4o=gpt-4-0314"]
    proc = subprocess.Popen(
        cmd,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OPENAI_BASE_URL": f"{upstream.url}/v1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
        out = client.chat.completions.create(model="router-mf-1.0", messages=[{"role": "user", "content": "x"}])
        assert out.model == MIXTRAL_ANYSCALE == upstream.record[-1]["body"]["model"]
        code, body = _post(f"http://127.0.0.1:{port}/v1/route", {"model": "router-mf-0.0", "prompt": "x"})
        assert body["decisions"][0]["model"] == "gpt-4o"
        assert load_router("mf", strong_model="gpt-4o", scored_as={"gpt-4o": "gpt-4-0314"}).strong_model == "gpt-4-0314"
    finally:
        proc.terminate()
        proc.wait(10)
