-- Masking functions (docs/masking.md): every documented example, invalid input masked
-- entirely, NULL in NULL out, argument errors with their SQLSTATEs, non-UTF8 databases.
SELECT fn, input, CASE fn
         WHEN 'name' THEN kms.mask_name(input)
         WHEN 'phone' THEN kms.mask_phone(input)
         WHEN 'email' THEN kms.mask_email(input)
         WHEN 'id_card' THEN kms.mask_id_card(input)
         WHEN 'bank_card' THEN kms.mask_bank_card(input)
         WHEN 'address' THEN kms.mask_address(input) END AS masked
FROM (VALUES
  ('name', '张三'), ('name', '张三丰'), ('name', '欧阳娜娜'), ('name', 'John Smith'),
  ('name', 'John F Kennedy'), ('name', 'Mary-Jane O''Neil'), ('name', '迪丽热巴·迪力木拉提'),
  ('name', '张'), ('name', '张 三'), ('name', '😀😀'), ('name', ''), ('name', '   '),
  ('phone', '13812345678'), ('phone', '138-1234-5678'), ('phone', '+86 138 1234 5678'),
  ('phone', '+8613812345678'), ('phone', '+1 (555) 123-4567'), ('phone', '+44 20 7946 0958'),
  ('phone', '+852 2123 4567'), ('phone', '010-62345678'), ('phone', '0086 138 1234 5678'),
  ('phone', '1234567'), ('phone', '123456'), ('phone', '+683 1234'), ('phone', '+28 1234 5678'),
  ('phone', '138 1234 567a'), ('phone', '１３８１２３４５６７８'),
  ('email', 'alice.wang@example.com'), ('email', 'a@example.com'), ('email', '张伟@例子.中国'),
  ('email', 'alice.example.com'), ('email', 'alice@example'), ('email', 'a@b@example.com'),
  ('email', 'alice @example.com'),
  ('id_card', '110101199003074578'), ('id_card', '11010119900307457X'),
  ('id_card', '110101900307457'), ('id_card', '1101011990030745'),
  ('id_card', '11010119900307457Y'),
  ('bank_card', '6222021234567890123'), ('bank_card', '6222 0212 3456 7890 123'),
  ('bank_card', '4111-1111-1111-1111'), ('bank_card', '422222222222'),
  ('bank_card', '4111 1111 1111 111a'),
  ('address', '北京市海淀区中关村大街27号'), ('address', '广东省深圳市南山区科技园南路1号'),
  ('address', '广东省东莞市长安镇乌沙村8号'), ('address', '221B Baker Street, London'),
  ('address', '北京市'), ('address', 'London')
) AS t(fn, input);
-- Character counts, not bytes: invalid input keeps its length in characters.
SELECT length('１３８１２３４５６７８') AS chars, length(kms.mask_phone('１３８１２３４５６７８')) AS masked_chars;
-- The general functions.
SELECT kms.mask('13812345678', 3, 4) AS phone, kms.mask('张三丰', 1, 0, '＊') AS full_width,
       kms.mask(value => 'abcdef', keep_first => 2, keep_last => 2, mask_char => '●') AS named,
       kms.mask('abc', 1, 2) AS whole_value_hidden, kms.mask('abc', 0, 0, '#') AS all_hidden,
       kms.mask('', 0, 0) AS empty;
SELECT kms.mask_truncate('13812345678', 3) AS truncated, kms.mask_truncate('张三丰', 1) AS cjk,
       kms.mask_truncate('abc', 0) AS zero, kms.mask_truncate('abc', 3) AS whole_value_hidden;
SELECT kms.mask_replace('13812345678', '<phone>') AS replaced;
-- NULL in, NULL out, for every argument.
SELECT kms.mask_name(NULL) IS NULL AS name, kms.mask_phone(NULL) IS NULL AS phone,
       kms.mask_email(NULL) IS NULL AS email, kms.mask_id_card(NULL) IS NULL AS id_card,
       kms.mask_bank_card(NULL) IS NULL AS bank_card, kms.mask_address(NULL) IS NULL AS address;
