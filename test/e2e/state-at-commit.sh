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

# Session A stays connected, with the key cached.
open_session 3
ask 3 "SET kms.tenant = 'st';" >/dev/null
[ "$(ask 3 "SELECT kms.decrypt('$v');")" = "still here" ] || fail "A cannot decrypt at first"
ok "session A has the key cached"

# B disables in an open transaction: A is unaffected until B commits.
open_session 4
ask 4 "BEGIN; SELECT kms.disable_key('$kid');" >/dev/null
[ "$(ask 3 "SELECT kms.decrypt('$v');")" = "still here" ] || fail "A lost the key before B committed"
ok "before B commits, A still decrypts"
ask 4 "COMMIT;" >/dev/null
exec 4>&-
got=$(ask 3 "SELECT kms.decrypt('$v');")
grep -q "is in state Disabled" <<<"$got" || fail "after B's commit A got: $got"
ok "right after B commits, A's next decrypt is refused: ${got#ERROR:  }"
sql -c "SELECT kms.enable_key('$kid')" >/dev/null
[ "$(ask 3 "SELECT kms.decrypt('$v');")" = "still here" ] || fail "A did not see the key re-enabled"
ok "re-enabled: A decrypts again, at once"
exec 3>&-
wait
dropdb "$db"
