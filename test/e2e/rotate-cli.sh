# SPDX-License-Identifier: Apache-2.0
# After kms.rotate_key, the exported keyring lets the CLI read every version and write the new one.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_rotate
dropdb --if-exists "$db" && createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms"
sql -c "SELECT kms.encrypt('version one', 'rc')" | base64 -d >"$T/v1.kms"
kid=$(sql -c "SELECT key_id FROM kms.keys WHERE tenant = 'rc'")
[ "$(sql -c "SELECT kms.rotate_key('$kid')")" = 2 ] || fail "rotation did not give version 2"
sql -c "SELECT kms.encrypt('version two', 'rc')" | base64 -d >"$T/v2.kms"
export PGKMS_ROOT_KEY=$(sql -c "SHOW kms.root_key") PGKMS_KEYRING="$T/keyring.json"
sql -c "SELECT convert_from(kms.export_keyring('rc'), 'UTF8')" >"$PGKMS_KEYRING"
ossl storeutl $P -noout -text 'kms:tenant=rc' >"$T/describe"
grep -q 'current version: 2' "$T/describe" && grep -q 'version 1: keyring file' "$T/describe" &&
    grep -q 'version 2: keyring file' "$T/describe" || fail "storeutl: $(cat "$T/describe")"
ok "storeutl -text shows both versions and the current one"
for n in 1 2; do
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=rc' -in "$T/v$n.kms" -out "$T/v$n.out"
done
[ "$(cat "$T/v1.out")" = "version one" ] && [ "$(cat "$T/v2.out")" = "version two" ] ||
    fail "CLI read '$(cat "$T/v1.out")' and '$(cat "$T/v2.out")'"
ok "the CLI decrypts values of both versions"
printf 'from the CLI' >"$T/m"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=rc' -in "$T/m" -out "$T/m.kms"
[ "$(od -An -tu1 -j15 -N1 "$T/m.kms" | tr -d ' ')" = 2 ] || fail "CLI did not use version 2"
[ "$(sql -c "SET kms.tenant = 'rc'" -c "SELECT kms.decrypt('$(base64 -w0 "$T/m.kms")')")" = \
    "from the CLI" ] || fail "SQL could not read the CLI's value"
ok "the CLI encrypts under the current version, and SQL reads it"
expect_fail "encrypting under an old version" "older versions only decrypt" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=rc;version=1' -in "$T/m" -out "$T/o"

# A keyring exported after a state change carries it: the CLI refuses what SQL refuses.
sql -c "SELECT kms.create_key('rc', 'side')" >/dev/null
side=$(sql -c "SELECT key_id FROM kms.keys WHERE tenant = 'rc' AND alias = 'side'")
sql -c "SELECT kms.encrypt('side value', 'rc', NULL, 'side')" | base64 -d >"$T/side.kms"
sql -c "SELECT kms.disable_key('$side')" >/dev/null
sql -c "SELECT convert_from(kms.export_keyring('rc'), 'UTF8')" >"$PGKMS_KEYRING"
ossl storeutl $P -noout -text 'kms:tenant=rc;key=side' | grep -q 'state: Disabled' ||
    fail "storeutl does not show the Disabled state"
expect_fail "CLI decrypt under a disabled key" "is in state Disabled" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=rc' -in "$T/side.kms" -out "$T/o"
expect_fail "CLI encrypt with a disabled key" "is in state Disabled" \
    ossl pkeyutl $P -encrypt -inkey 'kms:tenant=rc;key=side' -in "$T/m" -out "$T/o"
dropdb "$db"
