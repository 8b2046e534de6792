"""Rows of NEW (an mslam manifest) whose text and translation are none of the dev and test
sentences (or translations) of the HELD manifests and whose characters are all in MODEL's
vocabulary, to standard output; counts to standard error.
   python3 clean.py MODEL HELD... NEW"""
import csv, json, struct, sys

def rows(path):
    with open(path, newline='') as f:
        r = csv.reader(f, delimiter='\t', quoting=csv.QUOTE_NONE)
        header = next(r)
        return header, [dict(zip(header, x)) for x in r]

model, held_paths, new_path = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
with open(model, 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    vocab = set(json.loads(json.loads(f.read(n))['__metadata__']['vocab']))
held = set()
for path in held_paths:
    for r in rows(path)[1]:
        if r['split'] in ('dev', 'test'):
            held.update(x for x in (r['text'], r['translation']) if x)
header, new = rows(new_path)
kept, held_out, outside = [], 0, 0
for r in new:
    if r['text'] in held or (r['translation'] and r['translation'] in held):
        held_out += 1
    elif any(c not in vocab for c in r['text'] + r['translation']):
        outside += 1
    else:
        kept.append(r)
print('\t'.join(header))
for r in kept:
    print('\t'.join(r[k] for k in header))
print(f'{len(new)} rows: {held_out} held-out sentences, {outside} with characters outside the vocabulary, '
      f'{len(kept)} kept', file=sys.stderr)
