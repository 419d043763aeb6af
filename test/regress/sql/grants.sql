-- Grants: tenant gr-a lets tenant gr-b use one of its keys, for some operations and contexts.
SET kms.tenant = 'gr-a';
SELECT kms.encrypt('order secret', context => 'orders:1') AS v_order \gset
SELECT kms.encrypt('invoice secret', context => 'invoices:1') AS v_invoice \gset
RESET kms.tenant;
SELECT key_id AS ka FROM kms.keys WHERE tenant = 'gr-a' AND is_default \gset
-- Without a grant, gr-b reads nothing of gr-a's and learns nothing about it.
SET kms.tenant = 'gr-b';
SELECT sqlstate_of(format('SELECT kms.decrypt(%L, %L)', :'v_order', 'orders:1'));
SELECT masked(sqlstate_of(format('SELECT kms.encrypt(%L, key => %L)', 'x', :'ka')));
SELECT masked(sqlstate_of(format('SELECT * FROM kms.describe_key(%L)', :'ka')));
SELECT masked(sqlstate_of(format('SELECT * FROM kms.describe_key(%L)', gen_random_uuid())));
RESET kms.tenant;

-- Decrypt, only for contexts that start with 'orders:'.
SELECT kms.create_grant(:'ka', 'gr-b', ARRAY['Decrypt'], '{"context_prefix": "orders:"}') AS g_dec \gset
SET kms.tenant = 'gr-b';
SELECT kms.decrypt(:'v_order', 'orders:1');
SELECT sqlstate_of(format('SELECT kms.decrypt(%L, %L)', :'v_invoice', 'invoices:1'));
SELECT sqlstate_of(format('SELECT kms.decrypt(%L)', :'v_order'));
-- The grant does not make the key gr-b's: its own values still go under its own key.
SELECT kms.decrypt(kms.encrypt('b data'));
SELECT masked(sqlstate_of(format('SELECT kms.encrypt(%L, key => %L)', 'x', :'ka')));
RESET kms.tenant;

-- Encrypt, ReEncrypt and DescribeKey with the exact context 'shared'; gr-ops may retire it.
SELECT kms.create_grant(:'ka', 'gr-b', ARRAY['Encrypt', 'ReEncrypt', 'DescribeKey', 'Encrypt'],
                        '{"context": "shared"}', retiring_tenant => 'gr-ops') AS g_enc \gset
SET kms.tenant = 'gr-b';
SELECT kms.encrypt('written by b', context => 'shared', key => :'ka') AS v_b \gset
SELECT sqlstate_of(format('SELECT kms.encrypt(%L, context => %L, key => %L)', 'x', 'other', :'ka'));
SELECT tenant, state, current_version, origin FROM kms.describe_key(:'ka');
-- The value is under gr-a's key: gr-a reads it, gr-b (no Decrypt for 'shared') does not.
SELECT sqlstate_of(format('SELECT kms.decrypt(%L, %L)', :'v_b', 'shared'));
SET kms.tenant = 'gr-a';
SELECT kms.decrypt(:'v_b', 'shared');
SELECT substring(:'v_b'::kms.encrypted::bytea FROM 5 FOR 8)
     = (SELECT key_ref FROM kms.keys WHERE key_id = :'ka') AS under_gr_a_key;
RESET kms.tenant;
-- ReEncrypt: after a rotation gr-b moves the value to the new version without seeing it.
SELECT kms.rotate_key(:'ka');
SET kms.tenant = 'gr-b';
SELECT get_byte(kms.rewrap(:'v_b', 'shared')::bytea, 15) AS new_version;
SELECT sqlstate_of(format('SELECT kms.rewrap(%L, %L)', :'v_order', 'orders:1'));
RESET kms.tenant;

-- Listing.
SELECT grantee_tenant, key_tenant, operations, constraints, retiring_tenant
  FROM kms.list_grants(:'ka');
SELECT grantee_tenant, operations FROM kms.list_retirable_grants('gr-ops');
SELECT count(*) AS retirable_by_b FROM kms.list_retirable_grants('gr-b');

-- Retiring: only the grantee or the retiring tenant, acting as itself.
SET kms.tenant = 'gr-c';
SELECT masked(sqlstate_of(format('SELECT kms.retire_grant(%L)', :'g_enc')));
SET kms.tenant = 'gr-ops';
SELECT kms.retire_grant(:'g_enc');
SELECT masked(sqlstate_of(format('SELECT kms.retire_grant(%L)', :'g_enc')));
SET kms.tenant = 'gr-b';
SELECT masked(sqlstate_of(format('SELECT kms.encrypt(%L, context => %L, key => %L)', 'x', 'shared', :'ka')));
RESET kms.tenant;

-- Revoking: the next call is refused (every session sees it at commit: e2e/state-at-commit).
SET kms.tenant = 'gr-b';
SELECT kms.decrypt(:'v_order', 'orders:1');
RESET kms.tenant;
SELECT kms.revoke_grant(:'ka', :'g_dec');
SET kms.tenant = 'gr-b';
SELECT sqlstate_of(format('SELECT kms.decrypt(%L, %L)', :'v_order', 'orders:1'));
RESET kms.tenant;
SELECT count(*) AS grants_left FROM kms.list_grants(:'ka');

-- Bad input: clear errors, nothing stored.
SELECT masked(sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L)', :'ka', 'gr-b', '{Delete}')));
SELECT masked(sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L)', :'ka', 'gr-b', '{}')));
SELECT masked(sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L)', :'ka', 'gr-b', '{Decrypt,NULL}')));
SELECT masked(sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L)', :'ka', 'gr-a', '{Decrypt}')));
SELECT masked(sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L)', :'ka', 'bad tenant', '{Decrypt}')));
SELECT masked(sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L, %L)', :'ka', 'gr-b', '{Decrypt}', '{"tenant": "x"}')));
SELECT masked(sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L, %L)', :'ka', 'gr-b', '{Decrypt}', '{"context": 1}')));
SELECT masked(sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L, %L)', :'ka', 'gr-b', '{Decrypt}', '[]')));
SELECT masked(sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L)', gen_random_uuid(), 'gr-b', '{Decrypt}')));
SELECT masked(sqlstate_of(format('SELECT kms.revoke_grant(%L, %L)', :'ka', gen_random_uuid())));
SELECT count(*) AS grants_left FROM kms.list_grants(:'ka');

-- Grants are for administrators; retiring and describing are for tenants.
CREATE ROLE gr_user;
GRANT USAGE ON SCHEMA kms TO gr_user;
SET ROLE gr_user;
SELECT sqlstate_of(format('SELECT kms.create_grant(%L, %L, %L)', :'ka', 'gr-b', '{Decrypt}'));
SELECT sqlstate_of(format('SELECT * FROM kms.list_grants(%L)', :'ka'));
SELECT sqlstate_of('SELECT * FROM kms.grants');
RESET ROLE;
REVOKE USAGE ON SCHEMA kms FROM gr_user;
DROP ROLE gr_user;
