#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every suite (unit, provider CLI, pg_regress, end-to-end, peers, fuzz) and prints one
# closing line "pgkms: N passed, M failed, K skipped". A suite script exits 0 (pass), 77 (skip,
# with its reason on the last line) or anything else (fail).
set -uo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$(pg_config --bindir):$PATH"
export OPENSSL_MODULES="$root/build/provider" # the provider under test, not an installed one
export PGKMS_TEST_TMP=$(mktemp -d /tmp/pgkms-test.XXXXXX)
chmod 755 "$PGKMS_TEST_TMP"
logs="$PGKMS_TEST_TMP/logs"
mkdir -p "$logs"
pass=0 fail=0 skip=0 failed=()

run() {
    local name=$1
    shift
    local start=$SECONDS rc=0
    mkdir -p "$(dirname "$logs/$name.log")"
    "$@" >"$logs/$name.log" 2>&1 || rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1))
        printf 'ok   %-34s %3ds\n' "$name" $((SECONDS - start))
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1))
        printf 'skip %-34s (%s)\n' "$name" "$(tail -n 1 "$logs/$name.log")"
    else
        fail=$((fail + 1))
        failed+=("$name")
        printf 'FAIL %-34s (exit %d)\n' "$name" $rc
        sed 's/^/    | /' "$logs/$name.log" | tail -n 40
    fi
}

cleanup() {
    scripts/pg-cluster.sh stop "$PGKMS_TEST_TMP/cluster" >/dev/null 2>&1 || true
    if [ $fail -eq 0 ]; then rm -rf "$PGKMS_TEST_TMP"; fi
}
trap cleanup EXIT

run style clang-format --dry-run --Werror common/*.c common/include/pgkms/*.h provider/*.[ch] \
    pgext/*.[ch] test/unit/*.[ch] test/fuzz/*.c
run unit build/test/unit-tests test/vectors
for t in test/provider/*.sh; do run "provider/$(basename "$t" .sh)" bash "$t"; done
# Memory errors and leaks in common/ and in the provider, error paths included.
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
run valgrind/unit $vg build/test/unit-tests test/vectors
for t in cli-errors cli-vectors; do run "valgrind/$t" env CHECKER="$vg" bash "test/provider/$t.sh"; done

# One throwaway cluster for the SQL suites; its root key lives outside the data directory.
scripts/pg-cluster.sh start "$PGKMS_TEST_TMP/cluster" || { echo "cluster did not start"; exit 1; }
. "$PGKMS_TEST_TMP/cluster/env"
openssl rand -hex 32 >"$PGKMS_TEST_TMP/cluster/root.key"
chmod 600 "$PGKMS_TEST_TMP/cluster/root.key"
[ "$(id -u)" -eq 0 ] && chown postgres: "$PGKMS_TEST_TMP/cluster/root.key"
echo "kms.root_key = 'file:$PGKMS_TEST_TMP/cluster/root.key'" >>"$PGDATA/postgresql.conf"
psql -XAtq -c 'SELECT pg_reload_conf()' >/dev/null

pgxs=$(dirname "$(pg_config --pgxs)")
run regress "$pgxs/../test/regress/pg_regress" --dbname=pgkms_regress \
    --inputdir=test/regress --outputdir="$PGKMS_TEST_TMP/regress" \
    --host="$PGHOST" --port="$PGPORT" --user="$PGUSER" \
    $(sed -n 's/^test: //p' test/regress/schedule)
for t in test/e2e/*.sh; do run "e2e/$(basename "$t" .sh)" bash "$t"; done
# Peers: real servers and tokens (Barbican), each suite on clusters and state of its own.
for t in test/peers/*.sh; do run "peers/$(basename "$t" .sh)" bash "$t"; done

# Fuzz the decoders for a bounded time, seeded with the format vectors and keyring.
corpus="$PGKMS_TEST_TMP/corpus"
mkdir -p "$corpus"
i=0
for v in $(sed -n 's/.* value=\([0-9a-f]*\).*/\1/p' test/vectors/format_vectors.txt); do
    { printf '\000'; printf '%s' "$v" | xxd -r -p; } >"$corpus/value$i"
    i=$((i + 1))
done
{ printf '\003'; cat test/vectors/format_keyring.json; } >"$corpus/keyring"
run fuzz build/test/fuzz-format -max_total_time="${PGKMS_FUZZ_SECONDS:-30}" -rss_limit_mb=1024 \
    "$corpus"

[ $fail -eq 0 ] || echo "failed: ${failed[*]} (logs in $logs)"
echo "pgkms: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
