"""PyTorch reference of the mslam encoder, its heads and decoder, and the audio frontend.

This module is the executable definition the C code (core/frontend.c, core/encoder.c,
core/heads.c, core/decoder.c) is tested against: make_fixtures.py runs it in float64 and stores inputs, outputs and gradients.
Parameter names and shapes are those of core/params.c (param_table below mirrors it).

Architecture (d = d_model, H = n_heads, e = d / H, k = conv_kernel, C = sub_channels):

  speech: log-mel (B, T, n_mels), lengths
    -> (mel - frontend.mel_mean) / frontend.mel_std
    -> subsampler: Conv2d(1, C, 3, stride 2) + ReLU -> Conv2d(C, C, 3, stride 2) + ReLU
       (no padding), (B, C, T2, F2) -> (B, T2, C * F2) with index c * F2 + f -> Linear to d;
       T2 = ((T - 3) // 2 + 1 - 3) // 2 + 1 (0 when T < 7)
    -> speech_layers, then shared_layers (attention optionally chunked for streaming)
  text: ids (B, L), lengths -> text.embed + sinusoid(0 .. L-1) -> text.ln -> shared_layers
  output: last layer's output with padded frames set to zero.

  Conformer layer (pre-LN, LayerNorm eps 1e-5, swish(x) = x sigmoid(x)):
    x += 0.5 * ffn1(x)     ffn(x) = linear2(swish(linear1(ln(x))))
    x += attn(x)           relative-position MHSA (RelPosSelfAttention)
    x += conv(x)           ln -> pw1 (d -> 2d) -> GLU -> depthwise conv over time
                           (frames outside [0, len) read as zero; causal: taps t-(k-1) .. t)
                           -> LayerNorm (conv.norm) -> swish -> pw2 (d -> d)
    x += 0.5 * ffn2(x)
    x = ln_out(x)

  heads on the encoder output: see Model (CTC, LID, Transformer decoder).
"""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio

SAMPLE_RATE = 16000
WIN_LENGTH = 400
HOP_LENGTH = 160
N_FREQS = WIN_LENGTH // 2 + 1
LOG_FLOOR = 1e-10
LN_EPS = 1e-5

CONFIG_FIELDS = ("n_mels", "d_model", "n_heads", "d_ff", "conv_kernel", "sub_channels",
                 "n_speech_layers", "n_shared_layers", "vocab_size", "n_langs", "causal_conv")
HEAD_FIELDS = ("ctc_head", "lid_head", "n_decoder_layers",  # optional: absent means no such head
               "translate_input")  # or, for translate_input, that the decoder reads speech


# ---------------------------------------------------------------------------------------------
# Frontend

