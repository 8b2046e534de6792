#!/usr/bin/env python3
# Keeps the first K shared and S speech layers of a model file (drops the rest, the pre-training
# tensors and the optimizer's state too), so that a probe reads that layer's output:
#   python3 truncate.py IN OUT K [S]
import sys
import stfile

src, dst, keep = sys.argv[1], sys.argv[2], int(sys.argv[3])
keep_speech = int(sys.argv[4]) if len(sys.argv) > 4 else None
f, h, base = stfile.read(src)
config = {'n_shared_layers': keep}
if keep_speech is not None: config['n_speech_layers'] = keep_speech

def kept(name):
    if name.startswith(('pretrain.', 'optimizer')): return False
    if name.startswith('shared_layers.'): return int(name.split('.')[1]) < keep
    if name.startswith('speech_layers.') and keep_speech is not None: return int(name.split('.')[1]) < keep_speech
    return True

stfile.write(dst, stfile.model_metadata(h['__metadata__'], **config),
             [(n, e['dtype'], e['shape'], stfile.tensor_bytes(f, base, e)) for n, e in stfile.in_file_order(h) if kept(n)])
