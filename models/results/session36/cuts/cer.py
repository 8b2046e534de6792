"""CER of cuts.sh's captions against its paragraphs, letters and digits alone (the captions are
joined without spaces at the cuts), per max-duration: python3 cer.py OUT"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'session9'))
from element_cer import edit_distance  # noqa: E402 (session 9's, on its folder's path)


def norm(s):
    return ''.join(c for c in s.lower() if c.isalnum())


out = sys.argv[1]
refs = [norm(line) for line in open(f'{out}/ref.txt', encoding='utf-8')]
for md in ['60000', '1500', '2000', '3000']:
    hyps = [norm(line) for line in open(f'{out}/hyp-{md}.txt', encoding='utf-8')]
    errors = sum(edit_distance(r, h) for r, h in zip(refs, hyps))
    print(f'max-duration {md} ms: CER {100 * errors / sum(len(r) for r in refs):.2f} %')
