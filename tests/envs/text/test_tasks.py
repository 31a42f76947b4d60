"""Text tasks: known answers, malformed answers, partial credit, disjoint splits, bad input."""

import pytest

from seuseuro.envs.text import Problem, extract_answer, make_task
from seuseuro.envs.text.arithmetic import addition_steps, multiplication_steps
from seuseuro.envs.text.countdown import evaluate_expression
from seuseuro.envs.text.knights import consistent_assignments
from seuseuro.errors import UserError

TASK_NAMES = ["addition", "multiplication", "countdown", "knights"]


def test_extract_answer_needs_the_format():
    assert extract_answer("<think>x</think><answer> 42 </answer>") == "42"
    assert extract_answer("<answer>42</answer>") is None  # no think block
    assert extract_answer("<think>x<answer>42</answer>") is None  # think never closed
    assert extract_answer("<think>x</think>42") is None
    assert extract_answer("<think>x</think><answer>1</answer><answer>2</answer>") == "1"


def test_worked_steps_by_hand():
    assert addition_steps(347, 589) == "7+9=16,4+8+1=13,3+5+1=9"
    assert addition_steps(99, 1) == "9+1=10,9+0+1=10"
    assert multiplication_steps(23, 47) == "23*7=161,23*40=920,161+920=1081"


@pytest.mark.parametrize("name", TASK_NAMES)
def test_generated_solutions_score_one_and_garbage_scores_zero(name):
    task = make_task(name)
    for p in task.sample(50, seed=3, split="train"):
        assert task.score(p, p.solution) == 1.0, p
        assert task.score(p, "") == 0.0
        assert task.score(p, "<think></think><answer>not an answer</answer>") == 0.0


def test_known_answers_and_partial_credit():
    add = make_task("addition", partial_credit=0.1)
    p = Problem("347+589", "936", "")
    assert add.score(p, "<think>...</think><answer>936</answer>") == 1.0
    assert add.score(p, "<think>...</think><answer>935</answer>") == pytest.approx(0.1)
    assert add.score(p, "<think>...</think><answer>9x6</answer>") == 0.0
    assert make_task("addition").score(p, "<think></think><answer>935</answer>") == 0.0


def test_countdown_accepts_any_correct_expression_using_each_number_once():
    task = make_task("countdown", partial_credit=0.1)
    p = Problem("3,5,4:23", "5*4+3", "", ((3, 5, 4), 23))
    wrap = lambda a: f"<think></think><answer>{a}</answer>"
    assert task.score(p, wrap("4*5+3")) == 1.0
    assert task.score(p, wrap("3+(5*4)")) == 1.0
    assert task.score(p, wrap("5*4+3+0")) == pytest.approx(0.1)  # uses a number not given
    assert task.score(p, wrap("5*5-2")) == pytest.approx(0.1)  # wrong numbers
    assert task.score(p, wrap("3/(5-5)")) == pytest.approx(0.1)  # division by zero: well formed
    assert task.score(p, wrap("__import__('os')")) == 0.0
    assert evaluate_expression("(1+2)/4")[0] == pytest.approx(0.75)


def test_knights_puzzles_have_one_solution_and_parse_strictly():
    # A says "B is a knave", B says "A and B are knights": A knight, B knave is the only solution.
    statements = [("is", ((1, False),)), ("and", ((0, True), (1, True)))]
    assert consistent_assignments(statements) == [(True, False)]
    task = make_task("knights", num_people=3)
    for p in task.sample(20, seed=0, split="test"):
        assert len(p.prompt.split(".")) == 4
    assert task.parse("A knight,B knave,C knight") == {"A": True, "B": False, "C": True}
    assert task.parse("A knight,B knave") is None  # someone missing
    assert task.parse("A knight,A knave,C knight") is None
    assert task.parse("A knight,B liar,C knight") is None


@pytest.mark.parametrize("name", TASK_NAMES)
def test_splits_never_share_a_problem_and_are_reproducible(name):
    task = make_task(name)
    train = {p.prompt for p in task.sample(400, seed=0, split="train")}
    test = {p.prompt for p in task.sample(100, seed=0, split="test")}
    assert not train & test
    # whatever the seed: a prompt's split is fixed by its text
    other_train = {p.prompt for p in task.sample(400, seed=1, split="train")}
    assert not other_train & test
    assert [p.prompt for p in task.sample(5, seed=7, split="test")] == [
        p.prompt for p in task.sample(5, seed=7, split="test")
    ]


def test_bad_task_input_is_a_user_error():
    with pytest.raises(UserError, match="unknown task 'additon'.*addition"):
        make_task("additon")
    with pytest.raises(UserError, match="no option"):
        make_task("addition", num_people=3)
    with pytest.raises(UserError, match="partial_credit"):
        make_task("addition", partial_credit=1.5)


def test_reasoning_gym_adapter_with_a_stand_in_module(monkeypatch):
    import sys
    import types

    from seuseuro.envs.text import reasoning_gym as adapter

    class FakeDataset(list):
        def score_answer(self, answer, entry):
            return 1.0 if answer == entry["answer"] else 0.01

    fake = types.ModuleType("reasoning_gym")
    fake.create_dataset = lambda name, size, seed: FakeDataset(
        {"question": f"{name} {i}?", "answer": str(i * 2), "metadata": {}} for i in range(size)
    )
    monkeypatch.setitem(sys.modules, "reasoning_gym", fake)
    adapter._dataset.cache_clear()
    task = make_task("rg:double", size=200, partial_credit=0.1)
    train, test = task.sample(50, 0, "train"), task.sample(10, 0, "test")
    assert not {p.prompt for p in train} & {p.prompt for p in test}
    p = test[0]
    assert task.score(p, p.solution) == 1.0
    assert task.score(p, "<think></think><answer>nope</answer>") == pytest.approx(0.1)
    assert task.score(p, "no format") == 0.0
    adapter._dataset.cache_clear()
