# SPDX-License-Identifier: Apache-2.0
# Vault transit root keyring against a stub that python3-hvac drives too: CLI round trip, the
# requests compared with hvac's, TLS, SQL on an own cluster, revocation, outage, retries.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/lib/kms.sh"
need_cluster
need_py hvac cryptography requests
cd "$ROOT_DIR"
c="$T/cluster"
trap 'stop_stub vault; stop_stub vtls; scripts/pg-cluster.sh stop "$c" >/dev/null 2>&1; rm -rf "$T"' EXIT

printf 's.%s\n' "$(openssl rand -hex 12)" >"$T/token"
chmod 600 "$T/token"
token=$(cat "$T/token")
start_stub vault test/peers/vault_stub.py --token-file "$T/token" --state "$T/vault.json"
url="http://127.0.0.1:$vault_PORT"

# 0. The stub speaks Vault's transit API: hvac (the reference client) creates our key and runs
#    encrypt, decrypt, rotate and a refused decrypt on another key.
py - "$url" "$token" <<'PY' || fail "hvac against the stub"
import base64, sys, hvac
c = hvac.Client(url=sys.argv[1], token=sys.argv[2])
t = c.secrets.transit
t.create_key("pgkms-root", derived=True)
t.create_key("hvac-check", derived=True)
b64 = lambda b: base64.b64encode(b).decode()
ct = t.encrypt_data("hvac-check", plaintext=b64(b"x" * 32), context=b64(b"ctx"))["data"]["ciphertext"]
assert ct.startswith("vault:v1:"), ct
assert t.decrypt_data("hvac-check", ciphertext=ct, context=b64(b"ctx"))["data"]["plaintext"] == b64(b"x" * 32)
t.rotate_key("hvac-check")
assert t.read_key("hvac-check")["data"]["latest_version"] == 2
try:
    t.decrypt_data("hvac-check", ciphertext=ct, context=b64(b"other"))
    raise SystemExit("decrypt in another context succeeded")
except hvac.exceptions.InvalidRequest as e:
    assert "message authentication failed" in str(e)
assert t.read_key("pgkms-root")["data"]["derived"] is True
PY
ok "hvac: create, encrypt, decrypt, rotate, read and a refused decrypt against the stub"

# 1. The CLI: the provider wraps and unwraps through the stub (VAULT_TOKEN from the environment).
export VAULT_TOKEN=$token PGKMS_KEYRING="$T/keyring.json"
export PGKMS_ROOT_KEY="vault+http://127.0.0.1:$vault_PORT/transit/pgkms-root"
printf 'personal data\n' >"$T/data"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/data" -out "$T/data.kms"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/data.out"
cmp "$T/data" "$T/data.out" || fail "CLI round trip through Vault"
py - "$T/keyring.json" <<'PY' || fail "keyring record"
import base64, json, sys
v = json.load(open(sys.argv[1]))["keys"][0]["versions"][0]
assert v["keyring"] == "vault", v
assert base64.b64decode(v["wrapped"]).startswith(b"vault:v1:"), v
PY
ok "openssl pkeyutl round trip; the key version records keyring vault and a vault:v1: blob"

# Our requests look like hvac's: same paths, same JSON fields, X-Vault-Token and X-Vault-Request.
stub_ctl "$vault_PORT" /_stub/log >"$T/log.json"
py - "$T/log.json" "$token" <<'PY' || fail "requests differ from hvac's"
import json, sys
log, token = json.load(open(sys.argv[1])), sys.argv[2]
ua = lambda e: e["headers"].get("user-agent", "")
hvac = [e for e in log if ua(e).startswith("python-requests")]
ours = [e for e in log if ua(e).startswith("pgkms/")]
assert ours, "no request from pgkms"
def fields(entries, op):
    found = {tuple(sorted(e["body"])) for e in entries if "/%s/" % op in e["path"]}
    assert len(found) == 1, (op, found)
    return found.pop()
for op in ("encrypt", "decrypt"):
    assert fields(ours, op) == fields(hvac, op), (op, fields(ours, op), fields(hvac, op))
paths = {(e["method"], e["path"]) for e in ours}
assert paths == {("GET", "/v1/transit/keys/pgkms-root"), ("POST", "/v1/transit/encrypt/pgkms-root"),
                 ("POST", "/v1/transit/decrypt/pgkms-root")}, paths
for e in ours:
    h = e["headers"]
    assert h.get("x-vault-token") == token and h.get("x-vault-request") == "true", h
    if e["method"] == "POST":
        assert h.get("content-type") == "application/json", h
PY
ok "our requests match hvac's: paths, JSON fields {plaintext,context} / {ciphertext,context}, headers"

