#!/usr/bin/env python3
"""Session 14's run of models/train-default.sh against the logs of the runs that made session 3's
model: every logged step's losses, gradient norm and learning rate, and the time taken.
  python3 models/results/session14/reproduction/same-steps.py"""
import json

R = "models/results"
PAIRS = [
    ("stage 0", f"{R}/session2/train-stage0.jsonl", f"{R}/session14/two-hours/train-stage0.jsonl"),
    ("stage 1", f"{R}/session2/train-stage1.jsonl", f"{R}/session14/two-hours/train-stage1.jsonl"),
    ("stage 2 (6000 steps, stopped)", f"{R}/session3/train-stage2.jsonl",
     f"{R}/session14/reproduction/train-stage2-6000-stopped.jsonl"),
]
KEYS = ("loss", "ctc", "lid", "st", "grad_norm", "lr")


def steps(path):
    return {r["step"]: r for r in map(json.loads, open(path)) if "loss" in r}


for name, then_path, now_path in PAIRS:
    then, now = steps(then_path), steps(now_path)
    common = sorted(set(then) & set(now))
    same = sum(all(then[s].get(k) == now[s].get(k) for k in KEYS) for s in common)
    last = common[-1]
    print(f"{name}: {same} of {len(common)} logged steps identical (to step {last}); "
          f"{then[last]['elapsed_s']:.0f} s then, {now[last]['elapsed_s']:.0f} s now "
          f"({then[last]['elapsed_s'] / now[last]['elapsed_s']:.2f}x)")
