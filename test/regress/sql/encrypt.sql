-- Encrypt and decrypt: round trips, NULLs, contexts, tenants, default keys.
SET kms.tenant = 'acme';
SELECT kms.decrypt(kms.encrypt('13812345678'));
SELECT kms.decrypt(kms.encrypt(''));
SELECT kms.decrypt(kms.encrypt('张三丰 🙂'));
SELECT kms.decrypt_bytea(kms.encrypt('\x00ff00'::bytea));
SELECT kms.decrypt(kms.encrypt(repeat('x', 100000))) = repeat('x', 100000) AS long_value;
-- 48 bytes of overhead: an 11-character phone number is stored in 59 bytes.
SELECT octet_length(kms.encrypt('13812345678')::bytea) AS stored_bytes;
-- Randomized: the same plaintext encrypts differently every time.
SELECT kms.encrypt('same')::bytea <> kms.encrypt('same')::bytea AS randomized;
-- NULL plaintext gives NULL, whatever the tenant.
SELECT kms.encrypt(NULL::text) IS NULL AS null_text, kms.encrypt(NULL::bytea) IS NULL AS null_bytea,
       kms.decrypt(NULL) IS NULL AS null_decrypt, kms.decrypt_bytea(NULL) IS NULL AS null_bytea_decrypt;
-- Explicit tenant argument and named arguments.
SELECT kms.decrypt(kms.encrypt(plaintext => 'named', tenant => 'acme', context => 'c1'), context => 'c1');
-- Context is bound to the value but not stored in it.
SELECT octet_length(kms.encrypt('x', context => 'users.phone')::bytea) = octet_length(kms.encrypt('x')::bytea)
       AS context_not_stored;
SELECT kms.decrypt(kms.encrypt('phone', context => 'users.phone'), 'users.phone');
SELECT sqlstate_of($$SELECT kms.decrypt(kms.encrypt('phone', context => 'users.phone'), 'users.email')$$);
SELECT sqlstate_of($$SELECT kms.decrypt(kms.encrypt('phone', context => 'users.phone'))$$);
SELECT sqlstate_of($$SELECT kms.decrypt(kms.encrypt('phone'), 'users.phone')$$);
-- An empty context is the same as none.
SELECT kms.decrypt(kms.encrypt('phone', context => ''));
-- Values stored in a table decrypt later, in another statement.
CREATE TABLE customers (id int PRIMARY KEY, phone kms.encrypted);
INSERT INTO customers SELECT g, kms.encrypt('1380000' || lpad(g::text, 4, '0'), context => 'customers.phone:' || g)
  FROM generate_series(1, 100) g;
SELECT count(*) FILTER (WHERE kms.decrypt(phone, 'customers.phone:' || id) = '1380000' || lpad(id::text, 4, '0'))
  AS decrypted FROM customers;
-- A value moved to another row does not decrypt there.
SELECT sqlstate_of($$SELECT kms.decrypt(phone, 'customers.phone:2') FROM customers WHERE id = 1$$);
-- Each tenant got one default key on first use, stored wrapped only.
SELECT tenant, is_default, state, current_version, origin, length(key_ref) FROM kms.keys ORDER BY tenant;
SELECT v.version, v.keyring, length(v.root_id) AS root_id_len, length(v.wrapped) AS wrapped_len
  FROM kms._key_versions v JOIN kms.keys k USING (key_id) WHERE k.tenant = 'acme';
-- Bytes that are not text in the database encoding need decrypt_bytea.
SELECT sqlstate_of($$SELECT kms.decrypt(kms.encrypt('\xff'::bytea))$$);
-- No tenant given and none set.
RESET kms.tenant;
SELECT sqlstate_of($$SELECT kms.encrypt('x')$$);
SELECT sqlstate_of($$SELECT kms.decrypt(phone) FROM customers WHERE id = 1$$);
