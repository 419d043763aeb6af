# SPDX-License-Identifier: Apache-2.0
# A tenant's default key under concurrency and rollback: never two, never lost, never phantom.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_first_use
dropdb --if-exists "$db" && createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms" -c "CREATE TABLE v (who text, val kms.encrypted)"

# Two sessions create the same new tenant's key at once; B waits on A's uncommitted key.
sql -c "BEGIN" -c "INSERT INTO v VALUES ('a', kms.encrypt('from a', 'racer'))" \
    -c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null &
a=$!
sleep 0.5
sql -c "BEGIN" -c "INSERT INTO v VALUES ('b', kms.encrypt('from b', 'racer'))" -c "COMMIT" >/dev/null
wait $a
[ "$(sql -c "SELECT count(*) FROM kms.keys WHERE tenant = 'racer'")" = 1 ] || fail "not one key"
got=$(sql -c "SET kms.tenant = 'racer'" -c "SELECT string_agg(kms.decrypt(val), ',' ORDER BY who) FROM v")
[ "$got" = "from a,from b" ] || fail "values after the race: '$got'"
ok "concurrent first use: one default key, both sessions' values decrypt"

# A key created by a transaction that rolls back is gone, and the session does not reuse it.
out=$(sql -c "BEGIN" -c "SELECT kms.encrypt('x', 'rolled')::text" -c "ROLLBACK" \
    -c "SELECT count(*) FROM kms.keys WHERE tenant = 'rolled'" \
    -c "INSERT INTO v VALUES ('r', kms.encrypt('after rollback', 'rolled'))" \
    -c "SELECT count(*) FROM kms.keys WHERE tenant = 'rolled'" | tail -n 2 | tr '\n' ' ')
[ "$out" = "0 1 " ] || fail "keys after rollback and re-use: '$out'"
got=$(sql -c "SET kms.tenant = 'rolled'" -c "SELECT kms.decrypt(val) FROM v WHERE who = 'r'")
[ "$got" = "after rollback" ] || fail "value after rollback: '$got'"
ok "rolled-back key creation leaves no key; the next use creates one that works"

# Many sessions at once on existing and new tenants: every value decrypts.
for i in 1 2 3 4 5 6; do
    sql -c "INSERT INTO v SELECT 't' || (g % 3), kms.encrypt('v' || g, 't' || (g % 3))
            FROM generate_series(1, 200) g" &
done
wait
n=0
for t in t0 t1 t2; do
    # OFFSET 0 keeps the tenant filter below the decrypt: only this tenant's rows are opened.
    n=$((n + $(sql -c "SET kms.tenant = '$t'" -c "SELECT count(kms.decrypt(val))
        FROM (SELECT val FROM v WHERE who = '$t' OFFSET 0) s")))
done
[ "$n" = 1200 ] || fail "$n of 1200 concurrent values decrypt"
[ "$(sql -c "SELECT count(*) FROM kms.keys WHERE tenant IN ('t0','t1','t2')")" = 3 ] || fail "keys"
ok "6 concurrent sessions, 3 new tenants: 3 keys, all 1200 values decrypt"
dropdb "$db"