# The AAD is bound as the derivation context: a wrapped key moved to another record fails.
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=globex' -in "$T/data" -out "$T/globex.kms"
py - "$T/keyring.json" "$T/swapped.json" <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))
acme = [x for x in k["keys"] if x["tenant"] == "acme"][0]
globex = [x for x in k["keys"] if x["tenant"] == "globex"][0]
globex["versions"][0]["wrapped"] = acme["versions"][0]["wrapped"]
json.dump(k, open(sys.argv[2], "w"))
PY
PGKMS_KEYRING="$T/swapped.json" expect_fail "acme's wrapped key in globex's record" \
    "does not unwrap" ossl pkeyutl $P -decrypt -inkey 'kms:tenant=globex' -in "$T/globex.kms" \
    -out "$T/x"

# Vault rotation: new tenant keys wrap under v2, older ones still unwrap.
py -c "import hvac, sys; hvac.Client(url='$url', token='$token').secrets.transit.rotate_key('pgkms-root')"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=initech' -in "$T/data" -out "$T/initech.kms"
grep -q "$(printf 'vault:v2:' | base64)" "$T/keyring.json" || fail "no vault:v2: blob after rotation"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/data.out"
cmp "$T/data" "$T/data.out" || fail "v1 blob after rotation"
ok "after a Vault rotation new tenant keys are vault:v2:, v1 ones still unwrap"

VAULT_TOKEN=s.wrong expect_fail "a wrong token" "permission denied (HTTP 403)" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/x"
expect_fail "plain http beyond the loopback" "only for a test server on 127.0.0.1" \
    env PGKMS_ROOT_KEY="vault+http://192.0.2.1:8200/transit/pgkms-root" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/x"

# 2. TLS: verified against ca_file (or VAULT_CACERT); without the CA the handshake is refused.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pgkms-test-ca -keyout "$T/ca.key" \
    -out "$T/ca.pem" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$T/srv.key" -out "$T/srv.csr" \
    2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
    -extfile "$T/srv.ext" -out "$T/srv.pem" 2>/dev/null
start_stub vtls test/peers/vault_stub.py --token-file "$T/token" --tls-cert "$T/srv.pem" \
    --tls-key "$T/srv.key"
py -c "import hvac; hvac.Client(url='https://127.0.0.1:$vtls_PORT', token='$token', verify='$T/ca.pem').secrets.transit.create_key('pgkms-root', derived=True)"
tls="vault+https://127.0.0.1:$vtls_PORT/transit/pgkms-root"
PGKMS_ROOT_KEY="$tls" PGKMS_KEYRING="$T/tls.json" expect_fail "TLS without the CA" \
    "certificate" ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/data" -out "$T/x"
PGKMS_ROOT_KEY="$tls?ca_file=$T/ca.pem" PGKMS_KEYRING="$T/tls.json" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/data" -out "$T/tls.kms"
VAULT_CACERT="$T/ca.pem" PGKMS_ROOT_KEY="$tls" PGKMS_KEYRING="$T/tls.json" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/tls.kms" -out "$T/data.out"
cmp "$T/data" "$T/data.out" || fail "TLS round trip"
stop_stub vtls
ok "vault+https: refused without the CA, round trip with ca_file= and with VAULT_CACERT"

# 3. SQL on a cluster of our own. The server (user postgres when run as root) reads the token
#    from a file it owns; timeouts are short so that outages show quickly.
unset VAULT_TOKEN
ttl=4
server_file "$T/token" "$T/server-token"
root="vault+http://127.0.0.1:$vault_PORT/transit/pgkms-root?token_file=$T/server-token"
root="$root&connect_timeout_ms=500&timeout_ms=1000&retries=2&holddown_ms=1000"
own_cluster "$c" "$root" "$ttl"
sql -c "CREATE TABLE t (id int, v kms.encrypted)"
sql -c "INSERT INTO t VALUES (1, kms.encrypt('vault protected', 'acme'))"
[ "$(sql -c "SET kms.tenant = 'acme'" -c "SELECT kms.decrypt(v) FROM t")" = 'vault protected' ] ||
    fail "SQL round trip"
[ "$(sql -c "SELECT DISTINCT keyring FROM kms.key_versions")" = vault ] || fail "keyring column"
ok "SQL: kms.root_key = vault+http://..., token_file readable by the server; encrypt/decrypt"

q="SELECT kms.decrypt(v) FROM t;"
open_session 3
ask 3 "SET kms.tenant = 'acme';" >/dev/null
ask 3 "\\set VERBOSITY verbose" >/dev/null
[ "$(ask 3 "$q")" = 'vault protected' ] || fail "session 3"

# 4. Outage: cached keys work until the TTL, then 58000 naming the keyring; back by itself.
stop_stub vault
t_stop=$(now_ms)
[ "$(ask 3 "$q")" = 'vault protected' ] || fail "the cached key failed at once in an outage"
ms=$(poll 3 "$q" '^ERROR:  58000' $((ttl + 5)))
sed -n 1p "$T/poll.last"
grep -q "vault keyring vault+http://127.0.0.1:$vault_PORT/transit/pgkms-root" "$T/poll.last" ||
    fail "the error does not name the keyring: $(cat "$T/poll.last")"
