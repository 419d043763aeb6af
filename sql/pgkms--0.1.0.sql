-- SPDX-License-Identifier: Apache-2.0
-- pgkms 0.1.0: tenant key records, the kms.encrypted type, encrypt/decrypt, keyring export.
\echo Use "CREATE EXTENSION pgkms" to load this file. \quit

-- Tenant master keys, stored only wrapped under the root keyring. Dumped with the
-- database (pg_extension_config_dump) so pg_dump/pg_restore keep every key.
CREATE TABLE kms.keys (
    key_id          uuid PRIMARY KEY,
    -- The 8 bytes that values carry to name their key (docs/format.md).
    key_ref         bytea GENERATED ALWAYS AS (substring(uuid_send(key_id) FROM 1 FOR 8)) STORED
                    UNIQUE,
    tenant          text NOT NULL CHECK (tenant ~ '^[A-Za-z0-9_.@:-]{1,128}$'),
    alias           text,
    is_default      boolean NOT NULL DEFAULT false,
    state           text NOT NULL DEFAULT 'Enabled'
                    CHECK (state IN ('Enabled', 'Disabled', 'PendingDeletion', 'PendingImport',
                                     'Destroyed')),
    current_version integer NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    origin          text NOT NULL DEFAULT 'pgkms',
    description     text,
    created         timestamptz NOT NULL DEFAULT now(),
    deletion_date   timestamptz,          -- set while PendingDeletion
    rotation_period interval CHECK (rotation_period >= interval '1 day'), -- NULL: manual only
    CHECK ((state = 'PendingDeletion') = (deletion_date IS NOT NULL))
);
CREATE UNIQUE INDEX keys_one_default_per_tenant ON kms.keys (tenant) WHERE is_default;
CREATE UNIQUE INDEX keys_alias_per_tenant ON kms.keys (tenant, alias) WHERE alias IS NOT NULL;

CREATE TABLE kms.key_versions (
    key_id   uuid NOT NULL REFERENCES kms.keys ON DELETE CASCADE,
    version  integer NOT NULL CHECK (version >= 1),
    keyring  text NOT NULL,                       -- kind of root that wraps it: 'file', ...
    root_id  bytea NOT NULL CHECK (length(root_id) = 8),
    wrapped  bytea NOT NULL,
    created  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, version)
);

SELECT pg_catalog.pg_extension_config_dump('kms.keys', '');
SELECT pg_catalog.pg_extension_config_dump('kms.key_versions', '');
REVOKE ALL ON kms.keys, kms.key_versions FROM PUBLIC;

-- Every change reaches the key cache of every session at commit (and hot standbys on replay).
CREATE FUNCTION kms._keys_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pgkms_keys_changed' LANGUAGE C;
CREATE TRIGGER keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON kms.keys
    FOR EACH STATEMENT EXECUTE FUNCTION kms._keys_changed();
CREATE TRIGGER key_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON kms.key_versions FOR EACH STATEMENT EXECUTE FUNCTION kms._keys_changed();
REVOKE ALL ON FUNCTION kms._keys_changed() FROM PUBLIC;

-- The ciphertext type: the value format of docs/format.md; text form is base64.
CREATE TYPE kms.encrypted;
CREATE FUNCTION kms.encrypted_in(cstring) RETURNS kms.encrypted
    AS 'MODULE_PATHNAME', 'pgkms_encrypted_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.encrypted_out(kms.encrypted) RETURNS cstring
    AS 'MODULE_PATHNAME', 'pgkms_encrypted_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.encrypted_recv(internal) RETURNS kms.encrypted
    AS 'MODULE_PATHNAME', 'pgkms_encrypted_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION kms.encrypted_send(kms.encrypted) RETURNS bytea
    AS 'MODULE_PATHNAME', 'pgkms_encrypted_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE kms.encrypted (
    INPUT = kms.encrypted_in,
    OUTPUT = kms.encrypted_out,
    RECEIVE = kms.encrypted_recv,
    SEND = kms.encrypted_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = external       -- ciphertext does not compress: do not try
);
COMMENT ON TYPE kms.encrypted IS 'pgkms ciphertext (AES-256-GCM envelope under a tenant key)';
CREATE CAST (kms.encrypted AS bytea) WITHOUT FUNCTION;
CREATE CAST (bytea AS kms.encrypted) WITHOUT FUNCTION;

