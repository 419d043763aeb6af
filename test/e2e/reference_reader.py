#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# An independent reader of docs/format.md: opens pgkms values with Python's cryptography
# package, given only a root key file and an exported keyring.
# usage: reference_reader.py ROOT_FILE KEYRING_JSON  (stdin: lines "tenant context_hex value_hex")
import base64
import json
import struct
import sys

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def hkdf(ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def main():
    root = bytes.fromhex(open(sys.argv[1]).read().strip())
    keyring = json.load(open(sys.argv[2]))
    mac = hmac.HMAC(root, hashes.SHA256())
    mac.update(b"pgkms root id v1")
    root_id = mac.finalize()[:8].hex()
    kek = hkdf(root, b"pgkms root wrap v1")
    keys = {}  # key_ref -> (tenant, {version: tenant key})
    for k in keyring["keys"]:
        key_id = bytes.fromhex(k["key_id"].replace("-", ""))
        versions = {}
        for v in k["versions"]:
            assert v["root_id"] == root_id, "wrapped under another root"
            w = base64.b64decode(v["wrapped"])
            assert w[0] == 1 and len(w) == 61
            t = k["tenant"].encode()
            aad = b"pgkms tmk v1" + struct.pack(">H", len(t)) + t + key_id + \
                struct.pack(">I", v["version"])
            versions[v["version"]] = AESGCM(kek).decrypt(w[1:13], w[13:], aad)
        keys[key_id[:8]] = (k["tenant"], versions)
    for line in sys.stdin:
        tenant, ctx_hex, value_hex = line.split()
        ctx = bytes.fromhex("" if ctx_hex == "-" else ctx_hex)
        v = bytes.fromhex(value_hex)
        assert v[0:3] == b"\x8b\x4b\x01" and v[3] == 1 and len(v) >= 48
        key_ref, (version, dek_id) = v[4:12], struct.unpack(">II", v[12:20])
        owner, versions = keys[key_ref]
        assert owner == tenant, "value of another tenant"
        dek = hkdf(versions[version], b"pgkms dek v1" + v[4:20])
        aad = v[:20] + struct.pack(">I", len(ctx)) + ctx
        print(AESGCM(dek).decrypt(v[20:32], v[32:], aad).hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
