#!/usr/bin/env python3
# A model over another model's vocabulary: the text embedding's rows taken by character from IN
# (a character IN lacks: a row of zeros), the pre-training tensors, the heads over characters
# (CTC, decoder) and the optimizer's state left out. What `mslam-trainer train --init IN --vocab
# data` now does itself; this made the session's first measurements before it existed:
#   python3 revocab.py IN VOCAB-MODEL OUT
import json, sys
import stfile

src, vocab_src, dst = sys.argv[1:4]
f, h, base = stfile.read(src)
_, hv, _ = stfile.read(vocab_src)
old = json.loads(h['__metadata__']['vocab']); new = json.loads(hv['__metadata__']['vocab'])
row_of = {c: i for i, c in enumerate(old)}
meta = stfile.model_metadata(h['__metadata__'], vocab_size=len(new), ctc_head=0, n_decoder_layers=0)
meta['vocab'] = json.dumps(new, ensure_ascii=False)
tensors = []
for name, e in stfile.in_file_order(h):
    if name.startswith(('pretrain.', 'optimizer', 'ctc.', 'decoder')): continue
    data, shape = stfile.tensor_bytes(f, base, e), e['shape']
    if name == 'text.embed.weight':
        width = shape[1] * 4
        data = b''.join(data[row_of[c] * width:(row_of[c] + 1) * width] if c in row_of else b'\0' * width for c in new)
        shape = [len(new), shape[1]]
    tensors.append((name, e['dtype'], shape, data))
stfile.write(dst, meta, tensors)
