"""Deploys fastroute's OpenAI-compatible server on Ray Serve (see README.md next to this file).

    # a running cluster (`ray start --head` on this node), two replicas, until Ctrl-C
    python examples/ray/serve_fastroute.py --address auto --routers sw_ranking --base-url http://llm:8000/v1 --replicas 2

    # autoscaled between 1 and 4 replicas, 32 requests in flight per replica as the target
    python examples/ray/serve_fastroute.py --address auto --routers sw_ranking --min-replicas 1 --max-replicas 4

    # try it here: a fresh local Ray instance, /v1/route only, one request, then shut down
    python examples/ray/serve_fastroute.py --routers sw_ranking --route-only --replicas 2 --once

`serve run` takes the same settings through `app` below:

    serve run serve_fastroute:app routers=sw_ranking base_url=http://llm:8000/v1 min_replicas=1 max_replicas=4
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request

from ray import serve

from fastroute.frontends.http.ray_serve import build_app


def deployment(
    routers: list[str],
    *,
    replicas: "int | None" = None,
    min_replicas: "int | None" = None,
    max_replicas: "int | None" = None,
    target_ongoing: float = 32,
    **options,
):
    """A fixed number of replicas, or autoscaling when min or max replicas are given."""
    if min_replicas is None and max_replicas is None:
        return build_app(routers, num_replicas=replicas or 1, **options)
    autoscaling = {
        "min_replicas": 1 if min_replicas is None else min_replicas,
        "max_replicas": max_replicas or max(1, min_replicas or 1),
        "target_ongoing_requests": target_ongoing,
    }
    return build_app(routers, autoscaling_config=autoscaling, **options)


def app(args: dict[str, str]):
    """Application builder for `serve run serve_fastroute:app key=value ...` (values are strings)."""
    args = dict(args)
    ints = {k: int(args.pop(k)) for k in ("replicas", "min_replicas", "max_replicas") if k in args}
    routers = args.pop("routers", "sw_ranking").split(",")
    target = float(args.pop("target_ongoing", 32))
    route_only = args.pop("route_only", "false").lower() in ("1", "true", "yes")
    return deployment(routers, target_ongoing=target, route_only=route_only, **ints, **args)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--address", default="local", help="Ray cluster ('auto': the one on this node; 'local': a new one)")
    p.add_argument("--routers", nargs="+", default=["sw_ranking"])
    p.add_argument("--strong-model")
    p.add_argument("--weak-model")
    p.add_argument("--base-url", help="one OpenAI-compatible endpoint for every model (default: $OPENAI_BASE_URL)")
    p.add_argument("--upstreams", help="upstreams TOML file (the same path on every node)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="variable holding the upstream key, on every node")
    p.add_argument("--route-only", action="store_true")
    p.add_argument("--replicas", type=int)
    p.add_argument("--min-replicas", type=int)
    p.add_argument("--max-replicas", type=int)
    p.add_argument("--target-ongoing", type=float, default=32, help="autoscaling: requests in flight per replica")
    p.add_argument("--host", default="127.0.0.1", help="where Serve's HTTP proxy listens (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--once", action="store_true", help="send one /v1/route request, print it, shut down")
    a = p.parse_args()

    import ray

    ray.init(address=a.address)
    serve.start(http_options={"host": a.host, "port": a.port})
    application = deployment(
        a.routers,
        replicas=a.replicas,
        min_replicas=a.min_replicas,
        max_replicas=a.max_replicas,
        target_ongoing=a.target_ongoing,
        strong_model=a.strong_model,
        weak_model=a.weak_model,
        base_url=a.base_url,
        upstreams_file=a.upstreams,
        api_key_env=a.api_key_env,
        route_only=a.route_only,
    )
    serve.run(application, name="fastroute", route_prefix="/")
    url = f"http://{'127.0.0.1' if a.host == '0.0.0.0' else a.host}:{a.port}"
    print(f"fastroute on Ray Serve: {url}/v1 (routers {a.routers})", flush=True)
    try:
        if a.once:
            body = json.dumps(
                {"prompt": "Prove that sqrt(2) is irrational.", "router": a.routers[0], "strong_pct": 0.5}
            ).encode()
            req = urllib.request.Request(f"{url}/v1/route", body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                print(resp.headers["x-fastroute-replica"], resp.read().decode())
            return
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
