# SPDX-License-Identifier: Apache-2.0
# Disabling a key, or revoking a grant, reaches a session that already cached it at commit,
# not after the TTL.
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

# A grant to tenant "gb": A, acting as gb, decrypts under it until B's revocation commits.
gid=$(sql -c "SELECT kms.create_grant('$kid', 'gb', ARRAY['Decrypt'])")
ask 3 "SET kms.tenant = 'gb';" >/dev/null
[ "$(ask 3 "SELECT kms.decrypt('$v');")" = "still here" ] || fail "the grantee cannot decrypt"
ok "grantee session decrypts under the grant"
open_session 5
ask 5 "BEGIN; SELECT kms.revoke_grant('$kid', '$gid');" >/dev/null
[ "$(ask 3 "SELECT kms.decrypt('$v');")" = "still here" ] || fail "revoked before B committed"
ask 5 "COMMIT;" >/dev/null
exec 5>&-
got=$(ask 3 "SELECT kms.decrypt('$v');")
grep -q "permission denied to decrypt a value of another tenant" <<<"$got" ||
    fail "after the revocation committed the grantee got: $got"
ok "right after the revocation commits, the grantee is refused"

# Refusals are audited even when the refusing session never commits again: it writes them as
# it ends. (Until now each refusal was written by the session's next autocommit statement.)
marks=$(sql -c "SELECT count(*) FROM kms.audit_log WHERE operation = 'Decrypt' AND outcome = 'denied'")
before=$(wc -l <"$T/s3.out")
printf "BEGIN;\nSELECT kms.decrypt('%s');\n" "$v" >&3
for _ in $(seq 50); do
    tail -n +$((before + 1)) "$T/s3.out" | grep -q 'permission denied' && break
    sleep 0.1
done
[ "$(sql -c "SELECT count(*) FROM kms.audit_log WHERE operation = 'Decrypt' AND outcome = 'denied'")" = "$marks" ] ||
    fail "the refusal was written before the session ended"
exec 3>&-
wait
for _ in $(seq 50); do
    n=$(sql -c "SELECT count(*) FROM kms.audit_log WHERE operation = 'Decrypt' AND outcome = 'denied'")
    [ "$n" -gt "$marks" ] && break
    sleep 0.1
done
[ "$n" -gt "$marks" ] || fail "the refusal of a session that ended without committing is lost"
ok "the refusal was written when the session ended"
dropdb "$db"
