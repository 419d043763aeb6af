# SPDX-License-Identifier: Apache-2.0
# Shared by the shell suites: strict mode, the openssl wrapper, assertions, temp dirs.
set -euo pipefail
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${OPENSSL_MODULES:=$ROOT_DIR/build/provider}"
export OPENSSL_MODULES
P="-provider pgkms -provider default"
T=$(mktemp -d "${PGKMS_TEST_TMP:-/tmp}/t.XXXXXX")
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT

# Every openssl call runs under $CHECKER when set (e.g. "valgrind --error-exitcode=99 -q").
ossl() { ${CHECKER:-} openssl "$@"; }

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# expect_fail "what" "pattern in stderr" cmd...: the command must fail and say pattern.
expect_fail() {
    local what=$1 pattern=$2
    shift 2
    if "$@" >"$T/out" 2>"$T/err"; then fail "$what: succeeded"; fi
    grep -q -- "$pattern" "$T/err" || { cat "$T/err" >&2; fail "$what: no \"$pattern\" in error"; }
    ok "$what"
}
# A root key and keyring for the CLI, in the test's temp dir.
new_cli_env() {
    openssl rand -hex 32 >"$T/root.key"
    chmod 600 "$T/root.key"
    export PGKMS_ROOT_KEY="file:$T/root.key" PGKMS_KEYRING="$T/keyring.json"
}
# SQL helpers for suites that run against the test cluster (run-all.sh exports PG*).
need_cluster() { [ -n "${PGHOST:-}" ] || { echo "no test cluster (run through test/run-all.sh)"; exit 77; }; }
sql() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
# flip_bit IN OFFSET OUT: OUT is IN with the low bit of byte OFFSET inverted (always a change).
flip_bit() {
    python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[int(sys.argv[2])] ^= 1; open(sys.argv[3], "wb").write(b)' "$1" "$2" "$3"
}
# open_session FD [psql options]: a psql session kept open on file descriptor FD (3-9), so a
# test can interleave statements of several sessions; ask FD SQL prints SQL's answer in it.
open_session() {
    local fd=$1
    shift
    mkfifo "$T/s$fd.in"
    : >"$T/s$fd.out"
    psql -XAtq "$@" >>"$T/s$fd.out" 2>&1 <"$T/s$fd.in" &
    eval "exec $fd>\"\$T/s$fd.in\""
}
ask() {
    local fd=$1 before
    before=$(wc -l <"$T/s$fd.out")
    printf '%s\nSELECT %s;\n' "$2" "'done'" >&"$fd"
    for _ in $(seq 100); do
        tail -n +$((before + 1)) "$T/s$fd.out" | grep -q '^done$' && break
        sleep 0.1
    done
    tail -n +$((before + 1)) "$T/s$fd.out" | grep -v '^done$' || true
}
