"""Builds the demo class of tests/demo_submissions/ from the learner copies in exercises/.

Each demo learner is the released notebook with its solution cells filled in, as a learner would
fill them: `ada` correctly (in her own way), `ben` with typical mistakes that cost him some, not
all, of the points of every assignment. `make` autogrades them; tests/test_grader/test_pipeline.py rebuilds
them and fails if the committed copies drifted from the release. Run `python tests/demo_builder.py`
after changing an exercise.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "tests" / "demo_submissions"

# ada's layer of exercise 07, which exercise 08 asks her to paste again
ADA_LAYER = '''\
def multi_head_self_attention(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    """x (B, T, d_model), four (d_model, d_model) weights -> out (B, T, d_model), weights (B, h, T, T)."""
    q = split_heads(x @ w_q, num_heads)
    k = split_heads(x @ w_k, num_heads)
    v = split_heads(x @ w_v, num_heads)
    z, weights = scaled_dot_product_attention(q, k, v, head_mask(mask))
    return merge_heads(z) @ w_o, weights'''

# learner -> assignment -> solution cell grade_id -> the code the learner wrote
ANSWERS: dict[str, dict[str, dict[str, str]]] = {
    "ada": {
        "01_one_hot": {
            "build_vocab": '''\
def build_vocab(tokens: list[str]) -> dict[str, int]:
    """Index every distinct token by order of first appearance, starting at 0."""
    # a dict keeps insertion order, so dict.fromkeys lists the distinct words as they first appear
    return {word: index for index, word in enumerate(dict.fromkeys(tokens))}''',
            "one_hot": '''\
def one_hot(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(...) integer ids -> (..., vocab_size) float32 one-hot vectors on ids' device."""
    out = torch.zeros(*ids.shape, vocab_size, dtype=torch.float32, device=ids.device)
    return out.scatter(-1, ids.long().unsqueeze(-1), 1.0)''',
            "cosine_similarity": '''\
def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine along the last dimension of broadcastable (..., D) tensors; 0 for a zero vector."""
    dot = torch.sum(a * b, dim=-1)
    lengths = torch.linalg.vector_norm(a, dim=-1) * torch.linalg.vector_norm(b, dim=-1)
    safe = torch.where(lengths > 0, lengths, torch.ones_like(lengths))
    return torch.where(lengths > 0, dot / safe, torch.zeros_like(dot))''',
        },
        "02_word2vec": {
            "skipgram_pairs": '''\
def skipgram_pairs(ids: torch.Tensor, window: int) -> torch.Tensor:
    """(N,) word ids of one sentence -> (P, 2) LongTensor of (center, context) rows, in order."""
    n = ids.shape[0]
    centers, contexts = [], []
    for i in range(n):
        for j in range(i - window, i + window + 1):
            if j != i and 0 <= j < n:
                centers.append(i)
                contexts.append(j)
    c = torch.tensor(centers, dtype=torch.long, device=ids.device)
    o = torch.tensor(contexts, dtype=torch.long, device=ids.device)
    return torch.stack([ids[c], ids[o]], dim=1).long()''',
            "noise_distribution": '''\
def noise_distribution(counts: torch.Tensor, power: float = 0.75) -> torch.Tensor:
    """(V,) counts -> (V,) probabilities counts**power / sum(counts**power)."""
    c = counts * 1.0  # integer counts become float32, float counts keep their dtype
    w = c.pow(power)
    return w / w.sum()''',
            "sgns_loss": '''\
def sgns_loss(center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -[log σ(c·o) + Σ_k log σ(-c·n_k)]."""
    true_scores = torch.einsum("bd,bd->b", center, context)  # (B,)
    noise_scores = torch.einsum("bkd,bd->bk", negatives, center)  # (B, K)
    log_likelihood = F.logsigmoid(true_scores) + F.logsigmoid(-noise_scores).sum(dim=1)
    return -log_likelihood.mean()''',
        },
        "03_elmo": {
            "bidirectional_targets": '''\
