"""Multi-digit addition and multiplication with worked solutions a tiny model can imitate.

Addition works column by column from the units, carrying (``7+9=16,4+8+1=13,...``); multiplication
writes one partial product per digit of the second factor, then their sum. Worked solutions are the
supervised warm start that lets RL start with signal (a model with random weights gets no signal from 0/1 rewards: every answer in a group scores the same).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from seuseuro.envs.text.task import Problem, TextTask, format_completion
from seuseuro.errors import UserError


def _parse_int(text: str) -> int | None:
    text = text.strip()
    if not text or len(text) > 30:
        return None
    body = text[1:] if text[0] == "-" else text
    return int(text) if body.isdigit() else None


def _random_number(rng: np.random.Generator, digits: int) -> int:
    """A number of exactly ``digits`` digits (or 0..9 for one digit)."""
    low = 0 if digits == 1 else 10 ** (digits - 1)
    return int(rng.integers(low, 10**digits))


def addition_steps(a: int, b: int) -> str:
    """Column-wise addition from the units digit, with carries: ``7+9=16,4+8+1=13,3+5+1=9``."""
    da, db = str(a)[::-1], str(b)[::-1]
    steps, carry = [], 0
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        total = x + y + carry
        steps.append(f"{x}+{y}+{carry}={total}" if carry else f"{x}+{y}={total}")
        carry = total // 10
    return ",".join(steps)


def multiplication_steps(a: int, b: int) -> str:
    """One partial product per digit of ``b`` from the units, then the sum: ``23*7=161,23*40=920,=1081``."""
    parts = []
    for i, d in enumerate(str(b)[::-1]):
        factor = int(d) * 10**i
        parts.append((f"{a}*{factor}", a * factor))
    steps = [f"{expr}={value}" for expr, value in parts]
    if len(parts) > 1:
        steps.append("+".join(str(v) for _, v in parts) + f"={a * b}")
    return ",".join(steps)


@dataclasses.dataclass(frozen=True)
class Addition(TextTask):
    """``a+b`` with both operands of ``digits`` digits."""

    digits: int = 3
    """Digits per operand (1-9). 2-3 are quick for a ~1M-parameter model."""
    name: str = dataclasses.field(default="addition", init=False)

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.digits <= 9:
            raise UserError(f"digits={self.digits} must be between 1 and 9")

    def generate(self, rng: np.random.Generator) -> Problem:
        a, b = _random_number(rng, self.digits), _random_number(rng, self.digits)
        answer = str(a + b)
        return Problem(f"{a}+{b}", answer, format_completion(addition_steps(a, b), answer), (a, b))

    def parse(self, answer: str):
        return _parse_int(answer)

    def is_correct(self, problem: Problem, value) -> bool:
        return value == int(problem.answer)


@dataclasses.dataclass(frozen=True)
class Multiplication(TextTask):
    """``a*b`` with ``digits`` digits for ``a`` and ``digits_b`` for ``b``."""

    digits: int = 2
    """Digits of the first factor (1-6)."""
    digits_b: int = 1
    """Digits of the second factor (1-4); one partial product per digit."""
    name: str = dataclasses.field(default="multiplication", init=False)

    def __post_init__(self):
        super().__post_init__()
        if not (1 <= self.digits <= 6 and 1 <= self.digits_b <= 4):
            raise UserError(f"digits={self.digits}, digits_b={self.digits_b}: use 1-6 and 1-4 digits")

    def generate(self, rng: np.random.Generator) -> Problem:
        a, b = _random_number(rng, self.digits), _random_number(rng, self.digits_b)
        answer = str(a * b)
        return Problem(f"{a}*{b}", answer, format_completion(multiplication_steps(a, b), answer), (a, b))

    def parse(self, answer: str):
        return _parse_int(answer)

    def is_correct(self, problem: Problem, value) -> bool:
        return value == int(problem.answer)
