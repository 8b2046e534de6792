#!/usr/bin/env python3
# A model of A's tensors, except those whose names start with one of PREFIXES, which come from B
# (same architecture); the pre-training tensors and the optimizer's state left out:
#   python3 splice.py A B OUT PREFIX...
# e.g. a pre-trained encoder's speech layers under freshly initialised shared layers:
#   python3 splice.py pt/model.safetensors random/model.safetensors out.safetensors shared_layers.
import sys
import stfile

a_path, b_path, dst, prefixes = sys.argv[1], sys.argv[2], sys.argv[3], tuple(sys.argv[4:])
fa, ha, base_a = stfile.read(a_path)
fb, hb, base_b = stfile.read(b_path)
tensors = []
for name, e in stfile.in_file_order(ha):
    if name.startswith(('pretrain.', 'optimizer')): continue
    f, base, src = (fb, base_b, hb[name]) if name.startswith(prefixes) else (fa, base_a, e)
    if src['shape'] != e['shape'] or src['dtype'] != e['dtype']:
        sys.exit('%s: %s %s in one, %s %s in the other' % (name, e['dtype'], e['shape'], src['dtype'], src['shape']))
    tensors.append((name, e['dtype'], e['shape'], stfile.tensor_bytes(f, base, src)))
stfile.write(dst, stfile.model_metadata(ha['__metadata__']), tensors)
