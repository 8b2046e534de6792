#!/usr/bin/env python3
"""Writes tests/reference/fixtures/metrics_sacrebleu.json: sacreBLEU's own corpus BLEU and chrF
(and its 13a tokenisation) for hypothesis/reference sets that trainer/metrics.c must reproduce.
tests/test_metrics.c reads the file; CI needs no Python.

sacreBLEU is not packaged in Debian 12. Run this with a sacreBLEU 2.x source checkout on the
path, using Debian's Python and the Debian packages its imports need (python3-portalocker,
python3-tabulate, python3-colorama, python3-lxml):

    git clone https://github.com/mjpost/sacrebleu /tmp/sacrebleu     # or any copy of it
    echo '__version__ = "2.6.0"' > /tmp/sacrebleu/sacrebleu/version.py  # made by pip otherwise
    PYTHONPATH=/tmp/sacrebleu /usr/bin/python3 tests/reference/metrics_reference.py

(a pip-installed sacrebleu works as well). The checked-in fixture was written with sacreBLEU
2.6.0 (git v2.6.0-1-gf615c72) on Python 3.11. Everything is seeded: reruns give the same file.

Every value uses sacreBLEU's defaults: BLEU() = tokenize 13a, smooth 'exp', mixed case;
CHRF() = chrF2, char order 6, word order 0, whitespace removed, effective order. chrF is also
given with beta=3 and eps_smoothing=True, its other averaging path.
"""
import json
import os
import random
import sys

try:
    import sacrebleu
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
except ImportError as e:  # pragma: no cover - a usage error, not a test
    sys.exit(f"metrics_reference.py: cannot import sacrebleu ({e}); see the docstring")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "metrics_sacrebleu.json")

# The README example of sacreBLEU (two reference streams), whose BLEU (48.530827) its own test
# suite checks: a sanity check of this script as well.
README_HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
README_REFS = [
    ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
]

HAND_CASES = [
    ("readme_two_refs", README_HYPS, README_REFS),
    ("readme_one_ref", README_HYPS, README_REFS[:1]),
    ("identical", ["a b c d e f"], [["a b c d e f"]]),
    ("punctuation_numbers",
     ["The price is $3,000.50, isn't it? (about 3.5%)", "Call 555-1234 at 10:30 p.m.",
      "Version 1.2.3 ships, e.g. on 2024-01-05!", "Wait... what?!", "a,b.c 1,a a,1 .5 5. x."],
     [["The price was $3,000.50; isn't it? (about 3.5 %)", "Call 555-1234 at 10:30 pm.",
       "Version 1.2.3 shipped, e.g. on 2024-01-05.", "Wait ... what?", "a, b. c 1,a a,1 .5 5. x ."]]),
    ("hyphens_newlines_entities",
     ["a well-known state-of-the-art co-\noperative", "line one\nline two <skipped> end",
      "&amp;lt; &quot;quoted&quot; &gt; &amp; 3-4 x-ray -", "trailing dash-\n"],
     [["a well known state-of-the-art cooperative", "line one line two end",
       "< \"quoted\" > & 3 - 4 x-ray -", "trailing dash"]]),
    ("unicode",
     ["Die Größe über 5 € — „gut“.", "日本語のテキストです。", "naïve café “quotes” 😀!",
      "e\u0301te\u0301 vs \u00e9t\u00e9", "nbsp\u00a0here\u3000ideo\u2028sep\x1cfs \u200bzw"],
     [["Die Größe ist über 5 € — „gut“.", "日本語のテキスト。", "naive cafe \"quotes\" 😀 !",
       "\u00e9t\u00e9 vs \u00e9t\u00e9", "nbsp here ideo sep fs zw"]]),
    ("empty_hypothesis", ["", "the cat sat on the mat", ""],
     [["something here", "the cat sat on the mat", "more words"]]),
    ("all_empty_hypotheses", ["", "", ""], README_REFS),
    ("empty_reference", ["words without a reference", "the cat"], [["", "the cat"]]),
    # Unigram and bigram matches but no 3- or 4-gram anywhere: 'exp' smoothing at two orders.
    ("zero_match_orders", ["the cat the mat", "a dog a log"],
     [["the cat on the mat", "a dog in a log"]]),
    # Every hypothesis shorter than 4 tokens: no 4-gram at all, so BLEU is 0 with matches.
    ("short_hypotheses", ["the cat", "a dog sat"], [["the cat sat", "a dog sat down"]]),
    ("no_match", ["completely different words"], [["nothing in common here"]]),
    ("longer_hypothesis", ["the cat sat on the mat and then it slept for a very long time"],
     [["the cat sat on the mat"]]),
    ("clipping", ["the the the the the the the"], [["the cat is on the mat"]]),
    ("three_refs_closest_len", ["a b c d", "x y"],
     [["a b c d e f", "x y z w"], ["a b", "x"], ["a b c", "x y z"]]),
]

