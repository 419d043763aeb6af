# SPDX-License-Identifier: Apache-2.0
# The format spec is implementable alone: Python reads SQL's values from keyring + root only.
source "$(dirname "$0")/../lib.sh"
need_cluster
db=e2e_reader
dropdb --if-exists "$db" && createdb "$db"
export PGDATABASE=$db
sql -c "CREATE EXTENSION pgkms"
sql <<'SQL'
CREATE TABLE v (n int, tenant text, ctx text, pt bytea, val kms.encrypted);
INSERT INTO v (n, tenant, ctx, pt) VALUES
  (1, 'acme', NULL, convert_to('13812345678', 'UTF8')),
  (2, 'acme', 'users.name', convert_to('张三丰 🙂', 'UTF8')),
  (3, 'globex', NULL, ''::bytea),
  (4, 'globex', 'blob:4', (SELECT string_agg(gen_random_uuid()::text::bytea, '') FROM generate_series(1, 30000)));
UPDATE v SET val = kms.encrypt(pt, tenant, ctx);
SQL
sql -c "SELECT convert_from(kms.export_keyring(), 'UTF8')" >"$T/keyring.json"
root=$(sql -c 'SHOW kms.root_key' | sed 's/^file://')
sql -c "SELECT tenant, coalesce(nullif(encode(convert_to(ctx, 'UTF8'), 'hex'), ''), '-'),
               encode(val::bytea, 'hex') FROM v ORDER BY n" | tr '|' ' ' >"$T/values"
env -u OPENSSL_MODULES /usr/bin/python3 "$(dirname "$0")/reference_reader.py" "$root" "$T/keyring.json" \
    <"$T/values" >"$T/got"
sql -c "SELECT encode(pt, 'hex') FROM v ORDER BY n" >"$T/want"
cmp "$T/want" "$T/got" || fail "the reference reader disagrees"
ok "an independent Python reader opens 4 values of 2 tenants (incl. empty, UTF-8, 1 MiB, contexts)"
dropdb "$db"
