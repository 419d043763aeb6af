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
    pgext/*.[ch] test/unit/*.[ch] test/fuzz/*.c test/peers/*.c tools/*.c
run unit build/test/unit-tests test/vectors
for t in test/provider/*.sh; do run "provider/$(basename "$t" .sh)" bash "$t"; done
for t in test/escrow/*.sh; do run "escrow/$(basename "$t" .sh)" bash "$t"; done
# Memory errors and leaks in common/ and in the provider, error paths included.
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
run valgrind/unit $vg build/test/unit-tests test/vectors
for t in cli-errors cli-vectors cli-search; do run "valgrind/$t" env CHECKER="$vg" bash "test/provider/$t.sh"; done
# pgkms-escrow reads untrusted shares; its openssl calls are the provider's, checked above.
run valgrind/escrow env ESCROW_CHECKER="$vg" bash test/escrow/escrow.sh

# One throwaway cluster for the SQL suites; its root key lives outside the data directory.
scripts/pg-cluster.sh start "$PGKMS_TEST_TMP/cluster" || { echo "cluster did not start"; exit 1; }
. "$PGKMS_TEST_TMP/cluster/env"
openssl rand -hex 32 >"$PGKMS_TEST_TMP/cluster/root.key"
chmod 600 "$PGKMS_TEST_TMP/cluster/root.key"
[ "$(id -u)" -eq 0 ] && chown postgres: "$PGKMS_TEST_TMP/cluster/root.key"
echo "kms.root_key = 'file:$PGKMS_TEST_TMP/cluster/root.key'" >>"$PGDATA/postgresql.conf"
psql -XAtq -c 'SELECT pg_reload_conf()' >/dev/null

# On failure the log ends with the failed tests and the start of their diff, so that the
# 40 lines printed above show what differed.
regress() {
    local pgxs
    pgxs=$(dirname "$(pg_config --pgxs)")
    "$pgxs/../test/regress/pg_regress" --dbname=pgkms_regress \
        --inputdir=test/regress --outputdir="$PGKMS_TEST_TMP/regress" \
        --host="$PGHOST" --port="$PGPORT" --user="$PGUSER" \
        $(sed -n 's/^test: //p' test/regress/schedule) >"$PGKMS_TEST_TMP/regress.out" 2>&1
    local rc=$?
    cat "$PGKMS_TEST_TMP/regress.out"
    [ $rc -eq 0 ] && return 0
    grep -E 'FAILED|failed \(' "$PGKMS_TEST_TMP/regress.out"
    head -n 30 "$PGKMS_TEST_TMP/regress/regression.diffs" 2>/dev/null
    return 1
}
run regress regress
for t in test/e2e/*.sh; do run "e2e/$(basename "$t" .sh)" bash "$t"; done
# Peers: real servers and tokens (SoftHSM2, PyKMIP, Barbican), each suite on clusters and state of
# its own.
for t in test/peers/*.sh; do run "peers/$(basename "$t" .sh)" bash "$t"; done

# Fuzz the decoders for a bounded time, seeded with the format vectors, keyring and shares.
corpus="$PGKMS_TEST_TMP/corpus"
mkdir -p "$corpus"
i=0
for v in $(sed -n 's/.* value=\([0-9a-f]*\).*/\1/p' test/vectors/format_vectors.txt); do
    { printf '\000'; printf '%s' "$v" | xxd -r -p; } >"$corpus/value$i"
    i=$((i + 1))
done
{ printf '\003'; cat test/vectors/format_keyring.json; } >"$corpus/keyring"
printf '\005pkcs11:token=pgkms%%20root;object=root;id=%%01?module-path=/m.so&pin-source=env:P' \
    >"$corpus/pkcs11-uri"
for s in $(grep -o 'pgkms-share-v1:[^ ]*' test/vectors/shamir_vectors.txt | head -n 8); do
    { printf '\006'; printf '%s\n' "$s"; } >"$corpus/share$i"
    i=$((i + 1))
done
for v in $(sed -n 's/^name=resp-.* hex=\([0-9a-f]*\)$/\1/p' test/vectors/kmip_vectors.txt); do
    { printf '\007'; printf '%s' "$v" | xxd -r -p; } >"$corpus/kmip$i"
    i=$((i + 1))
done
run fuzz build/test/fuzz-format -max_total_time="${PGKMS_FUZZ_SECONDS:-30}" -rss_limit_mb=1024 \
    "$corpus"
kms_corpus="$PGKMS_TEST_TMP/kms-corpus"
mkdir -p "$kms_corpus"
printf '\000vault+https://vault.example.com:8200/transit/k?timeout_ms=900&ca_file=%%2Fca.pem' \
    >"$kms_corpus/uri"
printf '\001{"data":{"ciphertext":"vault:v1:AAAA","derived":true,"plaintext":"AAAA"}}' \
    >"$kms_corpus/vault"
printf '\001{"CiphertextBlob":"AQID","KeyMetadata":{"KeyState":"Enabled"},"__type":"a#B"}' \
    >"$kms_corpus/aws"
printf '\002barbican+https://kms.example:9311/v1/secrets/%s?project=p&token_env=T&timeout_ms=900' \
    0f1e2d3c-4b5a-4697-8877-665544332211 >"$kms_corpus/barbican-uri"
printf '\003\002{"code": 403, "description": "Secret payload retrieval attempt not allowed"}' \
    >"$kms_corpus/barbican-403"
run fuzz-kms build/test/fuzz-kms -max_total_time="${PGKMS_FUZZ_SECONDS:-30}" -rss_limit_mb=1024 \
    "$kms_corpus"

[ $fail -eq 0 ] || echo "failed: ${failed[*]} (logs in $logs)"
echo "pgkms: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