def bidirectional_targets(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids -> (fwd, bwd), each (B, T): next and previous word, -100 where there is none."""
    pad = ids.new_full((ids.shape[0], 1), -100)
    fwd = torch.cat([ids[:, 1:], pad], dim=1)
    bwd = torch.cat([pad, ids[:, :-1]], dim=1)
    return fwd, bwd''',
            "scalar_mix": '''\
def scalar_mix(layers: torch.Tensor, s: torch.Tensor, gamma) -> torch.Tensor:
    """(L, ..., D) layers, (L,) scores, scalar gamma -> (..., D) = gamma * Σ_j softmax(s)_j layers[j]."""
    w = torch.softmax(s, dim=0)
    return gamma * torch.tensordot(w, layers, dims=([0], [0]))''',
        },
        "04_attention": {
            "softmax": '''\
def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax of `x` along `dim`; an all -inf slice gives zeros."""
    m = x.max(dim=dim, keepdim=True).values
    m = torch.where(m == float("-inf"), torch.zeros_like(m), m)
    e = torch.exp(x - m)
    s = e.sum(dim=dim, keepdim=True)
    return torch.where(s == 0, torch.zeros_like(e), e / s)''',
            "scaled_dot_product_attention": '''\
def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q kᵀ / √d_k) v. q (..., T, d_k), k (..., S, d_k), v (..., S, d_v); mask True = may attend."""
    d_k = q.size(-1)
    scores = torch.matmul(q, k.transpose(-1, -2)) / d_k ** 0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.full_like(scores, float("-inf")))
    w = softmax(scores)
    return torch.matmul(w, v), w''',
        },
        "05_self_attention": {
            "project_qkv": '''\
def project_qkv(x, w_q, w_k, w_v):
    """x (B, T, d_model); w_q, w_k (d_model, d_k); w_v (d_model, d_v) -> q, k, v."""
    q = torch.einsum("btd,de->bte", x, w_q)
    k = torch.einsum("btd,de->bte", x, w_k)
    v = torch.einsum("btd,de->bte", x, w_v)
    return q, k, v''',
            "causal_mask": '''\
def causal_mask(T, device=None):
    """(T, T) bool, True on and below the diagonal: position t may attend to positions <= t."""
    i = torch.arange(T, device=device)
    return i[:, None] >= i[None, :]''',
            "self_attention": '''\
def self_attention(x, w_q, w_k, w_v, mask=None):
    """Z = softmax(Q Kᵀ / √d_k) V with Q, K, V = project_qkv(x, ...); returns (z, weights)."""
    q, k, v = project_qkv(x, w_q, w_k, w_v)
    scores = q @ k.transpose(1, 2) / math.sqrt(k.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    weights = torch.where(weights.isnan(), torch.zeros_like(weights), weights)
    return weights @ v, weights''',
        },
        "06_split_heads": {
            "split_heads": '''\
def split_heads(x, num_heads):
    """x (B, T, d_model) -> (B, h, T, d_k) with d_k = d_model / h; head i holds features i·d_k … (i+1)·d_k − 1."""
    batch, length, width = x.shape
    if width % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide d_model={width}")
    return x.reshape(batch, length, num_heads, width // num_heads).permute(0, 2, 1, 3)''',
            "multi_head_attention_weights": '''\
def multi_head_attention_weights(q, k, num_heads, mask=None):
    """q (B, T, d_model), k (B, S, d_model) -> weights (B, h, T, S), softmax(Q_i K_iᵀ / √d_k) per head."""
    qh, kh = split_heads(q, num_heads), split_heads(k, num_heads)
    scores = torch.einsum("bhtd,bhsd->bhts", qh, kh) / math.sqrt(qh.shape[-1])
    if mask is not None:
        mask = mask[:, None] if mask.dim() == 3 else mask
        scores = torch.where(mask, scores, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.where(torch.isnan(weights), 0.0, weights)''',
        },
        "07_concat_and_output": {
            "merge_heads": '''\
def merge_heads(x):
    """x (B, h, T, d_k) -> (B, T, h·d_k): each token's heads side by side, head 0 first."""
    return torch.cat(x.unbind(1), dim=-1)''',
            "multi_head_self_attention": ADA_LAYER,
            "MultiHeadSelfAttention": '''\
