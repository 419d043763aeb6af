# SPDX-License-Identifier: Apache-2.0
# Disaster-recovery drill: pg_dump -> restore; same root decrypts everything, another none.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_dr
dropdb --if-exists "$db" && dropdb --if-exists "${db}_restored" && createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms"
sql <<'SQL'
CREATE TABLE people (id int PRIMARY KEY, tenant text, phone kms.encrypted);
INSERT INTO people SELECT g, t, kms.encrypt('phone-' || t || '-' || g, t, 'people.phone:' || g)
  FROM generate_series(1, 50) g, (VALUES ('acme'), ('globex')) AS v(t)
  WHERE (g % 2 = 0) = (t = 'acme');
SQL
check_all() { # db: every value decrypts to its original, in its tenant's context
    local n=0 t
    for t in acme globex; do
        n=$((n + $(PGDATABASE=$1 sql -c "SET kms.tenant = '$t'" -c "SELECT count(*) FROM people
            WHERE tenant = '$t' AND kms.decrypt(phone, 'people.phone:' || id) = 'phone-$t-' || id")))
    done
    [ "$n" = 50 ] || fail "$1: $n of 50 values decrypt"
}
check_all "$db"
ok "50 values of two tenants decrypt before the dump"

pg_dump -Fc -f "$T/dump.fc" "$db"
pg_dump -Fp -f "$T/dump.sql" "$db"
! grep -q 'phone-acme\|phone-globex' "$T/dump.sql" || fail "plaintext in the dump"
grep -q 'COPY kms.keys' "$T/dump.sql" || fail "kms.keys not in the dump"
grep -q 'COPY kms.key_versions' "$T/dump.sql" || fail "kms.key_versions not in the dump"
ok "the dump holds the wrapped keys and no plaintext"

createdb "${db}_restored"
pg_restore -d "${db}_restored" "$T/dump.fc"
check_all "${db}_restored"
ok "restored with the same root key: every value decrypts"

# A second cluster with a different root: nothing decrypts, with a clear 58000.
c2="$T/c2"
trap 'scripts/pg-cluster.sh stop "$c2" >/dev/null 2>&1; rm -rf "$T"' EXIT
(cd "$ROOT_DIR" && scripts/pg-cluster.sh start "$c2")
own() { [ "$(id -u)" -ne 0 ] || chown postgres: "$@"; }
openssl rand -hex 32 >"$c2/other.key" && chmod 600 "$c2/other.key" && own "$c2/other.key"
cp "$(sql -c 'SHOW kms.root_key' | sed 's/^file://')" "$c2/same.key" && chmod 600 "$c2/same.key" \
    && own "$c2/same.key"
(
    . "$c2/env"
    echo "kms.root_key = 'file:$c2/other.key'" >>"$PGDATA/postgresql.conf"
    psql -XAtq -c 'SELECT pg_reload_conf()' >/dev/null
    createdb drill
    pg_restore -d drill "$T/dump.fc"
    states=$(PGDATABASE=drill sql <<'SQL'
CREATE FUNCTION pg_temp.try(t text, v kms.encrypted, c text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('kms.tenant', t, true);
  PERFORM kms.decrypt(v, c);
  RETURN 'decrypted';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ' ' || (SQLERRM LIKE '%wrapped under root key%');
END $$;
SELECT pg_temp.try(tenant, phone, 'people.phone:' || id) AS r, count(*) FROM people GROUP BY 1;
SQL
)
    [ "$states" = "58000 true|50" ] || fail "different root: got '$states'"
    ok "restored under a different root key: all 50 refused with 58000 naming the root"
    psql -XAtq -c "ALTER SYSTEM SET kms.root_key = 'file:$c2/same.key'" -c 'SELECT pg_reload_conf()' \
        >/dev/null
    check_all drill
    ok "the same cluster given the original root key: every value decrypts"
)
dropdb "${db}_restored"
dropdb "$db"
