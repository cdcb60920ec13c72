"""RouterBench stores each prompt as the repr of a Python list of turns
(`"['Write a function ...']"`); routers must see the text a user sent, not that repr.

The cell is parsed with ast.literal_eval (a literal is parsed, never executed); the last
turn is the prompt, as serving routes on the last user message. A cell that is not such
a list (a table someone already decoded) is the prompt as it stands.
"""

from __future__ import annotations

import ast
from typing import Iterable


def is_routerbench_table(columns: Iterable[str]) -> bool:
    """RouterBench's wide tables have `<model>|total_cost` or `<model>|model_response` columns."""
    return any(c.endswith("|total_cost") or c.endswith("|model_response") for c in columns)


def prompt_text(cell: str) -> str:
    """The prompt a RouterBench cell holds: its last turn when it is a list of strings."""
    text = cell.strip() if isinstance(cell, str) else cell
    if not (isinstance(text, str) and text[:1] == "[" and text[-1:] == "]"):
        return cell
    try:
        turns = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return cell
    if isinstance(turns, list) and turns and all(isinstance(t, str) for t in turns):
        return turns[-1]
    return cell
