"""fastroute.progress: a bar on a terminal only, forced by FASTROUTE_PROGRESS, rate-limited."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from fastroute.progress import ENV, Progress, progress_enabled, track


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_quiet_when_not_a_terminal(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    out = io.StringIO()
    with Progress(10, "work", stream=out) as bar:
        for _ in range(10):
            bar.update()
    assert out.getvalue() == ""
    assert list(track(range(5), "work", stream=out)) == [0, 1, 2, 3, 4]
    assert out.getvalue() == ""


def test_on_for_a_terminal_unless_turned_off(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert progress_enabled(FakeTTY())
    monkeypatch.setenv(ENV, "0")
    assert not progress_enabled(FakeTTY())
    out = FakeTTY()
    list(track(range(3), "work", stream=out))
    assert out.getvalue() == ""


def test_forced_on_writes_carriage_return_lines_with_counts(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    out, clock = io.StringIO(), Clock()
    with Progress(4, "scoring", unit="prompts", stream=out, clock=clock) as bar:
        for _ in range(4):
            clock.t += 1.0
            bar.update(note="loss 0.5")
    text = out.getvalue()
    frames = text.split("\r")[1:]
    assert [f.split(":")[0] for f in frames] == ["scoring"] * 4
    assert "1/4 prompts" in frames[0] and "(25%)" in frames[0] and "1/s" in frames[0] and "0:03 left" in frames[0]
    assert "4/4 prompts (100%)" in frames[-1] and "loss 0.5" in frames[-1]
    assert text.endswith("\n") and text.count("\n") == 1


def test_unknown_total_counts_up(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    out = io.StringIO()
    list(track(iter(range(3)), "reading", stream=out, min_interval=0.0))
    assert "\rreading: 3" in out.getvalue() and "left" not in out.getvalue()


def test_redraws_are_rate_limited(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    out, clock = io.StringIO(), Clock()
    bar = Progress(1000, "work", stream=out, clock=clock)
    for _ in range(999):  # one second of work in 1 ms steps: ~10 redraws, not 999
        clock.t += 0.001
        bar.update()
    draws = out.getvalue().count("\r")
    assert 5 <= draws <= 12
    bar.update()  # the last item is always drawn
    assert out.getvalue().count("\r") == draws + 1 and "1000/1000" in out.getvalue().split("\r")[-1]
    bar.close()
    bar.close()  # closing twice ends the line once
    assert out.getvalue().count("\n") == 1


def test_a_shorter_line_blanks_the_longer_one_before_it(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    out, clock = io.StringIO(), Clock()
    bar = Progress(2, "w", stream=out, clock=clock)
    bar.update(note="a long note here")
    clock.t += 1.0
    bar.update(note="")
    first, second = out.getvalue().split("\r")[1:]
    assert len(second) >= len(first)


def test_leaving_a_loop_early_ends_the_line(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    out = io.StringIO()
    for i in track(range(10), "epochs", stream=out):
        if i == 2:
            break
    assert out.getvalue().endswith("\n") and "2/10" in out.getvalue()


def test_a_closed_stream_stops_the_bar_not_the_work(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    out = io.StringIO()
    bar = Progress(3, "work", stream=out)
    out.close()
    bar.update()
    bar.close()
    assert not bar.enabled


@pytest.mark.parametrize("forced", ["", "0"])
def test_a_piped_command_writes_no_progress(forced):
    env_code = (
        f"import os; os.environ[{ENV!r}] = {forced!r}; " if forced else f"import os; os.environ.pop({ENV!r}, None); "
    )
    code = env_code + "from fastroute.progress import track; print(sum(track(range(100), 'x')))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "4950" and res.stderr == ""


def test_a_delay_hides_quick_work(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    out, clock = io.StringIO(), Clock()
    with Progress(3, "quick", stream=out, clock=clock, delay=1.0) as bar:
        bar.update()
        clock.t += 0.5
        bar.update(2)
    assert out.getvalue() == ""
    with Progress(3, "slow", stream=out, clock=clock, delay=1.0) as bar:
        bar.update()
        clock.t += 2.0
        bar.update()
    assert out.getvalue().startswith("\rslow: 2/3") and out.getvalue().endswith("\n")


def test_the_final_line_shows_the_last_note_and_no_time_left(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    out, clock = io.StringIO(), Clock()
    with Progress(40, "train", stream=out, clock=clock) as bar:
        for _ in range(3):
            clock.t += 1.0
            bar.update()
        bar.update(0, note="stopped early")  # within the redraw interval: drawn at close
    last = out.getvalue().split("\r")[-1]
    assert "3/40" in last and "stopped early" in last and "left" not in last