class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention: q_proj, k_proj, v_proj, out_proj = nn.Linear(d_model, d_model)."""

    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self, name, nn.Linear(d_model, d_model, bias=bias))

    def forward(self, x, mask=None):
        """x (B, T, d_model) -> out (B, T, d_model), weights (B, h, T, T)."""
        q = split_heads(self.q_proj(x), self.num_heads)
        k = split_heads(self.k_proj(x), self.num_heads)
        v = split_heads(self.v_proj(x), self.num_heads)
        z, weights = scaled_dot_product_attention(q, k, v, head_mask(mask))
        return self.out_proj(merge_heads(z)), weights''',
        },
        "08_cost_and_gpu": {
            "attention_flops": '''\
def attention_flops(batch, seq_len, d_model, num_heads):
    """Forward FLOPs of one multi-head self-attention layer (a multiply-add counts 2)."""
    return 4 * batch * seq_len * d_model * (2 * d_model + seq_len)  # = 8·B·T·d² + 4·B·T²·d''',
            "attention_score_bytes": '''\
def attention_score_bytes(batch, seq_len, num_heads, dtype):
    """Bytes of one (B, h, T, T) score matrix in `dtype`."""
    return torch.empty(0, dtype=dtype).element_size() * batch * num_heads * seq_len**2''',
            "multi_head_self_attention": ADA_LAYER,
        },
        "09_trained_heads": {
            "sinusoidal_positions": '''\
def sinusoidal_positions(seq_len, d_model):
    """(seq_len, d_model) float32: column 2i is sin(p / 10000^(2i/d_model)), column 2i+1 its cos."""
    if d_model % 2 != 0:
        raise ValueError(f"d_model must be even, got {d_model}")
    positions = torch.arange(seq_len, dtype=torch.float32)[:, None]
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    angles = positions * frequencies
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)''',
            "sense_separation": '''\
def sense_separation(train_points, train_senses, test_points, test_senses):
    """Nearest-centroid accuracy: the share of test points whose nearest training centroid is their own sense."""
    n = int(train_senses.max()) + 1
    centroids = torch.stack([train_points[train_senses == s].mean(0) for s in range(n)])
    nearest = torch.cdist(test_points, centroids).argmin(dim=1)
    return (nearest == test_senses).float().mean().item()''',
            "multi_head_self_attention": ADA_LAYER,
        },
    },
    "ben": {
        "01_one_hot": {
            "build_vocab": '''\
def build_vocab(tokens: list[str]) -> dict[str, int]:
    """Index every distinct token by order of first appearance, starting at 0."""
    vocab = {}
    for word in tokens:
        if word not in vocab:
            vocab[word] = len(vocab)
    return vocab''',
            "one_hot": '''\
def one_hot(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(...) integer ids -> (..., vocab_size) float32 one-hot vectors on ids' device."""
    return (ids[..., None] == torch.arange(vocab_size, device=ids.device)).float()''',
            # Mistake: no guard for a zero vector, so 0 / 0 gives NaN instead of 0.
            "cosine_similarity": '''\
