"""A complete Envoy config that routes inside the proxy with fastroute's dynamic module: the
listener, the module's HTTP filter with its decider config, one route and cluster per model it
may choose (matched on the x-fastroute-model header it sets), the x-fastroute-* headers copied
onto the response, and a default route for requests the filter does not route.

`fastroute envoy-module --envoy-config` prints it for this installation (absolute paths);
examples/envoy/envoy-module.yaml is the same config with paths relative to a checkout's root.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

HEADERS = ("x-fastroute-model", "x-fastroute-win-rate", "x-fastroute-router", "x-fastroute-profile",
           "x-fastroute-quality", "x-fastroute-cost-usd")  # fmt: skip


def _yaml_string(s: str) -> str:
    return json.dumps(s)  # a JSON string is a YAML flow scalar


def envoy_config(
    decider: Mapping[str, Any],
    models: Mapping[str, str],
    *,
    module_name: str = "fastroute_envoy",
    module_path: "str | None" = None,
    listen_port: int = 10000,
    admin_port: int = 9901,
    default_model: "str | None" = None,
    buffer_limit_bytes: int = 8 << 20,
) -> str:
    """The YAML. `decider`: the module's config (fastroute.native.decider_config); `models`:
    each model the filter may choose -> the host:port of its upstream; `default_model`: where
    requests the filter does not route go (default: the first model); `module_path`: the
    module's file (default: found by name in $ENVOY_DYNAMIC_MODULES_SEARCH_PATH)."""
    if not models:
        raise ValueError("name at least one model and its upstream")
    default = default_model or next(iter(models))
    if default not in models:
        raise ValueError(f"default model {default!r} has no upstream")
    headers = "\n".join(
        f'              - header: {{ key: {h}, value: "%REQ({h})%" }}\n'
        "                append_action: OVERWRITE_IF_EXISTS_OR_ADD"
        for h in HEADERS
    )
    routes = "\n".join(
        "              - match:\n"
        '                  prefix: "/"\n'
        "                  headers:\n"
        "                  - name: x-fastroute-model\n"
        f"                    string_match: {{ exact: {_yaml_string(m)} }}\n"
        f"                route: {{ cluster: {_yaml_string(_cluster(m))}, timeout: 0s, idle_timeout: 60s }}"
        for m in models
    )
    clusters = "\n".join(
        f"  - name: {_yaml_string(_cluster(m))}\n"
        "    type: STATIC\n"
        "    connect_timeout: 1s\n"
        "    load_assignment:\n"
        f"      cluster_name: {_yaml_string(_cluster(m))}\n"
        "      endpoints:\n"
        "      - lb_endpoints:\n"
        "        - endpoint:\n"
        "            address:\n"
        f"              socket_address: {{ address: {addr.rpartition(':')[0]}, port_value: {addr.rpartition(':')[2]} }}"
        for m, addr in models.items()
    )
    filter_json = json.dumps(dict(decider), separators=(",", ":"))
    module_file = (
        f"\n                module:\n                  local:\n                    filename: {_yaml_string(module_path)}"
        if module_path
        else ""
    )
    return f"""# Envoy routing inside the proxy: fastroute's dynamic module (libfastroute_envoy.so) decides in
# Envoy's worker threads what `fastroute extproc` decides over gRPC. For each POST
# .../chat/completions it buffers the body, rewrites its "model" (router-sw_ranking-50% -> a model below),
# sets x-fastroute-model (and -win-rate, -router, or a profile's -quality, -cost-usd, -profile) and
# clears the route cache, so the routes below pick the chosen model's cluster. Client-sent
# x-fastroute-* headers are dropped by the module. Responses, streams included, pass untouched.
# Run: envoy -c <this file> (the module's file is named below; `fastroute envoy-module` prints it).
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin_port} }}

overload_manager:
  resource_monitors:
  - name: envoy.resource_monitors.global_downstream_max_connections
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: 10000

static_resources:
  listeners:
  - name: openai
    address:
      socket_address: {{ address: 127.0.0.1, port_value: {listen_port} }}
    # A buffered body must fit here (else Envoy answers 413); the module reads up to its
    # max_body_bytes (bodies over it get fastroute's own 413).
    per_connection_buffer_limit_bytes: {buffer_limit_bytes}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: openai
          codec_type: AUTO
          route_config:
            name: models
            virtual_hosts:
            - name: models
              domains: ["*"]
              # The client sees the decision, as with fastroute's own server.
              response_headers_to_add:
{headers}
              routes:
{routes}
              # Requests the module did not route (GET /v1/models, a model with no route above,
              # and every request when it fails open) go to the default model's upstream.
              - match: {{ prefix: "/" }}
                route: {{ cluster: {_yaml_string(_cluster(default))}, timeout: 0s, idle_timeout: 60s }}
          http_filters:
          - name: fastroute
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter
              dynamic_module_config:
                name: {module_name}{module_file}
                do_not_close: true
              filter_name: fastroute
              # The decider: routers (bundle directories), targets, profiles, aliases, body
              # limit, and fail_open (false: a router failure is a 5xx; true: the request goes on
              # unrouted to the default route).
              filter_config:
                "@type": type.googleapis.com/google.protobuf.StringValue
                value: {_yaml_string(filter_json)}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router

  clusters:
{clusters}
"""


def _cluster(model: str) -> str:
    return "model_" + "".join(c if c.isalnum() or c in "-_." else "_" for c in model)


def relative_path(path: Any, root: str) -> Any:
    """`path` relative to `root` when it lies under it."""
    if isinstance(path, str) and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path


def relative_decider(decider: Mapping[str, Any], root: str) -> dict[str, Any]:
    """The decider config with paths under `root` written relative to it (for the example)."""

    def rel(path: Any) -> Any:
        if isinstance(path, str) and path.startswith(root.rstrip("/") + "/"):
            return path[len(root.rstrip("/")) + 1 :]
        return path

    out = dict(decider)
    out["routers"] = {k: rel(v) for k, v in decider.get("routers", {}).items()}
    out["embedder_dir"] = rel(decider.get("embedder_dir"))
    if "profiles" in decider:
        out["profiles"] = {k: dict(p, router=rel(p.get("router"))) for k, p in decider["profiles"].items()}
    return out


__all__ = ["HEADERS", "envoy_config", "relative_decider", "relative_path"]
