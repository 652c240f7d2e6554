#!/usr/bin/env python3
"""make_corpus.py — writes the seed corpora under fuzz/corpus/ (committed).

Run from anywhere: python3 fuzz/make_corpus.py. The files are tiny valid
inputs the fuzzers start from; see the comments of each target for the
formats.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- packed pks
# cr-sqlite's crsql_pack_columns format: count byte, then per value a type
# byte (low 3 bits: 1 int, 2 real, 3 text, 4 blob, 5 null; high 5 bits: the
# byte length of the following big-endian integer).
def nbytes(v):
    n = 0
    while v:
        n += 1
        v >>= 8
    return n


def p_int(i):
    u = i & 0xFFFFFFFFFFFFFFFF
    n = nbytes(u)
    return bytes([(n << 3) | 1]) + u.to_bytes(n, "big")


def p_real(x):
    return bytes([2]) + struct.pack(">d", x)


def p_text(s, t=3):
    if isinstance(s, str):
        s = s.encode()
    n = nbytes(len(s))
    return bytes([(n << 3) | t]) + len(s).to_bytes(n, "big") + s


def p_blob(b):
    return p_text(b, 4)


def pack(*vals):
    return bytes([len(vals)]) + b"".join(vals)


PK = {
    "empty": pack(),
    "int_0": pack(p_int(0)),
    "int_1": pack(p_int(1)),
    "int_300": pack(p_int(300)),
    "int_neg1": pack(p_int(-1)),
    "int_max": pack(p_int(2**63 - 1)),
    "int_min": pack(p_int(-(2**63))),
    "int_2p32": pack(p_int(2**32)),
    "real": pack(p_real(1.5)),
    "real_neg0": pack(p_real(-0.0)),
    "text": pack(p_text("abc")),
    "text_empty": pack(p_text("")),
    "text_utf8": pack(p_text("h\u00e9llo \u2603")),
    "blob": pack(p_blob(b"\x00\xff\x10")),
    "blob_empty": pack(p_blob(b"")),
    "null": pack(bytes([5])),
    "composite": pack(p_int(1), p_text("one")),
    "composite3": pack(p_text("k"), p_int(-5), p_blob(b"\x01")),
    "long_text": pack(p_text("x" * 300)),
    "noncanonical_int": bytes([1, (8 << 3) | 1]) + (1).to_bytes(8, "big"),
    "truncated": pack(p_text("abcdef"))[:-2],
}
for name, data in PK.items():
    write("fuzz_pk_unpack", name, data)


# ---------------------------------------------------------------- changes
# fuzz_changes_merge's record format (see the comment in that file).
def v_int8(i):
    return bytes([0, i & 0xFF])


def v_text(s):
    s = s.encode()
    return bytes([3, len(s)]) + s


def v_blob(b):
    return bytes([4, len(b)]) + b


def v_null():
    return bytes([5])


def v_real(x):
    return bytes([2]) + struct.pack(">d", x)


def change(table, pk, cid, val, colv, dbv, site, cl, seq=0, raw_pk=None):
    """table: 0 t, 1 u; pk: list of value encodings; cid: 0..6 index."""
    pkmode = 2 if raw_pk is not None else 0
    op = table | (pkmode << 2) | (cid << 4)
    out = bytes([op])
    if raw_pk is not None:
        out += bytes([len(raw_pk)]) + raw_pk
    else:
        out += b"".join(pk)
    out += val
    out += bytes([colv & 0xFF, dbv & 0xFF, site, cl & 0xFF, seq])
    return out


T, U = 0, 1
C, D, SENT, X, Y = 0, 1, 2, 3, 4
T1 = [v_int8(1), v_text("one")]
T5 = [v_int8(5), v_text("five")]
U1 = [v_int8(1)]
U9 = [v_int8(9)]

CH = {
    # update a column of an existing row, winning on col_version
    "update_c": b"\x00" + change(T, T1, C, v_text("remote"), 5, 1, 0, 1),
    # a new row, sentinel then columns, in one transaction
    "insert_row": b"\x01"
    + change(T, T5, SENT, v_null(), 1, 1, 0, 1)
    + change(T, T5, C, v_text("c5"), 1, 1, 0, 1, 1)
    + change(T, T5, D, v_blob(b"\x01\x02"), 1, 1, 0, 1, 2),
    # delete (even causal length), then a stale update that must lose
    "delete_then_stale": b"\x00"
    + change(T, T1, SENT, v_null(), 2, 2, 1, 2)
    + change(T, T1, C, v_text("late"), 9, 1, 0, 1),
    # resurrect a deleted row (cl 3)
    "resurrect": b"\x00"
    + change(T, T1, SENT, v_null(), 2, 2, 1, 2)
    + change(T, T1, SENT, v_null(), 3, 3, 0, 3),
    # equal col_version, different values from two sites: tie-break
    "tie": b"\x01"
    + change(T, T1, C, v_text("aaa"), 3, 4, 0, 1)
    + change(T, T1, C, v_text("zzz"), 3, 4, 1, 1),
    # rowid table: real, new row, delete
    "u_rows": b"\x00"
    + change(U, U1, Y, v_real(2.25), 4, 1, 0, 1)
    + change(U, U9, X, v_text("nine"), 1, 2, 1, 1)
    + change(U, U1, SENT, v_null(), 2, 3, 0, 2),
    # unknown column and malformed pk
    "bad_cid": b"\x00" + change(T, T1, X, v_int8(1), 1, 1, 0, 1),
    "bad_pk": b"\x00" + change(T, None, C, v_int8(1), 1, 1, 0, 1, raw_pk=b"\x02\x09"),
}
for name, data in CH.items():
    write("fuzz_changes_merge", name, data)