def mel_filterbank(n_mels, dtype=torch.float64):
    """torchaudio.functional.melscale_fbanks(201, 0, 8000, n_mels, 16000, None, "htk") as
    (201, n_mels), computed in `dtype` (torchaudio builds it in the default dtype)."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        fb = torchaudio.functional.melscale_fbanks(
            n_freqs=N_FREQS, f_min=0.0, f_max=SAMPLE_RATE / 2, n_mels=n_mels,
            sample_rate=SAMPLE_RATE, norm=None, mel_scale="htk")
    finally:
        torch.set_default_dtype(saved)
    assert fb.dtype == dtype
    return fb


def n_frames(n_samples):
    """Frames of logmel(pcm) for n_samples samples alone; the encoder reads logmel_padded's, the
    frames of the samples and the tail padding (core/frontend.c mslam_frontend_n_frames)."""
    return 0 if n_samples < WIN_LENGTH else 1 + (n_samples - WIN_LENGTH) // HOP_LENGTH


# Zero samples after every recording (core/frontend.h MSLAM_TAIL_PADDING): encoder frame t reads
# samples [640 t, 640 t + 1360), so without them the last frame ends 45-85 ms before the audio.
TAIL_PADDING = 720


def logmel(pcm, n_mels=80, n_recorded=None):
    """pcm (n,) at 16 kHz -> log-mel (n_frames, n_mels), the definition core/frontend.c matches:

        frames = pcm.unfold(0, 400, 160)         frame f = pcm[160 f : 160 f + 400], no centering
        frames -= the mean of each frame's samples among the first n_recorded of pcm (default
                  all), on those samples alone (the zeros of the tail padding after them stay 0)
        X      = rfft(frames * hann_window(400, periodic=True), n=400)     (n_frames, 201)
        power  = |X|^2
        mel    = power @ melscale_fbanks(201, 0, 8000, n_mels, 16000, norm=None, "htk")
        logmel = log(max(mel, 1e-10))

    Computed in the dtype of pcm (float64 for fixtures)."""
    frames = pcm.unfold(0, WIN_LENGTH, HOP_LENGTH)
    n_recorded = len(pcm) if n_recorded is None else n_recorded
    first = torch.arange(frames.shape[0])[:, None] * HOP_LENGTH
    recorded = (first + torch.arange(WIN_LENGTH)[None, :]) < n_recorded     # (n_frames, 400)
    count = recorded.sum(1, keepdim=True).clamp(min=1)
    mean = (frames * recorded).sum(1, keepdim=True) / count
    frames = torch.where(recorded, frames - mean, torch.zeros_like(frames))
    window = torch.hann_window(WIN_LENGTH, periodic=True, dtype=pcm.dtype)
    spec = torch.fft.rfft(frames * window, n=WIN_LENGTH)
    power = spec.real ** 2 + spec.imag ** 2
    mel = power @ mel_filterbank(n_mels, pcm.dtype)
    return torch.log(torch.clamp(mel, min=LOG_FLOOR))


def logmel_padded(pcm, n_mels=80):
    """The features the encoder reads from a recording (mslam_encode_pcm, streams, the trainer):
    logmel of pcm followed by TAIL_PADDING zeros (no frame's mean counts them), n samples making
    n // 640 encoder frames."""
    return logmel(torch.cat([pcm, torch.zeros(TAIL_PADDING, dtype=pcm.dtype)]), n_mels, len(pcm))


# ---------------------------------------------------------------------------------------------
# Shared pieces

def sinusoid(pos, d):
    """pos (n,) integer positions (may be negative) -> (n, d):
    out[:, 2m] = sin(pos * 10000^(-2m/d)), out[:, 2m+1] = cos(pos * 10000^(-2m/d))."""
    pos = pos.to(torch.float64)
    inv = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = pos[:, None] * inv[None, :]
    out = torch.empty(len(pos), d, dtype=torch.float64)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle)
    return out


