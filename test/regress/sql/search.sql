-- Searchable encryption (docs/searchable-encryption.md): deterministic values, blind indexes,
-- pseudonyms; equality and indexes on kms.encrypted; rotation; refusals.
SET kms.tenant = 'srch';
-- Deterministic: the same plaintext, context and key give the same bytes: algorithm 3, the
-- data key id field zero, 36 bytes of overhead.
SELECT kms.encrypt_det('13812345678')::bytea = kms.encrypt_det('13812345678')::bytea AS same,
       length(kms.encrypt_det('13812345678')::bytea) AS bytes,
       get_byte(kms.encrypt_det('x')::bytea, 3) AS alg,
       substring(kms.encrypt_det('x')::bytea FROM 17 FOR 4) AS data_key_id,
       left(kms.encrypt_det('x')::text, 4) AS text_prefix;
SELECT kms.encrypt_det('abc')::bytea = kms.encrypt_det('abc'::bytea)::bytea AS text_is_bytea;
-- Context, tenant and key each give other bytes; randomized encryption never matches.
SELECT kms.create_key('srch', 'second') IS NOT NULL AS second_key;
SELECT kms.encrypt_det('x')::bytea <> kms.encrypt_det('x', context => 'c')::bytea AS by_context,
       kms.encrypt_det('x')::bytea <> kms.encrypt_det('x', 'srch-other')::bytea AS by_tenant,
       kms.encrypt_det('x')::bytea <> kms.encrypt_det('x', key => 'second')::bytea AS by_key,
       kms.encrypt_det('x')::bytea <> kms.encrypt('x')::bytea AS not_randomized;
-- A NULL context is no context, the same as an empty one.
SELECT kms.encrypt_det('x', context => NULL)::bytea = kms.encrypt_det('x', context => '')::bytea
       AS null_context_is_empty;
-- They decrypt like any value, with their context: empty, UTF-8, binary.
SELECT kms.decrypt(kms.encrypt_det('')) = '' AS empty,
       kms.decrypt(kms.encrypt_det('张三丰', context => 't.name:1'), 't.name:1') AS utf8,
       kms.decrypt_bytea(kms.encrypt_det('\x00ff'::bytea)) AS binary,
       kms.decrypt(kms.encrypt_det('second key', key => 'second')) AS other_key;