def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine along the last dimension of broadcastable (..., D) tensors; 0 for a zero vector."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))''',
        },
        "02_word2vec": {
            # Mistake 1: the window includes the center, so every word is also paired with itself.
            "skipgram_pairs": '''\
def skipgram_pairs(ids: torch.Tensor, window: int) -> torch.Tensor:
    """(N,) word ids of one sentence -> (P, 2) LongTensor of (center, context) rows, in order."""
    n = len(ids)
    pairs = []
    for i in range(n):
        for j in range(max(0, i - window), min(n, i + window + 1)):
            pairs.append([ids[i].item(), ids[j].item()])
    return torch.tensor(pairs, dtype=torch.long, device=ids.device)''',
            "noise_distribution": '''\
def noise_distribution(counts: torch.Tensor, power: float = 0.75) -> torch.Tensor:
    """(V,) counts -> (V,) probabilities counts**power / sum(counts**power)."""
    counts = counts.double() if counts.dtype == torch.float64 else counts.float()
    p = counts ** power
    return p / p.sum()''',
            # Mistake 2: log(sigmoid(x)) instead of F.logsigmoid(x): -inf once sigmoid(x) rounds to 0.
            "sgns_loss": '''\
def sgns_loss(center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -[log σ(c·o) + Σ_k log σ(-c·n_k)]."""
    pos = (center * context).sum(dim=1)
    neg = torch.bmm(negatives, center.unsqueeze(2)).squeeze(2)
    loss = torch.log(torch.sigmoid(pos)) + torch.log(torch.sigmoid(-neg)).sum(dim=1)
    return -loss.mean()''',
        },
        "03_elmo": {
            # Mistake: the ends hold 0 (a real word index) instead of -100, the ignore_index.
            "bidirectional_targets": '''\
def bidirectional_targets(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids -> (fwd, bwd), each (B, T): next and previous word, -100 where there is none."""
    fwd = torch.zeros_like(ids)
    bwd = torch.zeros_like(ids)
    fwd[:, :-1] = ids[:, 1:]
    bwd[:, 1:] = ids[:, :-1]
    return fwd, bwd''',
            "scalar_mix": '''\
def scalar_mix(layers: torch.Tensor, s: torch.Tensor, gamma) -> torch.Tensor:
    """(L, ..., D) layers, (L,) scores, scalar gamma -> (..., D) = gamma * Σ_j softmax(s)_j layers[j]."""
    weights = s.softmax(0)
    mix = sum(weights[j] * layers[j] for j in range(layers.shape[0]))
    return gamma * mix''',
        },
        "04_attention": {
            # Mistake 1: no max subtraction, so exp overflows and an all -inf row gives NaN.
            "softmax": '''\
def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax of `x` along `dim`; an all -inf slice gives zeros."""
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)''',
            # Mistake 2: scaled by 1/d_k instead of 1/sqrt(d_k).
            "scaled_dot_product_attention": '''\
def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q kᵀ / √d_k) v. q (..., T, d_k), k (..., S, d_k), v (..., S, d_v); mask True = may attend."""
    scores = q @ k.transpose(-2, -1) / q.shape[-1]
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = softmax(scores, dim=-1)
    return weights @ v, weights''',
        },
        "05_self_attention": {
            "project_qkv": '''\
def project_qkv(x, w_q, w_k, w_v):
    """x (B, T, d_model); w_q, w_k (d_model, d_k); w_v (d_model, d_v) -> q, k, v."""
    return x @ w_q, x @ w_k, x @ w_v''',
            # Mistake 1: the diagonal is masked too, so a word may not attend to itself.
            "causal_mask": '''\
def causal_mask(T, device=None):
    """(T, T) bool, True on and below the diagonal: position t may attend to positions <= t."""
    return torch.tril(torch.ones(T, T, dtype=torch.bool, device=device), diagonal=-1)''',
            # Mistake 2: torch.softmax of a fully masked row is NaN, and nothing repairs it.
            "self_attention": '''\
def self_attention(x, w_q, w_k, w_v, mask=None):
    """Z = softmax(Q Kᵀ / √d_k) V with Q, K, V = project_qkv(x, ...); returns (z, weights)."""
    q, k, v = project_qkv(x, w_q, w_k, w_v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights''',
        },
        "06_split_heads": {
            # Mistake 1: no check, so a bad num_heads ends in view's RuntimeError instead of a clear ValueError.
            "split_heads": '''\
def split_heads(x, num_heads):
    """x (B, T, d_model) -> (B, h, T, d_k) with d_k = d_model / h; head i holds features i·d_k … (i+1)·d_k − 1."""
    B, T, d_model = x.shape
    return x.view(B, T, num_heads, d_model // num_heads).transpose(1, 2)''',
            # Mistake 2: a (B, T, S) mask is used without a head axis, so it does not broadcast.
            "multi_head_attention_weights": '''\
def multi_head_attention_weights(q, k, num_heads, mask=None):
    """q (B, T, d_model), k (B, S, d_model) -> weights (B, h, T, S), softmax(Q_i K_iᵀ / √d_k) per head."""
    qh, kh = split_heads(q, num_heads), split_heads(k, num_heads)
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(qh.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1).nan_to_num(0.0)''',
        },
        "07_concat_and_output": {
            "merge_heads": '''\
def merge_heads(x):
    """x (B, h, T, d_k) -> (B, T, h·d_k): each token's heads side by side, head 0 first."""
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).contiguous().view(B, T, h * d_k)''',
            "multi_head_self_attention": '''\
def multi_head_self_attention(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    """x (B, T, d_model), four (d_model, d_model) weights -> out (B, T, d_model), weights (B, h, T, T)."""
    q, k, v = (split_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))
    z, weights = scaled_dot_product_attention(q, k, v, head_mask(mask))
    return merge_heads(z) @ w_o, weights''',
            # Mistake: the projections use the weights alone (x @ W.T), so the biases are never added.
            "MultiHeadSelfAttention": '''\
class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention: q_proj, k_proj, v_proj, out_proj = nn.Linear(d_model, d_model)."""

    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, mask=None):
        """x (B, T, d_model) -> out (B, T, d_model), weights (B, h, T, T)."""
        out, weights = multi_head_self_attention(x, self.q_proj.weight.T, self.k_proj.weight.T, self.v_proj.weight.T,
                                                 self.out_proj.weight.T, self.num_heads, mask)
        return out, weights''',
        },
        "08_cost_and_gpu": {
            # Mistake 1: a multiply-add counted as one FLOP.
            "attention_flops": '''\
def attention_flops(batch, seq_len, d_model, num_heads):
    """Forward FLOPs of one multi-head self-attention layer (a multiply-add counts 2)."""
    return 4 * batch * seq_len * d_model**2 + 2 * batch * seq_len**2 * d_model''',
            "attention_score_bytes": '''\
def attention_score_bytes(batch, seq_len, num_heads, dtype):
    """Bytes of one (B, h, T, T) score matrix in `dtype`."""
    return batch * num_heads * seq_len * seq_len * dtype.itemsize''',
            # Mistake 2: softmax upcast to float32 "for stability" and never cast back.
            "multi_head_self_attention": '''\
def multi_head_self_attention(x, w_q, w_k, w_v, w_o, num_heads, mask=None):
    """x (B, T, d_model), four (d_model, d_model) weights -> out (B, T, d_model), weights (B, h, T, T)."""
    q, k, v = (split_heads(x @ w, num_heads) for w in (w_q, w_k, w_v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~head_mask(mask), float("-inf"))
    weights = torch.softmax(scores.float(), dim=-1).nan_to_num(0.0)
    return merge_heads(weights @ v.float()) @ w_o.float(), weights''',
        },
        "09_trained_heads": {
            # Mistake: all the sines, then all the cosines, instead of interleaving them pair by pair.
            "sinusoidal_positions": '''\
def sinusoidal_positions(seq_len, d_model):
    """(seq_len, d_model) float32: column 2i is sin(p / 10000^(2i/d_model)), column 2i+1 its cos."""
    if d_model % 2:
        raise ValueError("d_model must be even")
    pos = torch.arange(seq_len).float().unsqueeze(1)
    freq = 1.0 / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    return torch.cat([torch.sin(pos * freq), torch.cos(pos * freq)], dim=1)''',
            "sense_separation": '''\
def sense_separation(train_points, train_senses, test_points, test_senses):
    """Nearest-centroid accuracy: the share of test points whose nearest training centroid is their own sense."""
    right = 0
    senses = sorted(set(train_senses.tolist()))
    centroids = [train_points[train_senses == s].mean(dim=0) for s in senses]
    for point, sense in zip(test_points, test_senses.tolist()):
        distances = [torch.linalg.norm(point - c).item() for c in centroids]
        right += senses[distances.index(min(distances))] == sense
    return right / len(test_senses)''',
        },
    },
}


