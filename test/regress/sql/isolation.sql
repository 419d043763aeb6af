-- Tenant isolation: a value of one tenant never decrypts in another tenant's context.
SET kms.tenant = 'tenant-a';
CREATE TABLE iso (tenant text, v kms.encrypted);
INSERT INTO iso VALUES ('tenant-a', kms.encrypt('a-secret')), ('tenant-b', kms.encrypt('b-secret', 'tenant-b'));
SELECT tenant, kms.decrypt(v) FROM iso WHERE tenant = 'tenant-a';
SELECT sqlstate_of($$SELECT kms.decrypt(v) FROM iso WHERE tenant = 'tenant-b'$$);
SET kms.tenant = 'tenant-b';
SELECT tenant, kms.decrypt(v) FROM iso WHERE tenant = 'tenant-b';
SELECT sqlstate_of($$SELECT kms.decrypt(v) FROM iso WHERE tenant = 'tenant-a'$$);
-- SET LOCAL limits the acting tenant to one transaction.
BEGIN;
SET LOCAL kms.tenant = 'tenant-a';
SELECT kms.decrypt(v) FROM iso WHERE tenant = 'tenant-a';
COMMIT;
SHOW kms.tenant;
-- Encrypting "for" another tenant by argument uses that tenant's key, not the session's.
SELECT sqlstate_of($$SELECT kms.decrypt(kms.encrypt('x', 'tenant-a'))$$);
-- Tenant names are validated.
SELECT sqlstate_of($$SET kms.tenant = 'no spaces'$$);
SELECT sqlstate_of($$SELECT kms.encrypt('x', 'a;b')$$);
SELECT sqlstate_of($$SELECT kms.encrypt('x', '')$$);
SELECT sqlstate_of($$SELECT kms.encrypt('x', repeat('t', 129))$$);
SELECT length(kms.encrypt('x', repeat('t', 128))::bytea);
