# SPDX-License-Identifier: Apache-2.0
# ALTER EXTENSION pgkms UPDATE from 0.1.0 keeps every key and value, and leaves the same objects
# as a new installation.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_upgrade
for d in $db ${db}_new; do dropdb --if-exists "$d" && createdb "$d"; done
export PGDATABASE=$db

# A 0.1.0 database with a key (the format vectors' key, under their root) and a value.
sql -c "CREATE EXTENSION pgkms VERSION '0.1.0'"
cp "$ROOT_DIR/test/vectors/format_root.key" "$T/vroot.key"
chmod 600 "$T/vroot.key"
[ "$(id -u)" -ne 0 ] || chown postgres: "$T/vroot.key"
python3 - "$ROOT_DIR/test/vectors/format_keyring.json" >"$T/v010.sql" <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))["keys"][0]
v = k["versions"][0]
print(f"INSERT INTO kms.keys (key_id, tenant, is_default, current_version) "
      f"VALUES ('{k['key_id']}', '{k['tenant']}', true, 1);")
print(f"INSERT INTO kms.key_versions (key_id, version, keyring, root_id, wrapped) VALUES "
      f"('{k['key_id']}', 1, 'file', '\\x{v['root_id']}', decode('{v['wrapped']}', 'base64'));")
PY
# The 0.2.0 library refuses to work on 0.1.0 objects, clearly; the rows go in without it.
expect_fail "the new library on old objects" "Run ALTER EXTENSION pgkms UPDATE" sql -f "$T/v010.sql"
PGOPTIONS="-c session_replication_role=replica" sql -f "$T/v010.sql" >/dev/null
value=$(sed -n 's/^name=phone alg=1 .* value=\([0-9a-f]*\).*/\1/p' "$ROOT_DIR/test/vectors/format_vectors.txt")
sql -c "CREATE TABLE t (v kms.encrypted); INSERT INTO t VALUES ('\\x$value'::bytea::kms.encrypted)"

sql -c "ALTER EXTENSION pgkms UPDATE"
[ "$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'pgkms'")" = 0.2.0 ] ||
    fail "not at 0.2.0 after the update"
ok "ALTER EXTENSION pgkms UPDATE reaches 0.2.0"
[ "$(sql -c "SET kms.root_key = 'file:$T/vroot.key'; SET kms.tenant = 'acme';
             SELECT kms.decrypt(v) FROM t")" = 13812345678 ] || fail "value unreadable after update"
[ "$(sql -c "SELECT tenant || ' ' || state || ' ' || origin FROM kms.keys")" = "acme Enabled pgkms" ] ||
    fail "kms.keys view after update: $(sql -c "SELECT * FROM kms.keys")"
ok "the 0.1.0 key and its value work after the update, and show in the kms.keys view"
[ "$(sql -c "SELECT count(*) FROM pg_extension e, unnest(e.extconfig) c
              WHERE e.extname = 'pgkms' AND c IN ('kms._keys'::regclass, 'kms._key_versions'::regclass,
                    'kms._grants'::regclass, 'kms.audit_log'::regclass, 'kms.role_tenants'::regclass)")" = 5 ] ||
    fail "key tables are no longer dumped with the database"
ok "the renamed key tables are still dumped with the database"

# The same objects, definitions and privileges as a new installation.
describe() {
    PGDATABASE=$1 sql -c "
      SELECT pg_describe_object(d.classid, d.objid, 0) FROM pg_depend d
       WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgkms') AND d.deptype = 'e'
      UNION ALL
      SELECT p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid)) || ' ' || coalesce(p.proacl::text, '-')
        FROM pg_proc p WHERE p.pronamespace = 'kms'::regnamespace AND p.prokind <> 'a'
      UNION ALL
      SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE c.relnamespace = 'kms'::regnamespace
      UNION ALL
      SELECT c.relname || ' acl ' || coalesce(c.relacl::text, '-') FROM pg_class c
       WHERE c.relnamespace = 'kms'::regnamespace
      ORDER BY 1"
}
PGDATABASE=${db}_new sql -c "CREATE EXTENSION pgkms"
describe $db >"$T/upgraded"
describe ${db}_new >"$T/new"
diff "$T/upgraded" "$T/new" || fail "an upgraded database differs from a new installation"
ok "an upgraded database has the same $(wc -l <"$T/new") objects, definitions and privileges as a new one"
for d in $db ${db}_new; do dropdb "$d"; done
