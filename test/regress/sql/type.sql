-- kms.encrypted: base64 text form, casts to and from bytea, COPY round trips.
SET kms.tenant = 'acme';
CREATE TABLE t (id int, v kms.encrypted);
INSERT INTO t SELECT g, kms.encrypt('value ' || g) FROM generate_series(1, 5) g;
-- The text form is the base64 of the raw bytes and shows no plaintext.
SELECT bool_and(v::text = encode(v::bytea, 'base64')) AS text_is_base64,
       bool_and(v::text NOT LIKE '%value%') AS no_plaintext,
       bool_and(left(v::text, 4) = 'i0sB') AS magic_prefix FROM t;
-- Text form round trip, as COPY and pg_dump use it.
CREATE TABLE t2 AS SELECT id, v::text::kms.encrypted AS v FROM t;
SELECT id, kms.decrypt(v) FROM t2 ORDER BY id;
CREATE TABLE t3 (LIKE t);
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id, v::text AS txt FROM t LOOP
    EXECUTE format('INSERT INTO t3 VALUES (%s, %L)', r.id, r.txt);
  END LOOP;
END $$;
SELECT count(*) FILTER (WHERE kms.decrypt(t3.v) = 'value ' || t3.id) AS copied FROM t3;
-- Binary send/recv.
SELECT kms.encrypted_send(v) = v::bytea AS send_is_raw FROM t LIMIT 1;
-- Casts are binary coercible both ways.
SELECT castsource::regtype, casttarget::regtype, castmethod FROM pg_cast
 WHERE castsource = 'kms.encrypted'::regtype OR casttarget = 'kms.encrypted'::regtype ORDER BY 1;
SELECT kms.decrypt(v::bytea::kms.encrypted) FROM t WHERE id = 1;
-- Ciphertext is not compressed or expanded by storage.
SELECT typstorage FROM pg_type WHERE oid = 'kms.encrypted'::regtype;
