"""`fastroute train defaults` / `train routerbench` write to ./fastroute-defaults unless told
otherwise: they never overwrite the installed package's shipped bundles by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastroute.cli import build_parser
from fastroute.cli.train import _output
from fastroute.loader import DEFAULTS_DIR


@pytest.mark.parametrize("what", ["defaults", "routerbench"])
def test_rebuilt_defaults_go_elsewhere_unless_in_place(what, tmp_path):
    parse = build_parser().parse_args
    assert _output(parse(["train", what, "--data", "d"])) == Path("fastroute-defaults")
    assert _output(parse(["train", what, "--data", "d", "--output", str(tmp_path)])) == tmp_path
    assert _output(parse(["train", what, "--data", "d", "--in-place"])) == DEFAULTS_DIR
    with pytest.raises(SystemExit):
        parse(["train", what, "--data", "d", "--in-place", "--output", str(tmp_path)])


def test_sw_ranking_tiers_default_to_the_data():
    args = build_parser().parse_args(["train", "sw_ranking", "--battles", "b.jsonl", "--output", "o"])
    assert args.num_tiers is None


def test_a_directory_given_as_battles_is_named_as_one(tmp_path, capsys):
    from fastroute.cli import main

    status = main(["train", "mf", "--battles", str(tmp_path), "--output", str(tmp_path / "out")])
    assert status == 2 and "is a directory, not a data file" in capsys.readouterr().err
