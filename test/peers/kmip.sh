# SPDX-License-Identifier: Apache-2.0
# The kmip:// root keyring against a real PyKMIP server on 127.0.0.1 (KMIP 1.2, TLS 1.2, client
# certificates): CLI round trip, SQL across backends, outage and recovery, revocation within
# the TTL, bad inputs. Keys are created and revoked with PyKMIP's own client (kmip_admin.py).
source "$(dirname "$0")/../lib.sh"
need_cluster
[ -x /usr/bin/pykmip-server ] || { echo "no PyKMIP server (apt-get install python3-pykmip)"; exit 77; }
cd "$ROOT_DIR"
K="$T/kmip" c="$T/c"
TTL=6 TIMEOUT=2
SLACK=2 # for measuring: the loop below reads every 0.5 s, through psql, on a shared machine
mkdir -p "$K" && chmod 755 "$K"
server_pid=
# Killed, not terminated: PyKMIP's orderly stop waits up to 10 s per connection thread. The
# server runs in a process group of its own (setsid), so its worker processes go with it.
stop_server() {
    [ -n "$server_pid" ] || return 0
    kill -KILL -- -"$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}
trap 'exec 3>&- 2>/dev/null; stop_server; scripts/pg-cluster.sh stop "$c" >/dev/null 2>&1; rm -rf "$T"' EXIT

# Certificates: a CA, the server (IP 127.0.0.1), our client (clientAuth), and bad ones.
new_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
        -keyout "$K/$1.key" -out "$K/$1.pem" 2>/dev/null
}
new_cert() { # NAME CA CN EXTENSIONS
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
        -keyout "$K/$1.key" -out "$K/$1.csr" 2>/dev/null
    openssl x509 -req -in "$K/$1.csr" -CA "$K/$2.pem" -CAkey "$K/$2.key" -CAcreateserial -days 2 \
        -extfile <(printf '%b\n' "$4") -out "$K/$1.pem" 2>/dev/null
}
new_ca ca
new_ca other-ca
new_cert server ca 127.0.0.1 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'
new_cert client ca pgkms 'extendedKeyUsage=clientAuth'
new_cert stranger other-ca pgkms 'extendedKeyUsage=clientAuth'
new_cert server-only ca pgkms 'extendedKeyUsage=serverAuth'
chmod 600 "$K"/*.key
[ "$(id -u)" -ne 0 ] || chown postgres: "$K/client.key" # the database server reads it

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$K/server.conf" <<CONF
[server]
hostname=127.0.0.1
port=$port
certificate_path=$K/server.pem
key_path=$K/server.key
ca_path=$K/ca.pem
auth_suite=TLS1.2
enable_tls_client_auth=True
database_path=$K/kmip.db
logging_level=INFO
CONF
start_server() {
    # Without the session's descriptor 3 (psql's input) or any other of ours.
    setsid env -u OPENSSL_MODULES /usr/bin/python3 /usr/bin/pykmip-server -f "$K/server.conf" \
        -l "$K/server.log" </dev/null >>"$K/server.out" 2>&1 3>&- &
    server_pid=$!
    for _ in $(seq 150); do
        (exec 4<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$K/server.out"
    fail "the PyKMIP server does not listen on port $port"
}
start_server
export KMIP_DIR=$K KMIP_PORT=$port
# Python's cryptography loads OpenSSL providers too: not from the directory under test.
admin() { env -u OPENSSL_MODULES /usr/bin/python3 test/peers/kmip_admin.py "$@"; }
uid=$(admin create pgkms-root)
ok "PyKMIP server on 127.0.0.1:$port; AES-256 key $uid (named pgkms-root) created and activated"

files="ca=$K/ca.pem&cert=$K/client.pem&key=$K/client.key"
name="kmip://127.0.0.1:$port/pgkms-root"
uri="$name?$files&timeout=$TIMEOUT"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# 1. The CLI: encrypt and decrypt through the provider with the root on the KMIP server.
export PGKMS_KEYRING="$T/keyring.json"
head -c 100000 /dev/urandom >"$T/data"
PGKMS_ROOT_KEY=$uri ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/data" \
    -out "$T/data.kms"
PGKMS_ROOT_KEY=$uri ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" \
    -out "$T/data.out"
cmp -s "$T/data" "$T/data.out" || fail "CLI round trip changed the data"
grep -q '"keyring": "kmip"' "$T/keyring.json" || fail "the tenant key is not a kmip one"
PGKMS_ROOT_KEY="kmip://127.0.0.1:$port/$uid?$files" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/data.out2"
cmp -s "$T/data" "$T/data.out2" || fail "decrypting with the key's unique identifier"
root_id=$(sed -n 's/.*"root_id": "\([0-9a-f]*\)".*/\1/p' "$T/keyring.json")
[ "$(admin check "$uid" "$T/keyring.json")" = "$root_id 1" ] ||
    fail "PyKMIP's key material does not open the record as docs/keyrings-kmip.md says"
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
PGKMS_ROOT_KEY=$uri CHECKER=$vg ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' \
    -in "$T/data.kms" -out "$T/data.out3" || fail "decrypting under valgrind: exit $?"
