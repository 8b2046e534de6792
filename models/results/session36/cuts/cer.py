"""CER of cuts.sh's captions against its paragraphs, letters and digits alone (the captions are
joined without spaces at the cuts), per max-duration: python3 cer.py OUT"""
import sys


def norm(s):
    return ''.join(c for c in s.lower() if c.isalnum())


def levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


out = sys.argv[1]
refs = [norm(line) for line in open(f'{out}/ref.txt', encoding='utf-8')]
for md in ['60000', '1500', '2000', '3000']:
    hyps = [norm(line) for line in open(f'{out}/hyp-{md}.txt', encoding='utf-8')]
    errors = sum(levenshtein(r, h) for r, h in zip(refs, hyps))
    print(f'max-duration {md} ms: CER {100 * errors / sum(len(r) for r in refs):.2f} %')
