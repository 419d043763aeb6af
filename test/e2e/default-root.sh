# SPDX-License-Identifier: Apache-2.0
# The embedded default: with kms.root_key unset, $PGDATA/pgkms_root.key is created on first use.
source "$(dirname "$0")/../lib.sh"
need_cluster
c="$T/c"
trap 'scripts/pg-cluster.sh stop "$c" >/dev/null 2>&1; rm -rf "$T"' EXIT
(cd "$ROOT_DIR" && scripts/pg-cluster.sh start "$c")
. "$c/env"
sql -c "CREATE EXTENSION pgkms"
[ ! -e "$PGDATA/pgkms_root.key" ] || fail "root key exists before first use"
v=$(psql -XAtq -c "SELECT kms.encrypt('first', 'acme')" 2>"$T/err")
grep -q 'WARNING:  created root key file ".*pgkms_root.key" inside the data directory' "$T/err" ||
    fail "no warning on creation: $(cat "$T/err")"
ok "first use warns that it created the root key inside the data directory"
key="$PGDATA/pgkms_root.key"
[ "$(stat -c '%a %U' "$key")" = "600 $(stat -c %U "$PGDATA")" ] || fail "mode/owner $(stat -c '%a %U' "$key")"
grep -Eqx '[0-9a-f]{64}' "$key" || fail "root key file is not 64 hex characters"
ok "root key file: mode 600, owned by the server, 64 hex characters"
got=$(psql -XAtq -c "SET kms.tenant = 'acme'" -c "SELECT kms.decrypt('$v')" 2>"$T/err2")
[ "$got" = first ] || fail "second session read '$got'"
[ ! -s "$T/err2" ] || fail "second session warned again: $(cat "$T/err2")"
ok "a second session uses the same root silently"
sql -c "SELECT convert_from(kms.export_keyring(), 'UTF8')" >"$T/keyring.json"
printf '%s' "$v" | base64 -d >"$T/v.kms"
PGKMS_ROOT_KEY="file:$key" PGKMS_KEYRING="$T/keyring.json" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/v.kms" -out "$T/v.out"
[ "$(cat "$T/v.out")" = first ] || fail "CLI read '$(cat "$T/v.out")'"
ok "the CLI decrypts the value with the default root and the exported keyring"
