"""Importers read the real shared data and small hand-made files of the same schemas."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from fastroute.data.aliases import canonical_model
from fastroute.data.alpaca_eval import read_alpaca_eval
from fastroute.data.arena import read_arena
from fastroute.data.battles import BattleTable
from fastroute.data.correctness import correctness_battles, read_correctness_csv, read_llmrouter, read_mmlu_dir
from fastroute.data.decontaminate import contaminated
from fastroute.data.mt_bench import judgment_battles, read_judgments, read_questions
from fastroute.data.splits import is_mmlu_train_prompt
from fastroute.prompt_hash import prompt_hash


@pytest.mark.parametrize(
    "spellings,canonical",
    [
        (["gpt4_1106_preview", "gpt-4-1106-preview", "GPT4_1106_preview"], "gpt-4-1106-preview"),
        (
            ["Mixtral-8x7B-Instruct-v0.1", "mistralai/Mixtral-8x7B-Instruct-v0.1", "mistralai/mixtral-8x7b-chat"],
            "mixtral-8x7b-instruct-v0.1",
        ),
        (["meta/llama-2-70b-chat", "llama-2-70b-chat-hf"], "llama-2-70b-chat"),
        (["claude-v2", "claude-2"], "claude-2.0"),
    ],
)
def test_aliases(spellings, canonical):
    assert {canonical_model(s) for s in spellings} == {canonical}
    assert canonical_model("Mixtral-8x7B-Instruct-v0.1_concise") != canonical  # a different generator
    with pytest.raises(ValueError):
        canonical_model("")


def test_alpaca_eval_real_files(shared_data):
    table, dropped = read_alpaca_eval(shared_data / "alpaca_eval" / "alpaca_eval_gpt4.jsonl.gz")
    assert len(table) + dropped == 42_665 and dropped > 0
    assert set(table.winner) <= {"model_a", "model_b", "tie"}
    assert "text-davinci-003" in table.models()
    weighted, dropped = read_alpaca_eval(shared_data / "alpaca_eval" / "weighted_alpaca_eval_gpt4_turbo.jsonl.gz")
    assert len(weighted) == 46_680 and dropped == 0
    soft = weighted.soft_label[~np.isnan(weighted.soft_label)]
    assert soft.size > 40_000 and 0 <= soft.min() and soft.max() <= 1
    assert "gpt-4-1106-preview" in weighted.models()


def test_alpaca_eval_coding(tmp_path):
    rows = [
        {"instruction": "a", "generator_1": "gpt4_1106_preview", "generator_2": "x", "preference": 1},
        {"instruction": "b", "generator_1": "gpt4_1106_preview", "generator_2": "x", "preference": 2.0},
        {"instruction": "c", "generator_1": "gpt4_1106_preview", "generator_2": "x", "preference": 1.5},
        {"instruction": "d", "generator_1": "gpt4_1106_preview", "generator_2": "x", "preference": 1.25},
        {"instruction": "e", "generator_1": "gpt4_1106_preview", "generator_2": "x", "preference": 0},
        {"instruction": "f", "generator_1": "gpt4_1106_preview", "generator_2": "x", "preference": None},
    ]
    path = tmp_path / "ann.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows))
    table, dropped = read_alpaca_eval(path)
    assert dropped == 2
    assert table.winner == ["model_a", "model_b", "tie", "model_a"]
    np.testing.assert_allclose(table.labels, [1.0, 0.0, 0.5, 0.75])
    assert table.model_a[0] == "gpt-4-1106-preview"


def test_correctness_tables_real(shared_data):
    prompts, scores = read_correctness_csv(shared_data / "routerbench" / "mbpp_train.csv")
    assert len(prompts) == 299 and len(scores) == 11
    assert "mixtral-8x7b-instruct-v0.1" in scores and "gpt-4-1106-preview" in scores
    table = correctness_battles(prompts, scores, "routerbench")
    assert len(table) == 299 * 55
    prompts, scores = read_llmrouter(shared_data / "llmrouter" / "dcrouter_train.json")
    assert len(prompts) == 5408 and len(scores) == 9
    prompts, scores, subjects = read_mmlu_dir(shared_data / "routellm" / "mmlu" / "responses")
    assert len(prompts) == 14_042 and len(set(subjects)) == 57
    assert set(scores) == {"mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview"}
    half = sum(is_mmlu_train_prompt(p) for p in prompts)
    assert 6500 < half < 7500


def test_routerbench_prompts_are_text_not_list_literals(shared_data):
    from fastroute.data.correctness import read_correctness_with_costs

    for name in ("arc_challenge", "mbpp", "winograde"):
        path = shared_data / "routerbench" / f"{name}_train.csv"
        for prompts in (read_correctness_csv(path)[0], read_correctness_with_costs(path)[0]):
            assert prompts and not any(p.startswith(("['", '["')) for p in prompts), name
    first = read_correctness_csv(shared_data / "routerbench" / "mbpp_train.csv")[0][0]
    assert first == "Write a function to remove all elements from a given list present in another list."


def test_routerbench_prompt_cells(tmp_path):
    from fastroute.data.routerbench_prompts import prompt_text

    assert prompt_text("['hello']") == "hello"
    assert prompt_text('["it is", "the last turn"]') == "the last turn"  # turns: routed on the last
    for kept in ("[1, 2, 3]", "[]", "plain text", "[__import__('os').system('true')]", "['unclosed"):
        assert prompt_text(kept) == kept  # not a list of strings: the cell is the prompt; never executed
    table = tmp_path / "rb.csv"
    table.write_text("prompt,gpt-4,gpt-4|total_cost,mixtral,mixtral|total_cost\n\"['What is 2+2?']\",1,0.1,1,0.01\n")
    assert read_correctness_csv(table)[0] == ["What is 2+2?"]
    plain = tmp_path / "plain.csv"
    plain.write_text("prompt,gpt-4,mixtral\n\"['kept as written']\",1,0\n")  # not RouterBench: untouched
    assert read_correctness_csv(plain)[0] == ["['kept as written']"]


def test_correctness_battle_rule():
    table = correctness_battles(
        ["p0", "p1", "p2", "p3"], {"a": np.array([1, 1, 0, 0.0]), "b": np.array([1, 0, 1, np.nan])}, "t"
    )
    assert table.winner == ["tie", "model_a", "model_b"]  # both right: tie; NaN: skipped
    both_wrong = correctness_battles(["q"], {"a": np.array([0.0]), "b": np.array([0.0])}, "t")
    assert both_wrong.winner == ["tie"]


def test_llmrouter_dict_strings(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(
        json.dumps(
            [
                {"question": "q1", "scores": "{'m1': 1.0, 'm2': 0.0}"},
                {"question": "q2", "scores": {"m1": 0.0, "m2": 0.0}},
            ]
        )
    )
    prompts, scores = read_llmrouter(path)
    assert prompts == ["q1", "q2"]
    np.testing.assert_array_equal(scores["m1"], [1.0, 0.0])
    path.write_text(json.dumps([{"question": "q", "scores": "__import__('os')"}]))
    with pytest.raises(ValueError, match="unreadable scores"):
        read_llmrouter(path)


def test_mt_bench_judgments(shared_data):
    root = shared_data / "routellm" / "mt_bench"
    table = judgment_battles(read_questions(root / "question.jsonl"), read_judgments(root / "judgements.jsonl"))
    assert len(table) == 160  # 80 questions x 2 turns, one model pair
    assert set(table.models()) == {"gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"}
    assert table.winner.count("tie") > 0


def test_arena_schema_file(tmp_path):
    rows = [
        {
            "id": 1,
            "model_a": "gpt-4-1106-preview",
            "model_b": "mixtral-8x7b-instruct-v0.1",
            "prompt": json.dumps(["  What is the best way to learn Rust quickly?  ", "and then?"]),
            "response_a": "[]",
            "response_b": "[]",
            "winner_model_a": 1,
            "winner_model_b": 0,
            "winner_tie": 0,
        },
        {
            "id": 2,
            "model_a": "claude-2.1",
            "model_b": "gpt-4-1106-preview",
            "prompt": json.dumps(["hi"]),
            "response_a": "[]",
            "response_b": "[]",
            "winner_model_a": 0,
            "winner_model_b": 1,
            "winner_tie": 0,
        },
        {
            "id": 3,
            "model_a": "claude-2.1",
            "model_b": "gpt-4-1106-preview",
            "prompt": json.dumps(["Summarise the causes of the First World War."]),
            "response_a": "[]",
            "response_b": "[]",
            "winner_model_a": 0,
            "winner_model_b": 0,
            "winner_tie": 1,
        },
    ]
    import csv

    path = tmp_path / "arena.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    table = read_arena(path)
    assert table.prompt == [
        "What is the best way to learn Rust quickly?",
        "Summarise the causes of the First World War.",
    ]
    assert table.winner == ["model_a", "tie"] and table.source == ["chatbot_arena"] * 2


def test_battle_table_checks_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="winner 'draw'"):
        BattleTable(["p"], ["a"], ["b"], ["draw"])
    with pytest.raises(ValueError, match="different lengths"):
        BattleTable(["p", "q"], ["a"], ["b"], ["tie"])
    t = BattleTable(["p", "q"], ["a", "b"], ["b", "a"], ["model_a", "tie"], np.array([0.8, np.nan]), ["s", "s"])
    t.to_jsonl(tmp_path / "b.jsonl")
    from fastroute.data.tables import read_records

    back = BattleTable.from_records(read_records(tmp_path / "b.jsonl"))
    assert back.winner == t.winner and np.allclose(back.labels, [0.8, 0.5])


def test_decontamination_drops_near_duplicates():
    from fastroute.embedders import get_embedder

    train = [
        "Given that f(x) = 5x^3 - 2x + 3, find the value of f(2).",
        "Write a poem about the sea.",
        "Write a poem about the sea.",
        "Explain photosynthesis to a child.",
    ]
    evals = ["Given that f(x) = 4x^3 - 9x - 14, find the value of f(2).", "Write a poem about the sea."]
    mask, report = contaminated(train, evals, get_embedder("static"), 0.95)
    assert mask.tolist() == [True, True, True, False]
    assert report.n_dropped == 2 and report.n_train == 3 and "dropped 2 of 3" in report.summary()


def test_prompt_hash_is_stable():
    assert prompt_hash("hello") == int.from_bytes(__import__("hashlib").sha256(b"hello").digest()[:8], "big")
