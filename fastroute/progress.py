"""A one-line progress bar on stderr for long work, with no dependency.

It draws only on a terminal, so piped output and logs stay clean: nothing at all when
stderr is not a TTY, or when FASTROUTE_PROGRESS=0; FASTROUTE_PROGRESS=1 forces it on
(for tests, or a terminal that does not say it is one). It redraws at most ~10 times a
second, so a tight loop does not spend its time writing to the screen."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")
ENV = "FASTROUTE_PROGRESS"


def progress_enabled(stream: "TextIO | None" = None) -> bool:
    """Whether a bar should be drawn on `stream` (default stderr): FASTROUTE_PROGRESS=0/1
    decides if set, else whether the stream is a terminal."""
    forced = os.environ.get(ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # replaced or closed stream
        return False


def _clock_text(seconds: float) -> str:
    s = int(seconds + 0.5)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class Progress:
    """Counts work done out of `total` (None: unknown) and redraws one `\\r` line with the
    count, the share, the rate and the time left. Use as a context manager, or call
    close(): it ends the line so the next output starts on a fresh one. With `delay`, work
    done within that many seconds shows nothing."""

    def __init__(
        self,
        total: "int | None",
        label: str,
        *,
        unit: str = "",
        stream: "TextIO | None" = None,
        enabled: "bool | None" = None,
        min_interval: float = 0.1,
        delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.label, self.unit = total, label, unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = progress_enabled(self.stream) if enabled is None else enabled
        self.min_interval, self.delay, self.clock = min_interval, delay, clock
        self.done, self.note = 0, ""
        self.start = clock()
        self._last_draw: "float | None" = None
        self._drawn: "tuple[int, str] | None" = None  # the count and note last drawn
        self._closing = False
        self._width = 0  # length of the line last drawn, to blank what a shorter one leaves

    def update(self, n: int = 1, note: "str | None" = None) -> None:
        """Adds `n` to the count (and sets the note shown after it); redraws if due."""
        self.done += n
        if note is not None:
            self.note = note
        if not self.enabled:
            return
        now = self.clock()
        if now - self.start < self.delay:  # quick work draws nothing at all
            return
        finished = self.total is not None and self.done >= self.total
        if self._last_draw is None or finished or now - self._last_draw >= self.min_interval:
            self._draw(now)

    def line(self, now: "float | None" = None) -> str:
        """The text of the bar as it stands."""
        elapsed = (self.clock() if now is None else now) - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            text = f"{self.label}: {self.done}/{self.total}{unit} ({100.0 * self.done / self.total:.0f}%)"
        else:
            text = f"{self.label}: {self.done}{unit}"
        if self.done and elapsed > 0:
            text += f", {1 / rate:.3g} s each" if rate < 1 else f", {rate:.3g}/s" if rate < 100 else f", {rate:,.0f}/s"
            if self.total and self.done < self.total and not self._closing:
                text += f", {_clock_text((self.total - self.done) / rate)} left"
        return f"{text}  {self.note}" if self.note else text

    def _draw(self, now: float) -> None:
        cols = shutil.get_terminal_size((80, 24)).columns - 1
        text = self.line(now)[: max(cols, 10)]
        pad = " " * max(self._width - len(text), 0)
        try:
            self.stream.write(f"\r{text}{pad}")
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: stop drawing, keep working
            self.enabled = False
            return
        self._last_draw, self._drawn, self._width = now, (self.done, self.note), len(text)

    def close(self) -> None:
        """Draws the final count (if not drawn yet) and ends the line."""
        if not self.enabled:
            return
        if self._last_draw is None and self.clock() - self.start < self.delay:
            self.enabled = False
            return
        self._closing = True  # the final line: no time left to show
        if self._drawn != (self.done, self.note):
            self._draw(self.clock())
        if self.enabled:
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass
        self.enabled = False  # closing twice writes nothing more

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(iterable: Iterable[T], label: str, total: "int | None" = None, **options) -> Iterator[T]:
    """Yields from `iterable`, counting each item on a Progress (`total` defaults to its
    len() when it has one); the line is ended when the loop ends or is left."""
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with Progress(total, label, **options) as bar:
        for item in iterable:
            yield item
            bar.update()