cmp -s "$T/data" "$T/data.out3" || fail "decrypting under valgrind changed the data"
ok "openssl pkeyutl round trip (100 kB) with PGKMS_ROOT_KEY=kmip://...; by name and by id; valgrind clean"
ok "independent check: root id $root_id and the wrapped record follow from the key's material"

# 2. SQL on a cluster of its own with kms.root_key on the KMIP server and a short TTL.
scripts/pg-cluster.sh start "$c"
. "$c/env"
cat >>"$PGDATA/postgresql.conf" <<CONF
kms.root_key = '$uri'
kms.key_cache_ttl = $TTL
CONF
sql -c "SELECT pg_reload_conf()" >/dev/null
sql -c "CREATE EXTENSION pgkms"
sql -c "CREATE TABLE t (id int PRIMARY KEY, tenant text, v kms.encrypted)"
for i in 1 2 3 4 5 6; do # one backend per statement
    sql -c "INSERT INTO t VALUES ($i, 't$((i % 3))', kms.encrypt('value $i', 't$((i % 3))', 'row:$i'))"
done
# dec I [psql options]: value I decrypted by a new backend acting as its tenant, or the error.
dec() {
    local i=$1
    shift
    psql -XAtq -v VERBOSITY=verbose "$@" -c "SET kms.tenant = 't$((i % 3))'" \
        -c "SELECT kms.decrypt(v, 'row:$i') FROM t WHERE id = $i" 2>&1 || true
}
check_all() {
    local got
    for i in 1 2 3 4 5 6; do
        got=$(dec $i)
        [ "$got" = "value $i" ] || fail "$1: value $i does not decrypt: $got"
    done
}
check_all "several backends"
[ "$(sql -c "SELECT DISTINCT keyring || ' ' || encode(root_id, 'hex') FROM kms.key_versions")" = \
  "kmip $root_id" ] || fail "SQL keys are not wrapped under the KMIP root $root_id"
sql -c "SELECT convert_from(kms.export_keyring(), 'UTF8')" >"$T/sql-keyring.json"
[ "$(admin check "$uid" "$T/sql-keyring.json")" = "$root_id 3" ] ||
    fail "the exported SQL keys do not open from the KMIP key's material"
ok "SQL: 3 tenants, 6 values, each written and read in its own backend; root id $root_id"

# A session that keeps its keys cached; errors with their SQLSTATE.
open_session 3
ask 3 '\set VERBOSITY verbose' >/dev/null
ask 3 "SET kms.tenant = 't1';" >/dev/null
read_v1() { ask 3 "SELECT kms.decrypt(v, 'row:1') FROM t WHERE id = 1;"; }
want="value 1"
# watch: reads value 1 every 0.5 s until it fails; sets last_ok, first_fail (seconds since $1),
# slowest (longest statement), waited (statements over 1 s, that waited for the server) and err
# (the error). read_v1 and want may be redefined to watch another value.
watch() {
    local start=$1 s out d
    last_ok=0 first_fail= slowest=0 waited=0 err=
    while le "$(since "$start")" 40; do
        s=$(now)
        out=$(read_v1)
        d=$(since "$s")
        le "$d" "$slowest" || slowest=$d
        le "$d" 1 || waited=$((waited + 1)) # TIMEOUT is 2
        if [ "$out" = "$want" ]; then
            last_ok=$(since "$start")
        else
            first_fail=$(since "$start") err=$out
            return 0
        fi
        sleep 0.5
    done
    fail "still decrypting 40 s after $2"
}

# 4a. Outage, server frozen (SIGSTOP: TCP connects, TLS never answers).
[ "$(read_v1)" = "value 1" ] || fail "session cannot read value 1"
loaded=$(now)
kill -STOP "$server_pid"
watch "$loaded" "the server froze"
grep -q "ERROR:  58000: KMIP keyring $name: .*timed out" <<<"$err" || fail "frozen server: $err"
# One use after TTL/2 waits TIMEOUT for the refresh; then the hold-down (2 s) answers at once,
# so the next uses neither wait nor reach the server (docs/keyrings-kmip.md).
le "$first_fail" $((TTL + TIMEOUT + SLACK)) || fail "frozen server: failed only after ${first_fail}s"
le $((TTL / 2)) "$last_ok" || fail "frozen server: cached key served only ${last_ok}s"
le "$slowest" $((TIMEOUT + 1)) || fail "frozen server: a statement took ${slowest}s"
[ "$waited" -le 1 ] || fail "frozen server: $waited statements waited for it, not one"
ok "server frozen: cached key served ${last_ok}s, then 58000 at ${first_fail}s (TTL $TTL); $waited statement waited, ${slowest}s (timeout $TIMEOUT)"
echo "  $(head -n 1 <<<"$err")"
kill -CONT "$server_pid"
# recovers: the same session reads value 1 again within the hold-down (2 s) and slack.
recovers() {
    local s
    s=$(now)
    until [ "$(read_v1)" = "value 1" ]; do
        le "$(since "$s")" $((2 + SLACK)) || fail "no recovery $((2 + SLACK))s after $1"
        sleep 0.2
    done
    ok "$1: the same session decrypts again by itself ($(since "$s")s)"
}
recovers "server resumed"

