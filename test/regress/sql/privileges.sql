-- An ordinary role encrypts and decrypts, but cannot read key records or export keyrings.
CREATE ROLE app_user LOGIN;
GRANT USAGE ON SCHEMA kms TO app_user;
CREATE TABLE app_data (v kms.encrypted);
GRANT ALL ON app_data TO app_user;
SET ROLE app_user;
SET kms.tenant = 'acme';
INSERT INTO app_data VALUES (kms.encrypt('by app_user'));
SELECT kms.decrypt(v) FROM app_data;
-- A new tenant's default key can be created without privileges on kms tables.
SELECT octet_length(kms.encrypt('first use', 'app-tenant')::bytea) AS stored_bytes;
SET kms.tenant = 'app-tenant';
SELECT kms.decrypt(kms.encrypt('first use'));
SET kms.tenant = 'acme';
SELECT sqlstate_of($$SELECT count(*) FROM kms.keys$$);
SELECT sqlstate_of($$SELECT count(*) FROM kms.key_versions$$);
SELECT sqlstate_of($$SELECT kms.export_keyring()$$);
SELECT sqlstate_of($$INSERT INTO kms.keys (key_id, tenant) VALUES (gen_random_uuid(), 'evil')$$);
SELECT sqlstate_of($$SET kms.root_key = 'file:/tmp/evil.key'$$);
SELECT sqlstate_of($$SET kms.key_cache_ttl = 1$$);
RESET ROLE;
-- The administrator's export holds wrapped material only.
SELECT j->>'format' AS format, j->>'version' AS version,
       (SELECT array_agg(k->>'tenant' ORDER BY k->>'tenant') FROM jsonb_array_elements(j->'keys') k
         WHERE length(k->>'tenant') < 20) AS tenants,
       (SELECT bool_and(length(decode(v->>'wrapped', 'base64')) = 61)
          FROM jsonb_array_elements(j->'keys') k, jsonb_array_elements(k->'versions') v) AS wrapped_61
  FROM (SELECT convert_from(kms.export_keyring(), 'UTF8')::jsonb AS j) s;
SELECT jsonb_array_length(convert_from(kms.export_keyring('acme'), 'UTF8')::jsonb->'keys') AS acme_keys;
SELECT sqlstate_of($$SELECT kms.export_keyring('nobody')$$);
DROP TABLE app_data;
DROP OWNED BY app_user;
DROP ROLE app_user;
