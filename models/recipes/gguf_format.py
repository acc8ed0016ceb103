"""GGUF v3 files (llama.cpp's model format) and ggml's q8_0 / q4_0 blocks, with numpy only.

The layout, from ggml's docs/gguf.md: magic "GGUF", version 3 (uint32), tensor count and key/value
count (uint64); each key/value: key (uint64 length + UTF-8), value type (uint32), value; each tensor
info: name, number of dims (uint32), dims innermost first (uint64 each), ggml type (uint32), offset
of its data from the start of the data section (uint64, a multiple of the alignment); padding to
`general.alignment` (32 unless the file says otherwise); the tensor data. All little-endian.

Quantized blocks, from ggml's reference quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref),
32 weights each along a row:
  q8_0: fp16 scale d = max|x| / 127, then 32 int8 round(x / d)                      (34 bytes)
  q4_0: fp16 scale d = x_m / -8 where x_m is the weight of largest magnitude, then 16 bytes: the
        low nibble of byte j is min(15, floor(x_j / d + 8.5)), the high nibble the same for x_{j+16};
        a weight is (nibble - 8) * d                                                 (18 bytes)
"""
from __future__ import annotations

import struct
from typing import BinaryIO

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# gguf_type
UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9

# ggml_type
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8
QK = 32  # weights per q8_0 / q4_0 block
BLOCK_BYTES = {GGML_Q8_0: 2 + QK, GGML_Q4_0: 2 + QK // 2}
TYPE_NAMES = {"f32": GGML_F32, "q8_0": GGML_Q8_0, "q4_0": GGML_Q4_0}
# llama_ftype: what general.file_type says the file mostly is
FILE_TYPES = {GGML_F32: 0, GGML_Q4_0: 2, GGML_Q8_0: 7}


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """C's roundf: halves away from zero (numpy's round goes to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _blocks(w: np.ndarray) -> np.ndarray:
    w = np.ascontiguousarray(w, dtype=np.float32)
    if w.shape[-1] % QK:
        raise ValueError(f"rows of {w.shape[-1]} weights do not split into blocks of {QK}")
    return w.reshape(-1, QK)


def quantize_q8_0(w: np.ndarray) -> bytes:
    x = _blocks(w)
    d = np.abs(x).max(axis=1) / 127.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = _round_half_away(x * inv[:, None]).astype(np.int8)
    out = np.empty(len(x), dtype=[("d", "<f2"), ("qs", "i1", QK)])
    out["d"], out["qs"] = d.astype(np.float16), q
    return out.tobytes()


def quantize_q4_0(w: np.ndarray) -> bytes:
    x = _blocks(w)
    signed_max = x[np.arange(len(x)), np.abs(x).argmax(axis=1)]  # first weight of largest magnitude
    d = (signed_max / -8.0).astype(np.float32)
    inv = np.divide(np.float32(1.0), d, out=np.zeros_like(d), where=d != 0)
    q = np.minimum(15, np.floor(x * inv[:, None] + np.float32(8.5))).astype(np.uint8)
    out = np.empty(len(x), dtype=[("d", "<f2"), ("qs", "u1", QK // 2)])
    out["d"], out["qs"] = d.astype(np.float16), q[:, : QK // 2] | (q[:, QK // 2 :] << 4)
    return out.tobytes()


def dequantize(data: bytes, ggml_type: int, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of the quantizers above (for checks): float32 weights of `shape`."""
    if ggml_type == GGML_F32:
        return np.frombuffer(data, dtype="<f4").reshape(shape)
    if ggml_type == GGML_Q8_0:
        b = np.frombuffer(data, dtype=[("d", "<f2"), ("qs", "i1", QK)])
        return (b["qs"].astype(np.float32) * b["d"].astype(np.float32)[:, None]).reshape(shape)
    if ggml_type == GGML_Q4_0:
        b = np.frombuffer(data, dtype=[("d", "<f2"), ("qs", "u1", QK // 2)])
        q = np.concatenate([b["qs"] & 0x0F, b["qs"] >> 4], axis=1).astype(np.float32) - 8.0
        return (q * b["d"].astype(np.float32)[:, None]).reshape(shape)
    raise ValueError(f"unknown ggml type {ggml_type}")


def encode_tensor(w: np.ndarray, ggml_type: int) -> bytes:
    if ggml_type == GGML_F32:
        return np.ascontiguousarray(w, dtype="<f4").tobytes()
    if ggml_type == GGML_Q8_0:
        return quantize_q8_0(w)
    if ggml_type == GGML_Q4_0:
        return quantize_q4_0(w)
    raise ValueError(f"cannot encode ggml type {ggml_type}")


def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(kind: int, v) -> bytes:
    if kind == UINT32:
        return struct.pack("<I", v)
    if kind == INT32:
        return struct.pack("<i", v)
    if kind == FLOAT32:
        return struct.pack("<f", v)
    if kind == BOOL:
        return struct.pack("<?", v)
    if kind == STRING:
        return _string(v)
    raise ValueError(f"unsupported gguf value type {kind}")


class GGUFWriter:
    """Collects metadata and tensors, then writes one GGUF v3 file."""

    def __init__(self):
        self.kv: list[tuple[str, int, object, int | None]] = []
        self.tensors: list[tuple[str, tuple[int, ...], int, bytes]] = []

    def add(self, key: str, kind: int, value) -> None:
        self.kv.append((key, kind, value, None))

    def add_array(self, key: str, item_kind: int, values) -> None:
        self.kv.append((key, ARRAY, list(values), item_kind))

    def add_tensor(self, name: str, w: np.ndarray, ggml_type: int) -> None:
        """w in numpy (row-major) shape; GGUF stores the dims innermost first."""
        self.tensors.append((name, tuple(reversed(w.shape)), ggml_type, encode_tensor(w, ggml_type)))

    def write(self, f: BinaryIO) -> None:
        f.write(GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv)))
        for key, kind, value, item_kind in self.kv:
            f.write(_string(key) + struct.pack("<I", kind))
            if kind == ARRAY:
                f.write(struct.pack("<IQ", item_kind, len(value)))
                f.write(b"".join(_value(item_kind, v) for v in value))
            else:
                f.write(_value(kind, value))
        offset = 0
        for name, dims, ggml_type, data in self.tensors:
            f.write(_string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims))
            f.write(struct.pack("<IQ", ggml_type, offset))
            offset += -(-len(data) // ALIGNMENT) * ALIGNMENT
        f.write(b"\0" * (-f.tell() % ALIGNMENT))
        for _, _, _, data in self.tensors:
            f.write(data)
            f.write(b"\0" * (-len(data) % ALIGNMENT))