def subsampled_frames(t):
    """Encoder frames from mel frames (two valid 3-tap stride-2 convs); 0 when t < 7."""
    return 0 if t < 7 else ((t - 3) // 2 + 1 - 3) // 2 + 1


def attention_mask(T, lens, chunk=0, left_chunks=-1):
    """(B, T, T) bool, [b, i, j] = query i may attend to key j: j < lens[b] and, when chunk > 0,
    chunk(j) <= chunk(i) and (left_chunks < 0 or chunk(j) >= chunk(i) - left_chunks), with
    chunk(t) = t // chunk."""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    visible = (j[None] < lens[:, None, None])
    if chunk > 0:
        ci, cj = i // chunk, j // chunk
        in_chunks = cj <= ci
        if left_chunks >= 0:
            in_chunks = in_chunks & (cj >= ci - left_chunks)
        visible = visible & in_chunks[None]
    return visible


def swish(x):
    return x * torch.sigmoid(x)


def masked_softmax(scores, visible):
    """Softmax over the last dim of the visible entries (invisible ones get probability 0); a
    row that sees nothing gets zeros."""
    any_key = visible.any(-1, keepdim=True)
    scores = scores.masked_fill(~visible, float("-inf")).masked_fill(~any_key, 0.0)
    return torch.softmax(scores, dim=-1) * any_key


# ---------------------------------------------------------------------------------------------
# Modules

class FeedForward(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.ln = nn.LayerNorm(d, eps=LN_EPS)
        self.linear1 = nn.Linear(d, f)
        self.linear2 = nn.Linear(f, d)

    def forward(self, x):
        return self.linear2(swish(self.linear1(self.ln(x))))


class RelPosSelfAttention(nn.Module):
    """Transformer-XL style relative-position self-attention (as in the Conformer paper).

    For T frames the relative distance of query i and key j is rel = i - j in [-(T-1), T-1];
    P = sinusoid(rel) @ pos.weight^T, split into heads like q, k, v (head h = columns h*e ..
    h*e+e-1). score[h, i, j] = ((q_i + u_h) . k_j + (q_i + v_h) . P_h[i - j]) / sqrt(e);
    invisible keys (attention_mask) get -inf; softmax over j; a query that sees no key gets
    zeros (only padded frames can, and their outputs are never read)."""

    def __init__(self, d, n_heads):
        super().__init__()
        self.n_heads, self.e = n_heads, d // n_heads
        self.ln = nn.LayerNorm(d, eps=LN_EPS)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.pos = nn.Linear(d, d, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(n_heads, self.e))
        self.pos_bias_v = nn.Parameter(torch.zeros(n_heads, self.e))
        self.out = nn.Linear(d, d)

    def forward(self, x, visible):
        B, T, d = x.shape
        H, e = self.n_heads, self.e
        h = self.ln(x)

        def heads(y):  # (B, T, d) -> (B, H, T, e)
            return y.view(B, -1, H, e).transpose(1, 2)

        q, k, v = heads(self.q(h)), heads(self.k(h)), heads(self.v(h))
        rel = torch.arange(-(T - 1), T)                     # row r holds distance r - (T - 1)
        p = self.pos(sinusoid(rel, d).to(x.dtype))          # (2T-1, d)
        p = p.view(2 * T - 1, H, e).transpose(0, 1)         # (H, 2T-1, e)
        content = (q + self.pos_bias_u[None, :, None, :]) @ k.transpose(-1, -2)   # (B,H,T,T)
        position = (q + self.pos_bias_v[None, :, None, :]) @ p.transpose(-1, -2)  # (B,H,T,2T-1)
        row = (torch.arange(T)[:, None] - torch.arange(T)[None, :]) + (T - 1)     # (T, T)
        position = position.gather(-1, row.expand(B, H, T, T))
        scores = (content + position) / math.sqrt(e)
        probs = masked_softmax(scores, visible[:, None])    # visible (B, 1, T, T)
        out = (probs @ v).transpose(1, 2).reshape(B, T, d)
        return self.out(out)


class DepthwiseConv1d(nn.Module):
    """Depthwise conv over time, channels last. weight (d, k) — stored as mslam stores it,
    not torch's (d, 1, k). y[t, c] = bias[c] + sum_j weight[c, j] x[t - pad_left + j, c] with
    pad_left = k - 1 (causal) or (k - 1) // 2; frames outside [0, len) read as zero."""

    def __init__(self, d, k, causal):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d, k))
        self.bias = nn.Parameter(torch.zeros(d))
        self.pad_left = k - 1 if causal else (k - 1) // 2

    def forward(self, x, valid):
        d, k = self.weight.shape
        x = torch.where(valid[..., None], x, torch.zeros((), dtype=x.dtype))
        x = F.pad(x.transpose(1, 2), (self.pad_left, k - 1 - self.pad_left))
        return F.conv1d(x, self.weight[:, None, :], self.bias, groups=d).transpose(1, 2)


class ConvModule(nn.Module):
    def __init__(self, d, k, causal):
        super().__init__()
        self.ln = nn.LayerNorm(d, eps=LN_EPS)
        self.pw1 = nn.Linear(d, 2 * d)
        self.dw = DepthwiseConv1d(d, k, causal)
        self.norm = nn.LayerNorm(d, eps=LN_EPS)
        self.pw2 = nn.Linear(d, d)

    def forward(self, x, valid):
        h = F.glu(self.pw1(self.ln(x)), dim=-1)   # first half * sigmoid(second half)
        h = self.dw(h, valid)
        return self.pw2(swish(self.norm(h)))


class ConformerLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["d_model"]
        self.ffn1 = FeedForward(d, cfg["d_ff"])
        self.attn = RelPosSelfAttention(d, cfg["n_heads"])
        self.conv = ConvModule(d, cfg["conv_kernel"], cfg["causal_conv"])
        self.ffn2 = FeedForward(d, cfg["d_ff"])
        self.ln_out = nn.LayerNorm(d, eps=LN_EPS)

    def forward(self, x, valid, visible):
        x = x + 0.5 * self.ffn1(x)
        x = x + self.attn(x, visible)
        x = x + self.conv(x, valid)
        x = x + 0.5 * self.ffn2(x)
        return self.ln_out(x)


