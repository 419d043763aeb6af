# SPDX-License-Identifier: Apache-2.0
# The pkcs11 root against a real SoftHSM2 token: the openssl CLI, a root key that cannot leave
# the token, clear errors that lose nothing, fork/threads/outage, and SQL on a cluster whose
# kms.root_key is a pkcs11: URI, reading and writing the same bytes as the CLI.
source "$(dirname "$0")/../lib.sh"
need_cluster
module=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
    if [ -f "$m" ]; then module=$m && break; fi
done
if [ -z "$module" ] || ! command -v softhsm2-util >/dev/null || ! command -v pkcs11-tool >/dev/null
then
    echo "SoftHSM2 or OpenSC is not installed (make deps)"
    exit 77
fi
check="$ROOT_DIR/build/test/pkcs11-check"
[ -x "$check" ] || fail "$check is missing (make build/test/pkcs11-check)"
cd "$ROOT_DIR"

# A private token: its own SoftHSM configuration and token directory. PINs travel in the
# environment (pkcs11-tool's env:NAME), never on a command line.
H="$T/hsm"
mkdir -p "$H/tokens"
cat >"$H/softhsm2.conf" <<CONF
directories.tokendir = $H/tokens
objectstore.backend = file
log.level = ERROR
CONF
export SOFTHSM2_CONF="$H/softhsm2.conf"
TEST_SO_PIN=$(openssl rand -hex 8)
TEST_PIN=$(openssl rand -hex 6)
export TEST_SO_PIN TEST_PIN
p11() {
    pkcs11-tool --module "$module" "$@" >"$T/p11.out" 2>&1 || { cat "$T/p11.out" >&2; return 1; }
}
as_user() { p11 --token-label "pgkms root" --login --pin env:TEST_PIN "$@"; }
# In a fresh token directory the only slot is the free one: index 0.
p11 --slot-index 0 --init-token --label "pgkms root" --so-pin env:TEST_SO_PIN
p11 --token-label "pgkms root" --login --login-type so --so-pin env:TEST_SO_PIN --init-pin \
    --new-pin env:TEST_PIN
as_user --keygen --key-type AES:32 --label tenant-root --id 01 --sensitive
as_user --keygen --key-type AES:32 --label other-root --id 02 --sensitive
as_user --keygen --key-type AES:32 --label exportable --id 03 --sensitive --extractable
as_user --keygen --key-type AES:32 --label kek --id 04 --usage-wrap
as_user --keygen --key-type AES:16 --label short --id 05 --sensitive
as_user --keygen --key-type AES:32 --label twin --id 06 --sensitive
as_user --keygen --key-type AES:32 --label twin --id 07 --sensitive
(umask 077 && printf '%s\n' "$TEST_PIN" >"$H/pin")
serial=$(softhsm2-util --show-slots | sed -n 's/^ *Serial number: *\([0-9a-f][0-9a-f]*\) *$/\1/p')
[ -n "$serial" ] || fail "no token serial"
ok "token \"pgkms root\" (serial $serial) with a non-extractable AES-256 key \"tenant-root\""

mod="module-path=$module"
uri="pkcs11:token=pgkms%20root;object=tenant-root?$mod&pin-source=file:$H/pin"
export PGKMS_ROOT_KEY=$uri PGKMS_KEYRING="$T/keyring.json"
keyring_field() { # keyring_field FILE TENANT FIELD: the field of that tenant's version 1
    python3 -c 'import json, sys
ks = [k for k in json.load(open(sys.argv[1]))["keys"] if k["tenant"] == sys.argv[2]]
print(ks[0]["versions"][0][sys.argv[3]])' "$@"
}

# 1. The CLI: a tenant key is created, wrapped in the token, and values round-trip.
printf '13812345678' >"$T/phone"
head -c 1048576 /dev/urandom >"$T/blob"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/phone" -out "$T/phone.kms"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:blob -in "$T/blob" \
    -out "$T/blob.kms"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/phone.kms" -out "$T/phone.out"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:blob -in "$T/blob.kms" \
    -out "$T/blob.out"
