#!/usr/bin/env python3
"""CPU timing of PyTorch's Conformer at the size of mslam's default encoder, for comparison
with mslam's own benchmarks (a baseline, not a parity test).

torchaudio.models.Conformer(input_dim=144, num_heads=4, ffn_dim=576, num_layers=16,
depthwise_conv_kernel_size=31) on a batch of 8 x 250 frames: 8 x 10 s of audio at 25 encoder
frames per second. Only the Conformer layers are timed (no frontend or subsampler) unless
--subsampler C puts mslam's speech subsampler of C channels before them (as train_bench times
the whole encoder), and torchaudio's layers use plain multi-head attention (no relative-position term) and BatchNorm
in the conv module, so the FLOPs are close to mslam's but not equal.

Run with Debian's Python (python3-torch, python3-torchaudio):

    /usr/bin/python3 bench/torch_conformer.py [--threads 2] [--runs 5] [--train]

Prints machine-readable lines:
    torch_conformer_s rtf=<median_s / audio_s> median_s=<s> audio_s=80 ...
    torch_conformer_train step_s=<s> audio_s_per_s=<audio seconds trained per second> ...
"""
import argparse
import ctypes
import os
import resource
import statistics
import time

import torch
import torchaudio

FRAMES_PER_SECOND = 25
MELS = 80


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def blas_kernels():
    """The kernels OpenBLAS runs in this process (torch loaded it), as mslam's benchmarks print them."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0", mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return "not OpenBLAS"
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib.openblas_get_corename().decode()


class Subsampled(torch.nn.Module):
    """mslam's speech subsampler before the Conformer: log-mel (B, T_mel, mels) -> two 3x3
    convolutions of stride 2 without padding, each followed by ReLU -> a linear layer to dim."""

    def __init__(self, conformer, channels, mels, dim):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, channels, 3, stride=2)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, stride=2)
        self.out = torch.nn.Linear(channels * (((mels - 3) // 2 + 1 - 3) // 2 + 1), dim)
        self.conformer = conformer

    def forward(self, mel, lengths):
        c = torch.relu(self.conv2(torch.relu(self.conv1(mel.unsqueeze(1)))))  # (B, C, T, F)
        x = self.out(c.permute(0, 2, 1, 3).flatten(2))
        return self.conformer(x, lengths)


def subsampled_frames(mel_frames):
    return ((mel_frames - 3) // 2 + 1 - 3) // 2 + 1


def build(args):
    conformer = torchaudio.models.Conformer(
        input_dim=args.dim, num_heads=args.heads, ffn_dim=args.ffn, num_layers=args.layers,
        depthwise_conv_kernel_size=args.kernel, dropout=args.dropout)
    if not args.subsampler:
        return conformer
    return Subsampled(conformer, args.subsampler, MELS, args.dim)


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=positive, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--batch", type=positive, default=8)
    parser.add_argument("--frames", type=positive, default=250, help="encoder frames per item (25/s)")
    parser.add_argument("--dim", type=positive, default=144)
    parser.add_argument("--heads", type=positive, default=4)
    parser.add_argument("--ffn", type=positive, default=576)
    parser.add_argument("--layers", type=positive, default=16)
    parser.add_argument("--kernel", type=positive, default=31)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", type=positive, default=5)
    parser.add_argument("--train", action="store_true",
                        help="also time forward + backward + AdamW step (training mode)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subsampler", type=int, default=0, metavar="CHANNELS",
                        help="time mslam's speech subsampler of this many channels too, on log-mel input "
                             "of 4 x --frames mel frames (train_bench's whole encoder); default 0: the layers "
                             "alone, on --frames frames")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="torchaudio's Conformer dropout (in training: its feed-forward, attention and "
                             "convolution modules)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.subsampler < 0:
        parser.error(f"--subsampler {args.subsampler}: a number of channels, or 0 for none")
    model = build(args)
    audio_s = args.batch * args.frames / FRAMES_PER_SECOND
    if args.subsampler:  # 100 mel frames a second, as mslam's; the convolutions leave a few fewer
        mel_frames = 4 * args.frames
        x = torch.randn(args.batch, mel_frames, MELS)
        frames = subsampled_frames(mel_frames)
    else:
        x = torch.randn(args.batch, args.frames, args.dim)
        frames = args.frames
    lengths = torch.full((args.batch,), frames, dtype=torch.long)
    n_params = sum(p.numel() for p in model.parameters())
    common = (f"audio_s={audio_s:g} threads={args.threads} batch={args.batch} "
              f"frames={args.frames} layers={args.layers} d={args.dim} params={n_params} "
              f"runs={args.runs} dropout={args.dropout:g} torch={torch.__version__} "
              f"openblas_kernels={blas_kernels()} subsampler={args.subsampler}")

    model.eval()

    def forward():
        with torch.inference_mode():
            model(x, lengths)

    median, best = timed(forward, args.warmup, args.runs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch_conformer_s rtf={median / audio_s:.5f} median_s={median:.4f} min_s={best:.4f} "
          f"peak_rss_mb={peak_mb:.0f} {common}", flush=True)

    if args.train:
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        target = torch.randn(args.batch, frames, args.dim)

        def step():
            optimizer.zero_grad(set_to_none=True)
            out, _ = model(x, lengths)
            loss = torch.nn.functional.mse_loss(out, target)
            loss.backward()
            optimizer.step()

        median, best = timed(step, args.warmup, args.runs)
        print(f"torch_conformer_train step_s={median:.4f} min_s={best:.4f} "
              f"audio_s_per_s={audio_s / median:.2f} {common}", flush=True)


if __name__ == "__main__":
    main()
