"""A minimal Mapbox Vector Tile reader for the benchmarks (protobuf by hand, no dependency): layers, features,
properties and the points of point features."""

from __future__ import annotations

import struct

EXTENT = 4096


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _fields(buf: bytes):
    """(field number, value) of one protobuf message: ints for varints, bytes for the rest."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            length, i = _varint(buf, i)
            value, i = buf[i:i + length], i + length
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, value


def _packed(buf: bytes) -> list[int]:
    out, i = [], 0
    while i < len(buf):
        value, i = _varint(buf, i)
        out.append(value)
    return out


def _value(buf: bytes):
    for number, value in _fields(buf):
        if number == 1:
            return value.decode("utf-8")
        if number == 2:
            return struct.unpack("<f", value)[0]
        if number == 3:
            return struct.unpack("<d", value)[0]
        if number in (4, 5):
            return value if value < 2**63 else value - 2**64
        if number == 6:
            return (value >> 1) ^ -(value & 1)
        if number == 7:
            return bool(value)
    return None


def decode(data: bytes) -> dict[str, list[dict]]:
    """{layer name: [{"id", "properties", "geometry" (the command integers)}]}."""
    layers = {}
    for number, layer in _fields(data):
        if number != 3:
            continue
        name, keys, values, raw_features = None, [], [], []
        for n, v in _fields(layer):
            if n == 1:
                name = v.decode("utf-8")
            elif n == 2:
                raw_features.append(v)
            elif n == 3:
                keys.append(v.decode("utf-8"))
            elif n == 4:
                values.append(_value(v))
        features = []
        for raw in raw_features:
            feature = {"properties": {}, "geometry": [], "id": None}
            for n, v in _fields(raw):
                if n == 1:
                    feature["id"] = v
                elif n == 2:
                    tags = _packed(v)
                    feature["properties"] = {keys[k]: values[t] for k, t in zip(tags[::2], tags[1::2])}
                elif n == 4:
                    feature["geometry"] = _packed(v)
            features.append(feature)
        layers[name] = features
    return layers


def first_point(geometry: list[int]) -> tuple[int, int]:
    """Tile coordinates of the first MoveTo of a (point) feature."""
    zz = lambda v: (v >> 1) ^ -(v & 1)  # noqa: E731 - zigzag
    return zz(geometry[1]), zz(geometry[2])


def points_inside(features: list[dict]) -> list[dict]:
    """The point features inside the tile proper (edges included), not in its buffer."""
    return [f for f in features if all(0 <= c <= EXTENT for c in first_point(f["geometry"]))]
