"""Knights and knaves (the Logic-RL task): knights always tell the truth, knaves always lie; from
what each person says, tell who is which.

Each person makes one statement about the others: a literal (``B knave``), a conjunction or a
disjunction of two literals. Statements are drawn until exactly one assignment is consistent
(checked by enumerating all 2^n), so every problem has a unique answer. The worked solution gives,
for the solution, the truth value of each statement (``A true,B false``): knights' statements are
true and knaves' false, which is the whole argument in this format.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from seuseuro.envs.text.task import Problem, TextTask, format_completion
from seuseuro.errors import UserError

NAMES = "ABCDE"
ROLES = ("knave", "knight")


def _literal_text(person: int, is_knight: bool) -> str:
    return f"{NAMES[person]} {ROLES[int(is_knight)]}"


def _holds(statement: tuple, assignment: tuple[bool, ...]) -> bool:
    kind, lits = statement
    values = [assignment[p] == want for p, want in lits]
    return values[0] if kind == "is" else all(values) if kind == "and" else any(values)


def _statement_text(statement: tuple) -> str:
    kind, lits = statement
    parts = [_literal_text(p, want) for p, want in lits]
    return parts[0] if kind == "is" else f" {kind} ".join(parts)


def consistent_assignments(statements: list[tuple]) -> list[tuple[bool, ...]]:
    """Every knight(True)/knave(False) assignment under which each person's statement is true iff
    that person is a knight."""
    n = len(statements)
    return [
        a
        for a in itertools.product((False, True), repeat=n)
        if all(_holds(s, a) == a[i] for i, s in enumerate(statements))
    ]


@dataclasses.dataclass(frozen=True)
class KnightsAndKnaves(TextTask):
    """Prompt ``"A:B knave. B:A knight and B knight."``; answer ``"A knight,B knave"``."""

    num_people: int = 2
    """People in the puzzle (2-3 per the issue; up to 5 allowed)."""
    name: str = dataclasses.field(default="knights", init=False)

    def __post_init__(self):
        super().__post_init__()
        if not 2 <= self.num_people <= 5:
            raise UserError(f"num_people={self.num_people} must be between 2 and 5")

    def _random_statement(self, rng: np.random.Generator, speaker: int) -> tuple:
        kind = ("is", "and", "or")[int(rng.integers(3))]
        if kind == "is":  # about someone else: "I am a knave" has no consistent assignment
            others = [p for p in range(self.num_people) if p != speaker]
            people = [others[int(rng.integers(len(others)))]]
        else:
            people = [int(p) for p in rng.choice(self.num_people, size=2, replace=False)]
        return kind, tuple((p, bool(rng.integers(2))) for p in people)

    def generate(self, rng: np.random.Generator) -> Problem:
        while True:
            statements = [self._random_statement(rng, i) for i in range(self.num_people)]
            solutions = consistent_assignments(statements)
            if len(solutions) == 1:
                break
        (solution,) = solutions
        prompt = " ".join(f"{NAMES[i]}:{_statement_text(s)}." for i, s in enumerate(statements))
        answer = ",".join(_literal_text(i, k) for i, k in enumerate(solution))
        think = ",".join(f"{NAMES[i]} {'true' if k else 'false'}" for i, k in enumerate(solution))
        return Problem(prompt, answer, format_completion(think, answer), (self.num_people,))

    def parse(self, answer: str):
        """``{"A": True, "B": False}`` when every person is named exactly once with a role."""
        roles: dict[str, bool] = {}
        for part in answer.split(","):
            words = part.split()
            if len(words) != 2 or words[0] not in NAMES[: self.num_people] or words[1] not in ROLES:
                return None
            if words[0] in roles:
                return None
            roles[words[0]] = words[1] == "knight"
        return roles if len(roles) == self.num_people else None

    def is_correct(self, problem: Problem, value) -> bool:
        return value == self.parse(problem.answer)
