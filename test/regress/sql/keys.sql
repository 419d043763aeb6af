-- Tenant keys beyond the default: create_key, key => alias, disable and enable.
SET kms.tenant = 'keys-t';
-- A tenant may start with named keys only; decrypting never stands in for its default key.
SELECT kms.create_key('keys-t', 'pii', 'columns with personal data') AS pii \gset
SELECT kms.create_key('keys-t') AS anon \gset
SELECT tenant, alias, is_default, state, description FROM kms.keys WHERE tenant = 'keys-t' ORDER BY alias;
-- encrypt(..., key => alias or id) uses that key; decrypt finds it from the value.
SELECT kms.decrypt(kms.encrypt('by alias', key => 'pii'));
SELECT kms.decrypt(kms.encrypt('by id', key => :'anon'));
SELECT substring(kms.encrypt('x', key => 'pii')::bytea FROM 5 FOR 8) = key_ref AS uses_pii_key
  FROM kms.keys WHERE key_id = :'pii';
-- No default key was created: encrypt with an explicit key does not need one.
SELECT count(*) FROM kms.keys WHERE tenant = 'keys-t' AND is_default;
SELECT sqlstate_of($$SELECT kms.encrypt('x', key => 'nosuch')$$);
SELECT sqlstate_of($$SELECT kms.create_key('keys-t', 'pii')$$);
SELECT sqlstate_of($$SELECT kms.create_key('keys-t', 'bad alias')$$);
SELECT sqlstate_of($$SELECT kms.create_key('keys-t', '6b3a1f0e-2c4d-4a5b-8c7d-9e0f1a2b3c4d')$$);
SELECT sqlstate_of($$SELECT kms.create_key(NULL)$$);
-- Disabled keys neither encrypt nor decrypt; the message names the state.
CREATE TABLE kv AS SELECT kms.encrypt('kept', key => 'pii') AS v;
SELECT kms.disable_key(:'pii');
SELECT regexp_replace(sqlstate_of($$SELECT kms.encrypt('x', key => 'pii')$$),
                      '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<key id>');
SELECT regexp_replace(sqlstate_of($$SELECT kms.decrypt(v) FROM kv$$),
                      '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<key id>');
SELECT kms.disable_key(:'pii');   -- already disabled: no-op
SELECT kms.enable_key(:'pii');
SELECT kms.decrypt(v) FROM kv;
-- The default key cannot be disabled; unknown keys are reported.
SELECT kms.encrypt('makes a default key') IS NOT NULL AS default_created;
SELECT count(*) AS default_keys FROM kms.keys WHERE tenant = 'keys-t' AND is_default;
SELECT regexp_replace(sqlstate_of(format('SELECT kms.disable_key(%L)',
         (SELECT key_id FROM kms.keys WHERE tenant = 'keys-t' AND is_default))),
       '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<key id>');
SELECT sqlstate_of($$SELECT kms.enable_key('00000000-0000-4000-8000-000000000000')$$);
-- Key administration is not for PUBLIC.
CREATE ROLE keys_app;
GRANT USAGE ON SCHEMA kms TO keys_app;
SET ROLE keys_app;
SELECT sqlstate_of($$SELECT kms.create_key('keys-t')$$);
SELECT sqlstate_of(format('SELECT kms.disable_key(%L)', :'pii'));
RESET ROLE;
DROP OWNED BY keys_app;
DROP ROLE keys_app;
