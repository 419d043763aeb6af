# SPDX-License-Identifier: Apache-2.0
# SQL and the openssl CLI produce and read the same bytes, both ways; SQL reads the vectors and
# reproduces the deterministic ones, the blind indexes and the pseudonyms.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_sql_cli
dropdb --if-exists "$db" && createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms"
root=$(sql -c "SHOW kms.root_key")
export PGKMS_ROOT_KEY=$root PGKMS_KEYRING="$T/keyring.json"

# SQL -> CLI: text with and without context, and a 1 MiB binary value.
head -c 1048576 /dev/urandom >"$T/blob"
sql -c "CREATE TABLE v (name text, ctx text, val kms.encrypted)"
sql <<SQL
SET kms.tenant = 'acme';
INSERT INTO v VALUES ('phone', NULL, kms.encrypt('13812345678')),
                     ('name', 'users.name', kms.encrypt('张三丰', context => 'users.name')),
                     ('blob', NULL, kms.encrypt(decode('$(base64 -w0 "$T/blob")', 'base64')));
SQL
sql -c "SELECT convert_from(kms.export_keyring('acme'), 'UTF8')" >"$PGKMS_KEYRING"
for name in phone name blob; do
    sql -c "SELECT val FROM v WHERE name = '$name'" | base64 -d >"$T/$name.kms"
    ctx=$(sql -c "SELECT coalesce(ctx, '') FROM v WHERE name = '$name'")
    opts=()
    [ -z "$ctx" ] || opts=(-pkeyopt "kms-context:$ctx")
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' "${opts[@]}" -in "$T/$name.kms" \
        -out "$T/$name.out"
done
[ "$(cat "$T/phone.out")" = 13812345678 ] || fail "phone from SQL"
[ "$(cat "$T/name.out")" = 张三丰 ] || fail "name from SQL"
cmp "$T/blob" "$T/blob.out" || fail "1 MiB blob from SQL"
ok "the CLI decrypts text, context-bound and 1 MiB values encrypted in SQL"

# CLI -> SQL, with a context.
printf 'from the CLI' >"$T/msg"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -pkeyopt kms-context:audit -in "$T/msg" \
    -out "$T/msg.kms"
got=$(sql -c "SET kms.tenant = 'acme'; SELECT kms.decrypt('$(base64 -w0 "$T/msg.kms")', 'audit')")
[ "$got" = "from the CLI" ] || fail "SQL read '$got'"
ok "SQL decrypts a value encrypted by the CLI"
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=acme' -in "$T/blob" -out "$T/blob2.kms"
sql <<SQL | sed 's/^\\x//' | xxd -r -p >"$T/blob2.out"
SET kms.tenant = 'acme';
SELECT kms.decrypt_bytea('$(base64 -w0 "$T/blob2.kms")');
SQL
cmp "$T/blob" "$T/blob2.out" || fail "1 MiB blob from the CLI"
ok "SQL decrypts a 1 MiB file encrypted by the CLI"

# A tenant created by the CLI alone is not known to the database: a clear error, not garbage.
ossl pkeyutl $P -encrypt -inkey 'kms:tenant=cli-only' -in "$T/msg" -out "$T/cli.kms"
expect_fail "value under a key the database does not hold" "does not exist" \
    sql -c "SET kms.tenant = 'cli-only'; SELECT kms.decrypt('$(base64 -w0 "$T/cli.kms")')"
# The CLI refuses another tenant's value from SQL.
sql -c "SELECT kms.encrypt('globex data', 'globex')" | base64 -d >"$T/g.kms"
sql -c "SELECT convert_from(kms.export_keyring(), 'UTF8')" >"$PGKMS_KEYRING"
expect_fail "CLI decrypt of another tenant's value" "belongs to another tenant" \
    ossl pkeyutl $P -decrypt -inkey 'kms:tenant=acme' -in "$T/g.kms" -out "$T/o"

# The format vectors (independent Python implementation) decrypt in SQL.
cp "$ROOT_DIR/test/vectors/format_root.key" "$T/vroot.key"
chmod 600 "$T/vroot.key"
[ "$(id -u)" -ne 0 ] || chown postgres: "$T/vroot.key"
python3 - "$ROOT_DIR/test/vectors/format_keyring.json" >"$T/vkeys.sql" <<'PY'
import base64, json, sys
k = json.load(open(sys.argv[1]))["keys"][0]
v = k["versions"][0]
print(f"INSERT INTO kms._keys (key_id, tenant, is_default, current_version) "
      f"VALUES ('{k['key_id']}', 'vector-{k['tenant']}', false, 1);")
print(f"INSERT INTO kms._key_versions (key_id, version, keyring, root_id, wrapped) VALUES "
      f"('{k['key_id']}', 1, 'file', '\\x{v['root_id']}', "
      f"decode('{v['wrapped']}', 'base64'));")