! grep -qF "$token" "$T/poll.last" || fail "the token appears in a message"
ok "outage: cached key kept working, 58000 naming the keyring $((($(now_ms) - t_stop))) ms after the stop (TTL ${ttl}s)"
timed ask 3 "$q" >"$T/out"
grep -q '^ERROR:  58000' "$T/out" || fail "no 58000 during the outage"
grep ERROR "$T/out"
ok "a statement during the outage fails in $(cat "$T/timed.ms") ms (connection refused, then hold-down)"
start_stub vault test/peers/vault_stub.py --port "$vault_PORT" --token-file "$T/token" \
    --state "$T/vault.json"
ms=$(poll 3 "$q" '^vault protected$' 10)
ok "stub restarted: the same session recovered by itself after $ms ms (hold-down 1000 ms)"

# A server that accepts but never answers: each attempt ends at timeout_ms.
stub_ctl "$vault_PORT" /_stub/hang '{"count": 3, "seconds": 3}' >/dev/null
timed sql -c "SET kms.tenant = 'acme'" -c "$q" >"$T/out" 2>&1 && fail "a hung Vault answered"
grep -q 'no usable answer after 3 attempts' "$T/out" || fail "hang: $(cat "$T/out")"
grep ERROR "$T/out"
hang_ms=$(cat "$T/timed.ms")
[ "$hang_ms" -ge 3000 ] && [ "$hang_ms" -lt 6000 ] || fail "3 attempts of 1000 ms took $hang_ms ms"
ok "hung server: a cold session fails with 58000 after $hang_ms ms (3 attempts x timeout_ms=1000 + backoff)"
sleep 1.2 # past the hold-down

# 5. Retries: 503 twice, then an answer; 401 is not retried.
stub_ctl "$vault_PORT" /_stub/log/clear '{}' >/dev/null
stub_ctl "$vault_PORT" /_stub/fail '{"count": 2, "status": 503}' >/dev/null
timed sql -c "SET kms.tenant = 'acme'" -c "$q" >"$T/out" || fail "503 twice: $(cat "$T/out")"
[ "$(cat "$T/out")" = 'vault protected' ] || fail "after retries: $(cat "$T/out")"
# The keyring is checked (key read) before the unwrap (decrypt): 2 failures, then 2 answers.
n=$(stub_ctl "$vault_PORT" /_stub/log | py -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 4 ] || fail "$n requests for 503, 503, 200, 200"
ok "503, 503, then 200: success on the third attempt in $(cat "$T/timed.ms") ms (backoff 100 ms doubling, jittered)"
stub_ctl "$vault_PORT" /_stub/log/clear '{}' >/dev/null
stub_ctl "$vault_PORT" /_stub/fail '{"count": 1, "status": 401}' >/dev/null
psql -XAtq -v VERBOSITY=verbose -c "SET kms.tenant = 'acme'" -c "$q" >"$T/out" 2>&1 &&
    fail "401 succeeded"
grep -q '58000: vault keyring .*permission denied (HTTP 401)' "$T/out" || fail "401: $(cat "$T/out")"
grep ERROR "$T/out"
n=$(stub_ctl "$vault_PORT" /_stub/log | py -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 1 ] || fail "401 was retried ($n requests)"
ok "401: one request, no retry, 58000 permission denied"

# 6. Revocation: the tenant deletes the Vault key; within the TTL no session can decrypt.
[ "$(ask 3 "$q")" = 'vault protected' ] || fail "session 3 before the revocation"
py - "$url" "$token" <<'PY'
import sys, hvac
t = hvac.Client(url=sys.argv[1], token=sys.argv[2]).secrets.transit
t.update_key_configuration("pgkms-root", deletion_allowed=True)
t.delete_key("pgkms-root")
PY
t_del=$(now_ms)
ms=$(poll 3 "$q" '^ERROR:  58000' $((ttl + 3)))
sed -n 1p "$T/poll.last"
grep -q "vault keyring .*no such key or mount (HTTP 404)\|encryption key not found" "$T/poll.last" ||
    fail "revocation: $(cat "$T/poll.last")"
elapsed=$(($(now_ms) - t_del))
[ "$elapsed" -le $(((ttl + 2) * 1000)) ] || fail "revocation took $elapsed ms (TTL ${ttl}s)"
sql -c "SET kms.tenant = 'acme'" -c "$q" >"$T/out" 2>&1 && fail "a new session decrypted"
grep -q 'vault keyring' "$T/out" || fail "new session: $(cat "$T/out")"
ok "key deleted in Vault: 58000 in the open session after $elapsed ms (TTL ${ttl}s), at once in a new one"
exec 3>&-