POOL = ["the", "cat", "dog", "sat", "on", "mat", "a", "an", "it", "U.S.", "3.14", "1,000",
        "well-known", "isn't", "(hi)", "e.g.", "über", "naïve", "東京", "日本語", "—", "“quoted”",
        "&amp;", "&lt;", "&quot;", "<skipped>", "50%", "$5", "x-ray", "12-3", "...", ",", ".", "!",
        "?", ";", ":", "'", "\"", "-", "/", "@", "#", "{x}", "[y]", "ü", "e\u0301", "😀",
        "a.b", "1.2.3", "--", ".5", "5.", ",5", "5,", "Ωmega", "ﬁne", "Straße", "İstanbul"]
SEPS = [" "] * 12 + ["", "\n", "\t", "  ", "\u00a0", "\u3000", "-\n"]


def random_sentence(rng):
    words = [rng.choice(POOL) for _ in range(rng.randint(0, 14))]
    out = ""
    for i, w in enumerate(words):
        out += (rng.choice(SEPS) if i else "") + w
    return out


def perturb(rng, sentence):
    """A hypothesis from a reference: dropped, replaced and inserted pieces, so that n-grams
    partly match."""
    parts = sentence.split(" ")
    out = []
    for p in parts:
        r = rng.random()
        if r < 0.15:
            continue
        if r < 0.3:
            out.append(rng.choice(POOL))
        else:
            out.append(p)
        if rng.random() < 0.1:
            out.append(rng.choice(POOL))
    return rng.choice([" ", " ", "  ", "\n"]).join(out)


def random_case(seed, n_segments, n_refs):
    rng = random.Random(seed)
    refs = [[] for _ in range(n_refs)]
    hyps = []
    for _ in range(n_segments):
        base = random_sentence(rng)
        hyps.append(perturb(rng, base))
        refs[0].append(base)
        for k in range(1, n_refs):
            refs[k].append(perturb(rng, base))
    return hyps, refs


def describe(name, hyps, refs):
    bleu = BLEU().corpus_score(hyps, refs)
    tok = Tokenizer13a()
    return {
        "name": name,
        "hyps": hyps,
        "refs": refs,  # sacreBLEU's layout: refs[k][i] is reference k of segment i
        "bleu": {
            "score": bleu.score,
            "counts": list(bleu.counts),
            "totals": list(bleu.totals),
            "precisions": list(bleu.precisions),
            "bp": bleu.bp,
            "sys_len": bleu.sys_len,
            "ref_len": bleu.ref_len,
            "line": str(bleu),
        },
        "chrf": CHRF().corpus_score(hyps, refs).score,
        "chrf_beta3_eps": CHRF(beta=3, eps_smoothing=True).corpus_score(hyps, refs).score,
        # The 13a tokenisation sacreBLEU applies (after rstrip) to each hypothesis.
        "tok13a": [tok(h.rstrip()) for h in hyps],
    }


def main():
    cases = [describe(*c) for c in HAND_CASES]
    assert abs(cases[0]["bleu"]["score"] - 48.530827) < 1e-6, cases[0]["bleu"]
    for seed, n_segments, n_refs in [(1, 120, 1), (2, 80, 2), (3, 40, 3)]:
        hyps, refs = random_case(seed, n_segments, n_refs)
        cases.append(describe(f"random_seed{seed}_{n_refs}refs", hyps, refs))
    doc = {
        "generator": "tests/reference/metrics_reference.py",
        "sacrebleu_version": sacrebleu.__version__,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