PY
# The vector key is wrapped for tenant "acme": stored under another name it must not unwrap.
sql -f "$T/vkeys.sql" >/dev/null
expect_fail "a key record moved to another tenant" "does not unwrap" \
    sql -c "SET kms.root_key = 'file:$T/vroot.key'; SET kms.tenant = 'vector-acme';
            SELECT kms.decrypt(decode('$(sed -n 's/.*name=phone .* value=\([0-9a-f]*\).*/\1/p' \
                "$ROOT_DIR/test/vectors/format_vectors.txt")', 'hex')::kms.encrypted)"
# Under its real tenant name, in a database of its own, every vector decrypts.
dropdb --if-exists "${db}_vec" && createdb "${db}_vec"
PGDATABASE="${db}_vec" sql -c "CREATE EXTENSION pgkms"
sed -i "s/'vector-acme'/'acme'/" "$T/vkeys.sql"
PGDATABASE="${db}_vec" sql -f "$T/vkeys.sql" >/dev/null
vkid=$(sed -n 's/.*"key_id": "\(.*\)".*/\1/p' "$ROOT_DIR/test/vectors/format_keyring.json")
n=0
while read -r line; do
    case $line in '#'*) continue ;; esac
    alg=$(sed 's/.* alg=\([^ ]*\).*/\1/' <<<"$line")
    [ "$alg" = 1 ] || [ "$alg" = 3 ] || continue
    name=$(sed 's/.*name=\([^ ]*\).*/\1/' <<<"$line")
    ctx=$(sed 's/.* context=\([^ ]*\).*/\1/' <<<"$line")
    pt=$(sed 's/.* pt=\([^ ]*\).*/\1/' <<<"$line")
    value=$(sed 's/.* value=\([^ ]*\).*/\1/' <<<"$line")
    [ "$ctx" = - ] && ctx_sql=NULL || ctx_sql="convert_from('\\x$ctx', 'UTF8')"
    [ "$pt" = - ] && pt=""
    got=$(PGDATABASE="${db}_vec" sql -c "SET kms.root_key = 'file:$T/vroot.key';
            SET kms.tenant = 'acme';
            SELECT encode(kms.decrypt_bytea('\\x$value'::bytea::kms.encrypted, $ctx_sql), 'hex')")
    [ "$got" = "$pt" ] || fail "vector $name: got '$got'"
    if [ "$alg" = 3 ]; then
        # Deterministic: SQL computes exactly the vector's bytes (under the vector's key).
        got=$(PGDATABASE="${db}_vec" sql -c "SET kms.root_key = 'file:$T/vroot.key';
                SET kms.tenant = 'acme';
                SELECT encode(kms.encrypt_det('\\x$pt'::bytea, NULL, $ctx_sql, '$vkid')::bytea, 'hex')")
        [ "$got" = "$value" ] || fail "vector $name: kms.encrypt_det gives $got"
    fi
    ok "SQL reads vector $name"
    n=$((n + 1))
done <"$ROOT_DIR/test/vectors/format_vectors.txt"
[ $n -ge 11 ] || fail "only $n vectors"
# Blind indexes and pseudonyms of the vectors' key, from SQL.
n=0
while read -r line; do
    case $line in '#'*) continue ;; esac
    kind=$(sed 's/.*kind=\([^ ]*\).*/\1/' <<<"$line")
    purpose=$(sed 's/.* purpose=\([^ ]*\).*/\1/' <<<"$line")
    value=$(sed 's/.* value=\([^ ]*\).*/\1/' <<<"$line")
    [ "$value" = - ] && value=""
    want=$(sed 's/.* out=\([^ ]*\).*/\1/' <<<"$line")
    args="convert_from('\\x$value', 'UTF8'), NULL, convert_from('\\x$purpose', 'UTF8')"
    if [ "$kind" = blind ]; then
        bits=$(sed 's/.* bits=\([^ ]*\).*/\1/' <<<"$line")
        canon=$(sed 's/.* canonical=\([^ ]*\).*/\1/' <<<"$line")
        expr="encode(kms.blind_index($args, $bits, $canon::int::boolean, '$vkid'), 'hex')"
    else
        expr="kms.pseudonym($args, '$vkid')"
    fi
    got=$(PGDATABASE="${db}_vec" sql -c "SET kms.root_key = 'file:$T/vroot.key';
            SET kms.tenant = 'acme'; SELECT $expr")
    [ "$got" = "$want" ] || fail "$kind vector $n: SQL gives $got, expected $want"
    n=$((n + 1))
done <"$ROOT_DIR/test/vectors/search_vectors.txt"
[ $n -ge 11 ] || fail "only $n search vectors"
ok "SQL computes the $n blind index and pseudonym vectors"
dropdb "${db}_vec"
dropdb "$db"