cmp "$T/phone" "$T/phone.out" || fail "phone number round trip"
cmp "$T/blob" "$T/blob.out" || fail "1 MiB round trip"
[ "$(keyring_field "$T/keyring.json" acme keyring)" = pkcs11 ] || fail "keyring kind is not pkcs11"
root_id=$(keyring_field "$T/keyring.json" acme root_id)
grep -Eqx '[0-9a-f]{16}' <<<"$root_id" || fail "root id '$root_id'"
ok "openssl pkeyutl -encrypt/-decrypt round-trip through the token (keyring pkcs11, root $root_id)"
ossl storeutl $P -noout -text 'kms:tenant=acme' >"$T/store.txt"
grep -q "keyring pkcs11, root $root_id" "$T/store.txt" || fail "storeutl: $(cat "$T/store.txt")"
ok "openssl storeutl -text shows keyring pkcs11 and the root id"

# The same key named other ways (PIN from the environment, id, serial, type, manufacturer) and
# through the provider's openssl.cnf section: the same root id, so the value decrypts.
decrypts_with() {
    env PGKMS_ROOT_KEY="$1" openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' \
        -in "$T/phone.kms" -out "$T/o" && cmp -s "$T/phone" "$T/o" || fail "decrypt with $1"
}
decrypts_with "pkcs11:token=pgkms%20root;object=tenant-root?$mod&pin-source=env:TEST_PIN"
PGKMS_PKCS11_PIN=$TEST_PIN decrypts_with "pkcs11:token=pgkms%20root;object=tenant-root?$mod"
decrypts_with "pkcs11:object=tenant-root;id=%01;token=pgkms%20root;type=secret-key?$mod&pin-source=$H/pin"
decrypts_with "pkcs11:token=pgkms%20root;serial=$serial;manufacturer=SoftHSM%20project;object=tenant%2droot?pin-source=file://$H/pin&$mod"
cat >"$T/p11.cnf" <<CNF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pgkms = pgkms_sect
[default_sect]
activate = 1
[pgkms_sect]
activate = 1
root_key = $uri
keyring = $T/keyring.json
CNF
env -u PGKMS_ROOT_KEY -u PGKMS_KEYRING OPENSSL_CONF="$T/p11.cnf" openssl pkeyutl -decrypt \
    -inkey 'kms:tenant=acme' -in "$T/phone.kms" -out "$T/o"
cmp -s "$T/phone" "$T/o" || fail "decrypt with root_key in openssl.cnf"
ok "PIN from env:NAME and PGKMS_PKCS11_PIN, id/serial/type/manufacturer, root_key in openssl.cnf"

# The wrapping is bound to tenant, key and version inside the token too.
python3 - "$T/keyring.json" "$T/moved.json" <<'PY'
import json, sys
kr = json.load(open(sys.argv[1]))
for k in kr["keys"]:
    k["tenant"] = "mallory"
json.dump(kr, open(sys.argv[2], "w"))
PY
expect_fail "a key record moved to another tenant" "does not unwrap" \
    env PGKMS_KEYRING="$T/moved.json" openssl pkeyutl $P -encrypt -inkey 'kms:tenant=mallory' \
    -in "$T/phone" -out "$T/o"
python3 - "$T/keyring.json" "$T/flipped.json" <<'PY'
import base64, json, sys
kr = json.load(open(sys.argv[1]))
v = kr["keys"][0]["versions"][0]
w = bytearray(base64.b64decode(v["wrapped"]))
w[20] ^= 1
v["wrapped"] = base64.b64encode(bytes(w)).decode()
json.dump(kr, open(sys.argv[2], "w"))
PY
expect_fail "a wrapped key with one bit flipped" "does not unwrap" \
    env PGKMS_KEYRING="$T/flipped.json" openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' \
    -in "$T/phone.kms" -out "$T/o"
[ ! -s "$T/o" ] || fail "output written for a record that does not unwrap"

# 2. The root key cannot leave the token; the same commands work on an extractable key.
as_user --list-objects --type secrkey --label tenant-root
grep -q 'Access: *sensitive, always sensitive, never extractable' "$T/p11.out" ||
    fail "tenant-root attributes: $(cat "$T/p11.out")"
expect_fail "reading the root key's value" CKR_ATTRIBUTE_SENSITIVE \
    as_user --read-object --type secrkey --label tenant-root -o "$T/leak"
