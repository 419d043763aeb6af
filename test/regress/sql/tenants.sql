-- Restricting a role to a set of tenants.
CREATE ROLE support_acme;
GRANT USAGE ON SCHEMA kms TO support_acme;
SET kms.tenant = 'acme';
CREATE TABLE shared (tenant text, v kms.encrypted);
INSERT INTO shared VALUES ('acme', kms.encrypt('acme data')), ('globex', kms.encrypt('globex data', 'globex'));
GRANT SELECT ON shared TO support_acme;
SELECT kms.allow_tenant('support_acme', 'acme');
SELECT kms.allow_tenant('support_acme', 'acme');   -- twice is fine
SELECT sqlstate_of($$SELECT kms.allow_tenant('no_such_role', 'acme')$$);
RESET kms.tenant;
SET ROLE support_acme;
-- Allowed tenant: works.
SET kms.tenant = 'acme';
SELECT kms.decrypt(v) FROM shared WHERE tenant = 'acme';
-- Any other tenant: SET is refused, and so is the tenant argument.
SELECT sqlstate_of($$SET kms.tenant = 'globex'$$);
SELECT sqlstate_of($$SELECT set_config('kms.tenant', 'globex', false)$$);
SHOW kms.tenant;
-- Parallel workers restore the setting without re-checking it (the leader did).
SET force_parallel_mode = on;
SELECT count(*) FROM shared;
RESET force_parallel_mode;
SELECT sqlstate_of($$SELECT kms.encrypt('x', 'globex')$$);
SELECT sqlstate_of($$SELECT kms.decrypt(v) FROM shared WHERE tenant = 'globex'$$);
RESET ROLE;
-- A tenant set before SET ROLE is checked when used.
SET kms.tenant = 'globex';
SET ROLE support_acme;
SELECT sqlstate_of($$SELECT kms.decrypt(v) FROM shared WHERE tenant = 'globex'$$);
RESET ROLE;
-- Allowing a second tenant takes effect at once; disallowing removes it.
SELECT kms.allow_tenant('support_acme', 'globex');
SET ROLE support_acme;
SELECT kms.decrypt(v) FROM shared WHERE tenant = 'globex';
RESET ROLE;
SELECT kms.disallow_tenant('support_acme', 'globex');
SET ROLE support_acme;
SELECT sqlstate_of($$SELECT kms.decrypt(v) FROM shared WHERE tenant = 'globex'$$);
-- Roles without rows are unrestricted; the administration functions are not for PUBLIC.
SELECT sqlstate_of($$SELECT kms.allow_tenant('support_acme', 'globex')$$);
RESET ROLE;
-- kms.encrypt(v) keeps what kms.tenant resolved to from one value to the next. Whatever could
-- change that is seen by the very next value: kms.tenant (set per row, or undone by ROLLBACK),
-- the role, and the role's tenants.
CREATE FUNCTION owner_of(v kms.encrypted) RETURNS text LANGUAGE sql AS
  $$ SELECT tenant FROM kms.keys WHERE key_ref = substring(v::bytea FROM 5 FOR 8) $$;
CREATE TABLE sealed_as (step int, v kms.encrypted);
GRANT INSERT ON sealed_as TO support_acme;
SET kms.tenant = 'acme';
SELECT owner_of(kms.encrypt('a'));
SET kms.tenant = 'globex';
SELECT owner_of(kms.encrypt('g'));
SELECT t, owner_of(e)
  FROM (SELECT t, set_config('kms.tenant', t, false) AS s, kms.encrypt('x') AS e
          FROM unnest(ARRAY['acme', 'globex', 'globex', 'acme']) WITH ORDINALITY u(t, n)
         ORDER BY n) q;
BEGIN;
SET LOCAL kms.tenant = 'globex';
SELECT owner_of(kms.encrypt('in the transaction'));
ROLLBACK;
SELECT owner_of(kms.encrypt('after ROLLBACK'));
-- globex, set before SET ROLE, is refused to a role allowed only acme; acme works.
SET kms.tenant = 'globex';
SELECT owner_of(kms.encrypt('as the administrator'));
SET ROLE support_acme;
SELECT sqlstate_of($$INSERT INTO sealed_as VALUES (1, kms.encrypt('x'))$$);
SET kms.tenant = 'acme';
INSERT INTO sealed_as VALUES (2, kms.encrypt('x'));
RESET ROLE;
-- Allowed globex, then disallowed it again: each takes effect on the next value.
SELECT kms.allow_tenant('support_acme', 'globex');
SET ROLE support_acme;
SET kms.tenant = 'globex';
INSERT INTO sealed_as VALUES (3, kms.encrypt('x'));
RESET ROLE;
SELECT kms.disallow_tenant('support_acme', 'globex');
SET ROLE support_acme;
SELECT sqlstate_of($$INSERT INTO sealed_as VALUES (4, kms.encrypt('x'))$$);
RESET ROLE;
SELECT step, owner_of(v) FROM sealed_as ORDER BY step;
-- A default key created by a transaction or subtransaction that rolls back is gone: the next
-- value creates and uses a key that is kept, and every kept value decrypts.
CREATE TABLE kept (n int, v kms.encrypted);
BEGIN;
SET LOCAL kms.tenant = 'rb-top';
INSERT INTO kept VALUES (0, kms.encrypt('rolled back'));
ROLLBACK;
SET kms.tenant = 'rb-top';
INSERT INTO kept VALUES (1, kms.encrypt('after ROLLBACK'));
BEGIN;
SAVEPOINT s;
SET LOCAL kms.tenant = 'rb-sp';
INSERT INTO kept VALUES (0, kms.encrypt('rolled back'));
ROLLBACK TO s;
SET LOCAL kms.tenant = 'rb-sp';
INSERT INTO kept VALUES (2, kms.encrypt('after ROLLBACK TO'));
COMMIT;
DO $$
BEGIN
  BEGIN
    PERFORM kms.encrypt('rolled back', 'rb-block');
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
  INSERT INTO kept VALUES (3, kms.encrypt('after the block', 'rb-block'));
END $$;
SELECT tenant, count(*) FROM kms.keys WHERE tenant LIKE 'rb-%' GROUP BY 1 ORDER BY 1;
SELECT * FROM (SELECT n, set_config('kms.tenant', owner_of(v), false) AS tenant, kms.decrypt(v)
                 FROM kept OFFSET 0) q
 ORDER BY n;
DROP TABLE kept;
DROP TABLE sealed_as;
DROP FUNCTION owner_of(kms.encrypted);
RESET kms.tenant;
SELECT role_name, tenant FROM kms.role_tenants ORDER BY 1, 2;
SELECT kms.disallow_tenant('support_acme', 'acme');
DROP TABLE shared;
DROP OWNED BY support_acme;
DROP ROLE support_acme;
