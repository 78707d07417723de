#!/usr/bin/env python3
"""Decodes PNG files with nothing but Python's standard library (zlib, struct, binascii) and,
where Pillow is installed, with Pillow too; prints one JSON object per file.

    python3 Tools/check_png.py picture.png [...]

Each object holds width, height, channels, the filter types used, and the pixels (a flat list,
rows from the top) unless --no-pixels is given; "pillow" is true when Pillow decoded the same
pixels, null when Pillow is absent. Any damage (bad signature, CRC mismatch, truncated data,
an unknown filter, Pillow disagreeing) exits non-zero with the reason. Flint's tests run it.
"""
import binascii
import json
import struct
import sys
import zlib


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG signature")
    pos, chunks = 8, []
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("truncated chunk header")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if binascii.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"CRC mismatch in {kind!r}")
        chunks.append((kind, body))
        pos += 12 + length
    if chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise ValueError("chunks must start with IHDR and end with IEND")
    width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if (depth, compression, filtering, interlace) != (8, 0, 0, 0) or color not in (0, 2):
        raise ValueError(f"unexpected header {chunks[0][1].hex()}")
    channels = 1 if color == 0 else 3
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise ValueError(f"{len(raw)} bytes after inflate, expected {height * (stride + 1)}")
    pixels, previous, filters = [], [0] * stride, set()
    for y in range(height):
        kind, row = raw[y * (stride + 1)], list(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        filters.add(kind)
        for i in range(stride):
            a = row[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 0:
                predicted = 0
            elif kind == 1:
                predicted = a
            elif kind == 2:
                predicted = b
            elif kind == 3:
                predicted = (a + b) // 2
            elif kind == 4:
                predicted = paeth(a, b, c)
            else:
                raise ValueError(f"unknown filter {kind} in row {y}")
            row[i] = (row[i] + predicted) & 0xFF
        pixels += row
        previous = row
    return width, height, channels, sorted(filters), pixels


def pillow_pixels(path):
    try:
        from PIL import Image
    except ImportError:
        return None
    with Image.open(path) as image:
        return list(image.tobytes())


def main():
    args = [a for a in sys.argv[1:] if a != "--no-pixels"]
    for path in args:
        try:
            width, height, channels, filters, pixels = decode(path)
        except Exception as error:  # noqa: BLE001 - every failure is reported the same way
            sys.exit(f"{path}: {error}")
        from_pillow = pillow_pixels(path)
        if from_pillow is not None and from_pillow != pixels:
            sys.exit(f"{path}: Pillow decodes different pixels")
        result = {"path": path, "width": width, "height": height, "channels": channels, "filters": filters,
                  "pillow": None if from_pillow is None else True}
        if "--no-pixels" not in sys.argv:
            result["pixels"] = pixels
        print(json.dumps(result))


if __name__ == "__main__":
    main()
