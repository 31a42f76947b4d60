"""Language models for reasoning by RL with verifiable rewards.

tokenizer.py (BPE trained locally, saved with the run), model.py (Llama/Qwen2 decoder in Equinox),
sample.py (batched jitted sampling with a KV cache), hf.py (Hugging Face Qwen2/Llama checkpoints),
sft.py (supervised warm start on worked solutions), rollout.py (sample, decode, score, evaluate),
commands.py (``train sft``, ``train grpo``, ``sample``, LM ``eval``). GRPO itself: algos/grpo.py.
"""
