-- Masked roles, kms.reveal, and transparent encrypted columns.
CREATE ROLE col_app;
CREATE ROLE col_support;
GRANT USAGE ON SCHEMA kms TO col_app, col_support;

-- An existing table whose columns change type only.
CREATE TABLE col_customers (id int PRIMARY KEY, name kms.enc_name, phone kms.enc_phone,
                        email kms.enc_email, note kms.enc_text);
GRANT SELECT, INSERT, UPDATE ON col_customers TO col_app;
GRANT SELECT ON col_customers TO col_support;
SET ROLE col_app;
SET kms.tenant = 'col-acme';
-- Literals and bound parameters are encrypted under the session's tenant.
INSERT INTO col_customers VALUES (1, '张三丰', '13812345678', 'alice.wang@example.com', 'VIP since 2019');
PREPARE ins(int, text, text) AS INSERT INTO col_customers (id, name, phone) VALUES ($1, $2, $3);
EXECUTE ins(2, 'John Smith', '+86 138 1234 5678');
-- What is stored is ciphertext: 48 bytes more than the plaintext, base64 text form.
SELECT id, octet_length(phone::kms.encrypted::bytea) - octet_length(phone::text) AS overhead,
       left(phone::kms.encrypted::text, 4) AS starts
  FROM col_customers ORDER BY id;
SELECT phone::text, name::text, email::text, note::text FROM col_customers ORDER BY id;
-- The columns are ordinary kms.encrypted values underneath.
SELECT kms.decrypt(phone) FROM col_customers WHERE id = 1;
-- Inserting an already-encrypted value stores it unchanged (idempotent).
INSERT INTO col_customers (id, phone) SELECT 3, phone FROM col_customers WHERE id = 1;
SELECT (SELECT phone::kms.encrypted::bytea FROM col_customers WHERE id = 3)
     = (SELECT phone::kms.encrypted::bytea FROM col_customers WHERE id = 1) AS unchanged;
INSERT INTO col_customers (id, phone) VALUES (4, kms.encrypt('13900000004'));
SELECT phone::text FROM col_customers WHERE id = 4;
-- UPDATE re-encrypts the new value, under the session's tenant; text expressions too.
UPDATE col_customers SET phone = '13911112222' WHERE id = 1;
UPDATE col_customers SET note = 'changed ' || id WHERE id = 1;
SELECT phone::text, note::text FROM col_customers WHERE id = 1;
-- Another tenant's session cannot read them.
SET kms.tenant = 'col-globex';
SELECT sqlstate_of('SELECT phone::text FROM col_customers WHERE id = 1');
-- No tenant: plaintext cannot be stored, ciphertext can.
RESET kms.tenant;
SELECT sqlstate_of($$INSERT INTO col_customers (id, phone) VALUES (5, '13800000005')$$);
RESET ROLE;

-- Masked roles: support staff see the masked form, everywhere.
SELECT kms.mask_role('col_support');
SET ROLE col_support;
SET kms.tenant = 'col-acme';
SELECT id, name::text, phone::text, email::text, note::text FROM col_customers ORDER BY id;
SELECT kms.reveal(phone, 'phone') FROM col_customers WHERE id = 2;
SELECT sqlstate_of('SELECT kms.decrypt(phone) FROM col_customers WHERE id = 1');
SELECT sqlstate_of('SELECT kms.decrypt_bytea(phone) FROM col_customers WHERE id = 1');
RESET ROLE;
-- A generated view gives each reader what its role may see.
SELECT kms.create_plaintext_view('col_customers');
GRANT SELECT ON col_customers_plaintext TO col_app, col_support;
SET ROLE col_support;
SELECT * FROM col_customers_plaintext WHERE id = 1;
RESET ROLE;
SET ROLE col_app;
SELECT * FROM col_customers_plaintext WHERE id = 1;
SELECT kms.reveal(phone, 'phone') FROM col_customers WHERE id = 1;
RESET ROLE;
-- grant_reveal lifts the mask for one tenant; revoke_reveal restores it.
SELECT kms.grant_reveal('col_support', 'col-acme');
SET ROLE col_support;
SELECT phone::text FROM col_customers WHERE id = 1;
RESET ROLE;
SELECT kms.revoke_reveal('col_support', 'col-acme');
SET ROLE col_support;
SELECT phone::text FROM col_customers WHERE id = 1;
RESET ROLE;
SELECT kms.unmask_role('col_support');
SET ROLE col_support;
SELECT phone::text FROM col_customers WHERE id = 1;
RESET ROLE;