[ ! -s "$T/leak" ] || fail "the root key's value was written out"
expect_fail "wrapping the root key out of the token" CKR_KEY_UNEXTRACTABLE \
    as_user --wrap --id 04 --application-id 01 --mechanism AES-KEY-WRAP -o "$T/leak"
[ ! -s "$T/leak" ] || fail "the root key was wrapped out"
as_user --wrap --id 04 --application-id 03 --mechanism AES-KEY-WRAP -o "$T/exported"
[ -s "$T/exported" ] || fail "the extractable key did not wrap: the check above proves nothing"
ok "tenant-root is sensitive and never extractable: its value cannot be read or wrapped out"

# Errors: each is clear, names token/object (never the PIN), writes nothing and loses nothing.
before=$(sha256sum <"$T/keyring.json")
bad() { # bad "what" "reason" "pattern" URI
    expect_fail "$1" "$3" env PGKMS_ROOT_KEY="$4" \
        openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/phone.kms" -out "$T/o"
    grep -q "pgkms::$2::" "$T/err" || fail "$1: not \"$2\": $(cat "$T/err")"
    ! grep -q -e "$TEST_PIN" -e 0000000000 "$T/err" || fail "$1: the error shows a PIN"
    [ ! -s "$T/o" ] || fail "$1: output written"
    # A new tenant's first use must not leave a key behind that no root can unwrap.
    if env PGKMS_ROOT_KEY="$4" openssl pkeyutl $P -encrypt -inkey 'kms:tenant=newco' \
        -in "$T/phone" -out "$T/o" 2>/dev/null; then
        fail "$1: encrypt for a new tenant succeeded"
    fi
}
(umask 077 && echo 0000000000 >"$T/wrong.pin")
bad "wrong PIN" "root key unavailable" \
    'wrong PIN for token "pgkms root" (PIN from PIN file' \
    "pkcs11:token=pgkms%20root;object=tenant-root?$mod&pin-source=file:$T/wrong.pin"
cp "$H/pin" "$T/open.pin" && chmod 644 "$T/open.pin"
bad "PIN file readable by others" "root key unavailable" "accessible by group or others" \
    "pkcs11:token=pgkms%20root;object=tenant-root?$mod&pin-source=file:$T/open.pin"
bad "PIN variable unset" "root key unavailable" \
    'environment variable NO_SUCH_PIN (pin-source) is not set' \
    "pkcs11:token=pgkms%20root;object=tenant-root?$mod&pin-source=env:NO_SUCH_PIN"
bad "no PIN at all" "root key unavailable" 'needs a PIN: set environment variable PGKMS_PKCS11_PIN' \
    "pkcs11:token=pgkms%20root;object=tenant-root?$mod"
bad "missing token" "root key unavailable" "no token labelled \"no such\" in PKCS#11 module" \
    "pkcs11:token=no%20such;object=tenant-root?$mod&pin-source=file:$H/pin"
bad "token with another serial" "root key unavailable" 'with serial "0000"' \
    "pkcs11:token=pgkms%20root;serial=0000;object=tenant-root?$mod&pin-source=file:$H/pin"
bad "missing object" "root key unavailable" 'token "pgkms root" has no key labelled "nope"' \
    "pkcs11:token=pgkms%20root;object=nope?$mod&pin-source=file:$H/pin"
bad "object with another id" "root key unavailable" 'no key labelled "tenant-root" with the URI' \
    "pkcs11:token=pgkms%20root;object=tenant-root;id=%09?$mod&pin-source=file:$H/pin"
bad "missing module" "root key unavailable" "could not load PKCS#11 module \"$T/none.so\"" \
    "pkcs11:token=pgkms%20root;object=tenant-root?module-path=$T/none.so&pin-source=file:$H/pin"
bad "extractable key" "root key unavailable" '"exportable" in token "pgkms root" can leave' \
    "pkcs11:token=pgkms%20root;object=exportable?$mod&pin-source=file:$H/pin"
bad "key that is not sensitive" "root key unavailable" '"kek" in token "pgkms root" can leave' \
    "pkcs11:token=pgkms%20root;object=kek?$mod&pin-source=file:$H/pin"
bad "AES-128 key" "root key unavailable" 'is not an AES-256 key (16 bytes)' \
    "pkcs11:token=pgkms%20root;object=short?$mod&pin-source=file:$H/pin"
