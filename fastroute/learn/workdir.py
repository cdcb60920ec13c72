"""The files of a `fastroute learn` work directory; each step reads its inputs from here and
writes its outputs here, so any step can be run alone, or again.

    prompts.jsonl     the sample: id, split (train | heldout), prompt, messages[, reference]
    models.json       the strong, weak and judge models the pairs were labelled with
    calls.jsonl       every call's result (the cache: a rerun never pays twice)
    answers.jsonl     per prompt: the strong and the weak answer, or why there is none
    labels.jsonl      per prompt: P(strong better), or why there is none (counted, never guessed)
    battles.jsonl     the training prompts' labels as battles (the documented format)
    heldout.jsonl     the held-out prompts' labels as an evaluation table (prompt, one column per model)
    learned/          the chosen router's bundle (served as router-learned-<share>%)
    report/           report.md, results.json, results.md and the plot
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from .sample import Labelled

IDENTITY = ("strong", "weak")  # what the answers were made with (a new judge relabels them)


class WorkDir:
    def __init__(self, path: "str | Path") -> None:
        self.root = Path(path)
        self.prompts = self.root / "prompts.jsonl"
        self.models = self.root / "models.json"
        self.calls = self.root / "calls.jsonl"
        self.answers = self.root / "answers.jsonl"
        self.labels = self.root / "labels.jsonl"
        self.battles = self.root / "battles.jsonl"
        self.heldout = self.root / "heldout.jsonl"
        self.router = self.root / "learned"
        self.report = self.root / "report"

    def need(self, path: Path, step: str) -> Path:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; run `fastroute learn {step}` first")
        return path

    def read_prompts(self) -> list[Labelled]:
        return [Labelled.from_record(r) for r in read_jsonl(self.need(self.prompts, "prepare"))]

    def write_models(self, doc: dict) -> None:
        """Records the models; a work directory labelled with other models is refused."""
        if self.models.is_file():
            old = json.loads(self.models.read_text())
            clash = {
                k: (old[k], v) for k, v in doc.items() if k in IDENTITY and k in old and old[k] != v and v is not None
            }
            if clash:
                raise ValueError(f"{self.root} was labelled with other models {clash} (was, now): use a new --workdir")
            doc = {**old, **doc}
        self.root.mkdir(parents=True, exist_ok=True)
        self.models.write_text(json.dumps(doc, indent=2) + "\n")

    def read_models(self) -> dict:
        return json.loads(self.need(self.models, "answer").read_text())


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
    return rows


def write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)  # whole or not at all
