# SPDX-License-Identifier: Apache-2.0
# Tenant-held keys (HYOK): a key protected by the tenant's own keyring stops working in every
# session within kms.key_cache_ttl after the tenant revokes it, while other tenants go on; it
# works again when the keyring returns. Here the tenant's keyring is a key file it controls
# (the same bound holds for HSM and KMS keyrings: docs/hyok.md).
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_hyok
dropdb --if-exists "$db" && createdb "$db"
export PGDATABASE=$db
own() { if [ "$(id -u)" -eq 0 ]; then chown postgres: "$@"; fi; }
root_id() {
    printf 'pgkms root id v1' | openssl mac -digest SHA256 -macopt "hexkey:$(head -c 64 "$1")" HMAC |
        tr 'A-F' 'a-f' | cut -c1-16
}
ttl=4
tkey="$T/acme-held.key"
openssl rand -hex 32 >"$tkey"
chmod 600 "$tkey"
own "$tkey"
sql -c "CREATE EXTENSION pgkms"
sql -c "LOAD 'pgkms'" -c "ALTER SYSTEM SET kms.key_cache_ttl = $ttl" >/dev/null
sql -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
cleanup_ttl() { sql -c "LOAD 'pgkms'" -c "ALTER SYSTEM RESET kms.key_cache_ttl" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true; }
trap 'cleanup_ttl; rm -rf "$T"' EXIT

kid=$(sql -c "SELECT kms.create_key('hy', 'held', keyring => 'file:$tkey')")
[ "$(sql -c "SELECT keyring_uri FROM kms.keys WHERE key_id = '$kid'")" = "file:$tkey" ] ||
    fail "kms.keys does not show the tenant's keyring"
[ "$(sql -c "SELECT encode(root_id, 'hex') FROM kms.key_versions WHERE key_id = '$kid'")" = \
    "$(root_id "$tkey")" ] || fail "the key is not wrapped under the tenant's keyring"
v=$(sql -c "SELECT kms.encrypt('held by hy', 'hy', 'c', 'held')")
w=$(sql -c "SELECT kms.encrypt('other tenant', 'other', 'c')")
ok "kms.create_key(..., keyring => uri) wraps the key under the tenant's keyring (root id $(root_id "$tkey"))"

# The CLI follows: the exported record names the tenant's keyring.
export PGKMS_ROOT_KEY=$(sql -c "SHOW kms.root_key") PGKMS_KEYRING="$T/keyring.json"
sql -c "SELECT convert_from(kms.export_keyring('hy'), 'UTF8')" >"$PGKMS_KEYRING"
grep -q "\"keyring_uri\": \"file:$tkey\"" "$PGKMS_KEYRING" || fail "export lacks keyring_uri"
sql -c "SELECT '$v'" | base64 -d >"$T/v.kms"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=hy;key=held' -in "$T/v.kms" -out "$T/v.out" \
    -pkeyopt kms-context:c
[ "$(cat "$T/v.out")" = "held by hy" ] || fail "CLI under the tenant's keyring"
ok "the CLI decrypts through the tenant's keyring named in the exported keyring"

# Rotation keeps using the tenant's keyring.
[ "$(sql -c "SELECT kms.rotate_key('$kid')")" = 2 ] || fail "rotate"
[ "$(sql -c "SELECT count(DISTINCT root_id) FROM kms.key_versions WHERE key_id = '$kid'")" = 1 ] ||
    fail "the new version is not under the tenant's keyring"
v2=$(sql -c "SELECT kms.encrypt('version two', 'hy', 'c', 'held')")

# A session with the key cached; the tenant revokes (its key file disappears).
open_session 3
ask 3 "SET kms.tenant = 'hy';" >/dev/null
[ "$(ask 3 "SELECT kms.decrypt('$v', 'c');")" = "held by hy" ] || fail "session at start"
[ "$(ask 3 "SELECT kms.decrypt('$v2', 'c');")" = "version two" ] || fail "session at start"
mv "$tkey" "$tkey.revoked"
start=$(date +%s%3N)
got=""
while :; do
    got=$(ask 3 "SELECT kms.decrypt('$v2', 'c');")
    [ "$got" = "version two" ] || break
    [ $(($(date +%s%3N) - start)) -le $(((ttl + 2) * 1000)) ] ||
        fail "still decrypting $(($(date +%s%3N) - start)) ms after revocation"
    sleep 0.2
done
elapsed=$(($(date +%s%3N) - start))
# The session had both versions cached: they bridge at least until TTL/2 (no keyring call
# before), so a refusal sooner would mean the cache did not work.
[ "$elapsed" -ge $((ttl * 1000 / 2)) ] || fail "refused after ${elapsed} ms: the cached key was not used"
grep -q "acme-held.key" <<<"$got" || fail "the refusal does not name the tenant's keyring: $got"
again=$(ask 3 "SELECT kms.decrypt('$v2', 'c');")
[ "$again" != "version two" ] || fail "the revoked key came back on the next call"
ok "revoked: refused after ${elapsed} ms (bound: kms.key_cache_ttl = ${ttl} s), naming the keyring"
grep -q "58000\|could not open\|No such file" <<<"$got$(sql -c "SET kms.tenant = 'hy'" \
    -c "SELECT kms.decrypt('$v', 'c')" 2>&1 || true)" || fail "not a root-unavailable error: $got"
[ "$(ask 3 "SET kms.tenant = 'other'; SELECT kms.decrypt('$w', 'c');")" = "other tenant" ] ||
    fail "another tenant was affected"
got=$(sql -c "SELECT kms.encrypt('x', 'hy', NULL, 'held')" 2>&1 || true)
grep -q "acme-held.key" <<<"$got" || fail "encryption under a revoked keyring: $got"
ok "other tenants are unaffected; new sessions cannot encrypt or decrypt under the revoked key"

mv "$tkey.revoked" "$tkey"
ask 3 "SET kms.tenant = 'hy';" >/dev/null
[ "$(ask 3 "SELECT kms.decrypt('$v2', 'c');")" = "version two" ] || fail "no recovery"
ok "the tenant restores its keyring: the same session decrypts again, nothing was lost"

exec 3>&-
wait
dropdb "$db"
