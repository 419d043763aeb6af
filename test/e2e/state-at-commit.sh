# SPDX-License-Identifier: Apache-2.0
# Disabling a key reaches a session that already cached it at commit, not after the TTL.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_state
dropdb --if-exists "$db" && createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms"
kid=$(sql -c "SELECT kms.create_key('st', 'pii')")
v=$(sql -c "SELECT kms.encrypt('still here', 'st', NULL, 'pii')")

# Session A stays connected, with the key cached, and answers one query per line.
mkfifo "$T/in"
: >"$T/a.out"
psql -XAtq -v ON_ERROR_STOP=0 >>"$T/a.out" 2>&1 <"$T/in" &
exec 3>"$T/in"
ask() { # query: run in session A, print its answer
    local before
    before=$(wc -l <"$T/a.out")
    echo "$1" >&3
    echo "SELECT 'done';" >&3
    for _ in $(seq 100); do
        tail -n +$((before + 1)) "$T/a.out" | grep -q '^done$' && break
        sleep 0.1
    done
    tail -n +$((before + 1)) "$T/a.out" | grep -v '^done$' || true
}
ask "SET kms.tenant = 'st';" >/dev/null
[ "$(ask "SELECT kms.decrypt('$v');")" = "still here" ] || fail "A cannot decrypt at first"
ok "session A has the key cached"

# B disables in an open transaction: A is unaffected until B commits.
mkfifo "$T/b"
psql -XAtq <"$T/b" >/dev/null 2>&1 &
exec 4>"$T/b"
echo "BEGIN; SELECT kms.disable_key('$kid');" >&4
sleep 0.5
[ "$(ask "SELECT kms.decrypt('$v');")" = "still here" ] || fail "A lost the key before B committed"
ok "before B commits, A still decrypts"
echo "COMMIT;" >&4
exec 4>&-
sleep 0.5
got=$(ask "SELECT kms.decrypt('$v');")
grep -q "is in state Disabled" <<<"$got" || fail "after B's commit A got: $got"
ok "right after B commits, A's next decrypt is refused: ${got#ERROR:  }"
sql -c "SELECT kms.enable_key('$kid')" >/dev/null
[ "$(ask "SELECT kms.decrypt('$v');")" = "still here" ] || fail "A did not see the key re-enabled"
ok "re-enabled: A decrypts again, at once"
exec 3>&-
wait
dropdb "$db"
