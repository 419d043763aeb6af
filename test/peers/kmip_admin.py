#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# What a KMIP administrator does in test/peers/kmip.sh, with PyKMIP's own client (not pgkms's):
#   kmip_admin.py create NAME        creates and activates an AES-256 key; prints its identifier
#   kmip_admin.py revoke UID         revokes it (state Deactivated)
#   kmip_admin.py destroy UID        destroys it (after revoke)
#   kmip_admin.py check UID FILE     reads the key (Get) and opens every "kmip" record of the
#                                    keyring FILE as docs/keyrings-kmip.md describes; prints the
#                                    root id
# Connection settings from the environment: KMIP_PORT, KMIP_DIR (ca.pem, client.pem, client.key).
import base64
import json
import os
import struct
import sys
import uuid
import warnings

warnings.simplefilter("ignore")  # PyKMIP imports ciphers that cryptography deprecates

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402
from kmip.core import enums  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402


def client():
    d = os.environ["KMIP_DIR"]
    return ProxyKmipClient(hostname="127.0.0.1", port=int(os.environ["KMIP_PORT"]),
                           cert=f"{d}/client.pem", key=f"{d}/client.key", ca=f"{d}/ca.pem",
                           config_file="/dev/null", kmip_version=enums.KMIPVersion.KMIP_1_2)


def hkdf(ikm, info, n=32):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=None, info=info).derive(ikm)


def check(root, path):
    """Opens the keyring's kmip records from the key material alone (docs/keyrings-kmip.md)."""
    def prf(salt):
        e = Cipher(algorithms.AES(root), modes.CBC(salt)).encryptor()
        return (e.update(b"pgkms kmip prf 1pgkms kmip prf 2") + e.finalize())[:32]

    root_id = hkdf(prf(b"pgkms root id v1"), b"pgkms kmip root id v1", 8).hex()
    n = 0
    for k in json.load(open(path))["keys"]:
        for v in k["versions"]:
            if v["keyring"] != "kmip":
                continue
            w = base64.b64decode(v["wrapped"])
            assert len(w) == 77 and w[0] == 1, "wrapped key: 77 bytes, version 1"
            assert v["root_id"] == root_id, "root id"
            t = k["tenant"].encode()
            aad = (b"pgkms tmk v1" + struct.pack(">H", len(t)) + t +
                   uuid.UUID(k["key_id"]).bytes + struct.pack(">I", v["version"]))
            kek = hkdf(prf(w[1:17]), b"pgkms kmip wrap v1")
            assert len(AESGCM(kek).decrypt(w[17:29], w[29:], aad)) == 32
            n += 1
    print(root_id, n)


def main():
    cmd, arg = sys.argv[1], sys.argv[2]
    with client() as c:
        if cmd == "create":
            uid = c.create(enums.CryptographicAlgorithm.AES, 256, name=arg,
                           cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT,
                                                     enums.CryptographicUsageMask.DECRYPT])
            c.activate(uid)
            print(uid)
        elif cmd == "revoke":
            c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, arg)
        elif cmd == "destroy":
            c.destroy(arg)
        elif cmd == "check":
            check(c.get(arg).value, sys.argv[3])
        else:
            sys.exit(f"unknown command {cmd}")


main()
