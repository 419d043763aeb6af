# SPDX-License-Identifier: Apache-2.0
# docs/format.md is implementable alone: inline Python opens SQL's values, randomized and
# deterministic (and seals one for SQL).
source "$(dirname "$0")/../lib.sh"
need_cluster
py=/usr/bin/python3
"$py" -c 'import cryptography' 2>/dev/null || { echo "no python3-cryptography in $py"; exit 77; }
db=e2e_indep_decrypt_$$
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1; rm -rf "$T"' EXIT
export PGDATABASE=$db
utf8='张三丰 🙂'

sql -c "CREATE EXTENSION pgkms"
sql -v utf8="$utf8" >/dev/null <<'SQL'
CREATE TABLE v (n int PRIMARY KEY, tenant text, ctx text, pt_text text, pt_bin bytea,
                val kms.encrypted);
INSERT INTO v (n, tenant, ctx, pt_text, pt_bin) VALUES
  (1, 'acme',   NULL,           '13800138000', NULL),
  (2, 'acme',   'users.name:2', :'utf8',       NULL),
  (3, 'globex', NULL,           '',            NULL),
  (4, 'globex', '',             'empty context is no context', NULL),
  (5, 'globex', 'blob:5',       NULL,
      (SELECT string_agg(sha256(int4send(g)), '' ORDER BY g) FROM generate_series(1, 32768) g)),
  (6, 'acme',   'bin:6',        NULL,          '\x008b4bff00'::bytea);
UPDATE v SET val = kms.encrypt(pt_text, tenant, ctx) WHERE pt_text IS NOT NULL;
UPDATE v SET val = kms.encrypt(pt_bin, tenant, ctx) WHERE pt_bin IS NOT NULL;
-- A value for the tenant in kms.tenant (no tenant argument).
SET kms.tenant = 'acme';
INSERT INTO v (n, tenant, ctx, pt_text, val)
  VALUES (7, 'acme', 'via-guc', 'tenant from kms.tenant',
          kms.encrypt('tenant from kms.tenant', NULL, 'via-guc'));
-- Deterministic values (algorithm 3), under version 1 although the key has rotated.
SELECT kms.rotate_key(key_id) FROM kms.keys WHERE tenant = 'acme' AND is_default;
INSERT INTO v (n, tenant, ctx, pt_text, val) VALUES
  (8, 'acme', 'customers.phone', '13800138000',
      kms.encrypt_det('13800138000', context => 'customers.phone')),
  (9, 'globex', NULL, :'utf8', kms.encrypt_det(:'utf8', 'globex'));
SQL
[ "$(sql -c "SELECT length(pt_bin) FROM v WHERE n = 5")" = 1048576 ] || fail "1 MiB plaintext"
[ "$(sql -c "SELECT count(*) FROM v
             WHERE length(val::bytea) = CASE WHEN n >= 8 THEN 36 ELSE 48 END
                                        + length(coalesce(convert_to(pt_text, 'UTF8'), pt_bin))")" = 9 ] ||
    fail "not every value is its plaintext + 48 bytes (36 deterministic)"
ok "SQL encrypted 9 values for 2 tenants (contexts, empty, UTF-8, 1 MiB bytea, 2 deterministic)"

