"""Every public function runs on `meta` tensors: nothing is created on a fixed device.

A tensor made without device=... lands on the CPU, and mixing it with meta tensors raises, so
this test fails for any function that builds a mask, a constant or a buffer on the wrong device.
"""

import torch

import mhsa_ref as m

META = dict(device="meta", dtype=torch.float32)
B, T, D, H = 2, 5, 12, 3


def meta(*shape, dtype=torch.float32):
    return torch.empty(*shape, device="meta", dtype=dtype)


def test_every_public_function_on_meta():
    x, w, mask = meta(B, T, D), [meta(D, D) for _ in range(4)], meta(B, T, T, dtype=torch.bool)
    q, k, v = meta(B, H, T, 4), meta(B, H, 6, 4), meta(B, H, 6, 7)
    ids = meta(B, T, dtype=torch.long)
    results = {
        "one_hot": m.one_hot(ids, 7),
        "cosine_similarity": m.cosine_similarity(meta(B, 1, D), meta(1, T, D)),
        "noise_distribution": m.noise_distribution(meta(7)),
        "sgns_loss": m.sgns_loss(meta(B, D), meta(B, D), meta(B, 4, D)),
        "bidirectional_targets": m.bidirectional_targets(ids),
        "scalar_mix": m.scalar_mix(meta(3, B, T, D), meta(3), torch.empty((), device="meta")),
        "softmax": m.softmax(meta(B, T, T)),
        "attention_weights": m.attention_weights(q, k),
        "scaled_dot_product_attention": m.scaled_dot_product_attention(q, k, v, meta(T, 6, dtype=torch.bool)),
        "fused_scaled_dot_product_attention": m.fused_scaled_dot_product_attention(q, k, v, meta(T, 6, dtype=torch.bool)),
        "project_qkv": m.project_qkv(x, *w[:3]),
        "causal_mask": m.causal_mask(T, device="meta"),
        "self_attention": m.self_attention(x, *w[:3], mask),
        "fused_self_attention": m.fused_self_attention(x, *w[:3], mask),
        "split_heads": m.split_heads(x, H),
        "multi_head_attention_weights": m.multi_head_attention_weights(x, x, H, mask),
        "merge_heads": m.merge_heads(q),
        "multi_head_self_attention": m.multi_head_self_attention(x, *w, H, mask),
        "fused_multi_head_self_attention": m.fused_multi_head_self_attention(x, *w, H, mask),
        "multi_head_self_attention_loop": m.multi_head_self_attention_loop(x, *w, H, mask),
        "MultiHeadSelfAttention": m.MultiHeadSelfAttention(D, H, device="meta")(x, mask),
        "MultiHeadSelfAttention(need_weights=False)": m.MultiHeadSelfAttention(D, H, device="meta")(x, mask, need_weights=False),
        "cooccurrence_counts": m.cooccurrence_counts(meta(9, 2, dtype=torch.long), 7),
        "perplexity": m.perplexity(meta(B, T, 7), ids),
        "attention_entropy": m.attention_entropy(meta(B, H, T, 6)),
        "causal_padding_mask": m.causal_padding_mask(meta(B, dtype=torch.long), T),
        "head_norms": m.head_norms(x, H),
        "head_contributions": m.head_contributions(meta(B, H, T, 4), w[0]),
        "remove_heads": m.remove_heads(w[0], [0, 2], H),
    }
    tensor_functions = {name for name in m.__all__ if name not in (
        "Choice", "choose_path", "cuda_kernel", "pick_device", "achieved_tflops", "attention_flops", "attention_score_bytes",
        "build_vocab",  # strings in, a dict out
        "skipgram_pairs",  # its number of pairs is computed from the ids, which meta tensors do not have
        "sinusoidal_positions",  # sizes in, a float32 table out (the encoder moves it to x's device with .to(x))
        "sense_separation",  # a score: it reads the points' numbers, which meta tensors do not have
        "vocab_with_unknown",  # strings in, a dict out
        "longest_sequence",  # sizes in, an int out
        "position_shift",  # sizes in, a float32 matrix out (as sinusoidal_positions)
    )}
    assert tensor_functions <= {name.split("(")[0] for name in results}, "a public function is missing here"
    for name, result in results.items():
        for t in (result if isinstance(result, tuple) else (result,)):
            assert t is None or t.device.type == "meta", name
    assert results["multi_head_self_attention"][0].shape == (B, T, D)
    assert results["multi_head_self_attention"][1].shape == (B, H, T, T)
