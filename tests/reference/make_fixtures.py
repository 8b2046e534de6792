#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures the C parity tests read (tests/reference/fixtures/).

Run from the project root with Debian's Python (python3-torch, python3-torchaudio):

    /usr/bin/python3 tests/reference/make_fixtures.py

Everything is seeded and computed in float64, then stored as float32 (integers as int32), so
reruns give identical files. The definitions the C code must match live in mslam_ref.py:

  logmel.safetensors       mslam_ref.logmel: frames pcm[160 f : 160 f + 400] (no centering)
                           less their mean, periodic Hann, rfft n=400, |X|^2, HTK mel filterbank 0..8000 Hz
                           without normalisation, log(max(x, 1e-10)).
  ctc.safetensors          torch.nn.functional.ctc_loss(log_softmax(logits), reduction="sum",
                           blank=0) and its gradient with respect to the logits (two cases).
  encoder_tiny.safetensors a model file in mslam's format (random weights, tiny config).
  encoder_tiny_io.safetensors inputs, outputs and gradients of mslam_ref.Encoder with it.
  heads_tiny.safetensors   a model file with CTC, LID heads and a 2-layer decoder (no encoder
                           layers: the heads are tested on given encoder outputs).
  heads_tiny_io.safetensors encoder outputs, targets, and each head's loss, logits and gradients
                           (parameters and encoder output) of mslam_ref.Model.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mslam_ref  # noqa: E402
import st_io  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")

TINY = {"n_mels": 80, "d_model": 16, "n_heads": 2, "d_ff": 32, "conv_kernel": 5,
        "sub_channels": 4, "n_speech_layers": 1, "n_shared_layers": 1, "vocab_size": 12,
        "n_langs": 3, "causal_conv": 1}
TINY_VOCAB = ["<blank>", "<unk>", " ", "a", "b", "c", "d", "e", "é", "ß", "ж", "中"]
TINY_LANGS = ["en", "fr", "de"]


def f32(t):
    return t.detach().to(torch.float32).contiguous().numpy()


def i32(values):
    return np.ascontiguousarray(np.asarray(values, dtype=np.int32))


def as_f32_input(t):
    """Rounds an input to float32 (what the fixture stores) and back to float64, so that the
    reference output belongs to exactly the input the C side reads."""
    return t.to(torch.float32).to(torch.float64)


# ---------------------------------------------------------------------------------------------
# a. log-mel

def speech_like(n_samples, gen):
    """A voiced-speech stand-in: harmonics (1/h roll-off, a crude formant emphasis) of a pitch
    gliding between ~100 and ~260 Hz, syllable-rate amplitude envelope, a short pause, and white
    noise; peak ~0.3. Noise keeps every mel band well above the log floor."""
    t = torch.arange(n_samples, dtype=torch.float64) / mslam_ref.SAMPLE_RATE
    f0 = 170 + 60 * torch.sin(2 * math.pi * 1.7 * t) + 40 * t
    phase = 2 * math.pi * torch.cumsum(f0, 0) / mslam_ref.SAMPLE_RATE
    x = torch.zeros(n_samples, dtype=torch.float64)
    for h in range(1, 60):
        fh = h * f0
        formant = 1 + 2 * torch.exp(-((fh - 700) / 300) ** 2) + torch.exp(-((fh - 2300) / 500) ** 2)
        x += torch.where(fh < 7800, formant * torch.sin(h * phase) / h, torch.zeros(()))
    envelope = 0.6 + 0.4 * torch.sin(2 * math.pi * 4.0 * t)
    pause = (t > 0.40) & (t < 0.48)                       # an unvoiced stretch: noise only
    envelope = torch.where(pause, torch.zeros(()), envelope)
    x = x * envelope
    x = 0.3 * x / x.abs().max()
    x += 0.01 * torch.randn(n_samples, generator=gen, dtype=torch.float64)
    return x


