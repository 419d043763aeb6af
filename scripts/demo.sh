#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The pgkms demo on the embedded default (a root key file, no servers): two tenants,
# encrypt, decrypt, a cross-tenant refusal, and the openssl CLI reading a value from SQL.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(pg_config --bindir):$PATH"
dir=$(mktemp -d /tmp/pgkms-demo.XXXXXX)
chmod 755 "$dir"
trap 'scripts/pg-cluster.sh stop "$dir/cluster"; rm -rf "$dir"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run_sql() { printf '%s\n' "$1" | sed 's/^/sql> /'; psql -X -q -v ON_ERROR_STOP=1 -c "$1"; }

step "Start a throwaway PostgreSQL cluster in $dir"
scripts/pg-cluster.sh start "$dir/cluster"
. "$dir/cluster/env"

step "Install the extension: schema kms"
run_sql "CREATE EXTENSION pgkms;"
run_sql "CREATE TABLE customers (id serial PRIMARY KEY, tenant text, name text, phone kms.encrypted);"

step "Tenant acme stores a phone number (its key and the dev root key are created on first use)"
run_sql "SET kms.tenant = 'acme'; INSERT INTO customers (tenant, name, phone) VALUES ('acme', 'Alice', kms.encrypt('13812345678', context => 'customers.phone'));"
step "Tenant globex stores one too"
run_sql "SET kms.tenant = 'globex'; INSERT INTO customers (tenant, name, phone) VALUES ('globex', 'Bob', kms.encrypt('+86 139 8765 4321', context => 'customers.phone'));"

step "What the table holds: ciphertext only (59 bytes for an 11-digit phone)"
run_sql "SELECT id, tenant, name, left(phone::text, 40) || '...' AS phone, octet_length(phone::bytea) AS bytes FROM customers;"
run_sql "SELECT tenant, key_id, state, current_version FROM kms.keys ORDER BY tenant;"

step "acme decrypts its own row"
run_sql "SET kms.tenant = 'acme'; SELECT name, kms.decrypt(phone, 'customers.phone') AS phone FROM customers WHERE tenant = 'acme';"

step "acme tries globex's row: refused"
if psql -X -q -c "SET kms.tenant = 'acme'; SELECT kms.decrypt(phone, 'customers.phone') FROM customers WHERE tenant = 'globex';" 2>"$dir/err"; then
    echo "unexpected: cross-tenant decrypt succeeded" >&2
    exit 1
fi
sed 's/^/   /' "$dir/err"

step "The openssl CLI decrypts a value selected from SQL"
psql -XAtq -c "SELECT convert_from(kms.export_keyring(), 'UTF8')" >"$dir/keyring.json"
psql -XAtq -c "SELECT phone FROM customers WHERE tenant = 'acme'" | base64 -d >"$dir/phone.kms"
export PGKMS_ROOT_KEY="file:$PGDATA/pgkms_root.key" PGKMS_KEYRING="$dir/keyring.json"
echo "PGKMS_ROOT_KEY=$PGKMS_ROOT_KEY PGKMS_KEYRING=$PGKMS_KEYRING"
cmd=(openssl pkeyutl -provider pgkms -provider default -decrypt -inkey 'kms:tenant=acme'
     -pkeyopt kms-context:customers.phone -in "$dir/phone.kms")
echo "\$ ${cmd[*]}"
"${cmd[@]}"
echo

step "...and SQL decrypts what the CLI encrypted"
printf 'written by openssl' >"$dir/msg"
openssl pkeyutl -provider pgkms -provider default -encrypt -inkey 'kms:tenant=globex' \
    -in "$dir/msg" -out "$dir/msg.kms"
run_sql "SET kms.tenant = 'globex'; SELECT kms.decrypt('$(base64 -w0 "$dir/msg.kms")');"

step "openssl storeutl describes the tenant key (never its bytes)"
openssl storeutl -provider pgkms -provider default -noout -text 'kms:tenant=acme'

step "Done: the cluster is stopped and removed"
