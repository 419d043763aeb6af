-- SPDX-License-Identifier: Apache-2.0
-- pgkms 0.1.0 -> 0.2.0. CREATE EXTENSION pgkms runs pgkms--0.1.0.sql and then this script, so
-- new installations and upgraded ones end up with the same objects (test/regress/upgrade).
\echo Use "ALTER EXTENSION pgkms UPDATE" to load this file. \quit

-- Key records ---------------------------------------------------------------------------------
-- The tables become internal (kms._keys, kms._key_versions); kms.keys and kms.key_versions are
-- views without the wrapped material. BYOK adds material expiry and a check value.
ALTER TABLE kms.keys RENAME TO _keys;
ALTER TABLE kms.key_versions RENAME TO _key_versions;
ALTER TABLE kms._keys
    ADD COLUMN keyring_uri text,           -- the tenant's own keyring (HYOK); NULL: the root
    ADD COLUMN valid_to timestamptz,       -- imported material expires then (BYOK)
    ADD COLUMN material_check bytea CHECK (length(material_check) = 32), -- recognises re-imports
    ADD CHECK (origin IN ('pgkms', 'external'));

CREATE VIEW kms.keys AS
    SELECT key_id, tenant, alias, is_default, state, current_version, origin, description,
           created, deletion_date, rotation_period, valid_to, keyring_uri, key_ref
      FROM kms._keys;
CREATE VIEW kms.key_versions AS
    SELECT key_id, version, keyring, root_id, created FROM kms._key_versions;
REVOKE ALL ON kms.keys, kms.key_versions FROM PUBLIC;
COMMENT ON VIEW kms.keys IS 'tenant master keys (grant SELECT to key administrators)';
COMMENT ON VIEW kms.key_versions IS 'versions of tenant master keys, without their material';

-- Audit ---------------------------------------------------------------------------------------
-- Administrative operations are recorded in their own transaction (they did not happen if it
-- rolls back). Key unwraps and refusals happened whatever the transaction does: the session
-- keeps them and writes them with its next committing transaction or when it ends
-- (docs/audit.md).
CREATE TABLE kms.audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    role_name name NOT NULL,
    tenant    text,
    key_id    uuid,
    version   integer,
    operation text NOT NULL,
    outcome   text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    detail    text
);
SELECT pg_catalog.pg_extension_config_dump('kms.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('kms.audit_log_id_seq', '');
REVOKE ALL ON kms.audit_log FROM PUBLIC;

-- outcome 'ok' is written now, in the caller's transaction; 'denied'/'failed' outlive it.
CREATE FUNCTION kms._audit(operation text, tenant text, key uuid, version integer,
                           outcome text, detail text DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'pgkms_audit' LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION kms._audit(text, text, uuid, integer, text, text) FROM PUBLIC;

-- Records a refused administrative operation and raises its error.
CREATE FUNCTION kms._refuse(operation text, tenant text, key uuid, errcode text, message text,
                            hint text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM kms._audit(operation, tenant, key, NULL, 'denied', errcode || ': ' || message);
    IF hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = errcode, MESSAGE = message;
    END IF;
    RAISE EXCEPTION USING ERRCODE = errcode, MESSAGE = message, HINT = hint;
END $$;
REVOKE ALL ON FUNCTION kms._refuse(text, text, uuid, text, text, text) FROM PUBLIC;

-- Administrative functions, now on the internal tables and audited --------------------------
CREATE OR REPLACE FUNCTION kms._set_key_state(key uuid, from_state text, to_state text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    op text := CASE to_state WHEN 'Enabled' THEN 'enable_key' ELSE 'disable_key' END;
BEGIN
    SELECT tenant, is_default, state INTO k FROM kms._keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM kms._refuse(op, NULL, key, '42704', format('key %s does not exist', key));
    END IF;
    IF k.is_default AND to_state <> 'Enabled' THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000',
            format('key %s is the default key of tenant "%s" and cannot be disabled', key, k.tenant));
    END IF;
    IF k.state = to_state THEN
        RETURN;
    END IF;
    IF k.state <> from_state THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000',
            format('key %s is in state %s, not %s', key, k.state, from_state));
    END IF;
    UPDATE kms._keys SET state = to_state WHERE key_id = key;
    PERFORM kms._audit(op, k.tenant, key, NULL, 'ok');
END $$;

CREATE OR REPLACE FUNCTION kms.schedule_key_deletion(key uuid, pending_days integer DEFAULT 30)
    RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    op constant text := 'schedule_key_deletion';
BEGIN
    SELECT tenant, is_default, state INTO k FROM kms._keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM kms._refuse(op, NULL, key, '42704', format('key %s does not exist', key));
    END IF;
    IF pending_days IS NULL OR pending_days NOT BETWEEN 7 AND 30 THEN
        PERFORM kms._refuse(op, k.tenant, key, '22023',
            format('pending_days must be between 7 and 30, not %s', coalesce(pending_days::text, 'NULL')));
    END IF;
    IF k.is_default THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000',
            format('key %s is the default key of tenant "%s" and cannot be deleted', key, k.tenant));
    END IF;
    IF k.state NOT IN ('Enabled', 'Disabled', 'PendingImport') THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000',
            format('key %s is in state %s; only Enabled, Disabled or PendingImport keys can be scheduled for deletion',
                   key, k.state));
    END IF;
    UPDATE kms._keys SET state = 'PendingDeletion', deletion_date = now() + make_interval(days => pending_days)
     WHERE key_id = key;
    PERFORM kms._audit(op, k.tenant, key, NULL, 'ok', format('%s days', pending_days));
    RETURN now() + make_interval(days => pending_days);