SELECT kms.mask(NULL, 1, 1) IS NULL AS value, kms.mask('abc', NULL, 1) IS NULL AS keep_first,
       kms.mask('abc', 1, NULL) IS NULL AS keep_last, kms.mask('abc', 1, 1, NULL) IS NULL AS mask_char,
       kms.mask_truncate(NULL, 1) IS NULL AS truncate_value, kms.mask_truncate('abc', NULL) IS NULL AS n,
       kms.mask_replace(NULL, 'x') IS NULL AS replace_value, kms.mask_replace('abc', NULL) IS NULL AS replacement;
-- Bad arguments are errors (22023), never a partly masked value.
SELECT sqlstate_of($$SELECT kms.mask('abc', -1, 0)$$);
SELECT sqlstate_of($$SELECT kms.mask('abc', 0, -2)$$);
SELECT sqlstate_of($$SELECT kms.mask('abc', 0, 0, '')$$);
SELECT sqlstate_of($$SELECT kms.mask('abc', 0, 0, '**')$$);
SELECT sqlstate_of($$SELECT kms.mask_truncate('abc', -1)$$);
-- Long values: one mask character per character.
SELECT length(kms.mask(repeat('张', 100000), 1, 1)) AS chars,
       octet_length(kms.mask(repeat('张', 100000), 1, 1)) AS bytes,
       kms.mask(repeat('张', 100000), 1, 1) = '张' || repeat('*', 99998) || '张' AS as_expected;
-- Immutable: usable in an index expression.
CREATE TABLE mask_people (phone text);
INSERT INTO mask_people VALUES ('13812345678'), ('+86 139 8765 4321');
CREATE INDEX ON mask_people (kms.mask_phone(phone));
SELECT kms.mask_phone(phone) FROM mask_people ORDER BY 1;
DROP TABLE mask_people;
-- Any role may call them (EXECUTE is PUBLIC); only USAGE on the schema is needed.
CREATE ROLE mask_user;
GRANT USAGE ON SCHEMA kms TO mask_user;
SET ROLE mask_user;
SELECT kms.mask_email('alice.wang@example.com'), kms.mask_replace('x', 'y');
RESET ROLE;
-- The example of docs/masking.md: support staff see encrypted columns masked, through a view.
SET kms.tenant = 'acme';
CREATE TABLE mask_customers (id int, name kms.encrypted, phone kms.encrypted);
INSERT INTO mask_customers VALUES (1, kms.encrypt('张三丰'), kms.encrypt('13812345678')),
                                  (2, kms.encrypt('John Smith'), kms.encrypt('+1 (555) 123-4567'));
CREATE VIEW mask_customers_support AS
  SELECT id, kms.mask_name(kms.decrypt(name)) AS name, kms.mask_phone(kms.decrypt(phone)) AS phone
    FROM mask_customers;
GRANT SELECT ON mask_customers_support TO mask_user;
RESET kms.tenant;
SET ROLE mask_user;
SET kms.tenant = 'acme';
SELECT * FROM mask_customers_support ORDER BY id;
SELECT sqlstate_of($$SELECT kms.decrypt(name) FROM mask_customers$$);
RESET ROLE;
RESET kms.tenant;
DROP VIEW mask_customers_support;
DROP TABLE mask_customers;
DROP OWNED BY mask_user;
DROP ROLE mask_user;
-- SQL_ASCII holds bytes that are not UTF-8: such values are masked entirely.
SELECT current_database() AS regress_db \gset
CREATE DATABASE pgkms_mask_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c pgkms_mask_ascii
CREATE EXTENSION pgkms;
SELECT kms.mask_name(E'Jo\xffhn') AS name, kms.mask_phone(E'138\xe5\xbc5678') AS phone,
       kms.mask(E'ab\x80cd', 1, 1) AS mask, kms.mask_name('John Smith') AS valid_name;
-- Other encodings would be misread: refused (0A000).
CREATE DATABASE pgkms_mask_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c pgkms_mask_latin1
CREATE EXTENSION pgkms;
CREATE FUNCTION sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT sqlstate_of($$SELECT kms.mask_name('John Smith')$$);
SELECT sqlstate_of($$SELECT kms.mask('abc', 1, 1)$$);
SELECT kms.mask_replace('abc', 'replaced') AS replace_reads_nothing;
\c :regress_db
DROP DATABASE pgkms_mask_ascii;
DROP DATABASE pgkms_mask_latin1;
