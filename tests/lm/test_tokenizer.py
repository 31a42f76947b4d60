"""Tokenizer: round trip, digits one by one, save/load, left padding, prompt too long."""

import numpy as np
import pytest

from seuseuro.envs.text import make_task
from seuseuro.errors import UserError
from seuseuro.lm.tokenizer import TextTokenizer, pad_left, train_tokenizer


@pytest.fixture(scope="module")
def tok():
    texts = []
    for name in ("addition", "knights", "countdown"):
        for p in make_task(name).sample(200, seed=0, split="train"):
            texts += [p.prompt, p.solution]
    return train_tokenizer(texts, vocab_size=80)


def test_round_trip_and_digits(tok, tmp_path):
    for text in ["347+589", "<think>7+9=16,4+8+1=13</think><answer>936</answer>", "A:B knave. B:A knight."]:
        assert tok.decode(tok.encode(text)) == text
    ids = tok.encode("1234")
    assert len(ids) == 4  # one token per digit
    assert len(tok.encode("<think>")) == 1
    tok.save(tmp_path / "tokenizer.json")
    again = TextTokenizer.load(tmp_path / "tokenizer.json")
    assert again.encode("12+34") == tok.encode("12+34") and again.eos_id == tok.eos_id
    assert tok.decode([*tok.encode("12"), tok.eos_id, *tok.encode("3")]) == "12"


def test_pad_left(tok):
    tokens, valid = pad_left([[5, 6], [7]], pad_id=0)
    np.testing.assert_array_equal(tokens, [[5, 6], [0, 7]])
    np.testing.assert_array_equal(valid, [[True, True], [False, True]])
    with pytest.raises(UserError, match="longer than"):
        pad_left([[1, 2, 3]], pad_id=0, length=2)


def test_missing_tokenizer_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no tokenizer"):
        TextTokenizer.load(tmp_path / "tokenizer.json")
