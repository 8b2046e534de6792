#!/usr/bin/env python3
"""Compares two mslam model files tensor by tensor: prints the tensors that differ or exist in one
only. Stage 3 (--freeze-encoder) must leave every tensor outside the decoder as it was.
   python3 compare-tensors.py OLD.safetensors NEW.safetensors"""
import json
import struct
import sys


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}


old, new = tensors(sys.argv[1]), tensors(sys.argv[2])
same = [k for k in old if k in new and old[k] == new[k]]
changed = sorted(k for k in old if k in new and old[k] != new[k])
only_old, only_new = sorted(set(old) - set(new)), sorted(set(new) - set(old))
print(f"{len(same)} tensors identical, {len(changed)} changed, {len(only_old)} only in the first, "
      f"{len(only_new)} only in the second")
outside = [k for k in changed + only_old + only_new if not k.startswith("decoder")]
print("changed or missing outside the decoder:", outside if outside else "none")
sys.exit(1 if outside else 0)
