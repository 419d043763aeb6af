# SPDX-License-Identifier: Apache-2.0
# A hot standby decrypts with the primary's keys and sees a key disabled on the primary on replay.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_standby
dropdb --if-exists "$db" && createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms"
kid=$(sql -c "SELECT kms.create_key('sb', 'pii')")
v=$(sql -c "SELECT kms.encrypt('replicated', 'sb', NULL, 'pii')")

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
sb="$T/standby"
mkdir -p "$sb" && chmod 755 "$sb"
[ "$(id -u)" -ne 0 ] || chown postgres: "$sb"
trap 'as_pg pg_ctl -D "$sb/data" -m immediate stop >/dev/null 2>&1; rm -rf "$T"' EXIT
as_pg pg_basebackup -D "$sb/data" -R -X stream -c fast -h "$PGHOST" -p "$PGPORT" -U "$PGUSER"
port=$((PGPORT + 1))
cat >>"$sb/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$sb'
hot_standby = on
CONF
as_pg pg_ctl -D "$sb/data" -l "$sb/server.log" -w start >/dev/null || { cat "$sb/server.log"; exit 1; }
sbsql() { psql -XAtq -h "$sb" -p "$port" "$@"; }
catch_up() { # wait until the standby has replayed everything the primary has written
    local lsn
    lsn=$(sql -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 100); do
        [ "$(sbsql -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && return 0
        sleep 0.1
    done
    fail "standby did not catch up"
}
catch_up
[ "$(sbsql -c "SELECT pg_is_in_recovery()")" = t ] || fail "not a standby"

# One standby session stays open with the key cached.
open_session 3 -h "$sb" -p "$port"
ask 3 "SET kms.tenant = 'sb';" >/dev/null
[ "$(ask 3 "SELECT kms.decrypt('$v');")" = replicated ] || fail "standby cannot decrypt"
ok "a standby session decrypts a value with the replicated key"

sql -c "SELECT kms.disable_key('$kid')" >/dev/null
catch_up
got=$(ask 3 "SELECT kms.decrypt('$v');")
grep -q "is in state Disabled" <<<"$got" || fail "standby after replay: $got"
ok "after the primary disables the key and the standby replays it, the standby session is refused"
sql -c "SELECT kms.enable_key('$kid')" >/dev/null
catch_up
[ "$(ask 3 "SELECT kms.decrypt('$v');")" = replicated ] || fail "standby after re-enable"
ok "re-enabled on the primary: the standby session decrypts again"

# A new tenant's first use needs a write: on a standby it fails clearly, nothing is half-made.
got=$(ask 3 "SELECT kms.encrypt('x', 'brand-new');")
grep -q "read-only transaction" <<<"$got" || fail "first use on the standby: $got"
ok "first use of a new tenant on the standby fails clearly: ${got#ERROR:  }"
exec 3>&-
dropdb "$db"
