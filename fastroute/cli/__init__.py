"""`fastroute` command line: one sub-module per command group, loaded on demand."""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, help). Each module has add_arguments(parser) and run(args) -> int.
COMMANDS = {
    "route": ("fastroute.cli.route", "route prompts: print the chosen model per prompt"),
    "score": ("fastroute.cli.score", "score a file of prompts (txt/jsonl/parquet) into jsonl/parquet"),
    "serve": ("fastroute.cli.serve", "OpenAI-compatible routing server"),
    "calibrate": ("fastroute.cli.calibrate", "threshold for a share of strong-model calls"),
    "eval": ("fastroute.cli.eval", "evaluate routers on RouteLLM's benchmarks or your own data"),
    "train": ("fastroute.cli.train", "train a router (mf, sw_ranking) or rebuild the defaults"),
    "data": ("fastroute.cli.data", "import battle data; decontaminate it against evaluation sets"),
    "info": ("fastroute.cli.info", "version, kernel backends and what is installed"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastroute", description="A fast, RouteLLM-faithful LLM router.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: "list[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    from ..errors import FastrouteError

    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except (FastrouteError, ValueError, FileNotFoundError, ImportError) as exc:
        print(f"fastroute {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
