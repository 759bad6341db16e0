"""Reference implementation of the course "Multi-head self-attention, one point at a time".

Each module is one chapter: `one_hot` (01), `word2vec` (02), `elmo` (03), `attention` (04),
`self_attention` (05), `split_heads` (06), `concat_and_output` (07), `cost_and_gpu` (08).
`corpus` is the shipped text; `figures` and `widgets` draw the chapters' figures and live
explorers; `backend` chooses the device and the attention path; `checks` holds the named checks
that grade learners' notebooks.

Letters: B batch, T query length, S key length, h heads, d_k head width, d_model = h · d_k.
Mask convention: boolean, True means "may attend".
"""

from mhsa_ref.attention import (
    attention_weights,
    fused_scaled_dot_product_attention,
    scaled_dot_product_attention,
    softmax,
)
from mhsa_ref.backend import Choice, choose_path, cuda_kernel, pick_device
from mhsa_ref.concat_and_output import (
    MultiHeadSelfAttention,
    fused_multi_head_self_attention,
    merge_heads,
    multi_head_self_attention,
    multi_head_self_attention_loop,
)
from mhsa_ref.elmo import bidirectional_targets, scalar_mix
from mhsa_ref.one_hot import build_vocab, cosine_similarity, one_hot
from mhsa_ref.word2vec import noise_distribution, sgns_loss, skipgram_pairs
from mhsa_ref.cost_and_gpu import achieved_tflops, attention_flops, attention_score_bytes
from mhsa_ref.self_attention import causal_mask, fused_self_attention, project_qkv, self_attention
from mhsa_ref.split_heads import multi_head_attention_weights, split_heads

__all__ = [
    "Choice",
    "MultiHeadSelfAttention",
    "achieved_tflops",
    "attention_flops",
    "attention_score_bytes",
    "attention_weights",
    "bidirectional_targets",
    "build_vocab",
    "causal_mask",
    "cosine_similarity",
    "choose_path",
    "cuda_kernel",
    "fused_multi_head_self_attention",
    "fused_scaled_dot_product_attention",
    "fused_self_attention",
    "merge_heads",
    "multi_head_attention_weights",
    "multi_head_self_attention",
    "multi_head_self_attention_loop",
    "noise_distribution",
    "one_hot",
    "pick_device",
    "project_qkv",
    "scaled_dot_product_attention",
    "scalar_mix",
    "self_attention",
    "sgns_loss",
    "skipgram_pairs",
    "softmax",
    "split_heads",
]
