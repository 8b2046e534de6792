"""Corpus BLEU (sacreBLEU's defaults: 13a tokens, up to 4-grams, brevity penalty, no smoothing
needed at corpus level) of hypotheses against one reference each, from a TSV of name, reference,
hypothesis; written out so that no package beyond Python is needed."""
import collections
import math
import re
import sys


def tokenize_13a(line):
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    line = re.sub(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 ", line)
    line = re.sub(r"([^0-9])([\.,])", r"\1 \2 ", line)
    line = re.sub(r"([\.,])([^0-9])", r" \1 \2", line)
    line = re.sub(r"([0-9])(-)", r"\1 \2 ", line)
    return line.split()


def corpus_bleu(hyps, refs):
    match, total, hyp_len, ref_len = [0] * 4, [0] * 4, 0, 0
    for h, r in zip(hyps, refs):
        h, r = tokenize_13a(h), tokenize_13a(r)
        hyp_len += len(h)
        ref_len += len(r)
        for n in range(1, 5):
            hc = collections.Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            rc = collections.Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            match[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[n - 1] += max(len(h) - n + 1, 0)
    if min(match) == 0:
        return 0.0, hyp_len, ref_len
    log_p = sum(math.log(match[i] / total[i]) for i in range(4)) / 4
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / max(hyp_len, 1))
    return 100 * bp * math.exp(log_p), hyp_len, ref_len


rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1], encoding="utf-8")]
rows = [r + [""] * (3 - len(r)) for r in rows]
score, hyp_len, ref_len = corpus_bleu([r[2] for r in rows], [r[1] for r in rows])
print(f"mslamtranslate, {len(rows)} utterances: BLEU = {score:.2f} (hyp_len = {hyp_len} ref_len = {ref_len})")
