#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Writes the format test vectors from docs/format.md with an independent implementation
# (Python's cryptography package), so C, the provider and SQL are checked against it.
# Output: format_vectors.txt, format_keyring.json, format_root.key (all deterministic).
import base64
import json
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def hkdf(ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def hmac256(key, msg):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(msg)
    return h.finalize()


ROOT = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
KEK = hkdf(ROOT, b"pgkms root wrap v1")
ROOT_ID = hmac256(ROOT, b"pgkms root id v1")[:8]

TENANT = "acme"
KEY_ID = bytes.fromhex("6b3a1f0e2c4d4a5b8c7d9e0f1a2b3c4d")  # UUIDv4 layout
TMK = bytes(range(0x40, 0x60))
WRAP_NONCE = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaab")


def uuid_text(b):
    h = b.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def tmk_aad(tenant, key_id, version):
    t = tenant.encode()
    return b"pgkms tmk v1" + struct.pack(">H", len(t)) + t + key_id + struct.pack(">I", version)


def wrap(tmk, version):
    ct = AESGCM(KEK).encrypt(WRAP_NONCE, tmk, tmk_aad(TENANT, KEY_ID, version))
    return b"\x01" + WRAP_NONCE + ct


def seal(alg, version, dek_id, nonce, context, pt):
    key_ref = KEY_ID[:8]
    dek = hkdf(TMK, b"pgkms dek v1" + key_ref + struct.pack(">II", version, dek_id))
    header = bytes([0x8B, 0x4B, 1, alg]) + key_ref + struct.pack(">II", version, dek_id)
    aad = header + struct.pack(">I", len(context)) + context
    return header + nonce + AESGCM(dek).encrypt(nonce, pt, aad)


CASES = [
    # name, alg, dek_id, nonce, context, plaintext
    ("empty", 1, 0x00000001, "000000000000000000000001", b"", b""),
    ("phone", 1, 0x01020304, "0f0e0d0c0b0a090807060504", b"", b"13812345678"),
    ("phone-context", 1, 0x01020304, "1f1e1d1c1b1a191817161514", b"users.phone", b"13812345678"),
    ("utf8", 1, 0xfffffffe, "2f2e2d2c2b2a292827262524", b"t.name:42", "张三丰 🙂".encode()),
    ("block-64", 1, 0x7fffffff, "3f3e3d3c3b3a393837363534", b"", bytes(range(64))),
    ("keywrap-32", 2, 0x00000010, "4f4e4d4c4b4a494847464544", b"", bytes(range(0x80, 0xA0))),
]


def main():
    out = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(out, "format_root.key"), "w") as f:
        f.write(ROOT.hex() + "\n")
    keyring = {
        "format": "pgkms-keyring",
        "version": 1,
        "keys": [{
            "tenant": TENANT,
            "key_id": uuid_text(KEY_ID),
            "alias": None,
            "default": True,
            "state": "Enabled",
            "current_version": 1,
            "created": "2026-11-23T00:00:00Z",
            "versions": [{
                "version": 1,
                "keyring": "file",
                "root_id": ROOT_ID.hex(),
                "wrapped": base64.b64encode(wrap(TMK, 1)).decode(),
                "created": "2026-11-23T00:00:00Z",
            }],
        }],
    }
    with open(os.path.join(out, "format_keyring.json"), "w") as f:
        json.dump(keyring, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "format_vectors.txt"), "w") as f:
        f.write("# pgkms value format v1 test vectors (docs/format.md), written by\n")
        f.write("# gen_format_vectors.py with Python's cryptography package.\n")
        f.write(f"# root={ROOT.hex()} root_id={ROOT_ID.hex()} tenant={TENANT}\n")
        f.write(f"# key_id={uuid_text(KEY_ID)} version=1 tmk={TMK.hex()}\n")
        for name, alg, dek_id, nonce, ctx, pt in CASES:
            value = seal(alg, 1, dek_id, bytes.fromhex(nonce), ctx, pt)
            f.write(f"name={name} alg={alg} tmk={TMK.hex()} key_ref={KEY_ID[:8].hex()} "
                    f"version=1 dek_id={dek_id:08x} nonce={nonce} "
                    f"context={ctx.hex() or '-'} pt={pt.hex() or '-'} value={value.hex()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
