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
    "extproc": ("fastroute.cli.extproc", "Envoy external processor: routes requests inside Envoy"),
    "envoy-module": (
        "fastroute.cli.envoy_module",
        "fastroute in Envoy's own threads: the dynamic module and its config",
    ),
    "calibrate": ("fastroute.cli.calibrate", "threshold for a share of strong-model calls"),
    "eval": ("fastroute.cli.eval", "evaluate routers on RouteLLM's benchmarks or your own data"),
    "train": ("fastroute.cli.train", "train a router (mf, sw_ranking) or rebuild the defaults"),
    "learn": ("fastroute.cli.learn", "a router for your own traffic: answer, judge, train, evaluate"),
    "data": ("fastroute.cli.data", "import battle data; decontaminate it against evaluation sets"),
    "info": ("fastroute.cli.info", "version, kernel backends and what is installed"),
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; every (sub)parser is a common.Parser, so all show their defaults."""
    from .common import Parser

    parser = Parser(prog="fastroute", description="A fast, RouteLLM-faithful LLM router.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return parser


# Exit status of a command whose reader went away (`fastroute route ... | head`), as a
# shell reports a process killed by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141


def main(argv: "list[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    from ..errors import FastrouteError

    try:
        status = int(importlib.import_module(args._module).run(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at interpreter exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (FastrouteError, ValueError, FileNotFoundError, ImportError) as exc:
        print(f"fastroute {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    """Points stdout at /dev/null, so that Python's final flush of the unwritable buffer
    does not print a second BrokenPipeError (the recipe in Python's signal docs)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (e.g. captured in tests)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
