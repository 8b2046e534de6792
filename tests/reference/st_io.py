"""Minimal safetensors reader/writer (the `safetensors` package is not in Debian 12).

Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 "__metadata__": {"key": "string value", ...}}, padded with spaces to a multiple of 8 so that
the data section (offsets relative to its start) is 8-byte aligned, then the tensor data in
the order given, little-endian, C order.
"""
import json
import struct

import numpy as np

_DTYPES = {
    np.dtype("<f4"): "F32",
    np.dtype("<f8"): "F64",
    np.dtype("<f2"): "F16",
    np.dtype("<i4"): "I32",
    np.dtype("<i8"): "I64",
    np.dtype("i1"): "I8",
    np.dtype("u1"): "U8",
}
_NUMPY = {v: k for k, v in _DTYPES.items()}


def write(path, tensors, metadata=None):
    """tensors: list of (name, numpy array) written in that order; metadata: dict str -> str."""
    header = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(value, str):
                raise TypeError(f"metadata {key!r} must be a string")
        header["__metadata__"] = dict(metadata)
    blobs, offset = [], 0
    for name, array in tensors:
        array = np.ascontiguousarray(array)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype not in _DTYPES:
            raise TypeError(f"{name}: unsupported dtype {array.dtype}")
        if name in header:
            raise ValueError(f"duplicate tensor {name}")
        blob = array.astype(dtype, copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read(path):
    """Returns (dict name -> numpy array in file order, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=_NUMPY[info["dtype"]]).reshape(info["shape"])
    return out, metadata