def check_logmel_definition(pcm, reference):
    """The definition has two other spellings; all must agree."""
    window = torch.hann_window(mslam_ref.WIN_LENGTH, periodic=True, dtype=torch.float64)
    # torch.stft without centering frames exactly as unfold(0, 400, 160).
    stft = torch.stft(pcm, n_fft=400, hop_length=160, win_length=400, window=window,
                      center=False, return_complex=True)          # (201, n_frames)
    raw = pcm.unfold(0, 400, 160)
    spec = torch.fft.rfft(raw * window, n=400)
    power = spec.real ** 2 + spec.imag ** 2
    stft_power = (stft.real ** 2 + stft.imag ** 2).T
    assert stft_power.shape == power.shape
    assert torch.allclose(stft_power, power, rtol=1e-10, atol=1e-12), "stft disagrees with rfft"
    # Each frame less its mean (Kaldi's remove_dc_offset).
    frames = raw - raw.mean(1, keepdim=True)
    # The C frontend's formulation: one product by a (400, 402) DFT matrix with the window
    # folded in, cos columns then -sin columns.
    n = torch.arange(400, dtype=torch.float64)[:, None]
    k = torch.arange(201, dtype=torch.float64)[None, :]
    angle = 2 * math.pi * torch.remainder(n * k, 400) / 400
    dft = torch.cat([window[:, None] * torch.cos(angle), -window[:, None] * torch.sin(angle)], 1)
    def dft_power(rows):
        ri = rows @ dft
        return ri[:, :201] ** 2 + ri[:, 201:] ** 2
    assert torch.allclose(dft_power(raw), power, rtol=1e-9, atol=1e-9), "DFT matrix disagrees"
    mat_power = dft_power(frames)
    mel = torch.log(torch.clamp(mat_power @ mslam_ref.mel_filterbank(80), min=1e-10))
    assert torch.allclose(mel, reference, rtol=0, atol=1e-9)


def make_logmel():
    gen = torch.Generator().manual_seed(1234)
    n = int(16000 * 0.73)                                  # 11680 samples: 71 frames + a tail
    pcm = as_f32_input(speech_like(n, gen))
    mel = mslam_ref.logmel(pcm, 80)
    assert mel.shape == (mslam_ref.n_frames(n), 80) == (71, 80)
    check_logmel_definition(pcm, mel)
    assert mel.min() > math.log(1e-10) + 1, "a band hit the log floor: the test would be weaker"
    st_io.write(os.path.join(FIXTURES, "logmel.safetensors"),
                [("pcm", f32(pcm)), ("logmel", f32(mel)),
                 ("logmel_padded", f32(mslam_ref.logmel_padded(pcm, 80)))],
                {"definition": "mslam_ref.logmel: unfold(400,160) - frame mean, * hann(400, periodic) -> "
                               "rfft(400) -> |X|^2 -> melscale_fbanks(201,0,8000,80,16000,None,htk)"
                               " -> log(max(x,1e-10))"})
    return mel


# ---------------------------------------------------------------------------------------------
# b. CTC

def ctc_naive(log_probs, targets, blank=0):
    """Textbook CTC forward recursion over the blank-extended label sequence (differentiable
    torch ops): an independent check of torch's ctc_loss value and gradient."""
    ext = [blank]
    for c in targets:
        ext += [c, blank]
    S = len(ext)
    # A finite "log 0": logsumexp over all -inf terms has a NaN gradient.
    neg = torch.tensor(-1e30, dtype=log_probs.dtype)
    alpha = [log_probs[0, ext[0]], log_probs[0, ext[1]]] + [neg] * (S - 2)
    for t in range(1, log_probs.shape[0]):
        new = []
        for s in range(S):
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(alpha[s - 2])
            new.append(torch.logsumexp(torch.stack(terms), 0) + log_probs[t, ext[s]])
        alpha = new
    return -torch.logsumexp(torch.stack([alpha[S - 1], alpha[S - 2]]), 0)


def ctc_case(T, V, targets, gen):
    logits = (1.5 * torch.randn(T, V, generator=gen, dtype=torch.float64)).to(torch.float32)
    logits = logits.to(torch.float64).requires_grad_(True)
    log_probs = F.log_softmax(logits, dim=-1)
    tgt = torch.tensor([targets], dtype=torch.long)
    loss = F.ctc_loss(log_probs[:, None, :], tgt, torch.tensor([T]), torch.tensor([len(targets)]),
                      blank=0, reduction="sum", zero_infinity=False)
    (grad,) = torch.autograd.grad(loss, logits)
    naive = ctc_naive(F.log_softmax(logits, dim=-1), targets)
    (naive_grad,) = torch.autograd.grad(naive, logits)
    assert torch.isfinite(loss) and abs(loss.item() - naive.item()) < 1e-9 * max(1, loss.item())
    assert torch.allclose(grad, naive_grad, atol=1e-10), "torch ctc_loss gradient disagrees"
    return f32(logits), i32(targets), f32(loss.reshape(1)), f32(grad)


