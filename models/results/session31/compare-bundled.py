#!/usr/bin/env python3
"""Per-language test CER (prefix beam 32 + LM, offline) of two `mslam-trainer eval` tables side by
side: by default the bundled model (session 30's scores, trained on a corpus built before session
15) and session 18's seed-3 two-hour model (trained on the corpus as make-corpus.sh builds it
today), both scored on today's test split. Prints each language's difference, sorted, and the mean.

  python3 models/results/session31/compare-bundled.py [A.txt B.txt]
"""
import re
import statistics
import sys

here = "models/results"
a_path, b_path = (sys.argv[1:3] if len(sys.argv) >= 3 else
                  (f"{here}/session30/eval-bundled/eval-test.txt", f"{here}/session18/seed3/eval-test.txt"))


def offline_beam_cer(path):
    """lang -> CER-beam (%) of the offline table (the part before '== streaming')."""
    cer = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("== streaming"):
                break
            m = re.match(r"^([a-z]{2,3})\s+\d+\s+[\d.]+%\s+(?:[\d.]+%|-)\s+([\d.]+)%", line)
            if m:
                cer[m.group(1)] = float(m.group(2))
    return cer


a, b = offline_beam_cer(a_path), offline_beam_cer(b_path)
common = sorted(set(a) & set(b), key=lambda lang: a[lang] - b[lang])
print(f"{'lang':6} {'A':>7} {'B':>7} {'A-B':>7}   A: {a_path}, B: {b_path}")
for lang in common:
    print(f"{lang:6} {a[lang]:7.2f} {b[lang]:7.2f} {a[lang] - b[lang]:+7.2f}")
diffs = [a[lang] - b[lang] for lang in common]
print(f"{len(common)} languages: mean A-B {statistics.mean(diffs):+.2f} points, median {statistics.median(diffs):+.2f}, "
      f"A better in {sum(d < 0 for d in diffs)}, worse in {sum(d > 0 for d in diffs)}")