class FeatureNorm(nn.Module):
    """Per-bin log-mel statistics (not trained: buffers)."""

    def __init__(self, n_mels):
        super().__init__()
        self.register_buffer("mel_mean", torch.zeros(n_mels))
        self.register_buffer("mel_std", torch.ones(n_mels))

    def forward(self, mel):
        return (mel - self.mel_mean) / self.mel_std


class Subsampler(nn.Module):
    def __init__(self, n_mels, channels, d):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2)
        self.out = nn.Linear(channels * subsampled_frames(n_mels), d)

    def forward(self, x):                          # (B, T, n_mels)
        x = F.relu(self.conv1(x[:, None]))
        x = F.relu(self.conv2(x))                  # (B, C, T2, F2)
        B, C, T2, F2 = x.shape
        return self.out(x.permute(0, 2, 1, 3).reshape(B, T2, C * F2))


class TextEmbedding(nn.Module):
    def __init__(self, vocab_size, d):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d)
        self.ln = nn.LayerNorm(d, eps=LN_EPS)

    def forward(self, ids):
        L, d = ids.shape[1], self.embed.weight.shape[1]
        x = self.embed(ids) + sinusoid(torch.arange(L), d).to(self.embed.weight.dtype)
        return self.ln(x)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        d = cfg["d_model"]
        self.frontend = FeatureNorm(cfg["n_mels"])
        self.subsampler = Subsampler(cfg["n_mels"], cfg["sub_channels"], d)
        self.text = TextEmbedding(cfg["vocab_size"], d)
        self.speech_layers = nn.ModuleList(ConformerLayer(cfg) for _ in range(cfg["n_speech_layers"]))
        self.shared_layers = nn.ModuleList(ConformerLayer(cfg) for _ in range(cfg["n_shared_layers"]))

    @staticmethod
    def _run(layers, x, lens, chunk, left_chunks):
        T = x.shape[1]
        valid = torch.arange(T)[None, :] < lens[:, None]
        visible = attention_mask(T, lens, chunk, left_chunks)
        for layer in layers:
            x = layer(x, valid, visible)
        return torch.where(valid[..., None], x, torch.zeros((), dtype=x.dtype))

    def forward_speech(self, mel, mel_lens, chunk=0, left_chunks=-1):
        """mel (B, T, n_mels) raw log-mel, mel_lens (B,) -> (B, T2, d), lengths (B,)."""
        x = self.subsampler(self.frontend(mel))
        lens = torch.tensor([subsampled_frames(int(t)) for t in mel_lens])
        return self._run(list(self.speech_layers) + list(self.shared_layers), x, lens, chunk,
                         left_chunks), lens

    def forward_text(self, ids, lens):
        """ids (B, L), lens (B,) -> (B, L, d); full context, key padding only."""
        return self._run(self.shared_layers, self.text(ids), lens, 0, -1)


# ---------------------------------------------------------------------------------------------
# Heads and decoder (core/heads.c, core/decoder.c)

class Attention(nn.Module):
    """Pre-LN multi-head attention without positions (decoder self- and cross-attention):
    q = q(ln(x)); keys and values k(m), v(m) of m = ln(x) (self) or of the encoder frames as they
    are (cross); score = q . k / sqrt(e), invisible keys masked (masked_softmax), out(probs v)."""

    def __init__(self, d, n_heads):
        super().__init__()
        self.n_heads, self.e = n_heads, d // n_heads
        self.ln = nn.LayerNorm(d, eps=LN_EPS)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.out = nn.Linear(d, d)

    def forward(self, x, memory, visible):
        B, Tq, d = x.shape
        H, e = self.n_heads, self.e
        h = self.ln(x)
        m = h if memory is None else memory

        def heads(y):  # (B, T, d) -> (B, H, T, e)
            return y.view(B, -1, H, e).transpose(1, 2)

        q, k, v = heads(self.q(h)), heads(self.k(m)), heads(self.v(m))
        probs = masked_softmax(q @ k.transpose(-1, -2) / math.sqrt(e), visible[:, None])
        return self.out((probs @ v).transpose(1, 2).reshape(B, Tq, d))


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["d_model"]
        self.self_attn = Attention(d, cfg["n_heads"])
        self.cross_attn = Attention(d, cfg["n_heads"])
        self.ffn = FeedForward(d, cfg["d_ff"])

    def forward(self, x, enc, self_visible, cross_visible):
        x = x + self.self_attn(x, None, self_visible)
        x = x + self.cross_attn(x, enc, cross_visible)
        return x + self.ffn(x)