def make_ctc():
    gen = torch.Generator().manual_seed(5678)
    logits, targets, loss, grad = ctc_case(12, 6, [1, 2, 2, 3], gen)
    # Case 2: random labels with a forced repeat (needs a blank between the two) and tight T.
    labels = torch.randint(1, 9, (7,), generator=gen).tolist()
    labels[4] = labels[3]
    logits2, targets2, loss2, grad2 = ctc_case(20, 9, labels, gen)
    st_io.write(os.path.join(FIXTURES, "ctc.safetensors"),
                [("logits", logits), ("targets", targets), ("loss", loss), ("grad_logits", grad),
                 ("logits2", logits2), ("targets2", targets2), ("loss2", loss2),
                 ("grad_logits2", grad2)],
                {"definition": "loss = ctc_loss(log_softmax(logits), targets, blank=0, "
                               "reduction=sum); grad_logits = d loss / d logits"})


# ---------------------------------------------------------------------------------------------
# c. tiny encoder

def random_init(model, gen):
    """Draws every tensor in model-file order so that every path carries signal: weights
    N(0, 0.2^2), biases N(0, 0.1^2), LayerNorm weights 1 + N(0, 0.1^2), feature statistics
    mean N(-5, 1) and std U(1, 3)."""
    state = dict(model.state_dict())
    with torch.no_grad():
        for name, shape in mslam_ref.param_table(model.cfg):
            leaf = name.rsplit(".", 2)
            is_norm = len(leaf) >= 2 and leaf[-2] in ("ln", "norm", "ln_out")
            z = torch.randn(shape, generator=gen, dtype=torch.float64)
            if name == "frontend.mel_mean":
                value = -5 + z
            elif name == "frontend.mel_std":
                value = 1 + 2 * torch.rand(shape, generator=gen, dtype=torch.float64)
            elif is_norm and name.endswith(".weight"):
                value = 1 + 0.1 * z
            elif name.endswith(".bias"):
                value = 0.1 * z
            else:
                value = 0.2 * z
            # Round to float32 now: the model file holds float32 and the reference must use
            # exactly those weights.
            state[name].copy_(as_f32_input(value))


def make_encoder():
    gen = torch.Generator().manual_seed(4321)
    model = mslam_ref.Encoder(TINY).double()
    random_init(model, gen)
    ordered = mslam_ref.ordered_state(model)
    st_io.write(os.path.join(FIXTURES, "encoder_tiny.safetensors"),
                [(name, f32(t)) for name, t in ordered],
                mslam_ref.model_metadata(TINY, TINY_VOCAB, TINY_LANGS))

    B, T, d = 2, 48, TINY["d_model"]
    mel_lens = torch.tensor([48, 37])
    mel = as_f32_input(-5 + 2 * torch.randn(B, T, TINY["n_mels"], generator=gen, dtype=torch.float64))
    text_lens = torch.tensor([9, 6])
    text_ids = torch.randint(0, TINY["vocab_size"], (B, 9), generator=gen)
    text_ids[1, 6:] = 0
    chunk, left_chunks = 4, 1

    mel.requires_grad_(True)
    speech_out, lens2 = model.forward_speech(mel, mel_lens)
    assert lens2.tolist() == [11, 8] and speech_out.shape == (B, 11, d)
    text_out = model.forward_text(text_ids, text_lens)
    speech_weight = as_f32_input(torch.randn(B, 11, d, generator=gen, dtype=torch.float64))
    text_weight = as_f32_input(torch.randn(B, 9, d, generator=gen, dtype=torch.float64))
    speech_valid = (torch.arange(11)[None, :] < lens2[:, None])[..., None]
    text_valid = (torch.arange(9)[None, :] < text_lens[:, None])[..., None]
    loss = (speech_out * speech_weight * speech_valid).sum() + (text_out * text_weight * text_valid).sum()
    loss.backward()

    with torch.no_grad():
        speech_out_chunk, _ = model.forward_speech(mel, mel_lens, chunk, left_chunks)
        check_encoder_semantics(model, mel, mel_lens, speech_out, speech_out_chunk, chunk, left_chunks)

    # End to end from PCM: the fixture's log-mel definition, with the tail padding, feeding the
    # encoder (8000 samples: 53 log-mel frames, 12 encoder frames).
    pcm = as_f32_input(speech_like(8000, torch.Generator().manual_seed(99)))
    mel_pcm = mslam_ref.logmel_padded(pcm, TINY["n_mels"])[None]
    assert mel_pcm.shape == (1, 53, 80)
    with torch.no_grad():
        speech_out_pcm, _ = model.forward_speech(mel_pcm, torch.tensor([53]))
    assert speech_out_pcm.shape[1] == 8000 // 640

    tensors = [("mel", f32(mel)), ("mel_lens", i32(mel_lens)),
               ("speech_out", f32(speech_out)),
               ("chunk", i32([chunk, left_chunks])), ("speech_out_chunk", f32(speech_out_chunk)),
               ("text_ids", i32(text_ids)), ("text_lens", i32(text_lens)),
               ("text_out", f32(text_out)),
               ("speech_weight", f32(speech_weight)), ("text_weight", f32(text_weight)),
               ("loss", f32(loss.reshape(1))), ("grad.mel", f32(mel.grad))]
    for name, _ in mslam_ref.ordered_state(model):
        if name.startswith("frontend."):
            continue                       # feature statistics are not trained
        grad = dict(model.named_parameters())[name].grad
        if name.endswith("attn.k.bias"):
            # q . bk is the same for every key of a query, and softmax ignores a constant per
            # row: this gradient is exactly zero. Store zeros, not float64 round-off, so that
            # the C side compares it with an absolute tolerance rather than against noise.
            assert grad.abs().max() < 1e-12
            grad = torch.zeros_like(grad)
        tensors.append((f"grad.{name}", f32(grad)))
    tensors += [("pcm", f32(pcm)), ("mel_pcm", f32(mel_pcm)), ("speech_out_pcm", f32(speech_out_pcm))]
    st_io.write(os.path.join(FIXTURES, "encoder_tiny_io.safetensors"), tensors,
                {"definition": "tests/reference/mslam_ref.py Encoder in float64; loss = "
                               "sum(speech_out * speech_weight) + sum(text_out * text_weight) "
                               "over valid frames, speech at full context",
                 "config": json.dumps(TINY)})