-- key: alias or id of one of the tenant's keys; NULL: its default key (created on first use).
CREATE FUNCTION kms.encrypt(plaintext text, tenant text DEFAULT NULL, context text DEFAULT NULL,
                            key text DEFAULT NULL)
    RETURNS kms.encrypted
    AS 'MODULE_PATHNAME', 'pgkms_encrypt' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kms.encrypt(plaintext bytea, tenant text DEFAULT NULL, context text DEFAULT NULL,
                            key text DEFAULT NULL)
    RETURNS kms.encrypted
    AS 'MODULE_PATHNAME', 'pgkms_encrypt' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kms.decrypt(value kms.encrypted, context text DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME', 'pgkms_decrypt' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION kms.decrypt_bytea(value kms.encrypted, context text DEFAULT NULL) RETURNS bytea
    AS 'MODULE_PATHNAME', 'pgkms_decrypt_bytea' LANGUAGE C STABLE PARALLEL RESTRICTED;

-- Wrapped material only; still, which tenants exist is for administrators.
CREATE FUNCTION kms.export_keyring(tenant text DEFAULT NULL) RETURNS bytea
    AS 'MODULE_PATHNAME', 'pgkms_export_keyring' LANGUAGE C STABLE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION kms.export_keyring(text) FROM PUBLIC;

-- Key administration: not granted to PUBLIC (docs/sql-reference.md shows the GRANTs).
CREATE FUNCTION kms.create_key(tenant text, alias text DEFAULT NULL, description text DEFAULT NULL)
    RETURNS uuid
    AS 'MODULE_PATHNAME', 'pgkms_create_key' LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION kms.create_key(text, text, text) FROM PUBLIC;

-- Enabled <-> Disabled. A tenant's default key is never disabled by these functions. The
-- change reaches every session's key cache when it commits (statement trigger above).
CREATE FUNCTION kms._set_key_state(key uuid, from_state text, to_state text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
BEGIN
    SELECT tenant, is_default, state INTO k FROM kms.keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key % does not exist', key USING ERRCODE = 'undefined_object';
    END IF;
    IF k.is_default AND to_state <> 'Enabled' THEN
        RAISE EXCEPTION 'key % is the default key of tenant "%" and cannot be disabled', key, k.tenant
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF k.state = to_state THEN
        RETURN;
    END IF;
    IF k.state <> from_state THEN
        RAISE EXCEPTION 'key % is in state %, not %', key, k.state, from_state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE kms.keys SET state = to_state WHERE key_id = key;
END $$;
REVOKE ALL ON FUNCTION kms._set_key_state(uuid, text, text) FROM PUBLIC;

CREATE FUNCTION kms.disable_key(key uuid) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT kms._set_key_state(key, 'Enabled', 'Disabled') $$;
CREATE FUNCTION kms.enable_key(key uuid) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT kms._set_key_state(key, 'Disabled', 'Enabled') $$;
REVOKE ALL ON FUNCTION kms.disable_key(uuid), kms.enable_key(uuid) FROM PUBLIC;

-- A new version with fresh key material becomes current: new values use it, values under
-- older versions still decrypt. Returns the new version.
CREATE FUNCTION kms.rotate_key(key uuid) RETURNS integer
    AS 'MODULE_PATHNAME', 'pgkms_rotate_key' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION kms.rotate_key(uuid) FROM PUBLIC;

-- Scheduled deletion (7 to 30 days), as cloud KMSs do. PendingDeletion keys neither encrypt nor
-- decrypt; cancelling leaves the key Disabled.
CREATE FUNCTION kms.schedule_key_deletion(key uuid, pending_days integer DEFAULT 30)
    RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
BEGIN
    IF pending_days IS NULL OR pending_days NOT BETWEEN 7 AND 30 THEN
        RAISE EXCEPTION 'pending_days must be between 7 and 30, not %', pending_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT tenant, is_default, state INTO k FROM kms.keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key % does not exist', key USING ERRCODE = 'undefined_object';
    END IF;
    IF k.is_default THEN
        RAISE EXCEPTION 'key % is the default key of tenant "%" and cannot be deleted', key, k.tenant
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF k.state NOT IN ('Enabled', 'Disabled') THEN
        RAISE EXCEPTION 'key % is in state %; only Enabled or Disabled keys can be scheduled for deletion',
            key, k.state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE kms.keys SET state = 'PendingDeletion', deletion_date = now() + make_interval(days => pending_days)
     WHERE key_id = key;
    RETURN now() + make_interval(days => pending_days);
END $$;

CREATE FUNCTION kms.cancel_key_deletion(key uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
BEGIN
    SELECT state INTO k FROM kms.keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key % does not exist', key USING ERRCODE = 'undefined_object';
    END IF;
    IF k.state <> 'PendingDeletion' THEN
        RAISE EXCEPTION 'key % is in state %, not PendingDeletion', key, k.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE kms.keys SET state = 'Disabled', deletion_date = NULL WHERE key_id = key;
END $$;

-- Destroys every key whose deletion date has passed: its wrapped versions are deleted and the
-- key stays as a Destroyed record, so values under it are unreadable for good (see
-- docs/sql-reference.md for how to run this regularly and what backups mean for it).
CREATE FUNCTION kms.purge_deleted_keys() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    WITH due AS (
        UPDATE kms.keys SET state = 'Destroyed', deletion_date = NULL
         WHERE state = 'PendingDeletion' AND deletion_date <= now()
        RETURNING key_id),
    gone AS (
        DELETE FROM kms.key_versions v USING due WHERE v.key_id = due.key_id)
    SELECT count(*) INTO n FROM due;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION kms.schedule_key_deletion(uuid, integer), kms.cancel_key_deletion(uuid),
    kms.purge_deleted_keys() FROM PUBLIC;

-- Moves a value to the current version of its own key, with the same context, without
-- returning plaintext. Values already current come back unchanged.
CREATE FUNCTION kms.rewrap(value kms.encrypted, context text DEFAULT NULL) RETURNS kms.encrypted
    AS 'MODULE_PATHNAME', 'pgkms_rewrap' LANGUAGE C VOLATILE PARALLEL UNSAFE;
-- The same for any tenant's value, and the test for it: for administrators (rewrap_table).
CREATE FUNCTION kms._rewrap_any(value kms.encrypted, context text DEFAULT NULL)
    RETURNS kms.encrypted
    AS 'MODULE_PATHNAME', 'pgkms_rewrap_any' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION kms._needs_rewrap(value kms.encrypted) RETURNS boolean
    AS 'MODULE_PATHNAME', 'pgkms_needs_rewrap' LANGUAGE C STABLE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION kms._rewrap_any(kms.encrypted, text), kms._needs_rewrap(kms.encrypted)
    FROM PUBLIC;

-- Rewraps a whole column online: batches of batch_size rows, each committed, rows locked by
-- others skipped and retried; stopping and calling again resumes. context_expr is an SQL
-- expression over the row giving each value's context (e.g. $$'customers.phone:' || id$$).
-- Run with CALL outside a transaction block, as a role that may update the table.
-- (No SET clause: it would forbid the COMMITs; it runs with the caller's rights anyway.)
CREATE PROCEDURE kms.rewrap_table(tbl regclass, col name, batch_size integer DEFAULT 1000,
                                  context_expr text DEFAULT NULL)
    LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    total bigint := 0;
    ctx text := coalesce(context_expr, 'NULL');
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOOP
        EXECUTE format(
            'UPDATE %1$s t SET %2$I = kms._rewrap_any(t.%2$I, (%4$s)::pg_catalog.text)
              WHERE t.ctid = ANY (ARRAY(SELECT s.ctid FROM %1$s s
                                         WHERE s.%2$I IS NOT NULL AND kms._needs_rewrap(s.%2$I)
                                         LIMIT %3$s FOR UPDATE SKIP LOCKED))',
            tbl, col, batch_size, ctx);
        GET DIAGNOSTICS n = ROW_COUNT;
        EXIT WHEN n = 0;
        total := total + n;
        COMMIT;
        RAISE NOTICE 'rewrapped % values of %.% so far', total, tbl, col;
    END LOOP;
END $$;
REVOKE ALL ON PROCEDURE kms.rewrap_table(regclass, name, integer, text) FROM PUBLIC;

-- Deletes an old version of a key. Refused while any kms.encrypted column of this database
-- still holds a value under it (they would become unreadable), unless force is true. Values
-- outside this database (dumps, exports, other databases) are not seen: check them first.
CREATE FUNCTION kms.retire_key_version(key uuid, version integer, force boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    col record;
    tag bytea;
    n bigint;
    users text := '';
BEGIN
    SELECT key_ref, current_version INTO k FROM kms.keys WHERE key_id = key FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key % does not exist', key USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM kms.key_versions v WHERE v.key_id = key AND v.version = retire_key_version.version) THEN
        RAISE EXCEPTION 'key % has no version %', key, version USING ERRCODE = 'undefined_object';
    END IF;
    IF version = k.current_version THEN
        RAISE EXCEPTION 'version % is the current version of key %', version, key
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Rotate the key first (kms.rotate_key).';
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
        RAISE EXCEPTION 'version % of key % is still used by values: %', version, key,
            rtrim(users, '; ')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Rewrap them first (kms.rewrap_table), or pass force => true to make them unreadable.';
    END IF;
    DELETE FROM kms.key_versions v WHERE v.key_id = key AND v.version = retire_key_version.version;
END $$;
REVOKE ALL ON FUNCTION kms.retire_key_version(uuid, integer, boolean) FROM PUBLIC;

-- Tenants a role may act as. A role with no rows here is not restricted; a role with rows may
-- act only as those tenants (SET kms.tenant to another is refused, and so is passing it as an
-- argument). Superusers are never restricted. Kept by name so it survives dump and restore.
CREATE TABLE kms.role_tenants (
    role_name name NOT NULL,
    tenant    text NOT NULL CHECK (tenant ~ '^[A-Za-z0-9_.@:-]{1,128}$'),
    PRIMARY KEY (role_name, tenant)
);
SELECT pg_catalog.pg_extension_config_dump('kms.role_tenants', '');
REVOKE ALL ON kms.role_tenants FROM PUBLIC;
CREATE TRIGGER role_tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON kms.role_tenants FOR EACH STATEMENT EXECUTE FUNCTION kms._keys_changed();

CREATE FUNCTION kms.allow_tenant(role name, tenant text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regrole(quote_ident(role)) IS NULL THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO kms.role_tenants VALUES (role, tenant) ON CONFLICT DO NOTHING;
END $$;
CREATE FUNCTION kms.disallow_tenant(role name, tenant text) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ DELETE FROM kms.role_tenants r WHERE r.role_name = role AND r.tenant = disallow_tenant.tenant $$;
REVOKE ALL ON FUNCTION kms.allow_tenant(name, text), kms.disallow_tenant(name, text) FROM PUBLIC;

-- Optional automatic rotation: kms.rotate_due_keys() (run it from cron or pg_cron) rotates
-- every Enabled key whose current version is older than its rotation period.
CREATE FUNCTION kms.set_rotation_period(key uuid, period interval) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF period IS NOT NULL AND period < interval '1 day' THEN
        RAISE EXCEPTION 'rotation period must be at least 1 day, not %', period
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE kms.keys SET rotation_period = period WHERE key_id = key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key % does not exist', key USING ERRCODE = 'undefined_object';
    END IF;
END $$;

CREATE FUNCTION kms.rotate_due_keys() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    n integer := 0;
BEGIN
    FOR k IN
        SELECT keys.key_id FROM kms.keys
          JOIN kms.key_versions v ON v.key_id = keys.key_id AND v.version = keys.current_version
         WHERE keys.state = 'Enabled' AND keys.rotation_period IS NOT NULL
           AND v.created + keys.rotation_period <= now()
         ORDER BY keys.key_id
    LOOP
        PERFORM kms.rotate_key(k.key_id);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION kms.set_rotation_period(uuid, interval), kms.rotate_due_keys() FROM PUBLIC;
