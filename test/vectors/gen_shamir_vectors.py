#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Writes shamir_vectors.txt: Shamir shares of file root keys (docs/format.md §5) computed
# independently of common/shamir.c: GF(2^8) through log/exp tables of the generator 3 (the C
# code multiplies bitwise), evaluation by powers rather than Horner, hashlib for the check.
import hashlib
import hmac
import os

POLY = 0x11B  # x^8 + x^4 + x^3 + x + 1, the AES field

EXP = [0] * 510
LOG = [0] * 256
v = 1
for i in range(255):
    EXP[i] = v
    LOG[v] = i
    # v * 3 = v * 2 + v
    d = v << 1
    if d & 0x100:
        d ^= POLY
    v = d ^ v
for i in range(255, 510):
    EXP[i] = EXP[i - 255]


def mul(a, b):
    if a == 0 or b == 0:
        return 0
    return EXP[LOG[a] + LOG[b]]


def power(x, k):
    r = 1
    for _ in range(k):
        r = mul(r, x)
    return r


def root_id(root):
    return hmac.new(root, b"pgkms root id v1", hashlib.sha256).digest()[:8]


def share_text(rid, n, index, y):
    body = f"pgkms-share-v1:{rid.hex()}:{n}:{index}:{y.hex()}:"
    return body + hashlib.sha256(body.encode()).digest()[:4].hex()


def split(root, n, m, coeffs):
    """coeffs[k-1][b] is byte b of the coefficient of x^k."""
    shares = []
    for x in range(1, m + 1):
        y = bytearray(root)
        for k in range(1, n):
            xk = power(x, k)
            for b in range(32):
                y[b] ^= mul(coeffs[k - 1][b], xk)
        shares.append(bytes(y))
    return shares


def combine(points):
    """Lagrange at 0 with division through the log table, as a cross-check of split()."""
    out = bytearray(32)
    for xi, yi in points:
        li = 1
        for xj, _ in points:
            if xj != xi:
                li = mul(li, EXP[(LOG[xj] - LOG[xj ^ xi]) % 255])
        for b in range(32):
            out[b] ^= mul(li, yi[b])
    return bytes(out)


def stream(label, length):
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{label} {counter}".encode()).digest()
        counter += 1
    return out[:length]


CASES = [
    # (name, root, n, m, coefficient bytes or None for a stream, indexes to write)
    ("format-root-2of3", bytes(range(32)), 2, 3, None, None),
    ("format-root-3of5", bytes(range(32)), 3, 5, None, None),
    ("hashed-root-5of6", stream("pgkms shamir root 3", 32), 5, 6, None, None),
    ("zero-coefficients-2of2", bytes(range(0xE0, 0x100)), 2, 2, bytes(32), None),
    ("ff-coefficients-4of4", bytes(32), 4, 4, b"\xff" * 96, None),
    ("high-indexes-3of255", stream("pgkms shamir root 6", 32), 3, 255, None,
     [1, 2, 3, 127, 128, 200, 254, 255]),
]

lines = [
    "# Shamir shares of file root keys, written by gen_shamir_vectors.py (docs/format.md §5).",
    "# name, threshold n, shares m, root key, its root id, coefficients (x^1 first, 32 bytes",
    "# each), then share i as s<i>= (all shares unless the line lists only some).",
]
for name, root, n, m, coeff_bytes, indexes in CASES:
    if coeff_bytes is None:
        coeff_bytes = stream(f"pgkms shamir coefficients {name}", 32 * (n - 1))
    coeffs = [coeff_bytes[32 * k:32 * (k + 1)] for k in range(n - 1)]
    ys = split(root, n, m, coeffs)
    for start in range(0, m - n + 1, max(1, (m - n + 1) // 4)):
        pts = [(x, ys[x - 1]) for x in range(start + 1, start + n + 1)]
        assert combine(pts) == root, name
    rid = root_id(root)
    fields = [f"name={name}", f"n={n}", f"m={m}", f"root={root.hex()}", f"id={rid.hex()}",
              f"coeffs={coeff_bytes.hex()}"]
    for x in indexes or range(1, m + 1):
        fields.append(f"s{x}={share_text(rid, n, x, ys[x - 1])}")
    lines.append(" ".join(fields))

# Field known answers, for the C tests' comment: FIPS-197 §4.2.
assert mul(0x57, 0x83) == 0xC1 and mul(0x57, 0x13) == 0xFE

out = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(out, "shamir_vectors.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
