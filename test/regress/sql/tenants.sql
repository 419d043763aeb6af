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
SELECT role_name, tenant FROM kms.role_tenants ORDER BY 1, 2;
SELECT kms.disallow_tenant('support_acme', 'acme');
DROP TABLE shared;
DROP OWNED BY support_acme;
DROP ROLE support_acme;