# 4b. Outage, server stopped (killed: connection refused).
loaded=$(now)
stop_server
watch "$loaded" "the server stopped"
grep -q "ERROR:  58000: KMIP keyring $name: \(unavailable (\)\?could not connect to 127.0.0.1 port $port: Connection refused" \
    <<<"$err" || fail "stopped server: $err"
le "$first_fail" $((TTL + SLACK)) || fail "stopped server: failed only after ${first_fail}s"
ok "server stopped: cached key served ${last_ok}s, then 58000 at ${first_fail}s; slowest statement ${slowest}s"
got=$(dec 2)
grep -q "ERROR:  58000: KMIP keyring $name: could not connect" <<<"$got" || fail "new backend: $got"
[ "$(ask 3 "SELECT kms.mask_phone('13812345678'), count(*) FROM t;")" = "138****5678|6" ] ||
    fail "masking and plain queries fail during the outage"
ok "during the outage a new backend gets 58000 at once; masking and plain SQL still work"
start_server
recovers "server restarted"
check_all "after the outage"
ok "no data lost: every value decrypts in new backends"

# 5. Bad inputs: clear errors that name the keyring, nothing written.
expect_root_fail() { # what pattern uri
    expect_fail "$1" "$2" env PGKMS_ROOT_KEY="$3" \
        openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/o"
    [ ! -s "$T/o" ] || fail "$1: wrote output"
    grep -q "KMIP keyring kmip://" "$T/err" || fail "$1: the error does not name the keyring"
}
expect_root_fail "wrong CA" "$name: TLS handshake with 127.0.0.1 port $port: server certificate not trusted" \
    "$name?ca=$K/other-ca.pem&cert=$K/client.pem&key=$K/client.key"
rc=0
PGKMS_ROOT_KEY="$name?ca=$K/other-ca.pem&cert=$K/client.pem&key=$K/client.key" CHECKER=$vg \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/data.kms" -out "$T/o" 2>"$T/err" ||
    rc=$?
[ $rc -eq 1 ] || { cat "$T/err"; fail "wrong CA under valgrind: exit $rc"; }
ok "wrong CA under valgrind: no memory error, no leak"
expect_root_fail "system trust store only" "server certificate not trusted" \
    "$name?cert=$K/client.pem&key=$K/client.key"
expect_root_fail "client certificate from another CA" "the server refused the connection (tlsv1 alert unknown ca)" \
    "$name?ca=$K/ca.pem&cert=$K/stranger.pem&key=$K/stranger.key"
expect_root_fail "client certificate without clientAuth" "the server refused the connection" \
    "$name?ca=$K/ca.pem&cert=$K/server-only.pem&key=$K/server-only.key"
expect_root_fail "server name not in its certificate" "server certificate not trusted: hostname mismatch" \
    "kmip://localhost:$port/pgkms-root?$files"
expect_root_fail "wrong key" "kmip://127.0.0.1:$port/no-such-key: no key is named \"no-such-key\" or has it as unique identifier" \
    "kmip://127.0.0.1:$port/no-such-key?$files"
expect_root_fail "unreachable port" "kmip://127.0.0.1:1/pgkms-root: could not connect to 127.0.0.1 port 1: Connection refused" \
    "kmip://127.0.0.1:1/pgkms-root?$files"
cp "$K/client.key" "$K/loose.key"
chmod 644 "$K/loose.key"
expect_root_fail "client key readable by others" "is accessible by others (mode 644)" \
    "$name?ca=$K/ca.pem&cert=$K/client.pem&key=$K/loose.key"
expect_root_fail "client key of another certificate" "does not match the client certificate" \
    "$name?ca=$K/ca.pem&cert=$K/client.pem&key=$K/stranger.key"
expect_fail "unknown URI parameter" 'unknown parameter "password"' env \
    PGKMS_ROOT_KEY="$uri&password=x" openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' \
    -in "$T/data.kms" -out "$T/o"
