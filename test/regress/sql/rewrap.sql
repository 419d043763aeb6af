-- rewrap moves values to the current key version without returning plaintext;
-- rewrap_table does a whole column in committed batches and can be resumed.
SET kms.tenant = 'rw';
SELECT kms.encrypt('old', context => 'c') AS v1 \gset
SELECT key_id AS kid FROM kms.keys WHERE tenant = 'rw' AND is_default \gset
SELECT kms.rotate_key(:'kid');
SELECT kms.rewrap(:'v1', 'c') AS v2 \gset
SELECT get_byte(:'v1'::kms.encrypted::bytea, 15) AS before, get_byte(:'v2'::kms.encrypted::bytea, 15) AS after,
       kms.decrypt(:'v2', 'c') AS plaintext;
-- Already current: returned unchanged, byte for byte.
SELECT kms.rewrap(:'v2', 'c')::bytea = :'v2'::kms.encrypted::bytea AS unchanged;
SELECT kms.rewrap(NULL) IS NULL AS null_in_null_out;
-- The context is checked like decrypt's; another tenant's value is refused.
SELECT sqlstate_of(format('SELECT kms.rewrap(%L, %L)', :'v1', 'other'));
SELECT sqlstate_of(format('SELECT kms.rewrap(%L)', kms.encrypt('theirs', 'rw-other')));
-- A whole column of two tenants, with per-row contexts.
CREATE TABLE accounts (id int PRIMARY KEY, tenant text, secret kms.encrypted);
INSERT INTO accounts SELECT g, t, kms.encrypt('secret ' || g, t, 'accounts:' || g)
  FROM generate_series(1, 25) g, LATERAL (SELECT CASE WHEN g % 2 = 0 THEN 'rw' ELSE 'rw-b' END AS t) s;
SELECT kms.rotate_key(key_id) FROM kms.keys WHERE tenant IN ('rw', 'rw-b') AND is_default ORDER BY tenant;
SELECT count(*) FILTER (WHERE kms._needs_rewrap(secret)) AS stale_before FROM accounts;
CALL kms.rewrap_table('accounts', 'secret', 10, $$'accounts:' || id$$);
SELECT count(*) FILTER (WHERE kms._needs_rewrap(secret)) AS stale_after FROM accounts;
SET kms.tenant = 'rw';
SELECT count(*) AS readable_rw FROM (SELECT * FROM accounts WHERE tenant = 'rw' OFFSET 0) a
 WHERE kms.decrypt(a.secret, 'accounts:' || a.id) = 'secret ' || a.id;
SET kms.tenant = 'rw-b';
SELECT count(*) AS readable_rw_b FROM (SELECT * FROM accounts WHERE tenant = 'rw-b' OFFSET 0) a
 WHERE kms.decrypt(a.secret, 'accounts:' || a.id) = 'secret ' || a.id;
-- Calling again finds nothing to do.
CALL kms.rewrap_table('accounts', 'secret');
-- Bad calls.
SELECT sqlstate_of($$CALL kms.rewrap_table('accounts', 'secret', 0)$$);
SET kms.tenant = 'rw';
CREATE ROLE rw_app;
GRANT USAGE ON SCHEMA kms TO rw_app;
SET ROLE rw_app;
SELECT sqlstate_of($$CALL kms.rewrap_table('accounts', 'secret')$$);
SELECT sqlstate_of(format('SELECT kms._rewrap_any(%L)', :'v1'));
SELECT kms.decrypt(kms.rewrap(:'v1', 'c'), 'c') AS tenant_may_rewrap_its_own;
RESET ROLE;
DROP OWNED BY rw_app;
DROP ROLE rw_app;