# issue 16's new cells: each exercise's new task and its predict-then-run questions. ada answers all
# of them right; ben too, but one prediction in 04 (√d_k, where the entries' variance of 4 makes it 16).
NEW_CELLS = {
    "ada": {
        "01_one_hot": {
            "vocab_with_unknown": '''\
def vocab_with_unknown(tokens, min_count: int) -> dict[str, int]:
    """"<unk>" -> 0, then every word seen at least min_count times, by order of first appearance."""
    from collections import Counter
    tokens = list(tokens)  # read once: a generator is empty after the first pass
    counts = Counter(tokens)
    kept = [word for word in dict.fromkeys(tokens) if counts[word] >= min_count]
    return {"<unk>": 0, **{word: index for index, word in enumerate(kept, start=1)}}''',
            "answer_one_hot_bytes": "answer_one_hot_bytes = 32 * 20 * 10_000 * 4",
            "answer_bag_distance": "answer_bag_distance = 0",
            "answer_unknown_share": "answer_unknown_share = 0.017",
        },
        "02_word2vec": {
            "cooccurrence_counts": '''\
def cooccurrence_counts(pairs: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(P, 2) (center, context) rows -> (V, V) LongTensor, counts[c, o] = how many rows are (c, o)."""
    cells = pairs[:, 0] * vocab_size + pairs[:, 1]  # one number per (c, o) cell
    return torch.bincount(cells, minlength=vocab_size * vocab_size).view(vocab_size, vocab_size)''',
            "answer_pair_count": "answer_pair_count = 34",
            "answer_noise_share": "answer_noise_share = 1 / 9",
            "answer_bank_contexts": 'answer_bank_contexts = "a"',
        },
        "03_elmo": {
            "perplexity": '''\
def perplexity(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """exp(mean of -log softmax(logits)[target]) over the positions whose target is not -100."""
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
    return loss.exp()''',
            "answer_copy_target": 'answer_copy_target = "a"',
            "answer_mixed_perplexity": "answer_mixed_perplexity = 2",
            "answer_bilm_perplexity": "answer_bilm_perplexity = 3.59",
        },
        "04_attention": {
            "attention_entropy": '''\
def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """(..., T, S) weights -> (..., T) entropy -Σ_s w log w in nats; 0·log 0 counts as 0."""
    logs = torch.where(weights > 0, weights.log(), torch.zeros_like(weights))
    return -(weights * logs).sum(dim=-1)''',
            "answer_score_scale": "answer_score_scale = 16",
            "answer_masked_entropy": "answer_masked_entropy = math.log(4)",
            "answer_saturation": 'answer_saturation = "a"',
        },
        "05_self_attention": {
            "causal_padding_mask": '''\
def causal_padding_mask(lengths, T):
    """(B,) lengths -> (B, T, T) bool: [b, t, s] is True iff s <= t and s < lengths[b]."""
    s = torch.arange(T, device=lengths.device)
    past = s.view(1, T) <= s.view(T, 1)  # (T, T)
    word = s.view(1, 1, T) < lengths.view(-1, 1, 1)  # (B, 1, T)
    return past & word''',
            "answer_fourth_weight": "answer_fourth_weight = 1 / 4",
            "answer_bank_attends": 'answer_bank_attends = "b"',
            "answer_reversed_words": 'answer_reversed_words = "b"',
        },
        "06_split_heads": {
            "head_norms": '''\
def head_norms(x, num_heads):
    """x (B, T, d_model) -> (B, h, T): the length of each token's d_k numbers in each head."""
    return torch.linalg.vector_norm(split_heads(x, num_heads), dim=-1)''',
            "answer_view_without_transpose": 'answer_view_without_transpose = "b"',
            "answer_strides": "answer_strides = (120, 6, 24, 1)",
            "answer_longest_head": "answer_longest_head = 7",
        },
        "07_concat_and_output": {
            "head_contributions": '''\
def head_contributions(z, w_o):
    """z (B, h, T, d_k), w_o (h·d_k, d_out) -> (B, h, T, d_out): head i's term Z_i W^O_i of the output."""
    h, d_k = z.shape[1], z.shape[3]
    return torch.stack([z[:, i] @ w_o[i * d_k:(i + 1) * d_k] for i in range(h)], dim=1)''',
            "answer_merge_index": "answer_merge_index = (0, 2, 1, 1)",
            "answer_params_vs_heads": "answer_params_vs_heads = 0",
            "answer_largest_contribution": "answer_largest_contribution = 5",
        },
        "08_cost_and_gpu": {
            "longest_sequence": '''\
def longest_sequence(memory_bytes, batch, num_heads, dtype):
    """The largest int T with batch · num_heads · T² · dtype.itemsize <= memory_bytes."""
    per_square = batch * num_heads * dtype.itemsize
    return math.isqrt(memory_bytes // per_square)''',
            "answer_cross_coefficients": "answer_cross_coefficients = (4, 4, 4)",
            "answer_quadratic_share": "answer_quadratic_share = 2 / 3",
            "answer_flops_growth": 'answer_flops_growth = "b"',
            "answer_heads_cost": 'answer_heads_cost = "a"',
        },
        "09_trained_heads": {
            "position_shift": '''\
def position_shift(offset, d_model):
    """(d_model, d_model) float32 M with PE[p] @ M = PE[p + offset]: a 2×2 rotation by offset·ω_i per pair."""
    blocks = []
    for i in range(d_model // 2):
        angle = offset / 10000 ** (2 * i / d_model)
        blocks.append(torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]))
    return torch.block_diag(*blocks)''',
            "answer_position_norm": "answer_position_norm = math.sqrt(8)",
            "answer_same_word": 'answer_same_word = "a"',
            # issue 26: remove a head, read the experiment, interpret the two-places run
            "remove_heads": '''\
def remove_heads(w_o, heads, num_heads):
    """A copy of W^O (d_model, d_model) whose rows of each head in `heads` are 0: those heads removed."""
    if len(heads) == 0:
        raise ValueError("give at least one head to remove")
    for i in heads:
        if not 0 <= i < num_heads:
            raise ValueError(f"head {i} is not one of 0 … {num_heads - 1}")
    rows = w_o.shape[0] // num_heads
    keep = torch.ones(num_heads, rows, 1, dtype=w_o.dtype, device=w_o.device)
    keep[list(heads)] = 0
    return w_o * keep.reshape(-1, 1)''',
            "answer_form_head": "answer_form_head = 4  # without head 4 the form drops from 1.0 to 0.716",
            "answer_removable": "answer_removable = 4  # heads 0, 2, 3 and 7",
            "answer_one_head": 'answer_one_head = "a"',
        },
    },
}
# ben: ada's new cells, except one wrong prediction in 04.
NEW_CELLS["ben"] = {a: dict(cells) for a, cells in NEW_CELLS["ada"].items()}
NEW_CELLS["ben"]["04_attention"]["answer_score_scale"] = "answer_score_scale = 4  # √d_k, as in the chapter"
# ben zeroes the heads' columns of W^O instead of their rows, and takes the sense's head for the form's
NEW_CELLS["ben"]["09_trained_heads"].update({
    "remove_heads": '''\
def remove_heads(w_o, heads, num_heads):
    """A copy of W^O (d_model, d_model) whose rows of each head in `heads` are 0: those heads removed."""
    if len(heads) == 0 or min(heads) < 0 or max(heads) >= num_heads:
        raise ValueError("bad heads")
    d_k = w_o.shape[1] // num_heads
    out = w_o.clone()
    for i in heads:
        out[:, i * d_k:(i + 1) * d_k] = 0
    return out''',
    "answer_form_head": "answer_form_head = 6  # the biggest drop in the table",
    "answer_one_head": 'answer_one_head = "b"  # two heads have more to work with',
})
for _learner, _assignments in NEW_CELLS.items():
    for _assignment, _cells in _assignments.items():
        ANSWERS[_learner][_assignment].update(_cells)