def check_encoder_semantics(model, mel, mel_lens, full, chunked, chunk, left_chunks):
    """Properties the C encoder relies on, asserted on the reference itself."""
    # Padded mel frames never reach a valid output frame.
    noisy = mel.clone()
    noisy[1, int(mel_lens[1]):] += 100
    out, _ = model.forward_speech(noisy, mel_lens)
    assert torch.equal(out, full), "padding leaks into valid frames"
    # Streaming: with causal conv and chunked attention, the frames of complete chunks do not
    # change when the audio is cut after them (here 2 chunks = 8 frames need 35 mel frames).
    n_frames = 2 * chunk
    n_mel = 4 * (n_frames - 1) + 7
    cut, lens = model.forward_speech(mel[:, :n_mel], torch.tensor([n_mel, n_mel]), chunk, left_chunks)
    assert cut.shape[1] == n_frames
    assert torch.allclose(cut[0], chunked[0, :n_frames], rtol=0, atol=1e-12), "future leaks"
    # The chunk mask (and its left limit) changes the result.
    assert (full - chunked).abs().max() > 1e-3
    unlimited, _ = model.forward_speech(mel, mel_lens, chunk, -1)
    assert (unlimited[0, 8:] - chunked[0, 8:]).abs().max() > 1e-3


# ---------------------------------------------------------------------------------------------
# d. heads and decoder

HEADS = {"n_mels": 80, "d_model": 16, "n_heads": 2, "d_ff": 24, "conv_kernel": 3,
         "sub_channels": 1, "n_speech_layers": 0, "n_shared_layers": 0, "vocab_size": 10,
         "n_langs": 3, "causal_conv": 1, "ctc_head": 1, "lid_head": 1, "n_decoder_layers": 2}
HEADS_VOCAB = ["<blank>", "<s>", "</s>", " ", "a", "b", "c", "d", "e", "é"]
HEADS_LANGS = ["en", "fr", "de"]
LABEL_SMOOTHING = 0.1


