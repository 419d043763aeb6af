# SPDX-License-Identifier: Apache-2.0
# No lost or phantom tenant keys: overlapping first uses, rollbacks, savepoints, REPEATABLE READ, a herd.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_concurrency_$$
cleanup() {
    exec 3>&- 2>/dev/null || true
    wait 2>/dev/null || true
    dropdb --if-exists "$db" >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms" -c "CREATE TABLE v (who text PRIMARY KEY, ctx text, val kms.encrypted)"

# wait_for SQL: polls (10 s at most) until the query answers t.
wait_for() {
    for _ in $(seq 100); do
        [ "$(sql -c "$1")" = t ] && return 0
        sleep 0.1
    done
    fail "timed out waiting for: $1"
}
app_state() { # application name, extra condition
    echo "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database()
                          AND application_name = '$1' AND $2)"
}
keys_of() { sql -c "SELECT count(*) FROM kms.keys WHERE tenant = '$1'"; }
# decrypt_rows TENANT WHO...: the plaintexts of those rows, in a new session, as "who=plaintext ...".
decrypt_rows() {
    local tenant=$1
    shift
    sql -c "SET kms.tenant = '$tenant'" \
        -c "SELECT string_agg(who || '=' || kms.decrypt(val, ctx), ' ' ORDER BY who)
            FROM (SELECT * FROM v WHERE who IN ($(printf "'%s'," "$@" | sed 's/,$//')) OFFSET 0) s"
}
# sqlstate_of TENANT VALUE: the SQLSTATE that decrypting VALUE gives in a new session (or "ok").
sqlstate_of() {
    local err
    err=$(psql -XAtq -v VERBOSITY=verbose -c "SET kms.tenant = '$1'" -c "SELECT kms.decrypt('$2')" \
        2>&1 >/dev/null || true)
    err=$(sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' <<<"$err")
    echo "${err:-ok}"
}

# 1. Two sessions overlap on a NEW tenant: A creates the key and sleeps inside its transaction;
#    B starts during A's sleep and encrypts in its own transaction.
PGAPPNAME=race_a sql -c "BEGIN" \
    -c "INSERT INTO v VALUES ('a1', 'c:a1', kms.encrypt('from a 1', 'racer', 'c:a1'))" \
    -c "SELECT pg_sleep(2)" \
    -c "INSERT INTO v VALUES ('a2', 'c:a2', kms.encrypt('from a 2', 'racer', 'c:a2'))" \
    -c "COMMIT" >/dev/null &
a=$!
wait_for "$(app_state race_a "state = 'active' AND query LIKE '%pg_sleep%'")"
[ "$(keys_of racer)" = 0 ] || fail "A's uncommitted key is visible"
PGAPPNAME=race_b sql -c "SET kms.tenant = 'racer'" -c "BEGIN" \
    -c "INSERT INTO v VALUES ('b1', 'c:b1', kms.encrypt('from b 1', NULL, 'c:b1'))" \
    -c "INSERT INTO v VALUES ('b2', 'c:b2', kms.encrypt('from b 2', NULL, 'c:b2'))" \
    -c "COMMIT" >/dev/null &
b=$!
wait $a || fail "session A failed"
wait $b || fail "session B failed"
[ "$(keys_of racer)" = 1 ] || fail "tenant racer has $(keys_of racer) keys after the race"
[ "$(sql -c "SELECT is_default FROM kms.keys WHERE tenant = 'racer'")" = t ] || fail "no default key"
[ "$(sql -c "SELECT count(*) FROM kms.key_versions JOIN kms.keys USING (key_id)
             WHERE tenant = 'racer'")" = 1 ] ||
    fail "racer's key has more than one version"
[ "$(sql -c "SELECT count(*) FROM v JOIN kms.keys k ON substring(val::bytea FROM 5 FOR 8) = k.key_ref
             WHERE k.tenant = 'racer'")" = 4 ] || fail "not every value of racer names its one key"
got=$(decrypt_rows racer a1 a2 b1 b2)
[ "$got" = "a1=from a 1 a2=from a 2 b1=from b 1 b2=from b 2" ] || fail "after the race: '$got'"
ok "overlapping first uses (B began inside A's open transaction): one default key, all values decrypt"

# 2. The same, but A rolls back while B waits: B's key is the one, A's value names no key.
PGAPPNAME=race_a2 sql -c "BEGIN" -c "SELECT kms.encrypt('phantom', 'racer2')" -c "SELECT pg_sleep(2)" \
    -c "ROLLBACK" >"$T/a2.out" &
a=$!
wait_for "$(app_state race_a2 "state = 'active' AND query LIKE '%pg_sleep%'")"
sql -c "INSERT INTO v VALUES ('r2', NULL, kms.encrypt('from b', 'racer2'))"
wait $a || fail "session A failed"
phantom=$(head -n 1 "$T/a2.out")
[ "$(keys_of racer2)" = 1 ] || fail "tenant racer2 has $(keys_of racer2) keys"
[ "$(decrypt_rows racer2 r2)" = "r2=from b" ] || fail "B's value after A's rollback"
got=$(sqlstate_of racer2 "$phantom")
[ "$got" = 42704 ] || fail "A's rolled-back value: $got"
ok "A rolls back during the overlap: B's key is the only one, B's value decrypts, A's finds no key (42704)"

# 3. A rolled-back first use in one session leaves no key, not even in that session's cache;
#    the same session's next use creates a key that works in a new session.
psql -XAtq -v VERBOSITY=verbose >"$T/s3.out" 2>&1 <<'SQL'
BEGIN;
SELECT kms.encrypt('x', 'rolled')::text AS phantom \gset
ROLLBACK;
SELECT 'keys after rollback: ' || count(*) FROM kms.keys WHERE tenant = 'rolled';
SET kms.tenant = 'rolled';
SELECT 'same session decrypted: ' || kms.decrypt(:'phantom');
INSERT INTO v VALUES ('rolled', 'after', kms.encrypt('after rollback', 'rolled', 'after'));
SELECT 'keys after use: ' || count(*) FROM kms.keys WHERE tenant = 'rolled';
\echo phantom :phantom
SQL
grep -qx 'keys after rollback: 0' "$T/s3.out" || fail "rolled-back key remains: $(cat "$T/s3.out")"
if grep -q 'same session decrypted' "$T/s3.out"; then fail "the session still holds the rolled-back key"; fi
grep -q '^ERROR:  42704: the key of this value does not exist' "$T/s3.out" ||
    fail "same session, rolled-back value: $(cat "$T/s3.out")"
grep -qx 'keys after use: 1' "$T/s3.out" || fail "no key after the next use: $(cat "$T/s3.out")"
[ "$(decrypt_rows rolled rolled)" = "rolled=after rollback" ] || fail "value after the rollback"
phantom=$(sed -n 's/^phantom //p' "$T/s3.out")
[ "$(sqlstate_of rolled "$phantom")" = 42704 ] || fail "rolled-back value: $(sqlstate_of rolled "$phantom")"
ok "ROLLBACK of a first use: no key, even in the session's cache (42704); its next use makes a working one"

# 4. The same with a savepoint: the key made inside ROLLBACK TO never serves the outer transaction.
out=$(sql -c "BEGIN" -c "SAVEPOINT s" \
    -c "SELECT kms.encrypt('x1', 'sp')" -c "SELECT kms.encrypt('x2', 'sp')" \
    -c "ROLLBACK TO s" \
    -c "INSERT INTO v VALUES ('sp', NULL, kms.encrypt('after savepoint', 'sp'))" -c "COMMIT")
[ "$(keys_of sp)" = 1 ] || fail "tenant sp has $(keys_of sp) keys"
[ "$(decrypt_rows sp sp)" = "sp=after savepoint" ] || fail "value written after ROLLBACK TO"
[ "$(sqlstate_of sp "$(sed -n 2p <<<"$out")")" = 42704 ] || fail "value from the rolled-back savepoint"
ok "ROLLBACK TO SAVEPOINT of a first use: the outer transaction creates and keeps a working key"

# 5. REPEATABLE READ: the loser may only fail with a serialization failure (40001), and a retry
#    in the same session (as a connection pool would) works.
PGAPPNAME=race_rr sql -c "BEGIN" -c "INSERT INTO v VALUES ('rr_a', NULL, kms.encrypt('from a', 'rr'))" \
    -c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null &
a=$!
wait_for "$(app_state race_rr "state = 'active' AND query LIKE '%pg_sleep%'")"
psql -XAtq -v VERBOSITY=verbose >"$T/rr.out" 2>&1 <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO v VALUES ('rr_b', NULL, kms.encrypt('from b', 'rr'));
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO v VALUES ('rr_b', NULL, kms.encrypt('from b', 'rr')) ON CONFLICT (who) DO NOTHING;
COMMIT;
SQL
wait $a || fail "session A failed"
# The only acceptable error is a serialization failure, and the retry must succeed.
errors=$(sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' "$T/rr.out" | tr '\n' ' ')
case $errors in
"") how="succeeded" ;;
"40001 ") how="failed with 40001; its retry in the same session worked" ;;
*) fail "REPEATABLE READ loser: $(cat "$T/rr.out")" ;;
esac
[ "$(keys_of rr)" = 1 ] || fail "tenant rr has $(keys_of rr) keys"
[ "$(decrypt_rows rr rr_a rr_b)" = "rr_a=from a rr_b=from b" ] || fail "REPEATABLE READ values"
ok "REPEATABLE READ loser $how: one key, both values decrypt"