bad "two keys with one label" "invalid argument" 'several AES keys are labelled "twin"' \
    "pkcs11:token=pgkms%20root;object=twin?$mod&pin-source=file:$H/pin"
other_id=$(PGKMS_ROOT_KEY="pkcs11:token=pgkms%20root;object=twin;id=%07?$mod&pin-source=file:$H/pin" \
    PGKMS_KEYRING="$T/twin.json" openssl pkeyutl $P -encrypt -inkey 'kms:tenant=t' \
    -in "$T/phone" -out "$T/o" && keyring_field "$T/twin.json" t root_id)
[ "$other_id" != "$root_id" ] || fail "two keys have one root id"
expect_fail "another key of the token" \
    "wrapped under root key $root_id, but the configured root key (pkcs11:token=pgkms%20root;object=other-root) is " \
    env PGKMS_ROOT_KEY="pkcs11:token=pgkms%20root;object=other-root?$mod&pin-source=file:$H/pin" \
    openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/phone.kms" -out "$T/o"
[ ! -s "$T/o" ] || fail "output written under another root key"
bad "PIN in the URI" "invalid argument" '"pin-value" is not accepted' \
    "pkcs11:token=pgkms%20root;object=tenant-root?$mod&pin-value=$TEST_PIN"
bad "token by slot" "invalid argument" "not its slot" \
    "pkcs11:slot-id=0;object=tenant-root?$mod&pin-source=file:$H/pin"
bad "space not percent-encoded" "invalid argument" 'byte 0x20 in attribute "token" must be' \
    "pkcs11:token=pgkms root;object=tenant-root?$mod&pin-source=file:$H/pin"
[ "$(sha256sum <"$T/keyring.json")" = "$before" ] || fail "the keyring changed"
decrypts_with "$uri"
ok "after every error the keyring is unchanged and the value still decrypts"

# 3. Fork (both SoftHSM fork behaviours), threads sharing one session, and a token outage;
# under valgrind where it is quick, also for an error path of the CLI.
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
"${vg[@]}" --trace-children=yes "$check" fork "$uri"
sed 's/^log.level.*/library.reset_on_fork = true/' "$H/softhsm2.conf" >"$H/reset.conf"
SOFTHSM2_CONF="$H/reset.conf" "$check" fork "$uri" | sed 's/$/ (library.reset_on_fork)/'
"$check" threads "$uri"
"${vg[@]}" "$check" outage "$uri"
expect_fail "missing token, under valgrind" "no token labelled" env \
    PGKMS_ROOT_KEY="pkcs11:token=none;object=tenant-root?$mod&pin-source=file:$H/pin" \
    "${vg[@]}" openssl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/phone.kms" -out "$T/o"
! grep -q '^==[0-9]*==' "$T/err" || fail "valgrind: $(cat "$T/err")"

# 4. SQL on a cluster of its own, kms.root_key = the pkcs11 URI in postgresql.conf. The server
# inherits SOFTHSM2_CONF; as root, it runs as postgres, which must own the token and PIN file.
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$H"; fi
c="$T/c"
trap 'scripts/pg-cluster.sh stop "$c" >/dev/null 2>&1; rm -rf "$T"' EXIT
scripts/pg-cluster.sh start "$c"
. "$c/env"
echo "kms.root_key = '$uri'" >>"$PGDATA/postgresql.conf"
sql -c "SELECT pg_reload_conf()" >/dev/null
export PGDATABASE=pkcs11
createdb "$PGDATABASE"
sql -c "CREATE EXTENSION pgkms"
[ "$(sql -c "SHOW kms.root_key")" = "$uri" ] || fail "kms.root_key is $(sql -c "SHOW kms.root_key")"
sql -c "CREATE TABLE t (id int, v kms.encrypted)"

# Eight backends at once, each its own session with the token: the first ones race to create
# the tenant's key, all of them wrap or unwrap through the token.
pids=()
for i in $(seq 8); do
    sql -c "INSERT INTO t VALUES ($i, kms.encrypt('value $i', 'acme', 'row:$i'))" \
        >"$T/ins$i.out" 2>&1 &
    pids+=($!)