def build(learner: str, assignment: str, release_dir: Path = ROOT / "exercises") -> nbformat.NotebookNode:
    """The released notebook of `assignment` with `learner`'s answers in its solution cells.

    `release_dir`: exercises/ (the English release) or exercises-zh/ (the same notebooks in Chinese).
    """
    release = nbformat.read(release_dir / assignment / f"{assignment}.ipynb", as_version=4)
    nb = copy.deepcopy(release)
    answers = ANSWERS[learner][assignment]
    filled = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
            filled.add(grade_id)
    missing = set(answers) - filled
    if missing:
        raise KeyError(f"{assignment} has no solution cells named {sorted(missing)}; update ANSWERS")
    return nb


PRINTED_ROW = "tensor([[ 0.1234, -0.5678,  0.9012, -0.3456,  0.7890, -0.1234,  0.5678, -0.9012,  0.3456]])\n"


def write_with_outputs(nb: nbformat.NotebookNode, target: Path, megabytes: int) -> int:
    """Save `nb` as a learner who printed a large tensor and saved would: `megabytes` MiB of stored outputs.

    The first code cell keeps a printed tensor as Jupyter stores a stream (a list of lines) and an
    image (one long base64 string). Written piece by piece, so the test never holds it in memory.
    Returns the file's size in bytes.
    """
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    image = "iVBORw0KGgo" * (2**20 // 11)  # 1 MiB of what a PNG's base64 looks like
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="@@ROWS@@"),
                    nbformat.v4.new_output("display_data", data={"image/png": image})]
    head, tail = nbformat.writes(nb).split('"@@ROWS@@"')  # inside the list of lines nbformat writes
    row = json.dumps(PRINTED_ROW)
    block = ",\n".join([row] * 10_000)  # 10,000 rows a write
    blocks = max(1, -(-(megabytes * 2**20 - len(image)) // (len(block) + 2)))  # rounded up
    with target.open("w", encoding="utf-8") as f:
        f.write(head)
        for i in range(blocks):
            f.write(block + (",\n" if i < blocks - 1 else ""))
        f.write(tail)
    return target.stat().st_size


def path_of(learner: str, assignment: str) -> Path:
    return DEMO_DIR / learner / assignment / f"{assignment}.ipynb"


def main() -> None:
    for learner, assignments in ANSWERS.items():
        for assignment in assignments:
            out = path_of(learner, assignment)
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(build(learner, assignment), out)
            print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
