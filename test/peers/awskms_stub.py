#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A small AWS KMS (TrentService JSON 1.1) server for tests, on 127.0.0.1.

Every API request must carry a SigV4 signature that botocore's own signer (SigV4Auth)
recomputes identically from the request as received (method, path, the signed headers, body)
and the known test credentials; otherwise it is refused like AWS refuses it
(InvalidSignatureException, UnrecognizedClientException, IncompleteSignatureException).
Operations: CreateKey, DescribeKey, Encrypt, Decrypt, GenerateDataKey, EnableKey, DisableKey,
ScheduleKeyDeletion, CancelKeyDeletion, with real AES-256-GCM bound to the EncryptionContext.
Keys persist in --state. Test controls (unsigned): POST /_stub/fail {"count", "status",
"type"}, POST /_stub/hang {"count", "seconds"}, GET /_stub/log, POST /_stub/log/clear.
"""
import argparse
import base64
import datetime
import hmac
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ACCOUNT = "111122223333"
LOCK = threading.Lock()
STATE = {"keys": {}, "aliases": {}}
CONTROL = {"fail": 0, "fail_status": 503, "fail_type": "", "hang": 0, "hang_seconds": 0.0}
LOG = []
AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})")


class KmsError(Exception):
    def __init__(self, kind, message, status=400):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


def save(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(STATE, f)
    os.replace(tmp, path)


def arn(region, key_id):
    return "arn:aws:kms:%s:%s:key/%s" % (region, ACCOUNT, key_id)


def context_aad(ctx):
    if ctx is None:
        return b""
    if not isinstance(ctx, dict) or not all(isinstance(v, str) for v in ctx.values()):
        raise KmsError("ValidationException", "EncryptionContext must map strings to strings")
    return json.dumps(ctx, sort_keys=True, separators=(",", ":")).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("awskms-stub: " + fmt % args + "\n")

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fail(self, e):
        self.reply(e.status, {"__type": e.kind, "message": e.message})

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.path.startswith("/_stub/"):
            return self.control(json.loads(raw) if raw else {})
        entry = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": raw.decode(errors="replace"), "time": time.time(), "signature": "?"}
        with LOCK:
            LOG.append(entry)
            hang = CONTROL["hang"] > 0
            if hang:
                CONTROL["hang"] -= 1
            fail = CONTROL["fail"] > 0
            if fail:
                CONTROL["fail"] -= 1
        if hang:
            time.sleep(CONTROL["hang_seconds"])
        try:
            self.verify(raw)
            entry["signature"] = "ok"
        except KmsError as e:
            entry["signature"] = e.kind
            return self.fail(e)
        if fail:
            kind = CONTROL["fail_type"] or ("KMSInternalException"
                                            if CONTROL["fail_status"] >= 500 else
                                            "AccessDeniedException")
            return self.fail(KmsError(kind, "injected failure", CONTROL["fail_status"]))
        target = self.headers.get("X-Amz-Target", "")
        op = target[len("TrentService."):] if target.startswith("TrentService.") else ""
        try:
            if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                raise KmsError("UnsupportedMediaType", "bad Content-Type")
            body = json.loads(raw)
            fn = getattr(self, "op_" + op, None)
            if fn is None:
                raise KmsError("UnknownOperationException", "unknown operation %r" % target)
            with LOCK:
                out = fn(body)
                if self.server.state_path:
                    save(self.server.state_path)
        except KmsError as e:
            return self.fail(e)
        except (ValueError, KeyError, TypeError) as e:
            return self.fail(KmsError("ValidationException", "malformed request: %s" % e))
        self.reply(200, out)

    def verify(self, body):
        """Recomputes the signature with botocore's SigV4Auth; any difference is refused."""
        m = AUTH_RE.fullmatch(self.headers.get("Authorization", ""))
        if m is None:
            raise KmsError("IncompleteSignatureException",
                           "Authorization header requires Credential, SignedHeaders, Signature")
        access, date8, region, service, signed, signature = m.groups()
        cred = self.server.credentials.get(access)
        if cred is None:
            raise KmsError("UnrecognizedClientException",
                           "The security token included in the request is invalid.")
        secret, token = cred
        if token is not None and self.headers.get("X-Amz-Security-Token") != token:
            raise KmsError("UnrecognizedClientException",
                           "The security token included in the request is invalid.")
        names = signed.split(";")
        required = {"host", "x-amz-date", "x-amz-target", "content-type"}
        if self.headers.get("X-Amz-Security-Token") is not None:
            required.add("x-amz-security-token")
        if not required <= set(names) or names != sorted(names):
            raise KmsError("InvalidSignatureException",
                           "SignedHeaders must list host, x-amz-date, x-amz-target, content-type "
                           "(and x-amz-security-token), sorted")
        amz_date = self.headers.get("X-Amz-Date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise KmsError("IncompleteSignatureException", "bad X-Amz-Date")
        if abs((datetime.datetime.utcnow() - when).total_seconds()) > 300:
            raise KmsError("InvalidSignatureException", "Signature expired")
        if date8 != amz_date[:8] or region != self.server.region or service != "kms":
            raise KmsError("InvalidSignatureException",
                           "Credential should be scoped to a valid region and service kms")
        headers = {}
        for name in names:
            value = self.headers.get(name)
            if value is None:
                raise KmsError("InvalidSignatureException", "signed header %s is missing" % name)
            headers[name] = value
        req = AWSRequest(method=self.command, url="http://%s%s" % (self.headers["Host"], self.path),
                         data=body, headers=headers)
        req.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(access, secret, token), "kms", region)
        canonical = signer.canonical_request(req)
        expected = signer.signature(signer.string_to_sign(req, canonical), req)
        if signer.signed_headers(signer.headers_to_sign(req)) != signed or \
                not hmac.compare_digest(expected, signature):
            raise KmsError("InvalidSignatureException",
                           "The request signature we calculated does not match the signature you "
                           "provided. Check your AWS Secret Access Key and signing method.")

    # -- keys --------------------------------------------------------------------------------
    def resolve(self, key_id):
        if not isinstance(key_id, str) or not key_id:
            raise KmsError("ValidationException", "KeyId is required")
        kid = key_id
        if kid.startswith("arn:"):
            parts = kid.split(":", 5)
            if len(parts) != 6 or parts[3] != self.server.region:
                raise KmsError("NotFoundException", "Invalid arn %s" % key_id)
            kid = parts[5]
            if kid.startswith("key/"):
                kid = kid[4:]
        if kid.startswith("alias/"):
            kid = STATE["aliases"].get(kid)
        key = STATE["keys"].get(kid) if kid else None
        if key is None:
            raise KmsError("NotFoundException", "Key '%s' does not exist" % key_id)
        return kid, key

    def metadata(self, kid, key):
        md = {"AWSAccountId": ACCOUNT, "KeyId": kid, "Arn": arn(self.server.region, kid),
              "CreationDate": key["created"], "Enabled": key["state"] == "Enabled",
              "Description": key.get("description", ""), "KeyUsage": "ENCRYPT_DECRYPT",
              "KeyState": key["state"], "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
              "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
              "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False}
        if key["state"] == "PendingDeletion":
            md["DeletionDate"] = key["deletion"]
        return md

    def usable(self, kid, key):
        if key["state"] == "Disabled":
            raise KmsError("DisabledException", "%s is disabled." % arn(self.server.region, kid))
        if key["state"] != "Enabled":
            raise KmsError("KMSInvalidStateException", "%s is pending deletion."
                           % arn(self.server.region, kid))

    def op_CreateKey(self, body):
        kid = str(uuid.uuid4())
        STATE["keys"][kid] = {"material": os.urandom(32).hex(), "state": "Enabled",
                              "created": time.time(), "description": body.get("Description", "")}
        return {"KeyMetadata": self.metadata(kid, STATE["keys"][kid])}

    def op_CreateAlias(self, body):
        kid, _ = self.resolve(body["TargetKeyId"])
        STATE["aliases"][body["AliasName"]] = kid
        return {}

    def op_DescribeKey(self, body):
        kid, key = self.resolve(body.get("KeyId"))
        return {"KeyMetadata": self.metadata(kid, key)}

    def op_EnableKey(self, body):
        kid, key = self.resolve(body.get("KeyId"))
        if key["state"] == "PendingDeletion":
            raise KmsError("KMSInvalidStateException", "pending deletion")
        key["state"] = "Enabled"
        return {}

    def op_DisableKey(self, body):
        kid, key = self.resolve(body.get("KeyId"))
        key["state"] = "Disabled"
        return {}

    def op_ScheduleKeyDeletion(self, body):
        kid, key = self.resolve(body.get("KeyId"))
        key["state"] = "PendingDeletion"
        key["deletion"] = time.time() + 86400 * int(body.get("PendingWindowInDays", 30))
        return {"KeyId": arn(self.server.region, kid), "DeletionDate": key["deletion"],
                "KeyState": "PendingDeletion"}

    def op_CancelKeyDeletion(self, body):
        kid, key = self.resolve(body.get("KeyId"))
        key["state"] = "Disabled"
        key.pop("deletion", None)
        return {"KeyId": arn(self.server.region, kid)}

    def seal(self, kid, key, plaintext, ctx):
        nonce = os.urandom(12)
        ct = AESGCM(bytes.fromhex(key["material"])).encrypt(nonce, plaintext, context_aad(ctx))
        return base64.b64encode(b"\x01" + kid.encode() + nonce + ct).decode()

    def op_Encrypt(self, body):
        kid, key = self.resolve(body.get("KeyId"))
        self.usable(kid, key)
        plaintext = base64.b64decode(body["Plaintext"], validate=True)
        if not 1 <= len(plaintext) <= 4096:
            raise KmsError("ValidationException", "Plaintext must be 1 to 4096 bytes")
        return {"CiphertextBlob": self.seal(kid, key, plaintext, body.get("EncryptionContext")),
                "KeyId": arn(self.server.region, kid), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def op_GenerateDataKey(self, body):
        kid, key = self.resolve(body.get("KeyId"))
        self.usable(kid, key)
        plaintext = os.urandom(int(body.get("NumberOfBytes", 32)))
        return {"CiphertextBlob": self.seal(kid, key, plaintext, body.get("EncryptionContext")),
                "Plaintext": base64.b64encode(plaintext).decode(),
                "KeyId": arn(self.server.region, kid)}

    def op_Decrypt(self, body):
        blob = base64.b64decode(body["CiphertextBlob"], validate=True)
        if len(blob) < 1 + 36 + 12 + 16 or blob[0] != 1:
            raise KmsError("InvalidCiphertextException", "")
        kid = blob[1:37].decode(errors="replace")
        key = STATE["keys"].get(kid)
        if key is None:
            raise KmsError("InvalidCiphertextException", "")
        if body.get("KeyId") is not None and self.resolve(body["KeyId"])[0] != kid:
            raise KmsError("IncorrectKeyException", "The key ID in the request does not identify "
                           "a KMS key that can perform this operation.")
        self.usable(kid, key)
        try:
            pt = AESGCM(bytes.fromhex(key["material"])).decrypt(
                blob[37:49], blob[49:], context_aad(body.get("EncryptionContext")))
        except Exception:
            raise KmsError("InvalidCiphertextException", "")
        return {"Plaintext": base64.b64encode(pt).decode(), "KeyId": arn(self.server.region, kid),
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def control(self, body):
        with LOCK:
            if self.path == "/_stub/fail":
                CONTROL["fail"] = int(body.get("count", 1))
                CONTROL["fail_status"] = int(body.get("status", 503))
                CONTROL["fail_type"] = body.get("type", "")
            elif self.path == "/_stub/hang":
                CONTROL["hang"] = int(body.get("count", 1))
                CONTROL["hang_seconds"] = float(body.get("seconds", 30))
            elif self.path == "/_stub/log" and self.command == "GET":
                return self.reply(200, LOG)
            elif self.path == "/_stub/log/clear":
                LOG.clear()
            elif self.path == "/_stub/key" and self.command == "POST":
                # The one key the tests use: created on first start, kept in --state after.
                if body.get("alias") not in STATE["aliases"]:
                    out = self.op_CreateKey({"Description": "pgkms test root"})
                    STATE["aliases"][body["alias"]] = out["KeyMetadata"]["KeyId"]
                    if self.server.state_path:
                        save(self.server.state_path)
                return self.reply(200, {"KeyId": STATE["aliases"][body["alias"]]})
            else:
                return self.reply(404, {"message": "unknown control"})
        self.reply(200, {})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--region", default="eu-west-1")
    p.add_argument("--credentials", required=True,
                   help="file of lines ACCESS_KEY_ID SECRET [SESSION_TOKEN]")
    p.add_argument("--state")
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
    server.region = a.region
    server.state_path = a.state
    server.verbose = a.verbose
    server.credentials = {}
    with open(a.credentials) as f:
        for line in f:
            fields = line.split()
            if fields:
                server.credentials[fields[0]] = (fields[1], fields[2] if len(fields) > 2 else None)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
