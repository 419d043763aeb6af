#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A small HashiCorp Vault transit server for tests, on 127.0.0.1 (plain HTTP or TLS).

It speaks the part of Vault's HTTP API that pgkms and hvac use, with real AES-256-GCM:
  POST   /v1/<mount>/keys/<name>           create (derived, type)
  GET    /v1/<mount>/keys/<name>           read
  DELETE /v1/<mount>/keys/<name>           delete (needs deletion_allowed)
  POST   /v1/<mount>/keys/<name>/config    deletion_allowed, min_decryption_version
  POST   /v1/<mount>/keys/<name>/rotate    new version
  POST   /v1/<mount>/encrypt/<name>        plaintext, context (derived keys), upserts like Vault
  POST   /v1/<mount>/decrypt/<name>        ciphertext, context
Every API request needs X-Vault-Token (403 otherwise). Derived keys: a key per context
(HKDF-SHA256 with the context as info). Keys persist in --state, so a restarted stub is the
same Vault. Test controls (no token): POST /_stub/fail {"count", "status"}, POST /_stub/hang
{"count", "seconds"}, GET /_stub/log, POST /_stub/log/clear.
"""
import argparse
import base64
import json
import os
import re
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LOCK = threading.Lock()
STATE = {"keys": {}}
CONTROL = {"fail": 0, "fail_status": 503, "hang": 0, "hang_seconds": 0.0}
LOG = []


def save(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(STATE, f)
    os.replace(tmp, path)


def b64d(s):
    return base64.b64decode(s.encode(), validate=True)


def key_bytes(key, version, context):
    raw = bytes.fromhex(key["versions"][str(version)])
    if not key["derived"]:
        return raw
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context).derive(raw)


def key_data(name, key):
    return {
        "name": name,
        "type": key["type"],
        "derived": key["derived"],
        "kdf": "hkdf_sha256" if key["derived"] else None,
        "exportable": False,
        "deletion_allowed": key["deletion_allowed"],
        "keys": {v: key["created"] for v in key["versions"]},
        "latest_version": max(int(v) for v in key["versions"]),
        "min_decryption_version": key["min_decryption_version"],
        "min_encryption_version": 0,
        "supports_encryption": True,
        "supports_decryption": True,
        "supports_derivation": True,
        "supports_signing": False,
    }


def new_key(derived, ktype="aes256-gcm96"):
    return {"type": ktype, "derived": bool(derived), "deletion_allowed": False,
            "min_decryption_version": 1, "created": int(time.time()),
            "versions": {"1": os.urandom(32).hex()}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Vault

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("vault-stub: " + fmt % args + "\n")

    def reply(self, status, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, *messages):
        self.reply(status, {"errors": list(messages)})

    def ok(self, data):
        self.reply(200, {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False,
                         "lease_duration": 0, "data": data, "wrap_info": None, "warnings": None,
                         "auth": None})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return raw, (json.loads(raw) if raw else {})
        except ValueError:
            return raw, None

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        raw, body = self.body()
        if self.path.startswith("/_stub/"):
            return self.control(method, body or {})
        with LOCK:
            LOG.append({"method": method, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "time": time.time()})
            hang = CONTROL["hang"] > 0
            if hang:
                CONTROL["hang"] -= 1
            fail = CONTROL["fail"] > 0
            if fail:
                CONTROL["fail"] -= 1
        if hang:
            time.sleep(CONTROL["hang_seconds"])
        if fail:
            status = CONTROL["fail_status"]
            return self.error(status, "injected failure" if status != 401 else "permission denied")
        if body is None:
            return self.error(400, "failed to parse JSON input")
        if self.headers.get("X-Vault-Token") != self.server.token:
            return self.error(403, "permission denied")
        m = re.fullmatch(r"/v1/(.+)/(keys|encrypt|decrypt)/([A-Za-z0-9_.-]+)(/rotate|/config)?",
                         self.path)
        if m is None or m.group(1) != self.server.mount:
            return self.error(404, "no handler for route '%s'" % self.path[4:])
        _, op, name, sub = m.groups()
        with LOCK:
            try:
                self.api(method, op, name, sub, body)
            finally:
                if self.server.state_path:
                    save(self.server.state_path)

    def api(self, method, op, name, sub, body):
        keys = STATE["keys"]
        key = keys.get(name)
        if op == "keys" and sub is None:
            if method == "GET":
                return self.ok(key_data(name, key)) if key else self.reply(404, {"errors": []})
            if method in ("POST", "PUT"):
                if key is None:
                    keys[name] = new_key(body.get("derived", False), body.get("type", "aes256-gcm96"))
                return self.reply(204)
            if method == "DELETE":
                if key is None:
                    return self.reply(204)
                if not key["deletion_allowed"]:
                    return self.error(400, "deletion is not allowed for this key")
                del keys[name]
                return self.reply(204)
        if key is None and op != "encrypt":
            return self.error(400, "encryption key not found")
        if op == "keys" and sub == "/rotate" and method in ("POST", "PUT"):
            latest = max(int(v) for v in key["versions"])
            key["versions"][str(latest + 1)] = os.urandom(32).hex()
            return self.ok(key_data(name, key))
        if op == "keys" and sub == "/config" and method in ("POST", "PUT"):
            if "deletion_allowed" in body:
                key["deletion_allowed"] = bool(body["deletion_allowed"])
            if "min_decryption_version" in body:
                key["min_decryption_version"] = int(body["min_decryption_version"])
            return self.ok(key_data(name, key))
        if method not in ("POST", "PUT") or sub is not None:
            return self.error(405, "unsupported operation")
        context = body.get("context")
        try:
            context = b64d(context) if context else None
        except ValueError:
            return self.error(400, "failed to base64-decode context")
        if op == "encrypt":
            if key is None:  # Vault upserts when the token may create keys
                key = STATE["keys"][name] = new_key(context is not None)
            return self.encrypt(key, body, context)
        return self.decrypt(key, body, context)

    def encrypt(self, key, body, context):
        if key["derived"] and context is None:
            return self.error(400, "missing 'context' for key derivation; the key was created "
                              "using a derived key, which means additional, per-request "
                              "information must be included in order to perform operations "
                              "with the key")
        try:
            plaintext = b64d(body.get("plaintext", ""))
        except ValueError:
            return self.error(400, "failed to base64-decode plaintext")
        version = max(int(v) for v in key["versions"])
        nonce = os.urandom(12)
        ct = AESGCM(key_bytes(key, version, context)).encrypt(nonce, plaintext, None)
        return self.ok({"ciphertext": "vault:v%d:%s" % (version,
                        base64.b64encode(nonce + ct).decode()), "key_version": version})

    def decrypt(self, key, body, context):
        m = re.fullmatch(r"vault:v(\d+):([A-Za-z0-9+/=]+)", body.get("ciphertext") or "")
        if m is None:
            return self.error(400, "invalid ciphertext: no prefix")
        version = int(m.group(1))
        if str(version) not in key["versions"]:
            return self.error(400, "invalid key version")
        if version < key["min_decryption_version"]:
            return self.error(400, "key version is too old (disallowed by policy)")
        if key["derived"] and context is None:
            return self.error(400, "missing 'context' for key derivation")
        blob = b64d(m.group(2))
        try:
            pt = AESGCM(key_bytes(key, version, context)).decrypt(blob[:12], blob[12:], None)
        except Exception:
            return self.error(400, "cipher: message authentication failed")
        return self.ok({"plaintext": base64.b64encode(pt).decode()})

    def control(self, method, body):
        with LOCK:
            if self.path == "/_stub/fail":
                CONTROL["fail"] = int(body.get("count", 1))
                CONTROL["fail_status"] = int(body.get("status", 503))
            elif self.path == "/_stub/hang":
                CONTROL["hang"] = int(body.get("count", 1))
                CONTROL["hang_seconds"] = float(body.get("seconds", 30))
            elif self.path == "/_stub/log" and method == "GET":
                return self.reply(200, LOG)
            elif self.path == "/_stub/log/clear":
                LOG.clear()
            else:
                return self.error(404, "unknown control")
        self.reply(200, {})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--mount", default="transit")
    p.add_argument("--state")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    # Descriptors inherited from the test (an install lock held with flock, psql pipes) must
    # not outlive the test in a stub that someone forgot to stop.
    os.closerange(3, 65536)
    if a.state and os.path.exists(a.state):
        with open(a.state) as f:
            STATE.update(json.load(f))
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    with open(a.token_file) as f:
        server.token = f.read().strip()
    server.mount = a.mount
    server.state_path = a.state
    server.verbose = a.verbose
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
