# SPDX-License-Identifier: Apache-2.0
# kms.root_key unset: first use creates $PGDATA/pgkms_root.key (with a WARNING) that SQL and the CLI share.
source "$(dirname "$0")/../lib.sh"
need_cluster
c="$T/c2"
trap 'scripts/pg-cluster.sh stop "$c" >/dev/null 2>&1; rm -rf "$T"' EXIT
cd "$ROOT_DIR"
scripts/pg-cluster.sh start "$c"
. "$c/env"
export PGDATABASE=e2e_embedded
createdb "$PGDATABASE"
sql -c "CREATE EXTENSION pgkms"
if grep -q 'kms\.' "$PGDATA/postgresql.conf" "$PGDATA/postgresql.auto.conf"; then
    fail "kms.root_key is set in the fresh cluster"
fi
[ -z "$(sql -c "SELECT current_setting('kms.root_key', true)")" ] || fail "kms.root_key is set"
key="$PGDATA/pgkms_root.key"
[ ! -e "$key" ] || fail "root key file exists before first use"
ok "fresh cluster: kms.root_key unset, no root key file yet"

sql -c "CREATE TABLE t (id int, v kms.encrypted)"
psql -XAtq -v ON_ERROR_STOP=1 \
    -c "INSERT INTO t VALUES (1, kms.encrypt('embedded default ✓', 'acme', 'ctx:1'))" 2>"$T/err1"
grep -q "^WARNING:  created root key file \"$key\" inside the data directory" "$T/err1" ||
    fail "no WARNING naming $key at first use: $(cat "$T/err1")"
[ "$(grep -c WARNING "$T/err1")" = 1 ] || fail "more than one WARNING: $(cat "$T/err1")"
ok "the first kms.encrypt warns once that it created $key"

[ -f "$key" ] || fail "$key is not a regular file"
server_user=$(stat -c %U "$PGDATA")
[ "$(stat -c '%a %U' "$key")" = "600 $server_user" ] ||
    fail "root key file is $(stat -c '%a %U' "$key"), want 600 $server_user"
[ "$(stat -c %s "$key")" = 65 ] || fail "root key file has $(stat -c %s "$key") bytes, want 65"
grep -Eqx '[0-9a-f]{64}' "$key" || fail "root key file is not 64 hex characters"
[ "$(tail -c 1 "$key" | xxd -p)" = 0a ] || fail "root key file does not end in a newline"
[ "$(sql -c "SELECT string_agg(DISTINCT encode(root_id, 'hex'), ',') FROM kms.key_versions")" = \
  "$(printf 'pgkms root id v1' | openssl mac -digest SHA256 -macopt "hexkey:$(head -c 64 "$key")" HMAC |
     tr 'A-F' 'a-f' | cut -c1-16)" ] || fail "the key is not wrapped under the root in $key"
ok "root key file: mode 600, owned by $server_user, 64 hex characters + newline; it wraps the key"
before=$(sha256sum <"$key")

# A second session: no new warning, reads the value, and new tenants use the same root.
got=$(psql -XAtq -v ON_ERROR_STOP=1 -c "SET kms.tenant = 'acme'" \
    -c "SELECT kms.decrypt(v, 'ctx:1') FROM t WHERE id = 1" \
    -c "INSERT INTO t VALUES (2, kms.encrypt('second tenant', 'globex'))" 2>"$T/err2")
[ "$got" = 'embedded default ✓' ] || fail "second session read '$got'"
[ ! -s "$T/err2" ] || fail "second session printed: $(cat "$T/err2")"
[ "$(sha256sum <"$key")" = "$before" ] || fail "the root key file changed"
[ "$(sql -c "SELECT count(DISTINCT root_id) FROM kms.key_versions")" = 1 ] || fail "two roots in use"
ok "a second session decrypts silently; a new tenant there uses the same root file"

# The CLI: root = that file, keyring = the export; the value comes straight out of psql.
sql -c "SELECT convert_from(kms.export_keyring(), 'UTF8')" >"$T/keyring.json"
psql -XAtq -c "SELECT v FROM t WHERE id = 1" | base64 -d >"$T/v.kms"
PGKMS_ROOT_KEY="file:$key" PGKMS_KEYRING="$T/keyring.json" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:ctx:1 \
    -in "$T/v.kms" -out "$T/v.out"
[ "$(cat "$T/v.out")" = 'embedded default ✓' ] || fail "CLI read '$(cat "$T/v.out")'"
psql -XAtq -c "SELECT v FROM t WHERE id = 2" | base64 -d >"$T/v2.kms"
PGKMS_ROOT_KEY="file:$key" PGKMS_KEYRING="$T/keyring.json" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=globex' -in "$T/v2.kms" -out "$T/v2.out"
[ "$(cat "$T/v2.out")" = 'second tenant' ] || fail "CLI read '$(cat "$T/v2.out")'"
ok "openssl pkeyutl -decrypt -inkey kms:tenant=... reads both values with the default root file"
