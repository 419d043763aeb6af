# SPDX-License-Identifier: Apache-2.0
# Root rotation online: with the new root as kms.root_key and the old one as
# kms.root_key_previous, every session keeps working; kms.rotate_root() moves every tenant key
# version to the new root without touching data; afterwards the old root can go.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_rootrot
dropdb --if-exists "$db" && createdb "$db"
export PGDATABASE=$db
own() { if [ "$(id -u)" -eq 0 ]; then chown postgres: "$@"; fi; }
root_id() {
    printf 'pgkms root id v1' | openssl mac -digest SHA256 -macopt "hexkey:$(head -c 64 "$1")" HMAC |
        tr 'A-F' 'a-f' | cut -c1-16
}
reload() { sql -c "SELECT pg_reload_conf()" >/dev/null; sleep 0.3; }
old=$(sql -c "SHOW kms.root_key")
old=${old#file:}
new="$T/new-root.key"
openssl rand -hex 32 >"$new"
chmod 600 "$new"
own "$new"
# The directory must be readable by the server too.
chmod 755 "$T"

sql -c "CREATE EXTENSION pgkms"
sql <<'SQL' >/dev/null
CREATE TABLE vault (id int, tenant text, v kms.encrypted);
INSERT INTO vault SELECT g, t, kms.encrypt('value ' || g, t, 'vault:' || g)
  FROM generate_series(1, 20) g, (VALUES ('r-a'), ('r-b')) v(t) WHERE (g % 2 = 0) = (t = 'r-a');
SELECT kms.rotate_key(key_id) FROM kms.keys WHERE tenant = 'r-a';
INSERT INTO vault SELECT 100 + g, 'r-a', kms.encrypt('late ' || g, 'r-a', 'vault:' || (100 + g))
  FROM generate_series(1, 3) g;
SQL
check_all() { # expected count of readable values
    sql -c "SELECT count(*) FILTER (WHERE kms.decrypt(v, 'vault:' || id) IS NOT NULL)
              FROM vault, LATERAL set_config('kms.tenant', tenant, true) s"
}
n=$(sql -c "SELECT count(*) FROM vault")
[ "$(check_all)" = "$n" ] || fail "not every value decrypts before the rotation"
[ "$(sql -c "SELECT count(DISTINCT root_id) FROM kms.key_versions")" = 1 ] || fail "one root expected"

# A session that stays connected through the whole rotation.
open_session 3
ask 3 "SET kms.tenant = 'r-a';" >/dev/null
v1=$(sql -c "SELECT v FROM vault WHERE id = 2")
[ "$(ask 3 "SELECT kms.decrypt('$v1', 'vault:2');")" = "value 2" ] || fail "session A at start"

got=$(sql -c "SELECT kms.rotate_root()" 2>&1 || true)
grep -q "kms.root_key_previous is not set" <<<"$got" || fail "rotate_root without a previous root: $got"
ok "kms.rotate_root() refuses to run before the new and old roots are configured"

sql -c "LOAD 'pgkms'" -c "ALTER SYSTEM SET kms.root_key = 'file:$new'" -c "ALTER SYSTEM SET kms.root_key_previous = 'file:$old'"
reload
[ "$(ask 3 "SELECT kms.decrypt('$v1', 'vault:2');")" = "value 2" ] || fail "session A after reload"
[ "$(check_all)" = "$n" ] || fail "values unreadable with both roots configured"
c=$(sql -c "SELECT kms.encrypt('under the new root', 'r-c')")
ok "with both roots configured, old values decrypt and new keys go under the new root"

got=$(sql -c "SELECT kms.rotate_root('file:/elsewhere.key')" 2>&1 || true)
grep -q "is not the configured kms.root_key" <<<"$got" || fail "wrong new root accepted: $got"
moved=$(sql -c "SELECT kms.rotate_root('file:$new')")
[ "$moved" = 3 ] || fail "expected 3 versions moved (r-a v1 and v2, r-b v1), got $moved"
[ "$(sql -c "SELECT string_agg(DISTINCT encode(root_id, 'hex'), ',') FROM kms.key_versions")" = \
    "$(root_id "$new")" ] || fail "versions left under the old root"
[ "$(sql -c "SELECT kms.rotate_root('file:$new')")" = 0 ] || fail "a second run moved something"
[ "$(ask 3 "SELECT kms.decrypt('$v1', 'vault:2');")" = "value 2" ] || fail "session A after rotate"
ok "kms.rotate_root() moved $moved versions to root $(root_id "$new"); a second run moves none; sessions kept working"

sql -c "LOAD 'pgkms'" -c "ALTER SYSTEM RESET kms.root_key_previous" >/dev/null
reload
mv "$old" "$old.retired"
[ "$(check_all)" = "$n" ] || fail "values unreadable after the old root is gone"
[ "$(ask 3 "SELECT kms.decrypt('$v1', 'vault:2');")" = "value 2" ] || fail "session A at end"
[ "$(sql -c "SET kms.tenant = 'r-c'" -c "SELECT kms.decrypt('$c')")" = "under the new root" ] ||
    fail "value made during the rotation"
ok "without the old root file, all $n values (two tenants, two versions) still decrypt; no value was rewritten"
[ "$(sql -c "SELECT count(*) FROM kms.audit_log WHERE operation = 'rotate_root' AND outcome = 'ok'")" = 2 ] ||
    fail "rotate_root not audited"

# The CLI: an export after the rotation works with the new root alone.
export PGKMS_ROOT_KEY="file:$new" PGKMS_KEYRING="$T/keyring.json"
sql -c "SELECT convert_from(kms.export_keyring('r-b'), 'UTF8')" >"$PGKMS_KEYRING"
sql -c "SELECT v FROM vault WHERE id = 1" | base64 -d >"$T/v.kms"
ossl pkeyutl $P -decrypt -inkey 'kms:tenant=r-b' -in "$T/v.kms" -out "$T/v.out" \
    -pkeyopt kms-context:vault:1
[ "$(cat "$T/v.out")" = "value 1" ] || fail "CLI with the new root"
ok "the CLI reads a value with a keyring exported after the rotation and the new root"

# Put things back for the suites that follow.
mv "$old.retired" "$old"
exec 3>&-
wait
sql -c "LOAD 'pgkms'" -c "ALTER SYSTEM RESET kms.root_key" >/dev/null
sql -c "LOAD 'pgkms'" -c "ALTER SYSTEM RESET kms.root_key_previous" >/dev/null
reload
dropdb "$db"
