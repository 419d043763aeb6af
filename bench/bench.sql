-- SPDX-License-Identifier: Apache-2.0
-- pgkms beside pgcrypto and a no-crypto baseline, timed inside the server (median of 3 runs).
-- psql variables: rows.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgkms;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
SET kms.tenant = 'bench';
SET max_parallel_workers_per_gather = 0;   -- per-row cost, one core, for every method alike

CREATE TABLE results (dataset text, op text, method text, ms float8);
CREATE FUNCTION timed(dataset text, op text, method text, query text, reps int DEFAULT 3)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; times float8[] := '{}';
BEGIN
  FOR i IN 1..reps LOOP
    t0 := clock_timestamp();
    EXECUTE query;
    times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
  END LOOP;
  INSERT INTO results VALUES (dataset, op, method,
    (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(times) x));
END $$;

-- Source data: 11-character phone numbers and 64-byte strings.
CREATE TABLE phone AS SELECT '138' || lpad(g::text, 8, '0') AS v FROM generate_series(1, :rows) g;
CREATE TABLE string64 AS SELECT md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, :rows) g;
SELECT kms.encrypt('warm-up') IS NOT NULL AS tenant_key_ready \gset

CREATE FUNCTION run_dataset(ds text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  k text := '''\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f''::bytea';
BEGIN
  -- Encrypted copies to decrypt (not timed).
  EXECUTE format('CREATE TABLE %1$s_kms AS SELECT kms.encrypt(v) AS e FROM %1$s', ds);
  EXECUTE format('CREATE TABLE %1$s_iv AS SELECT iv || encrypt_iv(convert_to(v, ''UTF8''), %2$s, iv, ''aes-cbc'') AS e
                  FROM (SELECT v, gen_random_bytes(16) AS iv FROM %1$s OFFSET 0) s', ds, k);
  EXECUTE format('CREATE TABLE %1$s_pgp AS SELECT pgp_sym_encrypt(v, ''password'', ''cipher-algo=aes256, s2k-mode=0'') AS e FROM %1$s', ds);
  EXECUTE format('ANALYZE %1$s, %1$s_kms, %1$s_iv, %1$s_pgp', ds);

  PERFORM timed(ds, 'encrypt', 'baseline (convert_to)', format('SELECT count(convert_to(v, ''UTF8'')) FROM %s', ds));
  PERFORM timed(ds, 'encrypt', 'pgkms kms.encrypt', format('SELECT count(kms.encrypt(v)) FROM %s', ds));
  PERFORM timed(ds, 'encrypt', 'pgcrypto encrypt_iv, random IV', format(
    'SELECT count(iv || encrypt_iv(convert_to(v, ''UTF8''), %2$s, iv, ''aes-cbc''))
       FROM (SELECT v, gen_random_bytes(16) AS iv FROM %1$s OFFSET 0) s', ds, k));
  PERFORM timed(ds, 'encrypt', 'pgcrypto pgp_sym_encrypt s2k-mode=0', format(
    'SELECT count(pgp_sym_encrypt(v, ''password'', ''cipher-algo=aes256, s2k-mode=0'')) FROM %s', ds));

  PERFORM timed(ds, 'decrypt', 'baseline (read column)', format('SELECT count(e::bytea) FROM %s_kms', ds));
  PERFORM timed(ds, 'decrypt', 'pgkms kms.decrypt', format('SELECT count(kms.decrypt(e)) FROM %s_kms', ds));
  PERFORM timed(ds, 'decrypt', 'pgcrypto decrypt_iv', format(
    'SELECT count(convert_from(decrypt_iv(substring(e FROM 17), %2$s, substring(e FOR 16), ''aes-cbc''), ''UTF8'')) FROM %1$s_iv', ds, k));
  PERFORM timed(ds, 'decrypt', 'pgcrypto pgp_sym_decrypt', format(
    'SELECT count(pgp_sym_decrypt(e, ''password'')) FROM %s_pgp', ds));

  EXECUTE format('CREATE TABLE %s_ins_plain (v text)', ds);
  EXECUTE format('CREATE TABLE %s_ins_kms (v kms.encrypted)', ds);
  PERFORM timed(ds, 'insert', 'baseline (plaintext)', format(
    'TRUNCATE %1$s_ins_plain; INSERT INTO %1$s_ins_plain SELECT v FROM %1$s', ds));
  PERFORM timed(ds, 'insert', 'pgkms kms.encrypt', format(
    'TRUNCATE %1$s_ins_kms; INSERT INTO %1$s_ins_kms SELECT kms.encrypt(v) FROM %1$s', ds));
END $$;

SELECT run_dataset('phone');
SELECT run_dataset('string64');

-- Bytes per stored value: the datum (pg_column_size) and the heap per row.
CREATE TABLE sizes AS
SELECT ds AS dataset, m AS method, avg_datum, heap_per_row FROM (VALUES
  ('phone', 'plaintext', (SELECT avg(pg_column_size(v)) FROM phone), pg_relation_size('phone')::numeric / :rows),
  ('phone', 'pgkms', (SELECT avg(pg_column_size(e)) FROM phone_kms), pg_relation_size('phone_kms')::numeric / :rows),
  ('phone', 'encrypt_iv', (SELECT avg(pg_column_size(e)) FROM phone_iv), pg_relation_size('phone_iv')::numeric / :rows),
  ('phone', 'pgp_sym_encrypt', (SELECT avg(pg_column_size(e)) FROM phone_pgp), pg_relation_size('phone_pgp')::numeric / :rows),
  ('string64', 'plaintext', (SELECT avg(pg_column_size(v)) FROM string64), pg_relation_size('string64')::numeric / :rows),
  ('string64', 'pgkms', (SELECT avg(pg_column_size(e)) FROM string64_kms), pg_relation_size('string64_kms')::numeric / :rows),
  ('string64', 'encrypt_iv', (SELECT avg(pg_column_size(e)) FROM string64_iv), pg_relation_size('string64_iv')::numeric / :rows),
  ('string64', 'pgp_sym_encrypt', (SELECT avg(pg_column_size(e)) FROM string64_pgp), pg_relation_size('string64_pgp')::numeric / :rows)
) AS s(ds, m, avg_datum, heap_per_row);

\pset format aligned
\echo
\echo '### Throughput (median of 3 runs, one backend, no parallel workers)'
SELECT dataset, op, method, round(ms) AS ms, round(:rows / (ms / 1000)) AS rows_per_s
  FROM results ORDER BY dataset, op, method LIKE 'baseline%' DESC, ms;

\echo '### Targets (ratios from the same run)'
WITH r AS (SELECT dataset, method, op, ms FROM results)
SELECT t.dataset, t.target, round(t.ratio::numeric, 2) AS ratio, t.goal,
       CASE WHEN (t.goal LIKE '>=%' AND t.ratio >= substring(t.goal FROM 3)::float8)
              OR (t.goal LIKE '<=%' AND t.ratio <= substring(t.goal FROM 3)::float8)
            THEN 'PASS' ELSE 'MISS' END AS result
FROM (
  SELECT d.dataset, 'encrypt: encrypt_iv time / pgkms time' AS target,
         (SELECT ms FROM r WHERE r.dataset = d.dataset AND op = 'encrypt' AND method LIKE '%encrypt_iv%') /
         (SELECT ms FROM r WHERE r.dataset = d.dataset AND op = 'encrypt' AND method LIKE 'pgkms%') AS ratio, '>=2' AS goal
    FROM (VALUES ('phone'), ('string64')) d(dataset)
  UNION ALL
  SELECT d.dataset, 'encrypt: pgp_sym_encrypt time / pgkms time',
         (SELECT ms FROM r WHERE r.dataset = d.dataset AND op = 'encrypt' AND method LIKE '%pgp%') /
         (SELECT ms FROM r WHERE r.dataset = d.dataset AND op = 'encrypt' AND method LIKE 'pgkms%'), '>=5'
    FROM (VALUES ('phone'), ('string64')) d(dataset)
  UNION ALL
  SELECT d.dataset, 'decrypt: decrypt_iv time / pgkms time',
         (SELECT ms FROM r WHERE r.dataset = d.dataset AND op = 'decrypt' AND method LIKE '%decrypt_iv%') /
         (SELECT ms FROM r WHERE r.dataset = d.dataset AND op = 'decrypt' AND method LIKE 'pgkms%'), '>=2'
    FROM (VALUES ('phone'), ('string64')) d(dataset)
  UNION ALL
  SELECT d.dataset, 'insert: encrypted time / plaintext time',
         (SELECT ms FROM r WHERE r.dataset = d.dataset AND op = 'insert' AND method LIKE 'pgkms%') /
         (SELECT ms FROM r WHERE r.dataset = d.dataset AND op = 'insert' AND method LIKE 'baseline%'), '<=2'
    FROM (VALUES ('phone'), ('string64')) d(dataset)
) t ORDER BY 1, 2;

\echo '### Bytes per stored value'
SELECT dataset, method, round(avg_datum, 1) AS datum_bytes, round(heap_per_row, 1) AS heap_bytes_per_row
  FROM sizes ORDER BY dataset, avg_datum;