END $$;

-- A cancelled deletion leaves the key Disabled, or PendingImport if it has no material.
CREATE OR REPLACE FUNCTION kms.cancel_key_deletion(key uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    op constant text := 'cancel_key_deletion';
BEGIN
    SELECT tenant, state INTO k FROM kms._keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM kms._refuse(op, NULL, key, '42704', format('key %s does not exist', key));
    END IF;
    IF k.state <> 'PendingDeletion' THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000',
            format('key %s is in state %s, not PendingDeletion', key, k.state));
    END IF;
    UPDATE kms._keys SET deletion_date = NULL,
           state = CASE WHEN EXISTS (SELECT 1 FROM kms._key_versions v WHERE v.key_id = key)
                        THEN 'Disabled' ELSE 'PendingImport' END
     WHERE key_id = key;
    PERFORM kms._audit(op, k.tenant, key, NULL, 'ok');
END $$;

-- Destroys every key whose deletion date has passed (its wrapped versions are deleted and the
-- key stays as a Destroyed record), and deletes imported material past its valid_to (the key
-- goes back to PendingImport). Returns how many keys it changed.
CREATE OR REPLACE FUNCTION kms.purge_deleted_keys() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    n integer := 0;
BEGIN
    FOR k IN
        SELECT key_id, tenant, state FROM kms._keys
         WHERE (state = 'PendingDeletion' AND deletion_date <= now())
            OR (origin = 'external' AND valid_to <= now() AND state <> 'Destroyed')
         ORDER BY key_id FOR UPDATE
    LOOP
        DELETE FROM kms._key_versions v WHERE v.key_id = k.key_id;
        IF k.state = 'PendingDeletion' THEN
            UPDATE kms._keys SET state = 'Destroyed', deletion_date = NULL WHERE key_id = k.key_id;
            PERFORM kms._audit('destroy_key', k.tenant, k.key_id, NULL, 'ok');
        ELSE
            UPDATE kms._keys SET state = 'PendingImport', valid_to = NULL WHERE key_id = k.key_id;
            PERFORM kms._audit('expire_key_material', k.tenant, k.key_id, NULL, 'ok');
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION kms.retire_key_version(key uuid, version integer, force boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    col record;
    tag bytea;
    n bigint;
    users text := '';
    op constant text := 'retire_key_version';
BEGIN
    SELECT tenant, key_ref, current_version INTO k FROM kms._keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM kms._refuse(op, NULL, key, '42704', format('key %s does not exist', key));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM kms._key_versions v WHERE v.key_id = key AND v.version = retire_key_version.version) THEN
        PERFORM kms._refuse(op, k.tenant, key, '42704', format('key %s has no version %s', key, version));
    END IF;
    IF version = k.current_version THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000',
            format('version %s is the current version of key %s', version, key),
            'Rotate the key first (kms.rotate_key).');
    END IF;
    -- Bytes 5..16 of a value: key reference and key version.
    tag := k.key_ref || int4send(version);
    FOR col IN
        SELECT a.attrelid::regclass AS tbl, a.attname
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE a.atttypid = 'kms.encrypted'::regtype AND NOT a.attisdropped AND a.attnum > 0
           AND c.relkind IN ('r', 'p', 'm') AND c.relnamespace <> 'kms'::regnamespace
    LOOP
        EXECUTE format('SELECT count(*) FROM %s WHERE substring(%I::bytea FROM 5 FOR 12) = $1',
                       col.tbl, col.attname) INTO n USING tag;
        IF n > 0 THEN
            users := users || format('%s %s.%s; ', n, col.tbl, col.attname);
        END IF;
    END LOOP;
    IF users <> '' AND NOT force THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000',
            format('version %s of key %s is still used by values: %s', version, key, rtrim(users, '; ')),
            'Rewrap them first (kms.rewrap_table), or pass force => true to make them unreadable.');
    END IF;
    DELETE FROM kms._key_versions v WHERE v.key_id = key AND v.version = retire_key_version.version;
    PERFORM kms._audit(op, k.tenant, key, version, 'ok',
                       CASE WHEN users <> '' THEN 'forced; still used by ' || rtrim(users, '; ') END);
END $$;

