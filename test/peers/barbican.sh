# SPDX-License-Identifier: Apache-2.0
# OpenStack Barbican as a root of trust, against a real barbican-api (Debian's, sqlite, the
# unauthenticated pipeline) started here on 127.0.0.1: the CLI and SQL on a cluster of its own,
# revocation by deleting the secret, an outage (server killed, then frozen) and its recovery,
# wrong project and missing secret; then, on a second cluster, a root rotation from a Barbican
# root (as kms.root_key_previous) to a file root, and a tenant-held key (HYOK) in the tenant's
# own Barbican secret, revoked and restored through the secret's ACL, then deleted. Times are
# measured and printed.
source "$(dirname "$0")/../lib.sh"
# Debian's interpreter (barbican lives in its dist-packages), without our OPENSSL_MODULES: the
# python3-cryptography under Barbican loads OpenSSL's own providers from there.
PY="env -u OPENSSL_MODULES /usr/bin/python3"
TTL=4

if ! $PY -c 'import barbican.api.app' 2>"$T/import.err"; then
    cand=$(apt-cache policy barbican-api 2>/dev/null | sed -n 's/^ *Candidate: //p')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
        echo "barbican-api is not available from this system's package sources"
        exit 77
    fi
    tail -n 3 "$T/import.err" >&2
    fail "barbican-api $cand is available but Barbican does not import: run scripts/setup-deps.sh"
fi
for c in curl barbican-manage; do
    command -v $c >/dev/null || fail "$c is missing: run scripts/setup-deps.sh"
done

B="$T/barbican"
mkdir -p "$B"
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
bb_pid=
cluster=
# pgkms's own identity for the tenant-held key (HYOK): a token that the Keystone stand-in of
# barbican-wsgi.py resolves to a service user of a project of its own, as Keystone would.
svc_token="svc-$(openssl rand -hex 16)"
cat >"$B/tokens.json" <<JSON
{"$svc_token": {"user": "pgkms-svc", "project": "pgkms-service", "roles": "reader"}}
JSON

cleanup() {
    if [ -n "$bb_pid" ]; then
        kill -CONT "$bb_pid" 2>/dev/null || true
        kill "$bb_pid" 2>/dev/null || true
        wait "$bb_pid" 2>/dev/null || true
    fi
    [ -z "$cluster" ] || "$ROOT_DIR/scripts/pg-cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT

# --- Barbican: our own configuration, database and paste pipeline ---------------------------
cat >"$B/barbican.conf" <<CONF
[DEFAULT]
sql_connection = sqlite:///$B/barbican.sqlite
host_href = $base
log_file = $B/barbican.log
debug = False
[secretstore]
enabled_secretstore_plugins = store_crypto
[crypto]
enabled_crypto_plugins = simple_crypto
[simple_crypto_plugin]
kek = $(openssl rand -base64 32)
[oslo_policy]
policy_dirs = /etc/barbican/policy.d
CONF
# Debian's paste file with /v1 on the unauthenticated pipeline instead of Keystone's.
paste_src=/etc/barbican/barbican-api-paste.ini
[ -f "$paste_src" ] || paste_src=/usr/share/barbican-common/barbican-api-paste.ini
sed 's|^/v1: barbican-api-keystone$|/v1: barbican_api|' "$paste_src" >"$B/api-paste.ini"
grep -q '^/v1: barbican_api$' "$B/api-paste.ini" || fail "no /v1 pipeline to replace in $paste_src"
barbican-manage --config-file "$B/barbican.conf" db upgrade \
    --db-url "sqlite:///$B/barbican.sqlite" >"$B/db.log" 2>&1 || { cat "$B/db.log"; fail "db"; }

start_barbican() {
    $PY "$ROOT_DIR/test/peers/barbican-wsgi.py" "$B/barbican.conf" "$B/api-paste.ini" "$port" \
        "$B/tokens.json" >>"$B/server.log" 2>&1 &
    bb_pid=$!
    for _ in $(seq 300); do
        kill -0 "$bb_pid" 2>/dev/null || { cat "$B/server.log"; fail "barbican-api exited"; }
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Project-Id: probe' \
            "$base/v1/secrets")" = 200 ] && return 0
        sleep 0.2
    done
    cat "$B/server.log"
    fail "barbican-api did not answer on $base"
}
stop_barbican() {
    kill "$bb_pid"
    wait "$bb_pid" 2>/dev/null || true
    bb_pid=
}
t0=$EPOCHREALTIME
start_barbican
ok "barbican-api $(dpkg-query -W -f='${Version}' python3-barbican) answers on $base ($(
    awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }") s to start)"

since() { awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $1 }"; }
le() { awk "BEGIN { exit !($1 <= $2) }"; }

# store_secret BIN PROJECT [USER]: stores the 32 bytes of BIN as a symmetric secret of PROJECT
# (created by USER), as docs/keyrings-barbican.md tells an operator; prints its secret_ref.
store_secret() {
    cat >"$B/secret.json" <<JSON
{"name": "pgkms-root", "secret_type": "symmetric", "algorithm": "aes", "bit_length": 256,
 "mode": "gcm", "payload": "$(base64 -w0 "$1")",
 "payload_content_type": "application/octet-stream", "payload_content_encoding": "base64"}
JSON
    curl -sS -X POST "$base/v1/secrets" -H "X-Project-Id: $2" ${3:+-H "X-User-Id: $3"} \
        -H 'Content-Type: application/json' -d @"$B/secret.json" |
        $PY -c 'import json, sys; print(json.load(sys.stdin)["secret_ref"])'
    rm "$B/secret.json"
}
# root_id_of BIN: HMAC-SHA256(secret, "pgkms root id v1")[:8] in hex, computed with openssl.
root_id_of() {
    printf 'pgkms root id v1' | openssl dgst -sha256 -mac HMAC \
        -macopt "hexkey:$(xxd -p -c 64 "$1")" | awk '{ print substr($NF, 1, 16) }'
}

