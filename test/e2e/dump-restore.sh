# SPDX-License-Identifier: Apache-2.0
# Disaster recovery: pg_dump/pg_restore and COPY (text, binary) keep values readable only under their root.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_dump_$$
c2="$T/c2"
cleanup() {
    exec 3>&- 2>/dev/null || true
    scripts/pg-cluster.sh stop "$c2" >/dev/null 2>&1 || true
    dropdb --if-exists "${db}_restored" >/dev/null 2>&1 || true
    dropdb --if-exists "$db" >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
cd "$ROOT_DIR"
own() { if [ "$(id -u)" -eq 0 ]; then chown postgres: "$@"; fi; }
# Root id of a root key file, computed with plain openssl from docs/format.md §2.
root_id() {
    printf 'pgkms root id v1' | openssl mac -digest SHA256 -macopt "hexkey:$(head -c 64 "$1")" HMAC |
        tr 'A-F' 'a-f' | cut -c1-16
}

createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms"
# want = sha256 of the plaintext, so the table itself holds no plaintext.
sql <<'SQL'
CREATE TABLE people (id int PRIMARY KEY, tenant text NOT NULL, want text NOT NULL,
                     phone kms.encrypted);
INSERT INTO people
  SELECT g, t, encode(sha256(convert_to('secret-' || t || '-' || g, 'UTF8')), 'hex'),
         kms.encrypt('secret-' || t || '-' || g, t, 'people.phone:' || g)
    FROM generate_series(1, 40) g, (VALUES ('acme'), ('globex')) AS v(t)
   WHERE (g % 2 = 0) = (t = 'acme');
-- One value large enough to be stored out of line (TOAST).
INSERT INTO people
  SELECT 41, 'acme', encode(sha256(convert_to(p, 'UTF8')), 'hex'), kms.encrypt(p, 'acme', 'people.phone:41')
    FROM (SELECT repeat('BIGSECRET-', 30000) AS p) s;
SQL
n_values=41

# states DB TABLE: how each value of TABLE in DB fares when its own tenant decrypts it, as
# "result|count" lines: ok, wrong plaintext, or SQLSTATE: message (key ids masked).
states() {
    PGDATABASE=$1 sql <<SQL
CREATE FUNCTION pg_temp.try(t text, v kms.encrypted, ctx text, want text) RETURNS text
LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM set_config('kms.tenant', t, true);
    IF encode(sha256(convert_to(kms.decrypt(v, ctx), 'UTF8')), 'hex') = want
       AND encode(sha256(kms.decrypt_bytea(v, ctx)), 'hex') = want THEN
        RETURN 'ok';
    END IF;
    RETURN 'wrong plaintext';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9a-f]{8}-[0-9a-f-]{27}', 'K', 'g');
END \$\$;
SELECT pg_temp.try(tenant, phone, 'people.phone:' || id, want), count(*) FROM $2 GROUP BY 1 ORDER BY 1;
SQL
}
expect_states() { # what DB TABLE expected
    local got
    got=$(states "$2" "$3")
    [ "$got" = "$4" ] || fail "$1: expected '$4', got '$got'"
}
expect_states "before the dump" "$db" people "ok|$n_values"
ok "$n_values values of two tenants (with contexts, one TOASTed) decrypt before the dump"