# 6. A herd: 8 sessions released at once on one new tenant.
open_session 3
ask 3 "SELECT pg_advisory_lock(4242);" >/dev/null
pids=()
for i in 1 2 3 4 5 6 7 8; do
    PGAPPNAME=herd sql -c "BEGIN" -c "SELECT pg_advisory_xact_lock_shared(4242)" \
        -c "INSERT INTO v VALUES ('h$i', 'h:$i', kms.encrypt('herd $i', 'herd', 'h:$i'))" -c "COMMIT" \
        >/dev/null &
    pids+=($!)
done
wait_for "SELECT count(*) = 8 FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'herd' AND wait_event = 'advisory'"
ask 3 "SELECT pg_advisory_unlock(4242);" >/dev/null
for p in "${pids[@]}"; do wait "$p" || fail "a herd session failed"; done
[ "$(keys_of herd)" = 1 ] || fail "tenant herd has $(keys_of herd) keys"
got=$(decrypt_rows herd h1 h2 h3 h4 h5 h6 h7 h8)
[ "$got" = "h1=herd 1 h2=herd 2 h3=herd 3 h4=herd 4 h5=herd 5 h6=herd 6 h7=herd 7 h8=herd 8" ] ||
    fail "herd values: '$got'"
ok "8 sessions released at once on a new tenant: one key, all 8 values decrypt"