# What an operator does (docs/keyrings-barbican.md): 32 random bytes stored as a project secret.
proj="pgkms-$RANDOM"
openssl rand 32 >"$B/secret.bin"
ref=$(store_secret "$B/secret.bin" "$proj")
id=${ref##*/}
[ ${#id} -eq 36 ] || fail "no secret ref: $ref"
want_id=$(root_id_of "$B/secret.bin")
ok "secret $id stored in project $proj (root id $want_id)"

# --- (1) the CLI --------------------------------------------------------------------------------
printf 'gAAAAAB-unchecked-by-the-unauthenticated-pipeline\n' >"$B/token"
chmod 600 "$B/token"
export PGKMS_ROOT_KEY="barbican+$base/$id?project=$proj&token_file=$B/token"
export PGKMS_KEYRING="$T/keyring.json"
head -c 5000 /dev/urandom >"$T/data"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/data" -out "$T/data.kms"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/data.out"
cmp "$T/data" "$T/data.out" || fail "CLI round trip"
grep -q '"keyring": "barbican"' "$PGKMS_KEYRING" || fail "keyring kind not recorded"
grep -q "\"root_id\": \"$want_id\"" "$PGKMS_KEYRING" || fail "root id is not HMAC(secret)[:8]"
ok "CLI: encrypt and decrypt through the Barbican root; the key records keyring barbican, root $want_id"
expect_fail "CLI with another project" "access to the secret is denied for project other-$proj" \
    env PGKMS_ROOT_KEY="barbican+$base/$id?project=other-$proj" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/x"
expect_fail "CLI with a secret that does not exist" "the secret does not exist (HTTP 404" \
    env PGKMS_ROOT_KEY="barbican+$base/00000000-0000-4000-8000-000000000000?project=$proj" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/x"
expect_fail "CLI without a project" "needs ?project=" \
    env PGKMS_ROOT_KEY="barbican+$base/$id" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/x"

# --- (2) SQL on a cluster of our own ----------------------------------------------------------
cluster="$T/cluster"
"$ROOT_DIR/scripts/pg-cluster.sh" start "$cluster" >/dev/null
source "$cluster/env"
cp "$B/token" "$T/pg-token"
[ "$(id -u)" -ne 0 ] || chown postgres: "$T/pg-token"
# A frozen server costs a call at most timeout_ms * (retries + 1) plus a backoff.
uri="barbican+$ref?project=$proj&token_file=$T/pg-token&timeout_ms=1500&retries=1"
cat >>"$PGDATA/postgresql.conf" <<CONF
kms.root_key = '$uri'
kms.key_cache_ttl = $TTL
CONF
sql -c "SELECT pg_reload_conf()" >/dev/null
sql -c "CREATE EXTENSION pgkms"
v=$(sql -c "SELECT kms.encrypt('hello barbican', 'acme')")
[ "$(sql -c "SELECT keyring || ' ' || encode(root_id, 'hex') FROM kms.key_versions")" = \
    "barbican $want_id" ] || fail "key version not recorded under the Barbican root"
for i in 1 2 3; do
    got=$(sql -c "SET kms.tenant = 'acme'" -c "SELECT kms.decrypt('$v')")
    [ "$got" = "hello barbican" ] || fail "session $i read '$got'"
done
sql -c "SELECT convert_from(kms.export_keyring('acme'), 'UTF8')" >"$T/sql-keyring.json"
printf '%s' "$v" | base64 -d >"$T/v.kms"
PGKMS_KEYRING="$T/sql-keyring.json" PGKMS_ROOT_KEY="$uri" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/v.kms" -out "$T/v.out"
[ "$(cat "$T/v.out")" = "hello barbican" ] || fail "CLI read the SQL value as '$(cat "$T/v.out")'"
ok "SQL: the cluster's root is the Barbican secret (kms.key_versions: barbican $want_id); three sessions decrypt; the CLI decrypts the SQL value with the same URI"

# --- (5) wrong project, missing secret: 58000 naming the keyring --------------------------------
err() { sql -v VERBOSITY=verbose -c "SET kms.root_key = '$1'" -c "$2" 2>&1 || true; }
got=$(err "barbican+$base/$id?project=intruder" "SELECT kms.encrypt('x', 'other-tenant')")
grep -q "ERROR:  58000: barbican keyring barbican+$base/$id: access to the secret is denied for project intruder (HTTP 403" \
    <<<"$got" || fail "wrong project: $got"
ok "wrong project: ${got%%$'\n'LOCATION*}"
got=$(err "barbican+$base/$(cat /proc/sys/kernel/random/uuid)?project=$proj" \
    "SELECT kms.encrypt('x', 'other-tenant')")
grep -q "ERROR:  58000: barbican keyring .*: the secret does not exist (HTTP 404: Secret not found.)" \
    <<<"$got" || fail "missing secret: $got"
ok "missing secret: ${got%%$'\n'LOCATION*}"
got=$(err "barbican+$base/$id" "SELECT kms.encrypt('x', 'other-tenant')")
grep -q "ERROR:  22023: a Barbican root URI needs ?project=" <<<"$got" || fail "no project: $got"
ok "no project in the URI: 22023"

# --- (4) outage: killed, then frozen; cached keys bridge the TTL, then 58000; recovery -----------
open_session 3 -v VERBOSITY=verbose
ask 3 "SET kms.tenant = 'acme';" >/dev/null
# poll_until_fails LIMIT: decrypt in session 3 until it fails; sets t_fail, max_call, got.
poll_until_fails() {
    local start=$EPOCHREALTIME t
    max_call=0
    while :; do
        t=$EPOCHREALTIME
        got=$(ask 3 "SELECT kms.decrypt('$v');")
        t=$(since "$t")
        le "$t" "$max_call" || max_call=$t
        [ "$got" = "hello barbican" ] || break
        le "$(since "$start")" "$1" || fail "still decrypting $1 s after the outage began"
        sleep 0.2
    done
    t_fail=$(since "$start")
}
poll_until_works() {
    local start=$EPOCHREALTIME
    while :; do
        got=$(ask 3 "SELECT kms.decrypt('$v');")
        [ "$got" != "hello barbican" ] || break
        le "$(since "$start")" "$1" || fail "not recovered $1 s after the server came back: $got"
        sleep 0.2
    done
    t_back=$(since "$start")
}

[ "$(ask 3 "SELECT kms.decrypt('$v');")" = "hello barbican" ] || fail "session 3 before outage"
stop_barbican
poll_until_fails $((TTL + 3))
grep -q "58000: barbican keyring .*\(no usable answer\|unavailable\)" <<<"$got" ||
    fail "outage: $got"
killed_fail=$t_fail killed_call=$max_call
t=$EPOCHREALTIME
got=$(ask 3 "SELECT kms.decrypt('$v');")
killed_next=$(since "$t")
grep -q 58000 <<<"$got" || fail "outage, next call: $got"
ok "server killed: cached key served until the TTL, then 58000 after ${killed_fail} s (TTL $TTL s); slowest call ${killed_call} s, next ${killed_next} s: ${got%%$'\n'*}"
start_barbican
poll_until_works 6
killed_back=$t_back
ok "server restarted: decrypts again by itself after ${killed_back} s"

[ "$(ask 3 "SELECT kms.decrypt('$v');")" = "hello barbican" ] || fail "before freeze"
kill -STOP "$bb_pid"
poll_until_fails $((TTL + 8))
grep -q "58000: barbican keyring .*\(no usable answer\|unavailable\)" <<<"$got" ||
    fail "frozen: $got"
le "$max_call" 4.5 || fail "a call took ${max_call} s against a frozen server"
frozen_fail=$t_fail frozen_call=$max_call
ok "server frozen (SIGSTOP): 58000 after ${frozen_fail} s; no call hung: slowest ${frozen_call} s (timeout_ms=1500, retries=1): ${got%%$'\n'*}"
kill -CONT "$bb_pid"
poll_until_works 8
frozen_back=$t_back
ok "server thawed: decrypts again by itself after ${frozen_back} s"

# --- (3) revocation: the secret deleted in Barbican --------------------------------------------
[ "$(ask 3 "SELECT kms.decrypt('$v');")" = "hello barbican" ] || fail "before revocation"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "X-Project-Id: $proj" "$ref")
[ "$code" = 204 ] || fail "DELETE answered $code"
poll_until_fails $((TTL + 2))
revoked_fail=$t_fail
grep -q "58000: barbican keyring barbican+$base/$id: the secret does not exist" \
    <<<"$got" || fail "after revocation: $got"
le "$revoked_fail" $((TTL + 1)) || fail "revocation took ${revoked_fail} s (TTL $TTL s)"
ok "secret deleted: the open session fails closed after ${revoked_fail} s (bound: TTL $TTL s + one refresh): ${got%%$'\n'*}"
got=$(ask 3 "SELECT kms.decrypt('$v');")
grep -q 58000 <<<"$got" || fail "revoked key came back: $got"
got=$(sql -v VERBOSITY=verbose -c "SET kms.tenant = 'acme'" -c "SELECT kms.decrypt('$v')" 2>&1 ||
    true)
grep -q "58000: barbican keyring .*the secret does not exist" <<<"$got" || fail "new session: $got"
ok "and stays closed; a new session fails at once"
expect_fail "CLI after revocation" "the secret does not exist" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/x"
exec 3>&-
"$ROOT_DIR/scripts/pg-cluster.sh" stop "$cluster" >/dev/null
cluster=

# --- (6) root rotation: a Barbican root as kms.root_key_previous ------------------------------
# A second cluster starts on a Barbican root, then moves to a file root online
# (docs/root-rotation.md): while kms.root_key_previous names the Barbican secret, a session
# connected throughout keeps decrypting; kms.rotate_root() moves the versions; afterwards the
# Barbican secret can go.
cluster="$T/cluster2"
"$ROOT_DIR/scripts/pg-cluster.sh" start "$cluster" >/dev/null
source "$cluster/env"
own() { if [ "$(id -u)" -eq 0 ]; then chown postgres: "$@"; fi; }
openssl rand 32 >"$B/old-root.bin"
old_ref=$(store_secret "$B/old-root.bin" "$proj")
old_id=$(root_id_of "$B/old-root.bin")
old_uri="barbican+$old_ref?project=$proj&token_file=$T/pg-token&timeout_ms=1500&retries=1"
openssl rand -hex 32 >"$T/root2.key"
chmod 600 "$T/root2.key"
own "$T/root2.key"
file_id=$(printf 'pgkms root id v1' | openssl dgst -sha256 -mac HMAC \
    -macopt "hexkey:$(head -c 64 "$T/root2.key")" | awk '{ print substr($NF, 1, 16) }')
cat >>"$PGDATA/postgresql.conf" <<CONF
kms.root_key = '$old_uri'
kms.key_cache_ttl = $TTL
CONF
sql -c "SELECT pg_reload_conf()" >/dev/null
sql -c "CREATE EXTENSION pgkms"
w=$(sql -c "SELECT kms.encrypt('other tenant', 'other', 'c')")
[ "$(sql -c "SELECT keyring || ' ' || encode(root_id, 'hex') FROM kms.key_versions")" = \
    "barbican $old_id" ] || fail "the old root is not the Barbican secret"
open_session 4 -v VERBOSITY=verbose
ask 4 "SET kms.tenant = 'other';" >/dev/null
[ "$(ask 4 "SELECT kms.decrypt('$w', 'c');")" = "other tenant" ] || fail "session 4 at start"
cat >>"$PGDATA/postgresql.conf" <<CONF
kms.root_key = 'file:$T/root2.key'
kms.root_key_previous = '$old_uri'
CONF
sql -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
[ "$(ask 4 "SELECT kms.decrypt('$w', 'c');")" = "other tenant" ] ||
    fail "session 4 under kms.root_key_previous = barbican"
[ "$(sql -c "SELECT kms.rotate_root()")" = 1 ] || fail "rotate_root did not move one version"
[ "$(sql -c "SELECT keyring || ' ' || encode(root_id, 'hex') FROM kms.key_versions")" = \
    "file $file_id" ] || fail "the version did not move to the file root"
[ "$(ask 4 "SELECT kms.decrypt('$w', 'c');")" = "other tenant" ] || fail "session 4 after"
echo "kms.root_key_previous = ''" >>"$PGDATA/postgresql.conf"
sql -c "SELECT pg_reload_conf()" >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "X-Project-Id: $proj" "$old_ref")
[ "$code" = 204 ] || fail "DELETE of the old root answered $code"
[ "$(sql -c "SET kms.tenant = 'other'" -c "SELECT kms.decrypt('$w', 'c')")" = "other tenant" ] ||
    fail "a new session after the old root was deleted"
ok "root rotation: from Barbican root $old_id (kms.root_key_previous) to file root $file_id; a session connected throughout kept decrypting; the Barbican secret deleted afterwards, every value still decrypts"

# --- (7) a tenant-held key (HYOK) in the tenant's own Barbican secret -------------------------
# kms.root_key is the file; tenant hy's key is wrapped under a secret of hy's own project that
# only pgkms's service user may read (a Barbican ACL). hy revokes by deleting that ACL and
# restores by putting it back. Barbican's unauthenticated pipeline alone cannot show this: a
# request that names the secret's project and no role is an admin of that project, which no
# ACL limits, and one that names another project is refused for good. So pgkms authenticates
# with a token that the Keystone stand-in of barbican-wsgi.py resolves to user pgkms-svc of
# project pgkms-service, as Keystone would; Barbican's own policy decides from there. A
# deleted secret cannot come back under its uuid, so deletion is shown last, as the
# tenant's crypto-shredding.
hproj="hy-$RANDOM"
openssl rand 32 >"$B/hy.bin"
href=$(store_secret "$B/hy.bin" "$hproj" hy-owner)
hid=${href##*/}
hy_id=$(root_id_of "$B/hy.bin")
printf '%s\n' "$svc_token" >"$T/svc-token"
chmod 600 "$T/svc-token"
own "$T/svc-token"
acl='{"read": {"users": ["pgkms-svc"], "project-access": false}}'
# acl_put / acl_delete: what tenant hy's own administrator does in hy's project.
acl_put() {
    curl -sS -o /dev/null -w '%{http_code}' -X PUT "$href/acl" -H "X-Project-Id: $hproj" \
        -H 'X-User-Id: hy-owner' -H 'Content-Type: application/json' -d "$acl"
}
acl_delete() {
    curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$href/acl" -H "X-Project-Id: $hproj" \
        -H 'X-User-Id: hy-owner'
}
svc_read() {
    curl -sS -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $svc_token" \
        -H 'Accept: application/octet-stream' "$href/payload"
}
[ "$(svc_read)" = 403 ] || fail "pgkms-svc reads hy's secret before any ACL"
[ "$(acl_put)" = 200 ] || fail "ACL not set"
[ "$(svc_read)" = 200 ] || fail "pgkms-svc cannot read hy's secret through the ACL"
huri="barbican+$href?project=pgkms-service&token_file=$T/svc-token&timeout_ms=1500&retries=1"
hlabel="barbican keyring barbican+$base/$hid"
kid=$(sql -c "SELECT kms.create_key('hy', 'held', keyring => '$huri')")
[ "$(sql -c "SELECT keyring_uri FROM kms.keys WHERE key_id = '$kid'")" = "$huri" ] ||
    fail "kms.keys does not show hy's keyring"
[ "$(sql -c "SELECT keyring || ' ' || encode(root_id, 'hex') FROM kms.key_versions
             WHERE key_id = '$kid'")" = "barbican $hy_id" ] ||
    fail "hy's key is not wrapped under hy's Barbican secret"
hv=$(sql -c "SELECT kms.encrypt('held by hy', 'hy', 'c', 'held')")
[ "$(sql -c "SET kms.tenant = 'hy'" -c "SELECT kms.decrypt('$hv', 'c')")" = "held by hy" ] ||
    fail "hy's value does not decrypt"
w2=$(sql -c "SELECT kms.encrypt('other again', 'other', 'c')")
sql -c "SELECT convert_from(kms.export_keyring('hy'), 'UTF8')" >"$T/hy-keyring.json"
printf '%s' "$hv" | base64 -d >"$T/hv.kms"
PGKMS_KEYRING="$T/hy-keyring.json" PGKMS_ROOT_KEY="file:$T/root2.key" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=hy;key=held' -in "$T/hv.kms" -out "$T/hv.out" \
    -pkeyopt kms-context:c
[ "$(cat "$T/hv.out")" = "held by hy" ] || fail "CLI through hy's keyring"
ok "HYOK: kms.create_key(..., keyring => barbican URI) wraps hy's key under hy's secret (barbican $hy_id) while kms.root_key is a file; pgkms-svc reads it only through hy's ACL; SQL and the CLI decrypt"

# Session 5 uses hy's key all along; session 6 cached it once and then stays idle.
open_session 5 -v VERBOSITY=verbose
open_session 6 -v VERBOSITY=verbose
ask 5 "SET kms.tenant = 'hy';" >/dev/null
ask 6 "SET kms.tenant = 'hy';" >/dev/null
[ "$(ask 5 "SELECT kms.decrypt('$hv', 'c');")" = "held by hy" ] || fail "session 5 at start"
[ "$(ask 6 "SELECT kms.decrypt('$hv', 'c');")" = "held by hy" ] || fail "session 6 at start"
# poll_hy LIMIT: decrypts hy's value in session 5 until it fails; sets hy_fail, max_call, got.
poll_hy() {
    local start=$EPOCHREALTIME t
    max_call=0
    while :; do
        t=$EPOCHREALTIME
        got=$(ask 5 "SELECT kms.decrypt('$hv', 'c');")
        t=$(since "$t")
        le "$t" "$max_call" || max_call=$t
        [ "$got" = "held by hy" ] || break
        le "$(since "$start")" "$1" || fail "hy's key still decrypts $1 s after the revocation"
        sleep 0.2
    done
    hy_fail=$(since "$start")
}
# Bound: the TTL, plus 1 s in which fetches are shared, plus the request that is refused;
# 0.5 s of slack covers the polling step and psql.
bound=$(awk "BEGIN { print $TTL + 1.5 }")
[ "$(acl_delete)" = 200 ] || fail "ACL not deleted"
revoked_at=$EPOCHREALTIME
[ "$(svc_read)" = 403 ] || fail "Barbican still lets pgkms-svc read after the ACL went"
poll_hy $((TTL + 3))
acl_fail=$hy_fail acl_call=$max_call
grep -q "58000: $hlabel: access to the secret is denied for project pgkms-service (HTTP 403" \
    <<<"$got" || fail "after the ACL was deleted: $got"
le "$acl_fail" "$bound" || fail "revocation took ${acl_fail} s (bound ${bound} s)"
ok "ACL deleted: session 5 refused hy's key after ${acl_fail} s (bound: TTL $TTL s + 1 s + one request, ${bound} s with slack): ${got%%$'\n'*}"
got=$(ask 5 "SELECT kms.encrypt('more', 'hy', 'c', 'held');")
grep -q "58000: $hlabel" <<<"$got" || fail "session 5 encrypts for hy: $got"
# Session 6 last unwrapped hy's key before the revocation: past the bound it is closed too.
while ! le "$bound" "$(since "$revoked_at")"; do sleep 0.1; done
got=$(ask 6 "SELECT kms.decrypt('$hv', 'c');")
grep -q "58000: $hlabel" <<<"$got" || fail "idle session 6 decrypts past the bound: $got"
got=$(ask 6 "SELECT kms.encrypt('more', 'hy', 'c', 'held');")
grep -q "58000: $hlabel" <<<"$got" || fail "idle session 6 encrypts past the bound: $got"
for q in "SELECT kms.decrypt('$hv', 'c')" "SELECT kms.encrypt('x', 'hy', 'c', 'held')"; do
    got=$(sql -v VERBOSITY=verbose -c "SET kms.tenant = 'hy'" -c "$q" 2>&1 || true)
    grep -q "58000: $hlabel: access to the secret is denied" <<<"$got" ||
        fail "a new session ($q): $got"
done
expect_fail "CLI through hy's revoked keyring" "access to the secret is denied" \
    env PGKMS_KEYRING="$T/hy-keyring.json" PGKMS_ROOT_KEY="file:$T/root2.key" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=hy;key=held' -in "$T/hv.kms" -out "$T/x" \
    -pkeyopt kms-context:c
ok "no session encrypts or decrypts for hy: session 5, idle session 6 and new sessions get 58000 naming hy's keyring"
[ "$(ask 5 "SET kms.tenant = 'other'; SELECT kms.decrypt('$w2', 'c');")" = "other again" ] ||
    fail "tenant other affected in session 5"
[ "$(sql -c "SET kms.tenant = 'other'" -c "SELECT kms.decrypt('$w', 'c')")" = "other tenant" ] ||
    fail "tenant other affected in a new session"
sql -c "SELECT kms.encrypt('other still', 'other', 'c')" >/dev/null || fail "other cannot encrypt"
ok "tenant other, on the root key, is unaffected (session 5 and a new session encrypt and decrypt)"

[ "$(acl_put)" = 200 ] || fail "ACL not restored"
ask 5 "SET kms.tenant = 'hy';" >/dev/null
t=$EPOCHREALTIME
while :; do
    got=$(ask 5 "SELECT kms.decrypt('$hv', 'c');")
    [ "$got" != "held by hy" ] || break
    le "$(since "$t")" 3 || fail "hy's key not back 3 s after the ACL was restored: $got"
    sleep 0.2
done
acl_back=$(since "$t")
[ "$(ask 6 "SELECT kms.decrypt('$hv', 'c');")" = "held by hy" ] || fail "session 6 after restore"
[ "$(sql -c "SET kms.tenant = 'hy'" -c "SELECT kms.decrypt('$hv', 'c')")" = "held by hy" ] ||
    fail "a new session after restore"
hv2=$(sql -c "SELECT kms.encrypt('after restore', 'hy', 'c', 'held')")
[ "$(ask 5 "SELECT kms.decrypt('$hv2', 'c');")" = "after restore" ] || fail "new value"
ok "ACL restored: session 5 decrypts again after ${acl_back} s, idle session 6 and new sessions too; hy's values were never lost"

# Crypto-shredding: hy deletes its secret. It cannot come back under that uuid.
[ "$(ask 5 "SELECT kms.decrypt('$hv', 'c');")" = "held by hy" ] || fail "before deletion"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "X-Project-Id: $hproj" \
    -H 'X-User-Id: hy-owner' "$href")
[ "$code" = 204 ] || fail "DELETE of hy's secret answered $code"
poll_hy $((TTL + 3))
del_fail=$hy_fail
grep -q "58000: $hlabel: the secret does not exist (HTTP 404" <<<"$got" ||
    fail "after hy's secret was deleted: $got"
le "$del_fail" "$bound" || fail "deletion took ${del_fail} s (bound ${bound} s)"
got=$(sql -v VERBOSITY=verbose -c "SET kms.tenant = 'hy'" -c "SELECT kms.decrypt('$hv2', 'c')" \
    2>&1 || true)
grep -q "58000: $hlabel: the secret does not exist" <<<"$got" || fail "new session: $got"
[ "$(ask 5 "SET kms.tenant = 'other'; SELECT kms.decrypt('$w2', 'c');")" = "other again" ] ||
    fail "tenant other affected by the deletion"
ok "hy's secret deleted: session 5 refused after ${del_fail} s (bound ${bound} s), new sessions at once; tenant other unaffected"
exec 4>&- 5>&- 6>&-

echo "barbican timings (TTL $TTL s): revocation ${revoked_fail} s; killed: closed ${killed_fail} s, slowest call ${killed_call} s, back ${killed_back} s; frozen: closed ${frozen_fail} s, slowest call ${frozen_call} s, back ${frozen_back} s; HYOK: ACL deleted ${acl_fail} s (slowest call ${acl_call} s), ACL restored ${acl_back} s, secret deleted ${del_fail} s (bound ${bound} s)"