root=$(sql -c 'SHOW kms.root_key')
root=${root#file:}
orig_id=$(sql -c "SELECT string_agg(DISTINCT encode(root_id, 'hex'), ',') FROM kms.key_versions")
[ "$orig_id" = "$(root_id "$root")" ] || fail "root id $orig_id is not that of $root"

pg_dump -Fc -f "$T/dump.fc" "$db"
pg_restore -f "$T/dump.sql" "$T/dump.fc" # the plain SQL the custom dump holds
if grep -q 'secret-\|BIGSECRET' "$T/dump.sql"; then fail "plaintext in the dump"; fi
if grep -qi "$(head -c 64 "$root")" "$T/dump.sql"; then fail "the root key is in the dump"; fi
grep -q '^COPY kms._keys ' "$T/dump.sql" || fail "kms._keys is not in the dump"
grep -q '^COPY kms._key_versions ' "$T/dump.sql" || fail "kms._key_versions is not in the dump"
grep -q '^COPY kms._grants ' "$T/dump.sql" || fail "kms._grants is not in the dump"
grep -q '^COPY kms.audit_log ' "$T/dump.sql" || fail "kms.audit_log is not in the dump"
[ "$(grep -c 'i0sB' "$T/dump.sql")" -ge $n_values ] || fail "values not in base64 text form in the dump"
ok "the dump holds the wrapped keys and base64 ciphertext, no plaintext and no root key"

createdb "${db}_restored"
pg_restore -d "${db}_restored" "$T/dump.fc"
expect_states "restored, same root" "${db}_restored" people "ok|$n_values"
ok "restored in the same cluster: all $n_values values decrypt"
v=$(PGDATABASE=${db}_restored sql -c "SELECT kms.encrypt('new after restore', 'acme')")
[ "$(PGDATABASE=${db}_restored sql -c "SELECT count(*) FROM kms.keys")" = 2 ] ||
    fail "encrypting after the restore created another key"
got=$(PGDATABASE=${db}_restored sql -c "SET kms.tenant = 'acme'" -c "SELECT kms.decrypt('$v')")
[ "$got" = 'new after restore' ] ||
    fail "new value in the restored database"
ok "the restored database encrypts with the restored default key (no new key)"

# COPY: text form out and in, then binary form out and in.
sql -c "\\copy people TO '$T/people.txt'"
if grep -q 'secret-\|BIGSECRET' "$T/people.txt"; then fail "plaintext in COPY output"; fi
sql -c "CREATE TABLE people_txt (LIKE people)" -c "\\copy people_txt FROM '$T/people.txt'"
expect_states "text COPY" "$db" people_txt "ok|$n_values"
sql -c "\\copy people TO '$T/people.bin' WITH (FORMAT binary)"
if grep -q 'secret-\|BIGSECRET' "$T/people.bin"; then fail "plaintext in binary COPY output"; fi
[ "$(xxd -p "$T/people.bin" | tr -d '\n' | grep -o 8b4b0101 | wc -l)" -ge $n_values ] ||
    fail "binary COPY does not carry the raw value bytes"
sql -c "CREATE TABLE people_bin (LIKE people)" \
    -c "\\copy people_bin FROM '$T/people.bin' WITH (FORMAT binary)"
expect_states "binary COPY" "$db" people_bin "ok|$n_values"
same=$(sql -c "SELECT count(*) FROM people p JOIN people_txt x USING (id) JOIN people_bin b USING (id)
               WHERE p.phone::bytea = x.phone::bytea AND p.phone::bytea = b.phone::bytea")
[ "$same" = $n_values ] || fail "COPY changed $((n_values - same)) values"
ok "COPY TO/FROM in text and binary format round-trips every value byte for byte; all decrypt"

# Transparent columns: dump, restore and binary COPY carry ciphertext and need no tenant.
sql -c "SET kms.tenant = 'acme'" -c "CREATE TABLE contacts (id int, phone kms.enc_phone)" \
    -c "INSERT INTO contacts VALUES (1, '13812345678'), (2, '+44 20 7946 0958')"
pg_dump -t contacts "$db" >"$T/contacts.sql"
if grep -q '13812345678\|7946' "$T/contacts.sql"; then fail "plaintext in the dump of contacts"; fi
PGDATABASE=${db}_restored sql -f "$T/contacts.sql" >/dev/null # kms.tenant unset
sql -c "\\copy contacts TO '$T/contacts.bin' WITH (FORMAT binary)"
sql -c "CREATE TABLE contacts_bin (LIKE contacts)" \
    -c "\\copy contacts_bin FROM '$T/contacts.bin' WITH (FORMAT binary)"
for where in "${db}_restored contacts" "$db contacts_bin"; do
    set -- $where
    got=$(PGDATABASE=$1 sql -c "SET kms.tenant = 'acme'" -c "SELECT string_agg(phone::text, ',' ORDER BY id) FROM $2")
    [ "$got" = "13812345678,+44 20 7946 0958" ] || fail "transparent column in $1.$2: $got"
done
ok "kms.enc_phone columns: pg_dump, a restore without kms.tenant and binary COPY keep the ciphertext"

# A second cluster whose root key is a different file: the restore is unreadable.
scripts/pg-cluster.sh start "$c2"
openssl rand -hex 32 >"$c2/other.key"
chmod 600 "$c2/other.key" && own "$c2/other.key"
other_id=$(root_id "$c2/other.key")
(
    . "$c2/env"
    echo "kms.root_key = 'file:$c2/other.key'" >>"$PGDATA/postgresql.conf"
    psql -XAtq -c 'SELECT pg_reload_conf()' >/dev/null
    createdb drill
    pg_restore -d drill "$T/dump.fc"
)
on_c2() { (. "$c2/env" && PGDATABASE=drill "$@"); }
msg="58000: key K version 1 is wrapped under root key $orig_id,"
msg+=" but the configured root key (file:$c2/other.key) is $other_id"
on_c2 expect_states "restored under another root" drill people "$msg|$n_values"
ok "under another root key all $n_values values fail with 58000 naming both roots ($orig_id, $other_id)"
expect_fail "under another root, encrypting for a restored tenant" \
    "ERROR:  58000: key .* is wrapped under root key $orig_id" \
    on_c2 sql -v VERBOSITY=verbose -c "SELECT kms.encrypt('x', 'acme')"
[ "$(on_c2 sql -c "SELECT count(*) FROM kms.keys")" = 2 ] || fail "a key was added under the wrong root"
ok "nor does it encrypt for them, or replace their keys"

# A session that stays connected across the fix.
open_session 3 -h "$c2" -p "$(. "$c2/env" && echo "$PGPORT")" -d drill
ask 3 "SET kms.tenant = 'acme';" >/dev/null
got=$(ask 3 "SELECT kms.decrypt(phone, 'people.phone:2') FROM people WHERE id = 2;")
grep -q "wrapped under root key $orig_id" <<<"$got" || fail "open session under the wrong root: $got"

# The fix: give the second cluster the original root file and point kms.root_key at it.
cp "$root" "$c2/orig.key"
chmod 600 "$c2/orig.key" && own "$c2/orig.key"
on_c2 sql -c "ALTER SYSTEM SET kms.root_key = 'file:$c2/orig.key'" -c 'SELECT pg_reload_conf()' >/dev/null
on_c2 expect_states "second cluster given the original root" drill people "ok|$n_values"
ok "with the original root file configured, every value decrypts in the second cluster"
for _ in $(seq 20); do
    got=$(ask 3 "SELECT kms.decrypt(phone, 'people.phone:2') FROM people WHERE id = 2;")
    [ "$got" = secret-acme-2 ] && break
    sleep 0.25
done
[ "$got" = secret-acme-2 ] || fail "a session open across the reload still fails: $got"
ok "a session that was connected across the reload decrypts too"