got=$(dec 2 -c "SET kms.root_key = 'kmip://127.0.0.1:1/pgkms-root?$files'")
grep -q "ERROR:  58000: KMIP keyring kmip://127.0.0.1:1/pgkms-root: could not connect" <<<"$got" ||
    fail "SQL with an unreachable KMIP server: $got"
ok "SQL with an unreachable KMIP server: 58000 naming the keyring"
check_all "after the bad inputs"

# 3a. A tenant-held key (HYOK): tenant t-held's key is wrapped under a KMIP key of its own;
# when the tenant revokes that key, its values stop decrypting within the TTL in the session
# that has the key cached, new sessions are refused at once, and the other tenants go on.
held_uid=$(admin create t-held-kek)
held="kmip://127.0.0.1:$port/$held_uid?$files&timeout=$TIMEOUT"
held_kid=$(sql -c "SELECT kms.create_key('t-held', 'held', keyring => '$held')")
[ "$(sql -c "SELECT keyring_uri FROM kms.keys WHERE key_id = '$held_kid'")" = "$held" ] ||
    fail "kms.keys does not show the tenant's KMIP keyring"
sql -c "INSERT INTO t VALUES (7, 't-held', kms.encrypt('value 7', 't-held', 'row:7', 'held'))"
open_session 4
ask 4 '\set VERBOSITY verbose' >/dev/null
ask 4 "SET kms.tenant = 't-held';" >/dev/null
read_v1() { ask 4 "SELECT kms.decrypt(v, 'row:7') FROM t WHERE id = 7;"; }
want="value 7"
[ "$(read_v1)" = "$want" ] || fail "the tenant-held key does not decrypt"
ok "HYOK: tenant t-held's key is wrapped under its own KMIP key $held_uid"
admin revoke "$held_uid"
revoked=$(now)
watch "$revoked" "the tenant revoked its key"
grep -q "ERROR:  58000: KMIP keyring kmip://127.0.0.1:$port/$held_uid: key \"$held_uid\" is Deactivated, not Active" \
    <<<"$err" || fail "after the tenant's revocation: $err"
le "$first_fail" $((TTL + SLACK)) || fail "the tenant's revoked key still used ${first_fail}s later"
ok "HYOK revoked by the tenant: refused with 58000 after ${first_fail}s (bound: TTL $TTL s + one refresh)"
got=$(ask 4 "SELECT kms.encrypt('new', 't-held', 'row:8', 'held') IS NOT NULL;")
grep -q "ERROR:  58000: .*is Deactivated" <<<"$got" || fail "encrypting under the revoked key: $got"
got=$(psql -XAtq -c "SET kms.tenant = 't-held'" -c "SELECT kms.decrypt(v, 'row:7') FROM t WHERE id = 7" 2>&1 || true)
grep -q "is Deactivated, not Active" <<<"$got" || fail "new session after the tenant's revocation: $got"
[ "$(ask 4 "SET kms.tenant = 't1'; SELECT kms.decrypt(v, 'row:1') FROM t WHERE id = 1;")" = "value 1" ] ||
    fail "the tenant's revocation affected tenant t1"
check_all "after tenant t-held revoked its key"
ok "HYOK: the session and new ones cannot encrypt or decrypt for t-held; t0, t1, t2 unaffected"
exec 4>&-
read_v1() { ask 3 "SELECT kms.decrypt(v, 'row:1') FROM t WHERE id = 1;"; }
want="value 1"

# 3. Revocation on the server: the session with the key cached loses it within the TTL.
[ "$(read_v1)" = "value 1" ] || fail "session cannot read value 1 before revocation"
loaded=$(now)
admin revoke "$uid"
revoked=$(now)
watch "$revoked" "the key was revoked"
grep -q "ERROR:  58000: KMIP keyring $name: key \"$uid\" is Deactivated, not Active" <<<"$err" ||
    fail "after revocation: $err"
le "$first_fail" $((TTL + SLACK)) || fail "revoked key still used ${first_fail}s later"
ok "key revoked: refused with 58000 after ${first_fail}s (TTL $TTL)"
echo "  $(head -n 1 <<<"$err")"
got=$(dec 3)
grep -q "ERROR:  58000: KMIP keyring $name: key \"$uid\" is Deactivated" <<<"$got" ||
    fail "new backend after revocation: $got"
expect_root_fail "CLI after revocation" "is Deactivated, not Active" "$uri"
[ "$(ask 3 "SELECT count(*) FROM t;")" = 7 ] || fail "plain SQL fails after revocation"
ok "after revocation new backends and the CLI are refused at once; plain SQL works"
admin destroy "$uid"
got=$(dec 3)
grep -q "ERROR:  58000: KMIP keyring $name: " <<<"$got" || fail "after destroy: $got"
grep -q 'no key is named "pgkms-root"' <<<"$got" || fail "after destroy: $got"
ok "key destroyed: $(head -n 1 <<<"${got#ERROR:  }")"
exec 3>&-
