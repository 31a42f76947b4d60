"""The pillar's CLI in-process: train sft -> train grpo (interrupt, exact resume) -> eval -> sample, and
bad input giving one clear line (unknown task, another architecture's checkpoint, a foreign tokenizer,
a prompt longer than the context)."""

import json
import shutil

import numpy as np
import pytest

from seuseuro.algos import grpo
from seuseuro.cli import main
from seuseuro.lm.tokenizer import train_tokenizer

TINY = ["--model.d-model", "32", "--model.n-layers", "1", "--model.d-ff", "48", "--model.max-seq-len", "48"]


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    argv = ["train", "sft", "--task", "addition", "--task-option", "digits=2", "--steps", "20", "--batch-size", "16",
            "--num-problems", "500", *TINY, "--run-dir", str(root / "sft"), "--eval-problems", "16", "--no-progress",
            "--no-tensorboard"]  # fmt: skip
    assert main(argv) == 0
    return root / "sft"


def _grpo_argv(sft_run, run_dir):
    return ["train", "grpo", "--init", str(sft_run), "--steps", "4", "--prompts-per-step", "2", "--group-size", "2",
            "--num-problems", "100", "--run-dir", str(run_dir), "--checkpoint-every", "2", "--eval-problems", "0",
            "--no-progress", "--no-tensorboard"]  # fmt: skip


def test_sft_run_directory(sft_run):
    for name in ("config.json", "metrics.csv", "tokenizer.json", "eval.json", "checkpoints/model.npz"):
        assert (sft_run / name).exists(), name
    record = json.loads((sft_run / "config.json").read_text())
    assert record["algo"] == "sft" and record["task_options"] == {"digits": 2} and record["lm"]["d_model"] == 32
    ev = json.loads((sft_run / "eval.json").read_text())["addition/t0"]
    assert ev["n"] == 16 and 0 <= ev["ci95"][0] <= ev["accuracy"] <= ev["ci95"][1] <= 1


def test_grpo_interrupted_run_resumes_exactly(sft_run, tmp_path, monkeypatch):
    assert main(_grpo_argv(sft_run, tmp_path / "full")) == 0
    calls = {"n": 0}
    real_rollout = grpo.rollout

    def interrupted(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_rollout(*a, **k)

    monkeypatch.setattr(grpo, "rollout", interrupted)
    assert main(_grpo_argv(sft_run, tmp_path / "cut")) == 130
    monkeypatch.setattr(grpo, "rollout", real_rollout)
    assert main(["train", "grpo", "--resume", str(tmp_path / "cut"), "--eval-problems", "0", "--no-progress"]) == 0
    a = np.load(tmp_path / "full/checkpoints/model.npz")
    b = np.load(tmp_path / "cut/checkpoints/model.npz")
    for k in a.files:
        if k != "__meta__":
            np.testing.assert_array_equal(a[k], b[k])
    steps = [int(line.split(",")[0]) for line in (tmp_path / "cut/metrics.csv").read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 4]


def test_eval_and_sample(sft_run, capsys):
    assert main(["eval", str(sft_run), "--num-problems", "8", "--temperature", "0.6", "--top-p", "0.95"]) == 0
    assert "addition/t0.6" in json.loads((sft_run / "eval.json").read_text())
    assert main(["sample", str(sft_run), "12+34", "--num-samples", "2", "--temperature", "1.0"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) >= 1


def test_bad_input_gives_one_clear_line(sft_run, tmp_path, capsys):
    assert main(["train", "sft", "--task", "additon", "--run-dir", str(tmp_path / "x")]) == 2
    assert "unknown task 'additon'" in capsys.readouterr().err
    # a checkpoint from another architecture
    other = tmp_path / "other"
    shutil.copytree(sft_run, other)
    record = json.loads((other / "config.json").read_text())
    record["lm"]["d_model"] = 64
    (other / "config.json").write_text(json.dumps(record))
    assert main(["eval", str(other), "--num-problems", "4"]) == 2
    assert "different configuration" in capsys.readouterr().err
    # a tokenizer that does not belong to the model
    foreign = tmp_path / "foreign"
    shutil.copytree(sft_run, foreign)
    big = train_tokenizer([f"word{i} token{i} other{i} thing{i}" for i in range(300)], vocab_size=300)
    big.save(foreign / "tokenizer.json")
    assert main(["sample", str(foreign), "12+34"]) == 2
    assert "do not belong together" in capsys.readouterr().err
    # a prompt longer than the context
    assert main(["sample", str(sft_run), "1" * 60]) == 2
    assert "exceeds the model's context" in capsys.readouterr().err
    # grpo without --init, and from a run of another pillar's algorithm
    assert main(["train", "grpo", "--run-dir", str(tmp_path / "g")]) == 2
    assert "--init" in capsys.readouterr().err


def test_sample_and_grpo_from_a_hugging_face_checkpoint(tmp_path, capsys):
    import torch  # the test extra installs both: a missing install must fail, not skip
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    chars = list("0123456789+=,<>/abcdefghijklmnopqrstuvwxyz")
    # Qwen's names for the special tokens, not ours
    vocab = {
        c: i for i, c in enumerate(["<|pad|>", "<|endoftext|>", "<think>", "</think>", "<answer>", "</answer>", *chars])
    }
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|pad|>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.decoder = decoders.Fuse()
    hf_tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|endoftext|>")
    hf_tok.add_special_tokens({"additional_special_tokens": ["<think>", "</think>", "<answer>", "</answer>"]})
    torch.manual_seed(0)
    cfg = transformers.Qwen2Config(vocab_size=len(vocab), hidden_size=32, intermediate_size=48, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                                   tie_word_embeddings=True)  # fmt: skip
    hf_dir = tmp_path / "hf"
    transformers.Qwen2ForCausalLM(cfg).save_pretrained(hf_dir, safe_serialization=True)
    hf_tok.save_pretrained(hf_dir)
    assert main(["sample", str(hf_dir), "12+34", "--max-new-tokens", "8"]) == 0
    capsys.readouterr()
    argv = ["train", "grpo", "--init", str(hf_dir), "--task", "addition", "--task-option", "digits=1", "--steps", "1",
            "--prompts-per-step", "2", "--group-size", "2", "--max-new-tokens", "8", "--num-problems", "50",
            "--run-dir", str(tmp_path / "g"), "--eval-problems", "0", "--no-progress", "--no-tensorboard"]  # fmt: skip
    assert main(argv) == 0
    assert (tmp_path / "g/checkpoints/model.npz").exists() and (tmp_path / "g/tokenizer.json").exists()
    assert main(["sample", str(tmp_path / "g"), "1+2"]) == 0
