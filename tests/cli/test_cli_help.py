"""Every option of every `fastroute` command explains itself: help text, its default shown,
and what None means where the default is None."""

from __future__ import annotations

import argparse

import pytest

from fastroute.cli import build_parser
from fastroute.cli.common import default_text, shows_default


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) for the parser and every subparser below it, nested ones too."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def _options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        yield action


def _flat(text: str) -> str:
    return " ".join(text.split())


def _bare(text: str) -> str:
    """Text without any white space: --help wraps lines, at hyphens too."""
    return "".join(text.split())


def _rendered(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The action's help as --help prints it (wrapping undone)."""
    return _flat(parser._get_formatter()._expand_help(action))


PARSERS = list(_parsers(build_parser()))


def test_the_walk_reaches_every_command_and_nested_subcommand():
    paths = {" ".join(p) for p, _ in PARSERS}
    from fastroute.cli import COMMANDS

    assert set(COMMANDS) <= paths
    assert {
        "train mf",
        "train sw_ranking",
        "train bert",
        "train defaults",
        "data import",
        "data decontaminate",
    } <= paths


def problems(parsers=PARSERS) -> list[str]:
    out = []
    for path, parser in parsers:
        where = "fastroute " + " ".join(path)
        page = _bare(parser.format_help())
        for action in _options(parser):
            name = "/".join(action.option_strings) or action.dest
            if not (action.help or "").strip():
                out.append(f"{where} {name}: no help text")
                continue
            text = _rendered(parser, action)
            if _bare(text) not in page:
                out.append(f"{where} {name}: its help is not in --help")
            if shows_default(action.default) and default_text(action.default) not in text:
                out.append(f"{where} {name}: the default {action.default!r} is not shown: {text!r}")
            takes_value = action.option_strings and action.nargs != 0
            if takes_value and action.default is None and not action.required and "default" not in text:
                out.append(f"{where} {name}: defaults to None without saying what that means: {text!r}")
    return out


def test_every_option_has_help_and_shows_its_default():
    assert problems() == []


@pytest.mark.parametrize(
    "command, option, wrong",
    [
        (("serve",), "--port", "TCP port (default: 80)"),  # a default misstated
        (("train", "mf"), "--dim", "width (default: 64)"),  # in a nested subcommand
        (("score",), "--calibrate-on", "prompts to calibrate on"),  # None, unexplained
    ],
)
def test_the_check_fails_when_help_is_missing_or_wrong(command, option, wrong):
    parser = dict(PARSERS)[command]
    action = next(a for a in parser._actions if option in a.option_strings)
    name = f"fastroute {' '.join(command)} {'/'.join(action.option_strings)}"
    saved = action.help
    try:
        action.help = ""
        assert problems([(command, parser)]) == [f"{name}: no help text"]
        action.help = wrong
        assert [p.split(":")[0] for p in problems([(command, parser)])] == [name]
    finally:
        action.help = saved
    assert problems([(command, parser)]) == []


@pytest.mark.parametrize(
    "argv, option",
    [
        (["serve", "--help"], "127.0.0.1"),
        (["serve", "--help"], "6060"),
        (["serve", "--help"], "OPENAI_API_KEY"),
        (["serve", "--help"], "(default: sw_ranking)"),
        (["train", "mf", "--help"], "(default: 0.003)"),
        (["score", "--help"], "(default: 1024)"),
        (["route", "--help"], "also --routers"),
        (["eval", "--help"], "also --router"),
    ],
)
def test_help_pages_read_as_documented(argv, option, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 0
    assert option in _flat(capsys.readouterr().out)