def make_heads():
    gen = torch.Generator().manual_seed(2468)
    model = mslam_ref.Model(HEADS).double()
    random_init(model, gen)
    ordered = mslam_ref.ordered_state(model)
    st_io.write(os.path.join(FIXTURES, "heads_tiny.safetensors"),
                [(name, f32(t)) for name, t in ordered],
                mslam_ref.model_metadata(HEADS, HEADS_VOCAB, HEADS_LANGS))

    B, T, d = 3, 8, HEADS["d_model"]
    bos, eos = HEADS_VOCAB.index("<s>"), HEADS_VOCAB.index("</s>")
    # Padded frames hold noise, not the encoder's zeros: the heads must ignore them.
    enc = as_f32_input(torch.randn(B, T, d, generator=gen, dtype=torch.float64))
    enc_lens = torch.tensor([8, 5, 3])
    params = dict(model.named_parameters())

    def grads(loss, prefix):
        """Gradients of loss for the parameters named prefix* and for enc."""
        names = [name for name, _ in ordered if name.startswith(prefix)]
        g = torch.autograd.grad(loss, [params[n] for n in names] + [enc])
        return [(f"grad.{n}", f32(t)) for n, t in zip(names, g[:-1])], f32(g[-1])

    enc.requires_grad_(True)
    # CTC: item 0 repeats a label (needs a blank between), item 2 cannot fit 4 labels in 3 frames.
    ctc_targets = [[4, 5, 5, 6], [3, 4, 7], [4, 5, 6, 7]]
    ctc_loss = model.ctc_loss(enc, enc_lens, torch.tensor(sum(ctc_targets, [])),
                              torch.tensor([len(t) for t in ctc_targets]))
    ctc_grads, ctc_denc = grads(ctc_loss, "ctc.")
    per_item = [model.ctc_loss(enc[b:b + 1], enc_lens[b:b + 1], torch.tensor(t), torch.tensor([len(t)]))
                for b, t in enumerate(ctc_targets)]
    assert per_item[2].item() == 0 and all(p.item() > 0 for p in per_item[:2])

    langs = torch.tensor([0, 2, 1])
    lid_logits = model.lid_logits(enc, enc_lens)
    lid_loss = F.cross_entropy(lid_logits, langs, label_smoothing=LABEL_SMOOTHING, reduction="sum")
    lid_grads, lid_denc = grads(lid_loss, "lid.")

    dec_targets = [[4, 5, 6, 3, 7], [8, 9], []]
    Lt = max(len(t) for t in dec_targets)
    targets = torch.zeros(B, Lt, dtype=torch.long)
    y_in = torch.zeros(B, Lt + 1, dtype=torch.long)
    y_out = torch.full((B, Lt + 1), -1, dtype=torch.long)
    for b, t in enumerate(dec_targets):
        targets[b, :len(t)] = torch.tensor(t, dtype=torch.long)
        y_in[b, :len(t) + 1] = torch.tensor([bos] + t)
        y_out[b, :len(t) + 1] = torch.tensor(t + [eos])
    dec_lens = torch.tensor([len(t) + 1 for t in dec_targets])
    dec_logits = model.decoder_logits(enc, enc_lens, y_in, dec_lens)
    dec_loss = F.cross_entropy(dec_logits.reshape(-1, HEADS["vocab_size"]), y_out.reshape(-1),
                               ignore_index=-1, label_smoothing=LABEL_SMOOTHING, reduction="sum")
    dec_grads, dec_denc = grads(dec_loss, "decoder")

    # The decoder is causal: logits of a prefix do not depend on later tokens.
    with torch.no_grad():
        cut = model.decoder_logits(enc[:1], enc_lens[:1], y_in[:1, :3], torch.tensor([3]))
        assert torch.allclose(cut, dec_logits[:1, :3], rtol=0, atol=1e-12), "decoder sees the future"

    tensors = [("enc", f32(enc)), ("enc_lens", i32(enc_lens)),
               ("ctc_targets", i32(sum(ctc_targets, []))),
               ("ctc_target_lens", i32([len(t) for t in ctc_targets])),
               ("ctc_loss", f32(ctc_loss.reshape(1))), ("ctc_denc", ctc_denc)] + ctc_grads
    tensors += [("lid_langs", i32(langs)), ("lid_logits", f32(lid_logits)),
                ("lid_loss", f32(lid_loss.reshape(1))), ("lid_denc", lid_denc)] + lid_grads
    tensors += [("dec_targets", i32(targets)), ("dec_target_lens", i32([len(t) for t in dec_targets])),
                ("dec_logits", f32(dec_logits)), ("dec_loss", f32(dec_loss.reshape(1))),
                ("dec_denc", dec_denc)] + dec_grads
    st_io.write(os.path.join(FIXTURES, "heads_tiny_io.safetensors"), tensors,
                {"definition": "tests/reference/mslam_ref.py Model heads in float64 on the given "
                               "encoder output; losses summed (CTC zero_infinity), label smoothing "
                               f"{LABEL_SMOOTHING} for LID and decoder",
                 "label_smoothing": str(LABEL_SMOOTHING), "config": json.dumps(HEADS)})


def main():
    torch.manual_seed(0)  # nothing should draw from the global generator; pinned regardless
    os.makedirs(FIXTURES, exist_ok=True)
    make_logmel()
    make_ctc()
    make_encoder()
    make_heads()
    total = 0
    for name in sorted(os.listdir(FIXTURES)):
        size = os.path.getsize(os.path.join(FIXTURES, name))
        total += size
        print(f"{name:32s} {size:8d} bytes")
    print(f"{'total':32s} {total:8d} bytes")
    assert total < 1 << 20


if __name__ == "__main__":
    main()
