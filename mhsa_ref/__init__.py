"""Reference implementation of the course "Multi-head self-attention, one point at a time".

Each module is one chapter: `one_hot` (01), `word2vec` (02), `elmo` (03), `attention` (04),
`self_attention` (05), `split_heads` (06), `concat_and_output` (07), `cost_and_gpu` (08), `trained_heads` (09).
`corpus` is the shipped text; `figures` and `widgets` draw the chapters' figures and live
explorers; `backend` chooses the device and the attention path; `checks` holds the named checks
that learners' notebooks call. `withheld` and `codec` serve the learner environment (the course's
answers left out, stored answers read back). The grader that grades a class is a package of its
own, `grader`, which imports this one; nothing here imports it.

Letters: B batch, T query length, S key length, h heads, d_k head width, d_model = h · d_k.
Mask convention: boolean, True means "may attend".

Importing the package imports nothing else: each name below is imported from its module on first
use (PEP 562), so a process that only needs the grader's sandbox (`grader.sandbox`) does
not pay for torch. `from mhsa_ref import softmax` and `mhsa_ref.softmax` work as usual.
"""

from __future__ import annotations

import importlib
import sys
import types

# module -> the names it gives the package
_EXPORTS = {
    "attention": ("attention_entropy", "attention_weights", "fused_scaled_dot_product_attention",
        "scaled_dot_product_attention", "softmax",),
    "backend": ("Choice", "choose_path", "cuda_kernel", "pick_device",),
    "concat_and_output": ("fused_multi_head_self_attention", "head_contributions", "merge_heads",
        "multi_head_self_attention", "multi_head_self_attention_loop", "MultiHeadSelfAttention",),
    "elmo": ("bidirectional_targets", "perplexity", "scalar_mix",),
    "one_hot": ("build_vocab", "cosine_similarity", "one_hot", "vocab_with_unknown",),
    "word2vec": ("cooccurrence_counts", "noise_distribution", "sgns_loss", "skipgram_pairs",),
    "cost_and_gpu": ("achieved_tflops", "attention_flops", "attention_score_bytes", "longest_sequence",),
    "self_attention": ("causal_mask", "causal_padding_mask", "fused_self_attention", "project_qkv",
        "self_attention",),
    "split_heads": ("head_norms", "multi_head_attention_weights", "split_heads",),
    "trained_heads": ("position_shift", "remove_heads", "sense_separation", "sinusoidal_positions",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "Choice",
    "MultiHeadSelfAttention",
    "achieved_tflops",
    "attention_entropy",
    "attention_flops",
    "attention_score_bytes",
    "attention_weights",
    "bidirectional_targets",
    "build_vocab",
    "causal_mask",
    "causal_padding_mask",
    "choose_path",
    "cooccurrence_counts",
    "cosine_similarity",
    "cuda_kernel",
    "fused_multi_head_self_attention",
    "fused_scaled_dot_product_attention",
    "fused_self_attention",
    "head_contributions",
    "head_norms",
    "longest_sequence",
    "merge_heads",
    "multi_head_attention_weights",
    "multi_head_self_attention",
    "multi_head_self_attention_loop",
    "noise_distribution",
    "one_hot",
    "perplexity",
    "pick_device",
    "position_shift",
    "project_qkv",
    "remove_heads",
    "scalar_mix",
    "scaled_dot_product_attention",
    "self_attention",
    "sense_separation",
    "sgns_loss",
    "sinusoidal_positions",
    "skipgram_pairs",
    "softmax",
    "split_heads",
    "vocab_with_unknown",
]


class _Package(types.ModuleType):
    """`mhsa_ref.one_hot` is the function, not its module, as it always was (likewise `self_attention` and
    `split_heads`): importing a submodule sets the package's attribute of that name to the module, so
    the function takes that place instead. The modules stay in sys.modules (`from mhsa_ref.one_hot import ...`)."""

    def __setattr__(self, name: str, value) -> None:
        if name in _MODULE_OF and isinstance(value, types.ModuleType) and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f"mhsa_ref.{_MODULE_OF[name]}"), name)
    else:
        try:  # a submodule: `import mhsa_ref` then `mhsa_ref.attention`
            value = importlib.import_module(f"mhsa_ref.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"mhsa_ref.{name}":
                raise
            raise AttributeError(f"module 'mhsa_ref' has no attribute {name!r}") from None
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
