#!/usr/bin/env python3
"""The 10 languages of lowest CER (prefix beam + LM) chosen on the dev split, and their CER on the
test split, offline and streaming; also the 10 best chosen on the test split itself.
  best10.py eval-dev.json eval-test.json"""
import json
import sys

dev, test = (json.load(open(p)) for p in sys.argv[1:3])
key = "cer_beam"
chosen = sorted(dev["offline"]["languages"], key=lambda l: dev["offline"]["languages"][l][key])[:10]
print("chosen on dev (offline CER, beam + LM):", " ".join(chosen))
for mode in ("offline", "streaming"):
    if mode not in test:
        continue
    langs = test[mode]["languages"]
    on_dev = sum(langs[l][key] for l in chosen) / 10
    own = sorted(langs, key=lambda l: langs[l][key])[:10]
    on_test = sum(langs[l][key] for l in own) / 10
    print(f"{mode}: test CER of the dev-chosen 10: {100 * on_dev:.3f} %; "
          f"10 best on test ({' '.join(own)}): {100 * on_test:.2f} %; "
          f"all {len(langs)}: {100 * sum(v[key] for v in langs.values()) / len(langs):.2f} %")
