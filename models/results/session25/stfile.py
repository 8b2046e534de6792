"""safetensors read and write for the session's model surgery (truncate.py, splice.py, revocab.py)."""
import json, struct

def read(path):
    """(file, header, data offset) of a safetensors file; the header's __metadata__ included."""
    f = open(path, 'rb')
    n = struct.unpack('<Q', f.read(8))[0]
    return f, json.loads(f.read(n)), 8 + n

def tensor_bytes(f, base, entry):
    f.seek(base + entry['data_offsets'][0])
    return f.read(entry['data_offsets'][1] - entry['data_offsets'][0])

def model_metadata(meta, **config):
    """A model's __metadata__ from a checkpoint's or model's: config entries replaced (n_codes 0,
    no quantizer: no pre-training tensors), the training state left out."""
    meta = dict(meta)
    cfg = json.loads(meta['config']); cfg['n_codes'] = 0; cfg.pop('quantizer', None); cfg.update(config)
    meta['config'] = json.dumps(cfg, separators=(',', ':'))
    meta.pop('training', None); meta.pop('training_options', None)
    return meta

def write(path, meta, tensors):
    """tensors: (name, dtype, shape, bytes) in file order."""
    header, off = {'__metadata__': meta}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [off, off + len(data)]}
        off += len(data)
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as g:
        g.write(struct.pack('<Q', len(text))); g.write(text)
        for t in tensors: g.write(t[3])

def in_file_order(header):
    return sorted(((k, v) for k, v in header.items() if k != '__metadata__'), key=lambda kv: kv[1]['data_offsets'][0])