class DecoderEnds(nn.Module):
    """The decoder's parameters outside its layers: token embedding, final LayerNorm, output."""

    def __init__(self, vocab_size, d):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d)
        self.ln = nn.LayerNorm(d, eps=LN_EPS)
        self.out = nn.Linear(d, vocab_size)


class Model(Encoder):
    """The encoder with the heads its config asks for:

      ctc (ctc_head):        log_softmax(enc ctc^T + b) over the vocabulary, blank = id 0;
                             loss = ctc_loss(..., reduction="sum", zero_infinity=True): an item
                             whose targets cannot fit in its frames adds 0 (the C side skips it)
      lid (lid_head):        mean of each item's valid frames -> Linear to n_langs;
                             loss = cross_entropy(label_smoothing, reduction="sum")
      decoder (n_decoder_layers > 0): y_in = [<s>, t..] (padding id 0) -> decoder.embed +
                             sinusoid(0 .. L-1) -> decoder_layers (pre-LN: causal self-attention
                             over the item's L_b = n_b + 1 positions, cross-attention over its
                             valid frames, FFN) -> decoder.ln -> decoder.out; loss =
                             cross_entropy against [t.., </s>] (padding -1 ignored, label
                             smoothing, reduction="sum")"""

    def __init__(self, cfg):
        super().__init__(cfg)
        d, V = cfg["d_model"], cfg["vocab_size"]
        if cfg.get("ctc_head"):
            self.ctc = nn.Linear(d, V)
        if cfg.get("lid_head"):
            self.lid = nn.Linear(d, cfg["n_langs"])
        if cfg.get("n_decoder_layers", 0) > 0:
            self.decoder = DecoderEnds(V, d)
            self.decoder_layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg["n_decoder_layers"]))

    def ctc_loss(self, enc, lens, targets, target_lens):
        """enc (B, T, d), lens (B,), targets (sum target_lens,) concatenated -> summed loss."""
        log_probs = F.log_softmax(self.ctc(enc), dim=-1)
        return F.ctc_loss(log_probs.transpose(0, 1), targets, lens, target_lens, blank=0,
                          reduction="sum", zero_infinity=True)

    def lid_logits(self, enc, lens):
        valid = (torch.arange(enc.shape[1])[None, :] < lens[:, None])[..., None]
        pooled = (enc * valid).sum(1) / lens[:, None].to(enc.dtype)
        return self.lid(pooled)

    def decoder_logits(self, enc, enc_lens, y_in, dec_lens):
        """enc (B, T, d), y_in (B, L), dec_lens (B,) = target lengths + 1 -> logits (B, L, V)."""
        B, L = y_in.shape
        T, d = enc.shape[1], enc.shape[2]
        x = self.decoder.embed(y_in) + sinusoid(torch.arange(L), d).to(enc.dtype)
        i, j = torch.arange(L)[:, None], torch.arange(L)[None, :]
        self_visible = (j <= i)[None] & (j[None] < dec_lens[:, None, None])
        cross_visible = (torch.arange(T)[None, None, :] < enc_lens[:, None, None]).expand(B, L, T)
        for layer in self.decoder_layers:
            x = layer(x, enc, self_visible, cross_visible)
        return self.decoder.out(self.decoder.ln(x))


# ---------------------------------------------------------------------------------------------
# Model file