done
for i in $(seq 8); do wait "${pids[$((i - 1))]}" || fail "insert $i: $(cat "$T/ins$i.out")"; done
want=$(seq -f 'value %g' 8 | paste -sd,)
pids=()
for i in $(seq 8); do
    sql -c "SET kms.tenant = 'acme'" \
        -c "SELECT string_agg(kms.decrypt(v, 'row:' || id), ',' ORDER BY id) FROM t" \
        >"$T/sel$i.out" 2>&1 &
    pids+=($!)
done
for i in $(seq 8); do
    wait "${pids[$((i - 1))]}" || fail "select $i: $(cat "$T/sel$i.out")"
    [ "$(cat "$T/sel$i.out")" = "$want" ] || fail "backend $i read: $(cat "$T/sel$i.out")"
done
[ "$(sql -c "SELECT count(*) FROM kms.keys WHERE tenant = 'acme'")" = 1 ] || fail "acme has two keys"
ok "8 concurrent backends encrypt through the token, 8 more decrypt all 8 values"
got=$(sql -c "SELECT string_agg(DISTINCT keyring || ' ' || encode(root_id, 'hex'), ',')
              FROM kms.key_versions")
[ "$got" = "pkcs11 $root_id" ] || fail "kms.key_versions says '$got', want 'pkcs11 $root_id'"
ok "kms.key_versions: keyring 'pkcs11', the CLI's root id $root_id (same key, other process)"

# SQL -> CLI and CLI -> SQL, with the exported keyring and the same URI.
sql -c "SELECT convert_from(kms.export_keyring('acme'), 'UTF8')" >"$T/exported.json"
sql -c "SELECT v FROM t WHERE id = 3" | base64 -d >"$T/v3.kms"
PGKMS_KEYRING="$T/exported.json" ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' \
    -pkeyopt kms-context:row:3 -in "$T/v3.kms" -out "$T/v3.out"
[ "$(cat "$T/v3.out")" = "value 3" ] || fail "CLI read '$(cat "$T/v3.out")'"
printf 'from the CLI' >"$T/msg"
PGKMS_KEYRING="$T/exported.json" ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' \
    -pkeyopt kms-context:cli -in "$T/msg" -out "$T/msg.kms"
got=$(sql -c "SET kms.tenant = 'acme'" -c "SELECT kms.decrypt('$(base64 -w0 "$T/msg.kms")', 'cli')")
[ "$got" = "from the CLI" ] || fail "SQL read '$got'"
ok "SQL -> CLI and CLI -> SQL with the exported keyring and the same pkcs11 URI"

# Errors in SQL: 58000 for a root that is unavailable, 22023 for a bad URI, never the PIN.
sql_fails() { # sql_fails "what" "SQLSTATE: message" URI
    expect_fail "$1" "$2" sql -v VERBOSITY=verbose -c "SET kms.root_key = '$3'" \
        -c "SELECT kms.encrypt('x', 'acme')"
    ! grep -q -e "$TEST_PIN" -e 0000000000 "$T/err" || fail "$1: the error shows a PIN"
}
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$T/wrong.pin"; fi
sql_fails "wrong PIN in SQL" '58000: wrong PIN for token "pgkms root"' \
    "pkcs11:token=pgkms%20root;object=tenant-root?$mod&pin-source=file:$T/wrong.pin"
sql_fails "missing object in SQL" '58000: token "pgkms root" has no key labelled "nope"' \
    "pkcs11:token=pgkms%20root;object=nope?$mod&pin-source=file:$H/pin"
sql_fails "missing module in SQL" '58000: could not load PKCS#11 module' \
    "pkcs11:token=pgkms%20root;object=tenant-root?module-path=$T/none.so&pin-source=file:$H/pin"
sql_fails "PIN in the URI in SQL" '22023: pkcs11 URI: "pin-value" is not accepted' \
    "pkcs11:token=pgkms%20root;object=tenant-root?$mod&pin-value=0000000000"
got=$(sql -c "SET kms.tenant = 'acme'" -c "SELECT count(*) FROM t WHERE kms.decrypt(v, 'row:' || id) LIKE 'value _'")
[ "$got" = 8 ] || fail "after the errors, $got of 8 values decrypt"
ok "after the errors every value still decrypts"
