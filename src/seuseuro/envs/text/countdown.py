"""Countdown (TinyZero's task): reach a target with the given numbers, each used exactly once, and
+ - * /.

Generated backwards: a random expression tree over random numbers gives the target, so every problem
has a solution and its worked steps (``5*4=20,20+3=23``). Intermediate values stay positive integers
(division only when exact), as in TinyZero's generator. The checker accepts *any* correct
expression, not only the generated one: it evaluates the answer exactly (fractions) and compares the
multiset of numbers used with the given one.
"""

from __future__ import annotations

import ast
import dataclasses
from fractions import Fraction

import numpy as np

from seuseuro.envs.text.task import Problem, TextTask, format_completion
from seuseuro.errors import UserError

_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def evaluate_expression(text: str) -> tuple[Fraction | None, list[int]] | None:
    """``(value, numbers used)`` of an arithmetic expression, or None if it is not one.

    The value is None on division by zero (well formed, but wrong). Only integers, + - * / and
    parentheses are accepted: the text is parsed with :mod:`ast`, never evaluated by Python."""
    if len(text) > 200:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    numbers: list[int] = []

    def walk(node) -> Fraction | None:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            numbers.append(node.value)
            return Fraction(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = walk(node.left), walk(node.right)
            if left is None or right is None:
                return None
            op = _OPS[type(node.op)]
            if op == "/":
                return None if right == 0 else left / right
            return left + right if op == "+" else left - right if op == "-" else left * right
        raise ValueError("not arithmetic")

    try:
        value = walk(tree.body)
    except ValueError:
        return None
    return value, sorted(numbers)


@dataclasses.dataclass(frozen=True)
class Countdown(TextTask):
    """Prompt ``"3,5,4:23"`` (numbers, then target); answer an expression such as ``5*4+3``."""

    num_numbers: int = 3
    """How many numbers are given (2-5). TinyZero uses 3-4."""
    max_number: int = 20
    """Numbers are drawn from 1..max_number."""
    name: str = dataclasses.field(default="countdown", init=False)

    def __post_init__(self):
        super().__post_init__()
        if not 2 <= self.num_numbers <= 5 or self.max_number < 2:
            raise UserError(f"num_numbers={self.num_numbers} must be 2-5 and max_number >= 2")

    def generate(self, rng: np.random.Generator) -> Problem:
        while True:
            numbers = [int(x) for x in rng.integers(1, self.max_number + 1, size=self.num_numbers)]
            items = [(str(n), n) for n in numbers]  # (expression text, value)
            steps = []
            ok = True
            while len(items) > 1:
                i, j = (int(k) for k in rng.choice(len(items), size=2, replace=False))
                (ea, a), (eb, b) = items[i], items[j]
                op = "+-*/"[int(rng.integers(4))]
                if op == "-" and a < b:
                    (ea, a), (eb, b) = (eb, b), (ea, a)
                if op == "/" and (b == 0 or a % b != 0):
                    op = "+"
                value = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0}[op]
                if value <= 0:
                    ok = False
                    break
                steps.append(f"{a}{op}{b}={value}")
                expr = f"{_wrap(ea)}{op}{_wrap(eb)}"
                items = [it for k, it in enumerate(items) if k not in (i, j)] + [(expr, value)]
            if ok:
                break
        expr, target = items[0]
        prompt = ",".join(str(n) for n in numbers) + f":{target}"
        return Problem(prompt, expr, format_completion(",".join(steps), expr), (tuple(numbers), target))

    def parse(self, answer: str):
        return evaluate_expression(answer)

    def is_correct(self, problem: Problem, value) -> bool:
        numbers, target = problem.data
        result, used = value
        return result is not None and result == target and used == sorted(numbers)


def _wrap(expr: str) -> str:
    """Parenthesize compound sub-expressions (always correct, never ambiguous)."""
    return expr if expr.isdigit() else f"({expr})"