def param_table(cfg):
    """[(name, shape)] in the order of core/params.c (the order of the model file)."""
    d, f, H, k, C = cfg["d_model"], cfg["d_ff"], cfg["n_heads"], cfg["conv_kernel"], cfg["sub_channels"]
    e, F2 = d // H, subsampled_frames(cfg["n_mels"])
    table = [("frontend.mel_mean", (cfg["n_mels"],)), ("frontend.mel_std", (cfg["n_mels"],)),
             ("subsampler.conv1.weight", (C, 1, 3, 3)), ("subsampler.conv1.bias", (C,)),
             ("subsampler.conv2.weight", (C, C, 3, 3)), ("subsampler.conv2.bias", (C,)),
             ("subsampler.out.weight", (d, C * F2)), ("subsampler.out.bias", (d,)),
             ("text.embed.weight", (cfg["vocab_size"], d)),
             ("text.ln.weight", (d,)), ("text.ln.bias", (d,))]

    def ffn(name):
        return [(f"{name}.ln.weight", (d,)), (f"{name}.ln.bias", (d,)),
                (f"{name}.linear1.weight", (f, d)), (f"{name}.linear1.bias", (f,)),
                (f"{name}.linear2.weight", (d, f)), (f"{name}.linear2.bias", (d,))]

    def layer(prefix):
        rows = ffn("ffn1") + [("attn.ln.weight", (d,)), ("attn.ln.bias", (d,))]
        for proj in ("q", "k", "v"):
            rows += [(f"attn.{proj}.weight", (d, d)), (f"attn.{proj}.bias", (d,))]
        rows += [("attn.pos.weight", (d, d)), ("attn.pos_bias_u", (H, e)), ("attn.pos_bias_v", (H, e)),
                 ("attn.out.weight", (d, d)), ("attn.out.bias", (d,)),
                 ("conv.ln.weight", (d,)), ("conv.ln.bias", (d,)),
                 ("conv.pw1.weight", (2 * d, d)), ("conv.pw1.bias", (2 * d,)),
                 ("conv.dw.weight", (d, k)), ("conv.dw.bias", (d,)),
                 ("conv.norm.weight", (d,)), ("conv.norm.bias", (d,)),
                 ("conv.pw2.weight", (d, d)), ("conv.pw2.bias", (d,))]
        rows += ffn("ffn2") + [("ln_out.weight", (d,)), ("ln_out.bias", (d,))]
        return [(f"{prefix}.{name}", shape) for name, shape in rows]

    for i in range(cfg["n_speech_layers"]):
        table += layer(f"speech_layers.{i}")
    for i in range(cfg["n_shared_layers"]):
        table += layer(f"shared_layers.{i}")
    V = cfg["vocab_size"]
    if cfg.get("ctc_head"):
        table += [("ctc.weight", (V, d)), ("ctc.bias", (V,))]
    if cfg.get("lid_head"):
        table += [("lid.weight", (cfg["n_langs"], d)), ("lid.bias", (cfg["n_langs"],))]
    if cfg.get("n_decoder_layers", 0) > 0:
        table.append(("decoder.embed.weight", (V, d)))
        for i in range(cfg["n_decoder_layers"]):
            for attn in ("self_attn", "cross_attn"):
                rows = [("ln.weight", (d,)), ("ln.bias", (d,))]
                for proj in ("q", "k", "v", "out"):
                    rows += [(f"{proj}.weight", (d, d)), (f"{proj}.bias", (d,))]
                table += [(f"decoder_layers.{i}.{attn}.{name}", shape) for name, shape in rows]
            table += [(f"decoder_layers.{i}.{name}", shape) for name, shape in ffn("ffn")]
        table += [("decoder.ln.weight", (d,)), ("decoder.ln.bias", (d,)),
                  ("decoder.out.weight", (V, d)), ("decoder.out.bias", (V,))]
    return table


def ordered_state(model):
    """The model's tensors in model-file order; checks that names and shapes match the table."""
    state = model.state_dict()
    table = param_table(model.cfg)
    names = [name for name, _ in table]
    assert sorted(names) == sorted(state), set(names) ^ set(state)
    for name, shape in table:
        assert tuple(state[name].shape) == shape, (name, tuple(state[name].shape), shape)
    return [(name, state[name]) for name in names]


def model_metadata(cfg, vocab, langs):
    assert len(vocab) == cfg["vocab_size"] and len(langs) == cfg["n_langs"]
    return {
        "format_version": "1",
        "config": json.dumps({key: int(cfg[key]) for key in CONFIG_FIELDS + HEAD_FIELDS if key in cfg}),
        "vocab": json.dumps(list(vocab), ensure_ascii=False),
        "langs": json.dumps(list(langs), ensure_ascii=False),
    }
