-- The audit log: administrative operations, key unwraps and refusals; never key bytes.
-- The sessions of the tests before write what they kept (unwraps, refusals) as they end, after
-- their psql has gone: wait for them, so that only this test's records follow the mark.
DO $$
BEGIN
  FOR i IN 1..300 LOOP
    IF NOT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database()
                     AND backend_type = 'client backend' AND pid <> pg_backend_pid()) THEN
      RETURN;
    END IF;
    PERFORM pg_sleep(0.05);
    PERFORM pg_stat_clear_snapshot(); -- else the transaction sees the first one throughout
  END LOOP;
  RAISE EXCEPTION 'other sessions of this database still run after 15 s';
END $$;
SELECT coalesce(max(id), 0) AS mark FROM kms.audit_log \gset
CREATE FUNCTION audit_since(mark bigint)
    RETURNS TABLE (role_name name, tenant text, has_key boolean, version integer, operation text,
                   outcome text, detail text)
    LANGUAGE sql AS $$
    SELECT CASE WHEN role_name = session_user THEN '<admin>' ELSE role_name END,
           tenant, key_id IS NOT NULL, version, operation, outcome,
           regexp_replace(detail, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<id>', 'g')
      FROM kms.audit_log WHERE id > mark ORDER BY id $$;
CREATE ROLE au_app;
GRANT USAGE ON SCHEMA kms TO au_app;
SET ROLE au_app;
-- First use: the default key is created (in this transaction) and unwrapped (recorded when a
-- transaction of this session commits: this one).
SET kms.tenant = 'au-a';
SELECT kms.encrypt('audited', context => 'c') AS v \gset
RESET ROLE;
SELECT * FROM audit_since(:mark);
SELECT max(id) AS mark FROM kms.audit_log \gset

-- A refusal survives the rollback of the transaction that was refused.
SET ROLE au_app;
BEGIN;
SET LOCAL kms.tenant = 'au-b';
SELECT kms.decrypt(:'v', 'c');
ROLLBACK;
-- Wrong context: the value fails authentication, also recorded.
SET kms.tenant = 'au-a';
SELECT sqlstate_of(format('SELECT kms.decrypt(%L, %L)', :'v', 'wrong'));
RESET ROLE;
SELECT 'a committing transaction writes what the session kept' AS note;
SELECT * FROM audit_since(:mark);
SELECT max(id) AS mark FROM kms.audit_log \gset

-- Administrative operations: recorded with their transaction; refusals always.
SELECT kms.create_key('au-a', 'side') AS side \gset
SELECT kms.disable_key(:'side');
SELECT kms.enable_key(:'side');
SELECT kms.rotate_key(:'side');
SELECT kms.schedule_key_deletion(:'side', 7) IS NOT NULL AS scheduled;
SELECT kms.cancel_key_deletion(:'side');
SELECT kms.set_rotation_period(:'side', interval '90 days');
SELECT kms.allow_tenant('au_app', 'au-a');
SELECT kms.disallow_tenant('au_app', 'au-a');
SELECT kms.create_grant(:'side', 'au-b', ARRAY['Decrypt']) AS g \gset
SELECT kms.revoke_grant(:'side', :'g');
SELECT length(kms.export_keyring('au-a')) > 0 AS exported;
BEGIN;
SELECT kms.create_key('au-a', 'rolled-back') IS NOT NULL AS created;
ROLLBACK;
SELECT masked(sqlstate_of(format('SELECT kms.disable_key(%L)',
                                 (SELECT key_id FROM kms.keys WHERE tenant = 'au-a' AND is_default))));
SELECT 1 AS commit_point;
SELECT * FROM audit_since(:mark);
SELECT max(id) AS mark FROM kms.audit_log \gset

-- A restricted role that tries another tenant is recorded too.
SELECT kms.allow_tenant('au_app', 'au-a');
SET ROLE au_app;
SELECT sqlstate_of($$SET kms.tenant = 'au-b'$$);
RESET ROLE;
SELECT 1 AS commit_point;
SELECT role_name, tenant, operation, outcome, detail FROM audit_since(:mark) WHERE outcome <> 'ok';

-- Nothing in the log looks like key material: no long hex or base64 runs.
SELECT count(*) AS suspicious FROM kms.audit_log
 WHERE detail ~ '[0-9a-fA-F]{40}' OR detail ~ '[A-Za-z0-9+/]{40}';
-- Only administrators read it.
SET ROLE au_app;
SELECT sqlstate_of('SELECT count(*) FROM kms.audit_log');
SELECT sqlstate_of($$SELECT kms._audit('forged', 'au-a', NULL, NULL, 'ok')$$);
RESET ROLE;
RESET kms.tenant;
SELECT kms.disallow_tenant('au_app', 'au-a');
REVOKE USAGE ON SCHEMA kms FROM au_app;
DROP ROLE au_app;