CREATE OR REPLACE FUNCTION kms.allow_tenant(role name, tenant text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regrole(quote_ident(role)) IS NULL THEN
        PERFORM kms._refuse('allow_tenant', tenant, NULL, '42704', format('role "%s" does not exist', role));
    END IF;
    INSERT INTO kms.role_tenants VALUES (role, tenant) ON CONFLICT DO NOTHING;
    PERFORM kms._audit('allow_tenant', tenant, NULL, NULL, 'ok', format('role %s', role));
END $$;
CREATE OR REPLACE FUNCTION kms.disallow_tenant(role name, tenant text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM kms.role_tenants r WHERE r.role_name = role AND r.tenant = disallow_tenant.tenant;
    PERFORM kms._audit('disallow_tenant', tenant, NULL, NULL, 'ok', format('role %s', role));
END $$;

CREATE OR REPLACE FUNCTION kms.set_rotation_period(key uuid, period interval) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
    op constant text := 'set_rotation_period';
BEGIN
    SELECT tenant INTO t FROM kms._keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM kms._refuse(op, NULL, key, '42704', format('key %s does not exist', key));
    END IF;
    IF period IS NOT NULL AND period < interval '1 day' THEN
        PERFORM kms._refuse(op, t, key, '22023',
            format('rotation period must be at least 1 day, not %s', period));
    END IF;
    UPDATE kms._keys SET rotation_period = period WHERE key_id = key;
    PERFORM kms._audit(op, t, key, NULL, 'ok', coalesce(period::text, 'manual only'));
END $$;

CREATE OR REPLACE FUNCTION kms.rotate_due_keys() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    n integer := 0;
BEGIN
    FOR k IN
        SELECT keys.key_id FROM kms._keys keys
          JOIN kms._key_versions v ON v.key_id = keys.key_id AND v.version = keys.current_version
         WHERE keys.state = 'Enabled' AND keys.origin = 'pgkms' AND keys.rotation_period IS NOT NULL
           AND v.created + keys.rotation_period <= now()
         ORDER BY keys.key_id
    LOOP
        PERFORM kms.rotate_key(k.key_id);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

-- Grants --------------------------------------------------------------------------------------
-- A key's tenant lets another tenant (the grantee) use the key for some operations, as AWS KMS
-- grants do. constraints: NULL, or {"context": "..."} (the call's context must equal it) and/or
-- {"context_prefix": "..."} (it must start with it). Kept with the keys in dumps.
CREATE TABLE kms._grants (
    grant_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key_id          uuid NOT NULL REFERENCES kms._keys ON DELETE CASCADE,
    grantee_tenant  text NOT NULL CHECK (grantee_tenant ~ '^[A-Za-z0-9_.@:-]{1,128}$'),
    operations      text[] NOT NULL
                    CHECK (cardinality(operations) > 0 AND array_position(operations, NULL) IS NULL
                           AND operations <@ ARRAY['Encrypt', 'Decrypt', 'ReEncrypt', 'DescribeKey']),
    constraints     jsonb,
    retiring_tenant text CHECK (retiring_tenant ~ '^[A-Za-z0-9_.@:-]{1,128}$'),
    created         timestamptz NOT NULL DEFAULT now(),
    created_by      name NOT NULL DEFAULT current_user
);
CREATE INDEX grants_key_grantee ON kms._grants (key_id, grantee_tenant);
SELECT pg_catalog.pg_extension_config_dump('kms._grants', '');
REVOKE ALL ON kms._grants FROM PUBLIC;
-- Revoking or retiring a grant reaches every session at commit, like key changes.
CREATE TRIGGER grants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON kms._grants
    FOR EACH STATEMENT EXECUTE FUNCTION kms._keys_changed();

CREATE VIEW kms.grants AS
    SELECT g.grant_id, g.key_id, k.tenant AS key_tenant, g.grantee_tenant, g.operations,
           g.constraints, g.retiring_tenant, g.created, g.created_by
      FROM kms._grants g JOIN kms._keys k USING (key_id);
REVOKE ALL ON kms.grants FROM PUBLIC;

CREATE FUNCTION kms.create_grant(key uuid, grantee_tenant text, operations text[],
                                 constraints jsonb DEFAULT NULL, retiring_tenant text DEFAULT NULL)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    id uuid;
    bad text;
    op constant text := 'create_grant';
BEGIN
    SELECT tenant, state INTO k FROM kms._keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM kms._refuse(op, NULL, key, '42704', format('key %s does not exist', key));
    END IF;
    IF k.state = 'Destroyed' THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000', format('key %s is in state Destroyed', key));
    END IF;
    IF grantee_tenant IS NULL OR grantee_tenant !~ '^[A-Za-z0-9_.@:-]{1,128}$' THEN
        PERFORM kms._refuse(op, k.tenant, key, '22023',
            format('grantee tenant %s is not a valid tenant name', coalesce(quote_literal(grantee_tenant), 'NULL')));
    END IF;
    IF grantee_tenant = k.tenant THEN
        PERFORM kms._refuse(op, k.tenant, key, '22023',
            format('key %s already belongs to tenant "%s"', key, k.tenant));
    END IF;
    IF retiring_tenant IS NOT NULL AND retiring_tenant !~ '^[A-Za-z0-9_.@:-]{1,128}$' THEN
        PERFORM kms._refuse(op, k.tenant, key, '22023',
            format('retiring tenant %s is not a valid tenant name', quote_literal(retiring_tenant)));
    END IF;
    SELECT string_agg(coalesce(o, 'NULL'), ', ') INTO bad FROM unnest(operations) o
     WHERE o IS NULL OR o <> ALL (ARRAY['Encrypt', 'Decrypt', 'ReEncrypt', 'DescribeKey']);
    IF operations IS NULL OR cardinality(operations) = 0 OR bad IS NOT NULL THEN
        PERFORM kms._refuse(op, k.tenant, key, '22023',
            format('operations must be a non-empty list of Encrypt, Decrypt, ReEncrypt, DescribeKey%s',
                   CASE WHEN bad IS NOT NULL THEN ', not ' || bad ELSE '' END));
    END IF;
    IF constraints IS NOT NULL AND (jsonb_typeof(constraints) <> 'object'
        OR EXISTS (SELECT 1 FROM jsonb_each(constraints) c
                    WHERE c.key NOT IN ('context', 'context_prefix') OR jsonb_typeof(c.value) <> 'string')
        OR constraints = '{}') THEN
        PERFORM kms._refuse(op, k.tenant, key, '22023',
            'constraints must be an object with string members "context" and/or "context_prefix"');
    END IF;
    INSERT INTO kms._grants (key_id, grantee_tenant, operations, constraints, retiring_tenant)
    SELECT key, grantee_tenant, array_agg(DISTINCT o ORDER BY o), constraints, retiring_tenant
      FROM unnest(operations) o
    RETURNING grant_id INTO id;
    PERFORM kms._audit(op, k.tenant, key, NULL, 'ok',
                       format('grant %s to %s: %s', id, grantee_tenant, array_to_string(operations, ',')));
    RETURN id;
END $$;

CREATE FUNCTION kms.revoke_grant(key uuid, grant_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g record;
BEGIN
    DELETE FROM kms._grants x WHERE x.key_id = key AND x.grant_id = revoke_grant.grant_id
    RETURNING x.grantee_tenant INTO g;
    IF NOT FOUND THEN
        PERFORM kms._refuse('revoke_grant', NULL, key, '42704',
            format('key %s has no grant %s', key, grant_id));
    END IF;
    PERFORM kms._audit('revoke_grant', (SELECT tenant FROM kms._keys WHERE key_id = key), key,
                       NULL, 'ok', format('grant %s to %s', grant_id, g.grantee_tenant));
END $$;

-- Called by the grantee or the retiring tenant, acting as that tenant (kms.tenant).
CREATE FUNCTION kms.retire_grant(grant_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g record;
    acting constant text := kms._acting_tenant();
BEGIN
    SELECT x.key_id, x.grantee_tenant, x.retiring_tenant INTO g FROM kms._grants x
     WHERE x.grant_id = retire_grant.grant_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM kms._refuse('retire_grant', acting, NULL, '42704',
            format('grant %s does not exist', grant_id));
    END IF;
    IF acting NOT IN (g.grantee_tenant, coalesce(g.retiring_tenant, '')) THEN
        PERFORM kms._refuse('retire_grant', acting, g.key_id, '42501',
            format('tenant "%s" may not retire grant %s', acting, grant_id),
            'The grantee or the retiring tenant retires a grant; the key''s administrator revokes it.');
    END IF;
    DELETE FROM kms._grants x WHERE x.grant_id = retire_grant.grant_id;
    PERFORM kms._audit('retire_grant', acting, g.key_id, NULL, 'ok', format('grant %s', grant_id));
END $$;

CREATE FUNCTION kms.list_grants(key uuid) RETURNS SETOF kms.grants
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT * FROM kms.grants g WHERE g.key_id = key ORDER BY g.created, g.grant_id $$;
CREATE FUNCTION kms.list_retirable_grants(tenant text) RETURNS SETOF kms.grants
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT * FROM kms.grants g WHERE tenant IN (g.grantee_tenant, g.retiring_tenant)
          ORDER BY g.created, g.grant_id $$;
REVOKE ALL ON FUNCTION kms.create_grant(uuid, text, text[], jsonb, text),
    kms.revoke_grant(uuid, uuid), kms.list_grants(uuid), kms.list_retirable_grants(text)
    FROM PUBLIC;

-- The tenant named by kms.tenant, checked against the role of the session (SET ROLE included)
-- even inside SECURITY DEFINER functions; an error if unset or not allowed.
CREATE FUNCTION kms._acting_tenant() RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_acting_tenant' LANGUAGE C STABLE PARALLEL UNSAFE;

-- The key as its tenant, or a grantee with DescribeKey, sees it (acting as kms.tenant). Other
-- tenants are refused alike whether or not the key exists.
CREATE FUNCTION kms.describe_key(key uuid)
    RETURNS TABLE (key_id uuid, tenant text, alias text, state text, current_version integer,
                   origin text, created timestamptz, deletion_date timestamptz,
                   valid_to timestamptz, description text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    acting constant text := kms._acting_tenant();
BEGIN
    RETURN QUERY
        SELECT k.key_id, k.tenant, k.alias, k.state, k.current_version, k.origin, k.created,
               k.deletion_date, k.valid_to, k.description
          FROM kms._keys k
         WHERE k.key_id = describe_key.key
           AND (k.tenant = acting
                OR EXISTS (SELECT 1 FROM kms._grants g
                            WHERE g.key_id = k.key_id AND g.grantee_tenant = acting
                              AND 'DescribeKey' = ANY (g.operations)));
    IF NOT FOUND THEN
        PERFORM kms._refuse('describe_key', acting, key, '42501',
            format('tenant "%s" may not describe key %s', acting, key));
    END IF;
END $$;

-- BYOK: importing tenant-held key material (docs/byok.md) -----------------------------------
-- create_key gains origin: 'external' keys start in PendingImport, without material.
-- keyring: the tenant's own keyring (a URI) that protects the key instead of the root (HYOK,
-- docs/hyok.md).
DROP FUNCTION kms.create_key(text, text, text);
CREATE FUNCTION kms.create_key(tenant text, alias text DEFAULT NULL, description text DEFAULT NULL,
                               origin text DEFAULT 'pgkms', keyring text DEFAULT NULL)
    RETURNS uuid
    AS 'MODULE_PATHNAME', 'pgkms_create_key' LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION kms.create_key(text, text, text, text, text) FROM PUBLIC;

-- One outstanding set of import parameters per key: the RSA-3072 private key sealed under the
-- root (docs/format.md §4) and the SHA-256 of its import token. Transient: not dumped.
CREATE TABLE kms._import_params (
    key_id     uuid PRIMARY KEY REFERENCES kms._keys ON DELETE CASCADE,
    token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
    sealed     bytea NOT NULL,
    expires    timestamptz NOT NULL
);
REVOKE ALL ON kms._import_params FROM PUBLIC;

CREATE FUNCTION kms.get_parameters_for_import(key uuid)
    RETURNS TABLE (public_key text, import_token bytea, valid_until timestamptz)
    AS 'MODULE_PATHNAME', 'pgkms_get_parameters_for_import'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION kms.import_key_material(key uuid, import_token bytea, encrypted_material bytea,
                                        valid_to timestamptz DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'pgkms_import_key_material' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Deletes the imported material now: the key goes back to PendingImport, and its values are
-- unreadable until the same material is imported again.
CREATE FUNCTION kms.delete_imported_key_material(key uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    op constant text := 'delete_imported_key_material';
BEGIN
    SELECT tenant, state, origin INTO k FROM kms._keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM kms._refuse(op, NULL, key, '42704', format('key %s does not exist', key));
    END IF;
    IF k.origin <> 'external' THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000',
            format('key %s was not imported (origin %s)', key, k.origin));
    END IF;
    IF k.state NOT IN ('Enabled', 'Disabled', 'PendingImport') THEN
        PERFORM kms._refuse(op, k.tenant, key, '55000', format('key %s is in state %s', key, k.state));
    END IF;
    DELETE FROM kms._key_versions v WHERE v.key_id = key;
    UPDATE kms._keys SET state = 'PendingImport', valid_to = NULL WHERE key_id = key;
    PERFORM kms._audit(op, k.tenant, key, NULL, 'ok');
END $$;
REVOKE ALL ON FUNCTION kms.get_parameters_for_import(uuid),
    kms.import_key_material(uuid, bytea, bytea, timestamptz),
    kms.delete_imported_key_material(uuid) FROM PUBLIC;
-- Masking (docs/masking.md)
-- Pure functions of their arguments: immutable, strict (NULL in, NULL out), parallel safe,
-- and executable by PUBLIC like every function by default.
CREATE FUNCTION kms.mask_name(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_name' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_phone(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_phone' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_email(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_email' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_id_card(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_id_card' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_bank_card(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_bank_card' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_address(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_address' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask(value text, keep_first integer, keep_last integer,
                         mask_char text DEFAULT '*') RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_truncate(value text, n integer) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_truncate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.mask_replace(value text, replacement text) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_mask_replace' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Masked roles and kms.reveal (docs/masking.md, "Masked roles") --------------------------------
-- A role in kms.masked_roles sees every tenant's data only masked: kms.reveal() masks it,
-- kms.decrypt() refuses it; kms.reveal_grants lists the tenants such a role still sees in
-- plaintext. Other roles are not affected. Kept by role name, dumped, effective at commit.
CREATE TABLE kms.masked_roles (
    role_name name PRIMARY KEY
);
CREATE TABLE kms.reveal_grants (
    role_name name NOT NULL,
    tenant    text NOT NULL CHECK (tenant ~ '^[A-Za-z0-9_.@:-]{1,128}$'),
    PRIMARY KEY (role_name, tenant)
);
SELECT pg_catalog.pg_extension_config_dump('kms.masked_roles', '');
SELECT pg_catalog.pg_extension_config_dump('kms.reveal_grants', '');
REVOKE ALL ON kms.masked_roles, kms.reveal_grants FROM PUBLIC;
CREATE TRIGGER masked_roles_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON kms.masked_roles FOR EACH STATEMENT EXECUTE FUNCTION kms._keys_changed();
CREATE TRIGGER reveal_grants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON kms.reveal_grants FOR EACH STATEMENT EXECUTE FUNCTION kms._keys_changed();

CREATE FUNCTION kms._role_exists(op text, role name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regrole(quote_ident(role)) IS NULL THEN
        PERFORM kms._refuse(op, NULL, NULL, '42704', format('role "%s" does not exist', role));
    END IF;
END $$;
REVOKE ALL ON FUNCTION kms._role_exists(text, name) FROM PUBLIC;

CREATE FUNCTION kms.mask_role(role name) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM kms._role_exists('mask_role', role);
    INSERT INTO kms.masked_roles VALUES (role) ON CONFLICT DO NOTHING;
    PERFORM kms._audit('mask_role', NULL, NULL, NULL, 'ok', format('role %s', role));
END $$;
CREATE FUNCTION kms.unmask_role(role name) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM kms.masked_roles m WHERE m.role_name = role;
    PERFORM kms._audit('unmask_role', NULL, NULL, NULL, 'ok', format('role %s', role));
END $$;
CREATE FUNCTION kms.grant_reveal(role name, tenant text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM kms._role_exists('grant_reveal', role);
    INSERT INTO kms.reveal_grants VALUES (role, tenant) ON CONFLICT DO NOTHING;
    PERFORM kms._audit('grant_reveal', tenant, NULL, NULL, 'ok', format('role %s', role));
END $$;
CREATE FUNCTION kms.revoke_reveal(role name, tenant text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM kms.reveal_grants r WHERE r.role_name = role AND r.tenant = revoke_reveal.tenant;
    PERFORM kms._audit('revoke_reveal', tenant, NULL, NULL, 'ok', format('role %s', role));
END $$;
REVOKE ALL ON FUNCTION kms.mask_role(name), kms.unmask_role(name), kms.grant_reveal(name, text),
    kms.revoke_reveal(name, text) FROM PUBLIC;

-- The plaintext for roles that may see this tenant's data, the masked form (rule `mask`:
-- name, phone, email, id_card, bank_card, address or full) for masked roles.
CREATE FUNCTION kms.reveal(value kms.encrypted, mask text DEFAULT 'full', context text DEFAULT NULL)
    RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_reveal' LANGUAGE C STABLE PARALLEL RESTRICTED;

-- Transparent encrypted columns (docs/transparent-columns.md) ---------------------------------
-- One type per masking rule: kms.enc_text (masked entirely), kms.enc_name, kms.enc_phone,
-- kms.enc_email, kms.enc_id_card, kms.enc_bank_card, kms.enc_address. Plaintext input is
-- encrypted under kms.tenant; ciphertext input is stored unchanged; output is ciphertext;
-- col::text reveals (or masks, for masked roles). The kms.enc_<rule>_det variants (all rules
-- but address) encrypt deterministically (kms.encrypt_det) and carry =, <> and btree/hash
-- operator classes, so `WHERE col = 'plaintext'` finds the row through an index. Their
-- equality is byte equality; the order is meaningless but fixed.
DO $do$
DECLARE
    rule text;
    det text;
BEGIN
    FOREACH rule IN ARRAY ARRAY['text', 'name', 'phone', 'email', 'id_card', 'bank_card', 'address']
    LOOP
        FOREACH det IN ARRAY ARRAY['', '_det']
        LOOP
            CONTINUE WHEN det = '_det' AND rule = 'address';
            EXECUTE format($sql$
            CREATE TYPE kms.enc_%1$s%2$s;
            CREATE FUNCTION kms.enc_%1$s%2$s_in(cstring, oid, integer) RETURNS kms.enc_%1$s%2$s
                AS 'MODULE_PATHNAME', 'pgkms_column%2$s_in' LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
            CREATE FUNCTION kms.enc_%1$s%2$s_out(kms.enc_%1$s%2$s) RETURNS cstring
                AS 'MODULE_PATHNAME', 'pgkms_encrypted_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
            CREATE FUNCTION kms.enc_%1$s%2$s_recv(internal, oid, integer) RETURNS kms.enc_%1$s%2$s
                AS 'MODULE_PATHNAME', 'pgkms_column%2$s_recv' LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
            CREATE FUNCTION kms.enc_%1$s%2$s_send(kms.enc_%1$s%2$s) RETURNS bytea
                AS 'MODULE_PATHNAME', 'pgkms_encrypted_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
            CREATE TYPE kms.enc_%1$s%2$s (
                INPUT = kms.enc_%1$s%2$s_in, OUTPUT = kms.enc_%1$s%2$s_out,
                RECEIVE = kms.enc_%1$s%2$s_recv, SEND = kms.enc_%1$s%2$s_send,
                INTERNALLENGTH = VARIABLE, STORAGE = external);
            COMMENT ON TYPE kms.enc_%1$s%2$s IS
                'pgkms %4$stransparent encrypted column (masking rule %3$s; docs/transparent-columns.md)';
            CREATE CAST (kms.enc_%1$s%2$s AS kms.encrypted) WITHOUT FUNCTION AS IMPLICIT;
            CREATE CAST (kms.encrypted AS kms.enc_%1$s%2$s) WITHOUT FUNCTION AS ASSIGNMENT;
            CREATE FUNCTION kms.enc_%1$s%2$s_from_text(text) RETURNS kms.enc_%1$s%2$s
                AS 'MODULE_PATHNAME', 'pgkms_column%2$s_from_text' LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
            CREATE CAST (text AS kms.enc_%1$s%2$s) WITH FUNCTION kms.enc_%1$s%2$s_from_text(text) AS ASSIGNMENT;
            CREATE FUNCTION kms.enc_%1$s%2$s_to_text(kms.enc_%1$s%2$s) RETURNS text
                LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
                AS $f$ SELECT kms.reveal($1::kms.encrypted, %3$L) $f$;
            CREATE CAST (kms.enc_%1$s%2$s AS text) WITH FUNCTION kms.enc_%1$s%2$s_to_text(kms.enc_%1$s%2$s);
            $sql$, rule, det, CASE rule WHEN 'text' THEN 'full' ELSE rule END,
                      CASE det WHEN '' THEN '' ELSE 'deterministic ' END);
            CONTINUE WHEN det = '';
            EXECUTE format($sql$
            CREATE FUNCTION kms.enc_%1$s_det_eq(kms.enc_%1$s_det, kms.enc_%1$s_det) RETURNS boolean
                AS 'byteaeq' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
            CREATE FUNCTION kms.enc_%1$s_det_ne(kms.enc_%1$s_det, kms.enc_%1$s_det) RETURNS boolean
                AS 'byteane' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
            CREATE FUNCTION kms.enc_%1$s_det_lt(kms.enc_%1$s_det, kms.enc_%1$s_det) RETURNS boolean
                AS 'bytealt' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
            CREATE FUNCTION kms.enc_%1$s_det_le(kms.enc_%1$s_det, kms.enc_%1$s_det) RETURNS boolean
                AS 'byteale' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
            CREATE FUNCTION kms.enc_%1$s_det_gt(kms.enc_%1$s_det, kms.enc_%1$s_det) RETURNS boolean
                AS 'byteagt' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
            CREATE FUNCTION kms.enc_%1$s_det_ge(kms.enc_%1$s_det, kms.enc_%1$s_det) RETURNS boolean
                AS 'byteage' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
            CREATE FUNCTION kms.enc_%1$s_det_cmp(kms.enc_%1$s_det, kms.enc_%1$s_det) RETURNS integer
                AS 'byteacmp' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
            CREATE FUNCTION kms.enc_%1$s_det_hash(kms.enc_%1$s_det) RETURNS integer
                AS 'hashvarlena' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
            CREATE FUNCTION kms.enc_%1$s_det_hash_extended(kms.enc_%1$s_det, bigint) RETURNS bigint
                AS 'hashvarlenaextended' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
            CREATE OPERATOR kms.= (LEFTARG = kms.enc_%1$s_det, RIGHTARG = kms.enc_%1$s_det,
                FUNCTION = kms.enc_%1$s_det_eq, COMMUTATOR = OPERATOR(kms.=),
                NEGATOR = OPERATOR(kms.<>), RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
            CREATE OPERATOR kms.<> (LEFTARG = kms.enc_%1$s_det, RIGHTARG = kms.enc_%1$s_det,
                FUNCTION = kms.enc_%1$s_det_ne, COMMUTATOR = OPERATOR(kms.<>),
                NEGATOR = OPERATOR(kms.=), RESTRICT = neqsel, JOIN = neqjoinsel);
            CREATE OPERATOR kms.< (LEFTARG = kms.enc_%1$s_det, RIGHTARG = kms.enc_%1$s_det,
                FUNCTION = kms.enc_%1$s_det_lt, COMMUTATOR = OPERATOR(kms.>),
                NEGATOR = OPERATOR(kms.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
            CREATE OPERATOR kms.<= (LEFTARG = kms.enc_%1$s_det, RIGHTARG = kms.enc_%1$s_det,
                FUNCTION = kms.enc_%1$s_det_le, COMMUTATOR = OPERATOR(kms.>=),
                NEGATOR = OPERATOR(kms.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
            CREATE OPERATOR kms.> (LEFTARG = kms.enc_%1$s_det, RIGHTARG = kms.enc_%1$s_det,
                FUNCTION = kms.enc_%1$s_det_gt, COMMUTATOR = OPERATOR(kms.<),
                NEGATOR = OPERATOR(kms.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
            CREATE OPERATOR kms.>= (LEFTARG = kms.enc_%1$s_det, RIGHTARG = kms.enc_%1$s_det,
                FUNCTION = kms.enc_%1$s_det_ge, COMMUTATOR = OPERATOR(kms.<=),
                NEGATOR = OPERATOR(kms.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
            CREATE OPERATOR CLASS kms.enc_%1$s_det_ops DEFAULT FOR TYPE kms.enc_%1$s_det USING btree AS
                OPERATOR 1 kms.<, OPERATOR 2 kms.<=, OPERATOR 3 kms.=, OPERATOR 4 kms.>=,
                OPERATOR 5 kms.>, FUNCTION 1 kms.enc_%1$s_det_cmp(kms.enc_%1$s_det, kms.enc_%1$s_det);
            CREATE OPERATOR CLASS kms.enc_%1$s_det_ops DEFAULT FOR TYPE kms.enc_%1$s_det USING hash AS
                OPERATOR 1 kms.=, FUNCTION 1 kms.enc_%1$s_det_hash(kms.enc_%1$s_det),
                FUNCTION 2 kms.enc_%1$s_det_hash_extended(kms.enc_%1$s_det, bigint);
            $sql$, rule);
        END LOOP;
    END LOOP;
END
$do$;

-- Creates a view of tbl whose kms.enc_* columns are cast to text, so each reader sees what its
-- role may see (plaintext, or masked). Returns the view; the default name is <tbl>_plaintext.
CREATE FUNCTION kms.create_plaintext_view(tbl regclass, view_name text DEFAULT NULL) RETURNS regclass
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cols text;
    target text;
    nsp text;
BEGIN
    SELECT n.nspname INTO nsp FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    SELECT string_agg(CASE WHEN t.typnamespace = 'kms'::regnamespace AND t.typname LIKE 'enc\_%'
                           THEN format('%1$I::text AS %1$I', a.attname)
                           ELSE format('%I', a.attname) END, ', ' ORDER BY a.attnum)
      INTO cols
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped;
    target := format('%I.%I', nsp,
                     coalesce(view_name, (SELECT relname FROM pg_class WHERE oid = tbl) || '_plaintext'));
    EXECUTE format('CREATE VIEW %s AS SELECT %s FROM %s', target, cols, tbl);
    RETURN target::regclass;
END $$;

-- Root rotation (docs/root-rotation.md) ---------------------------------------------------------
-- Moves every tenant key version wrapped under kms.root_key_previous to kms.root_key (the new
-- root, named again here as a check); returns how many it moved. Data is not touched.
CREATE FUNCTION kms.rotate_root(new_root_uri text DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'pgkms_rotate_root' LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION kms.rotate_root(text) FROM PUBLIC;

-- Searchable encryption (docs/searchable-encryption.md) -------------------------------------
-- Deterministic values (AES-256-SIV, algorithm 3 of the value format), blind indexes and
-- pseudonyms. All three use version 1 of the key, whatever its current version, so rotation
-- never changes them and lookups keep matching. STABLE: the same arguments give the same
-- result within a statement (keys change between statements), so an index can serve
-- col = kms.encrypt_det(...). Like kms.encrypt they create the tenant's default key on first
-- use, hence PARALLEL UNSAFE.
CREATE FUNCTION kms.encrypt_det(plaintext text, tenant text DEFAULT NULL,
                                context text DEFAULT NULL, key text DEFAULT NULL)
    RETURNS kms.encrypted
    AS 'MODULE_PATHNAME', 'pgkms_encrypt_det' LANGUAGE C STABLE PARALLEL UNSAFE;
CREATE FUNCTION kms.encrypt_det(plaintext bytea, tenant text DEFAULT NULL,
                                context text DEFAULT NULL, key text DEFAULT NULL)
    RETURNS kms.encrypted
    AS 'MODULE_PATHNAME', 'pgkms_encrypt_det' LANGUAGE C STABLE PARALLEL UNSAFE;
-- HMAC-SHA256 under a key derived for the purpose, truncated to bits (32..256, multiples of 8);
-- canonical: of the value's canonical form (ASCII lower case, white space trimmed and
-- collapsed). key: as in kms.encrypt (NULL: the tenant's default key).
CREATE FUNCTION kms.blind_index(value text, tenant text DEFAULT NULL,
                                purpose text DEFAULT 'default', bits integer DEFAULT 256,
                                canonical boolean DEFAULT false, key text DEFAULT NULL)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'pgkms_blind_index' LANGUAGE C STABLE PARALLEL UNSAFE;
-- 'ps_' and 26 base32 characters (128 bits of HMAC-SHA256 under a key of its own).
CREATE FUNCTION kms.pseudonym(value text, tenant text DEFAULT NULL,
                              purpose text DEFAULT 'default', key text DEFAULT NULL)
    RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_pseudonym' LANGUAGE C STABLE PARALLEL UNSAFE;

-- Equality of kms.encrypted is equality of its bytes (deterministic values: equal plaintext,
-- context and key; randomized values: the same stored value). The order is the bytes' order,
-- meaningless but fixed, so that btree and hash indexes, DISTINCT, GROUP BY and joins work.
-- The operators live in schema kms: write col = ... with kms on the search_path, or
-- col OPERATOR(kms.=) ... without it.
CREATE FUNCTION kms.encrypted_eq(kms.encrypted, kms.encrypted) RETURNS boolean
    AS 'byteaeq' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION kms.encrypted_ne(kms.encrypted, kms.encrypted) RETURNS boolean
    AS 'byteane' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION kms.encrypted_lt(kms.encrypted, kms.encrypted) RETURNS boolean
    AS 'bytealt' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION kms.encrypted_le(kms.encrypted, kms.encrypted) RETURNS boolean
    AS 'byteale' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION kms.encrypted_gt(kms.encrypted, kms.encrypted) RETURNS boolean
    AS 'byteagt' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION kms.encrypted_ge(kms.encrypted, kms.encrypted) RETURNS boolean
    AS 'byteage' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION kms.encrypted_cmp(kms.encrypted, kms.encrypted) RETURNS integer
    AS 'byteacmp' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION kms.encrypted_hash(kms.encrypted) RETURNS integer
    AS 'hashvarlena' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION kms.encrypted_hash_extended(kms.encrypted, bigint) RETURNS bigint
    AS 'hashvarlenaextended' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OPERATOR kms.= (LEFTARG = kms.encrypted, RIGHTARG = kms.encrypted,
    FUNCTION = kms.encrypted_eq, COMMUTATOR = OPERATOR(kms.=), NEGATOR = OPERATOR(kms.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR kms.<> (LEFTARG = kms.encrypted, RIGHTARG = kms.encrypted,
    FUNCTION = kms.encrypted_ne, COMMUTATOR = OPERATOR(kms.<>), NEGATOR = OPERATOR(kms.=),
    RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR kms.< (LEFTARG = kms.encrypted, RIGHTARG = kms.encrypted,
    FUNCTION = kms.encrypted_lt, COMMUTATOR = OPERATOR(kms.>), NEGATOR = OPERATOR(kms.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR kms.<= (LEFTARG = kms.encrypted, RIGHTARG = kms.encrypted,
    FUNCTION = kms.encrypted_le, COMMUTATOR = OPERATOR(kms.>=), NEGATOR = OPERATOR(kms.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR kms.> (LEFTARG = kms.encrypted, RIGHTARG = kms.encrypted,
    FUNCTION = kms.encrypted_gt, COMMUTATOR = OPERATOR(kms.<), NEGATOR = OPERATOR(kms.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR kms.>= (LEFTARG = kms.encrypted, RIGHTARG = kms.encrypted,
    FUNCTION = kms.encrypted_ge, COMMUTATOR = OPERATOR(kms.<=), NEGATOR = OPERATOR(kms.<),
    RESTRICT = scalargesel, JOIN = scalargejoinsel);
CREATE OPERATOR CLASS kms.encrypted_ops DEFAULT FOR TYPE kms.encrypted USING btree AS
    OPERATOR 1 kms.<, OPERATOR 2 kms.<=, OPERATOR 3 kms.=, OPERATOR 4 kms.>=,
    OPERATOR 5 kms.>,
    FUNCTION 1 kms.encrypted_cmp(kms.encrypted, kms.encrypted),
    FUNCTION 4 pg_catalog.btequalimage(oid); -- equal bytes are equal values: deduplication
CREATE OPERATOR CLASS kms.encrypted_ops DEFAULT FOR TYPE kms.encrypted USING hash AS
    OPERATOR 1 kms.=,
    FUNCTION 1 kms.encrypted_hash(kms.encrypted),
    FUNCTION 2 kms.encrypted_hash_extended(kms.encrypted, bigint);