-- kms.reveal: rules, NULL, errors.
SET kms.tenant = 'col-acme';
SELECT kms.reveal(kms.encrypt('x'), 'nosuch');
SELECT kms.reveal(NULL, 'phone') IS NULL AS null_in;
SELECT kms.reveal(kms.encrypt('secret', context => 'c'), context => 'c');
SELECT sqlstate_of($$SELECT kms.mask_role('no_such_role')$$);
SET ROLE col_app;
SELECT sqlstate_of($$SELECT kms.mask_role('col_support')$$);
RESET ROLE;
RESET kms.tenant;

-- COPY carries ciphertext only, and reads it back unchanged without a tenant.
CREATE TABLE copied (LIKE col_customers);
DO $$
DECLARE
    f text := '/tmp/pgkms_columns_' || pg_backend_pid() || '.csv';
BEGIN
    EXECUTE format('COPY col_customers TO %L WITH (FORMAT csv)', f);
    IF pg_read_file(f) ~ '1381234|alice|张' THEN
        RAISE EXCEPTION 'plaintext in the COPY output';
    END IF;
    EXECUTE format('COPY copied FROM %L WITH (FORMAT csv)', f);
    -- The program reads the empty row first: one that exits at once may break the pipe.
    EXECUTE format('COPY (SELECT) TO PROGRAM %L', 'cat >/dev/null; rm -f ' || f);
END $$;
SELECT count(*) AS rows_copied_unchanged
  FROM copied c JOIN col_customers o USING (id)
 WHERE c.phone::kms.encrypted::bytea = o.phone::kms.encrypted::bytea;
SET kms.tenant = 'col-acme';
SELECT phone::text FROM copied WHERE id = 2;
RESET kms.tenant;
DROP TABLE copied;
-- Deterministic columns: WHERE col = 'plaintext' finds the row through an index.
SET search_path = public, kms;
CREATE TABLE col_people (id int PRIMARY KEY, phone kms.enc_phone_det, email kms.enc_email_det);
CREATE INDEX ON col_people (phone);
CREATE INDEX ON col_people USING hash (email);
SET kms.tenant = 'col-acme';
INSERT INTO col_people SELECT g, '138' || lpad(g::text, 8, '0'), 'user' || g || '@example.com'
  FROM generate_series(1, 2000) g;
PREPARE find(text) AS SELECT id FROM col_people WHERE phone = $1::kms.enc_phone_det;
ANALYZE col_people;
-- Plans show the encrypted constant, which differs on every run: masked here.
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        RETURN NEXT regexp_replace(l, '''i0sB[^'']*''', '<ciphertext>');
    END LOOP;
END $$;
SET enable_seqscan = off;
SELECT pg_temp.plan($$SELECT id FROM col_people WHERE phone = '13800001234'$$);
SELECT pg_temp.plan($$SELECT id FROM col_people WHERE email = 'user7@example.com'$$);
RESET enable_seqscan;
SELECT id FROM col_people WHERE phone = '13800001234';
SELECT id FROM col_people WHERE email = 'user7@example.com';
EXECUTE find('13800000042');
-- Updates re-encrypt (deterministically); the old value no longer matches.
UPDATE col_people SET phone = '13999999999' WHERE id = 42;
EXECUTE find('13800000042');
EXECUTE find('13999999999');
-- Rotation does not break lookups (deterministic values use the key's first version).
SELECT kms.rotate_key(key_id) > 1 AS rotated FROM kms.keys WHERE tenant = 'col-acme' AND is_default;
SELECT id FROM col_people WHERE phone = '13800001234';
-- Another tenant's lookup finds nothing (its own key); a randomized value is refused.
SET kms.tenant = 'col-globex';
SELECT count(*) AS found_by_globex FROM col_people WHERE phone = '13800001234';
SELECT sqlstate_of(format('INSERT INTO col_people (id, phone) VALUES (9999, %L)',
                          kms.encrypt('13800009999')::text));
SET kms.tenant = 'col-acme';
SELECT phone::text, email::text FROM col_people WHERE id = 7;
RESET kms.tenant;
RESET search_path;
DROP TABLE col_people;
DROP VIEW col_customers_plaintext;
DROP TABLE col_customers;
REVOKE USAGE ON SCHEMA kms FROM col_app, col_support;
DROP ROLE col_app;
DROP ROLE col_support;
