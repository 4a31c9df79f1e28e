"""Serving engines: the two classes the inference model times (``optimised``, ``eager``) and the stack names
people type for them. Kept apart from the estimator so the CLI's help can list them without importing it."""

from __future__ import annotations

ENGINES = ("optimised", "eager")
# the serving stacks people name, by the engine class whose timing they have: CUDA graphs and continuous batching
# (optimised), or plain PyTorch kernel launches per layer (eager). llama.cpp (and Ollama, built on it) launch a
# token's kernels as one CUDA graph, on by default in its CMake build (ggml-org/llama.cpp PR #6766, 2024; llamafile
# PR #1051, 2026: "Upstream llama.cpp's CMake turns both on by default"), and its server batches continuously
ENGINE_NAMES = {
    "vllm": "optimised", "sglang": "optimised", "tgi": "optimised", "text-generation-inference": "optimised",
    "tensorrt-llm": "optimised", "trt-llm": "optimised", "trtllm": "optimised", "tensorrt": "optimised",
    "lmdeploy": "optimised", "llama.cpp": "optimised", "llamacpp": "optimised", "llama-cpp": "optimised",
    "ollama": "optimised", "transformers": "eager", "hf": "eager", "huggingface": "eager",
    "hugging-face": "eager", "pytorch": "eager", "torch": "eager",
}


def engine_names_help() -> str:
    """The stack names each engine class takes, as help says them.

        >>> engine_names_help().startswith("vllm, sglang")
        True
    """
    return "; ".join(f"{', '.join(n for n, c in ENGINE_NAMES.items() if c == cls)} -> {cls}" for cls in ENGINES)