sql -c "SELECT convert_from(kms.export_keyring(), 'UTF8')" >"$T/keyring.json"
root=$(sql -c 'SHOW kms.root_key')
root=${root#file:}
[ -r "$root" ] || fail "cannot read the root key file $root"
# One line per value: n tenant context(hex, - for none) text-form(base64) raw(hex).
sql -F ' ' -c "SELECT n, tenant, coalesce(nullif(encode(convert_to(ctx, 'UTF8'), 'hex'), ''), '-'),
                      val::text, encode(val::bytea, 'hex') FROM v ORDER BY n" >"$T/values"

# The reader knows docs/format.md and nothing else: no pgkms code, no OpenSSL provider.
cat >"$T/ref.py" <<'PY'
import base64, json, os, struct, sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def hkdf(ikm, info, length=32):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def load(root_path, keyring_path):
    text = open(root_path).read()
    assert len(text) in (64, 65) and text[:64] == text[:64].lower(), "root file: 64 hex (+newline)"
    root = bytes.fromhex(text[:64])
    mac = hmac.HMAC(root, hashes.SHA256())
    mac.update(b"pgkms root id v1")
    root_id = mac.finalize()[:8].hex()
    kek = hkdf(root, b"pgkms root wrap v1")
    ring = json.load(open(keyring_path))
    assert ring["format"] == "pgkms-keyring" and ring["version"] == 1
    keys = {}  # key_ref -> (tenant, current version, {version: tenant key})
    for k in ring["keys"]:
        key_id = bytes.fromhex(k["key_id"].replace("-", ""))
        tenant = k["tenant"].encode()
        versions = {}
        for v in k["versions"]:
            assert v["keyring"] == "file" and v["root_id"] == root_id, "another root"
            w = base64.b64decode(v["wrapped"], validate=True)
            assert len(w) == 61 and w[0] == 1, "wrapped key layout"
            aad = (b"pgkms tmk v1" + struct.pack(">H", len(tenant)) + tenant + key_id
                   + struct.pack(">I", v["version"]))
            versions[v["version"]] = AESGCM(kek).decrypt(w[1:13], w[13:], aad)
            assert len(versions[v["version"]]) == 32
        assert key_id[:8] not in keys
        keys[key_id[:8]] = (k["tenant"], k["current_version"], versions)
    return keys


def aad_of(header, ctx):
    return header + struct.pack(">I", len(ctx)) + ctx


def open_det(tmk, ctx, v):
    # Algorithm 3: AES-256-SIV, one associated-data component, synthetic IV then ciphertext.
    assert len(v) >= 36 and v[16:20] == bytes(4), "deterministic header"
    siv = AESSIV(hkdf(tmk, b"pgkms det v1" + v[4:16], 64))
    pt = siv.decrypt(v[20:], [aad_of(v[:20], ctx)])
    assert v[:20] + siv.encrypt(pt, [aad_of(v[:20], ctx)]) == v, "not deterministic"
    try:
        siv.decrypt(v[20:], [aad_of(v[:20], ctx + b"x")])
        raise AssertionError("opened with a wrong context")
    except InvalidTag:
        pass
    return pt


def open_value(keys, tenant, ctx, v):
    assert v[:3] == b"\x8b\x4b\x01" and v[3] in (1, 3), "header"
    key_ref = v[4:12]
    version, _dek_id = struct.unpack(">II", v[12:20])
    owner, _current, versions = keys[key_ref]
    assert owner == tenant, "value of another tenant"
    if v[3] == 3:
        return open_det(versions[version], ctx, v)
    assert len(v) >= 48, "length"
    dek = hkdf(versions[version], b"pgkms dek v1" + key_ref + v[12:20])
    aead = AESGCM(dek)
    pt = aead.decrypt(v[20:32], v[32:], aad_of(v[:20], ctx))
    try:  # the context is authenticated: any other one must fail
        aead.decrypt(v[20:32], v[32:], aad_of(v[:20], ctx + b"x"))
        raise AssertionError("opened with a wrong context")
    except InvalidTag:
        pass
    return pt


def seal(keys, tenant, ctx, pt):
    [(key_ref, (_, current, versions))] = [(r, k) for r, k in keys.items() if k[0] == tenant]
    header = b"\x8b\x4b\x01\x01" + key_ref + struct.pack(">II", current,
                                                         int.from_bytes(os.urandom(4), "big"))
    dek = hkdf(versions[current], b"pgkms dek v1" + header[4:20])
    nonce = os.urandom(12)
    return header + nonce + AESGCM(dek).encrypt(nonce, pt, aad_of(header, ctx))


def main():
    keys = load(sys.argv[2], sys.argv[3])
    if sys.argv[1] == "open":  # stdin: the value lines; stdout: "n plaintext-hex"
        for line in sys.stdin:
            n, tenant, ctx_hex, b64, raw_hex = line.split()
            v = base64.b64decode(b64, validate=True)
            assert v == bytes.fromhex(raw_hex), "text form is not base64 of the bytes"
            ctx = b"" if ctx_hex == "-" else bytes.fromhex(ctx_hex)
            print(n, open_value(keys, tenant, ctx, v).hex() or "-")
    else:  # seal TENANT CONTEXT PLAINTEXT: prints the value's text form
        v = seal(keys, sys.argv[4], sys.argv[5].encode(), sys.argv[6].encode())
        print(base64.b64encode(v).decode())


main()
PY
ref() { env -u OPENSSL_MODULES "$py" "$T/ref.py" "$@"; }

ref open "$root" "$T/keyring.json" <"$T/values" >"$T/got" || fail "the Python reader failed"
sql -F ' ' -c "SELECT n, coalesce(nullif(encode(coalesce(convert_to(pt_text, 'UTF8'), pt_bin), 'hex'), ''),
                                 '-') FROM v ORDER BY n" >"$T/want"
if ! cmp -s "$T/want" "$T/got"; then
    diff "$T/want" "$T/got" | cut -c1-200 >&2
    fail "Python read other plaintexts"
fi
ok "Python opened all 9 values from the keyring JSON and the root file alone; wrong contexts fail"

got=$(sed -n 's/^2 //p' "$T/got" | xxd -r -p)
[ "$got" = "$utf8" ] || fail "UTF-8 value read as '$got'"
[ "$(sed -n 's/^3 //p' "$T/got")" = - ] || fail "empty string not read as empty"
[ "$(sed -n 's/^5 //p' "$T/got" | xxd -r -p | sha256sum)" = \
  "$(sql -c "SELECT encode(pt_bin, 'hex') FROM v WHERE n = 5" | xxd -r -p | sha256sum)" ] ||
    fail "1 MiB value differs"
[ "$(sed -n 's/^9 //p' "$T/got" | xxd -r -p)" = "$utf8" ] || fail "deterministic UTF-8 value"
ok "Python's plaintexts: '$utf8' byte for byte, empty string empty, the 1 MiB bytea identical"

# The other direction: a value sealed by Python per the spec decrypts in SQL.
pv=$(ref seal "$root" "$T/keyring.json" globex 'py:1' 'sealed by python ✓')
[ "$(sql -c "SET kms.tenant = 'globex'" -c "SELECT kms.decrypt('$pv', 'py:1')")" = 'sealed by python ✓' ] ||
    fail "SQL does not open Python's value"
expect_fail "SQL refuses Python's value under another context" "ERROR:  22000: authentication tag" \
    sql -v VERBOSITY=verbose -c "SET kms.tenant = 'globex'" -c "SELECT kms.decrypt('$pv', 'py:2')"
ok "a value sealed by Python per docs/format.md decrypts in SQL"