SELECT sqlstate_of($$SELECT kms.decrypt(kms.encrypt_det('x', context => 'a'), 'b')$$);
SELECT sqlstate_of($$SELECT kms.decrypt(kms.encrypt_det('x', context => 'a'))$$);
SELECT sqlstate_of($$SELECT kms.decrypt(set_byte(kms.encrypt_det('x')::bytea, 36, get_byte(kms.encrypt_det('x')::bytea, 36) # 1)::kms.encrypted)$$);
SELECT sqlstate_of($$SELECT kms.decrypt(set_byte(kms.encrypt_det('x')::bytea, 20, get_byte(kms.encrypt_det('x')::bytea, 20) # 1)::kms.encrypted)$$);
SELECT sqlstate_of($$SELECT kms.decrypt(set_byte(kms.encrypt_det('x')::bytea, 19, 1)::kms.encrypted)$$);
SELECT sqlstate_of($$SELECT kms.decrypt(substring(kms.encrypt_det('')::bytea FOR 35)::kms.encrypted)$$);
-- NULL in, NULL out.
SELECT kms.encrypt_det(NULL::text) IS NULL AS det_text, kms.encrypt_det(NULL::bytea) IS NULL AS det_bytea,
       kms.blind_index(NULL) IS NULL AS blind_index, kms.pseudonym(NULL) IS NULL AS pseudonym;

-- Equality compares bytes; the operators are in schema kms, so kms goes on the search_path.
SET search_path = public, kms;
CREATE TABLE people (id int PRIMARY KEY, phone kms.encrypted, email kms.encrypted,
                        email_idx bytea);
INSERT INTO people
SELECT g, kms.encrypt_det('138' || lpad(g::text, 8, '0'), context => 'people.phone'),
       kms.encrypt('user' || g || '@example.com'),
       kms.blind_index('User' || g || '@Example.com', purpose => 'email', bits => 64,
                       canonical => true)
  FROM generate_series(1, 3000) g;
CREATE INDEX people_phone ON people (phone);
CREATE INDEX people_email_idx ON people (email_idx);
ANALYZE people;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM people WHERE phone = kms.encrypt_det('13800000042', context => 'people.phone');
SELECT id, kms.decrypt(phone, 'people.phone') FROM people
 WHERE phone = kms.encrypt_det('13800000042', context => 'people.phone');
SELECT count(*) AS no_match FROM people
 WHERE phone = kms.encrypt_det('13800000042', context => 'people.mobile');
-- A hash index serves equality too.
CREATE INDEX people_phone_hash ON people USING hash (phone);
DROP INDEX people_phone;
EXPLAIN (COSTS OFF)
SELECT id FROM people WHERE phone = kms.encrypt_det('13800000042', context => 'people.phone');
SELECT id FROM people WHERE phone = kms.encrypt_det('13800003000', context => 'people.phone');
-- A blind index in a bytea column: the canonical form matches whatever the case and spacing.
EXPLAIN (COSTS OFF)
SELECT id FROM people
 WHERE email_idx = kms.blind_index(' USER42@example.com ', purpose => 'email', bits => 64,
                                   canonical => true);
SELECT id, kms.decrypt(email) FROM people
 WHERE email_idx = kms.blind_index(' USER42@example.com ', purpose => 'email', bits => 64,
                                   canonical => true);
RESET enable_seqscan;
-- Without kms on the search_path the operator is not found; OPERATOR(kms.=) names it.
RESET search_path;
SELECT sqlstate_of($$SELECT 1 FROM people WHERE phone = kms.encrypt_det('x')$$);
SELECT id FROM people
 WHERE phone OPERATOR(kms.=) kms.encrypt_det('13800000007', context => 'people.phone');
SET search_path = public, kms;
-- Randomized values equal only the same stored bytes; ordering, DISTINCT, joins work.
SELECT kms.encrypt('x') = kms.encrypt('x') AS randomized_equal,
       (SELECT count(*) FROM people a JOIN people b ON a.email = b.email) AS self_joins,
       (SELECT count(DISTINCT phone) FROM people) AS distinct_phones;
SELECT kms.encrypt_det('b') < kms.encrypt_det('a') OR kms.encrypt_det('b') > kms.encrypt_det('a')
       AS ordered, kms.encrypt_det('a') <> kms.encrypt_det('b') AS not_equal;
-- What a deterministic column shows without any key: which rows are equal, and how often.
INSERT INTO people SELECT 3000 + g, kms.encrypt_det('13800000001', context => 'people.phone')
  FROM generate_series(1, 4) g;
SELECT count(*) AS rows_with_the_most_frequent_value FROM people GROUP BY phone
 ORDER BY count(*) DESC LIMIT 1;

-- Blind indexes: 32 to 256 bits in steps of 8; shorter ones are prefixes of longer ones.
SELECT length(kms.blind_index('x')) AS default_bytes, length(kms.blind_index('x', bits => 32)),
       length(kms.blind_index('x', bits => 136)),
       substring(kms.blind_index('x') FOR 4) = kms.blind_index('x', bits => 32) AS prefix,
       kms.blind_index('x') = kms.blind_index('x') AS stable;
SELECT sqlstate_of($$SELECT kms.blind_index('x', bits => 24)$$);
SELECT sqlstate_of($$SELECT kms.blind_index('x', bits => 33)$$);
SELECT sqlstate_of($$SELECT kms.blind_index('x', bits => 264)$$);
SELECT sqlstate_of($$SELECT kms.blind_index('x', bits => NULL)$$);
SELECT sqlstate_of($$SELECT kms.blind_index('x', purpose => NULL)$$);
SELECT sqlstate_of($$SELECT kms.blind_index('x', purpose => '')$$);
SELECT sqlstate_of($$SELECT kms.blind_index('x', purpose => repeat('p', 256))$$);
SELECT length(kms.blind_index('x', purpose => repeat('p', 255))) AS longest_purpose;
SELECT sqlstate_of($$SELECT kms.blind_index('x', canonical => NULL)$$);
-- Purposes, tenants and keys give unrelated values.
SELECT kms.blind_index('x') <> kms.blind_index('x', purpose => 'other') AS by_purpose,
       kms.blind_index('x') <> kms.blind_index('x', 'srch-other') AS by_tenant,
       kms.blind_index('x') <> kms.blind_index('x', key => 'second') AS by_key;
-- The canonical form: ASCII lower case, white space trimmed and collapsed. Other characters
-- are kept: fold them in SQL first (lower(), and normalize() to NFC in a UTF-8 database).
SELECT kms.blind_index(E' \tJohn  DOE\n', canonical => true) = kms.blind_index('john doe')
       AS canonical, kms.blind_index(' John DOE', canonical => false) = kms.blind_index('john doe')
       AS raw_equal,
       kms.blind_index('É', canonical => true) = kms.blind_index('é') AS non_ascii_folded,
       kms.blind_index(normalize(U&'e\0301', NFC)) = kms.blind_index(U&'\00E9') AS nfc_in_sql;

-- Pseudonyms: text, stable, per purpose and tenant, not the value.
SELECT kms.pseudonym('13812345678') ~ '^ps_[a-z2-7]{26}$' AS shape,
       kms.pseudonym('13812345678') = kms.pseudonym('13812345678') AS stable,
       kms.pseudonym('x') <> kms.pseudonym('x', purpose => 'export') AS by_purpose,
       kms.pseudonym('x') <> kms.pseudonym('x', 'srch-other') AS by_tenant,
       kms.pseudonym('x') <> kms.pseudonym('x', key => 'second') AS by_key,
       kms.pseudonym('x') <> kms.pseudonym('y') AS by_value,
       kms.pseudonym('') ~ '^ps_' AS empty_value;
SELECT sqlstate_of($$SELECT kms.pseudonym('x', purpose => '')$$);
SELECT sqlstate_of($$SELECT kms.pseudonym('x', purpose => NULL)$$);
-- Two tables pseudonymised for the same purpose join on the pseudonym.
SELECT count(*) AS joined FROM
  (SELECT kms.pseudonym('138' || lpad(g::text, 8, '0'), purpose => 'analytics') AS p
     FROM generate_series(1, 50) g) a
  JOIN (SELECT kms.pseudonym(kms.decrypt(phone, 'people.phone'), purpose => 'analytics') AS p
          FROM people WHERE id <= 100) b USING (p);

-- Rotation: deterministic values, blind indexes and pseudonyms stay under version 1, so
-- lookups written before a rotation keep matching after it.
SELECT key_id AS kid FROM kms.keys WHERE tenant = 'srch' AND is_default \gset
SELECT kms.encrypt_det('13800000042', context => 'people.phone') AS det_before,
       kms.blind_index('user42@example.com', purpose => 'email', bits => 64) AS bi_before,
       kms.pseudonym('13800000042') AS ps_before \gset
SELECT kms.rotate_key(:'kid') AS new_version;
SELECT kms.encrypt_det('13800000042', context => 'people.phone') = :'det_before' AS det_same,
       kms.blind_index('user42@example.com', purpose => 'email', bits => 64) = :'bi_before'
       AS blind_index_same, kms.pseudonym('13800000042') = :'ps_before' AS pseudonym_same,
       get_byte(kms.encrypt_det('x')::bytea, 15) AS det_version,
       get_byte(kms.encrypt('x')::bytea, 15) AS randomized_version;
-- In a new session too (its cache is loaded after the rotation).
\c
SET kms.tenant = 'srch';
SET search_path = public, kms;
SET enable_seqscan = off;
SELECT id FROM people
 WHERE phone = kms.encrypt_det('13800000042', context => 'people.phone');
SELECT id FROM people
 WHERE email_idx = kms.blind_index('user42@example.com', purpose => 'email', bits => 64,
                                   canonical => true);
RESET enable_seqscan;
-- Rewrapping leaves deterministic values as they are; randomized ones move to version 2.
SELECT kms.rewrap(phone, 'people.phone') = phone AS det_unchanged,
       kms._needs_rewrap(phone) AS det_needs_rewrap,
       kms._needs_rewrap(email) AS randomized_needs_rewrap FROM people WHERE id = 1;
SET client_min_messages = warning;
CALL kms.rewrap_table('people', 'email', 5000);
CALL kms.rewrap_table('people', 'phone', 5000, $$'people.phone'$$);
RESET client_min_messages;
SELECT count(*) FILTER (WHERE get_byte(phone::bytea, 15) = 1) AS det_at_version_1,
       count(*) FILTER (WHERE get_byte(email::bytea, 15) = 2) AS randomized_at_version_2
  FROM people;
-- So version 1 cannot be retired while deterministic values use it.
SELECT masked(sqlstate_of(format('SELECT kms.retire_key_version(%L, 1)', :'kid')));
-- A key whose version 1 was retired has no searchable use left: an error, never other bytes.
SELECT kms.encrypt('x', 'srch-retired') IS NOT NULL AS created;
SELECT key_id AS rkid FROM kms.keys WHERE tenant = 'srch-retired' \gset
SELECT kms.rotate_key(:'rkid') AS new_version;
SELECT kms.retire_key_version(:'rkid', 1);
SELECT masked(sqlstate_of($$SELECT kms.encrypt_det('x', 'srch-retired')$$));
SELECT masked(sqlstate_of($$SELECT kms.blind_index('x', 'srch-retired')$$));
SELECT masked(sqlstate_of($$SELECT kms.pseudonym('x', 'srch-retired')$$));
SET kms.tenant = 'srch-retired';
SELECT kms.decrypt(kms.encrypt('randomized values still work'));
SET kms.tenant = 'srch';

-- Another tenant's values and keys: refused.
SELECT kms.encrypt_det('secret', 'srch-other') AS other_det \gset
SELECT sqlstate_of(format('SELECT kms.decrypt(%L::kms.encrypted)', :'other_det'));
SELECT key_id AS other_kid FROM kms.keys WHERE tenant = 'srch-other' AND is_default \gset
SELECT masked(sqlstate_of(format('SELECT kms.encrypt_det(%L, key => %L)', 'x', :'other_kid')));
SELECT masked(sqlstate_of(format('SELECT kms.blind_index(%L, key => %L)', 'x', :'other_kid')));
SELECT masked(sqlstate_of(format('SELECT kms.pseudonym(%L, key => %L)', 'x', :'other_kid')));
SELECT sqlstate_of($$SELECT kms.encrypt_det('x', key => 'no-such-key')$$);
-- A disabled key neither computes nor decrypts searchable values; enabled again, it does.
SELECT kms.encrypt_det('under second', key => 'second') AS second_det \gset
SELECT key_id AS second_kid FROM kms.keys WHERE tenant = 'srch' AND alias = 'second' \gset
SELECT kms.disable_key(:'second_kid');
SELECT masked(sqlstate_of($$SELECT kms.encrypt_det('x', key => 'second')$$));
SELECT masked(sqlstate_of($$SELECT kms.blind_index('x', key => 'second')$$));
SELECT masked(sqlstate_of(format('SELECT kms.decrypt(%L::kms.encrypted)', :'second_det')));
SELECT kms.enable_key(:'second_kid');
SELECT kms.decrypt(:'second_det'), kms.encrypt_det('under second', key => 'second') = :'second_det'
       AS same_again;
-- A role limited to one tenant cannot compute another tenant's indexes or pseudonyms.
CREATE ROLE srch_app;
GRANT USAGE ON SCHEMA kms TO srch_app;
SELECT kms.allow_tenant('srch_app', 'srch');
SET ROLE srch_app;
SELECT length(kms.blind_index('x')) AS own_tenant;
SELECT sqlstate_of($$SELECT kms.blind_index('x', 'srch-other')$$);
SELECT sqlstate_of($$SELECT kms.pseudonym('x', 'srch-other')$$);
SELECT sqlstate_of($$SELECT kms.encrypt_det('x', 'srch-other')$$);
RESET ROLE;
SELECT kms.disallow_tenant('srch_app', 'srch');
REVOKE USAGE ON SCHEMA kms FROM srch_app;
DROP ROLE srch_app;
-- Without a tenant.
RESET kms.tenant;
SELECT sqlstate_of($$SELECT kms.encrypt_det('x')$$);
SELECT sqlstate_of($$SELECT kms.blind_index('x')$$);
