-- SPDX-License-Identifier: Apache-2.0
-- make bench: builds the data, checks every method round-trips, times each method in the server.
-- psql variables: rows (values per dataset), reps (runs per method; the report takes the median).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
-- Per-row cost on one core for every method alike: kms.encrypt is PARALLEL UNSAFE while
-- pgcrypto's functions are PARALLEL SAFE. JIT compile time would only add noise.
SET max_parallel_workers_per_gather = 0;
SET jit = off;
SET kms.tenant = 'bench';

CREATE EXTENSION pgkms;
CREATE EXTENSION pgcrypto;

-- Warm-up: creates the tenant key (under kms.root_key) and loads both libraries.
SELECT kms.decrypt(kms.encrypt('warm-up')) = 'warm-up'
   AND pgp_sym_decrypt(pgp_sym_encrypt('warm-up', 'password', 's2k-mode=0'), 'password') = 'warm-up'
    AS warm \gset
\if :warm
\else
\echo 'warm-up round trip failed'
\quit 3
\endif

\echo '[setup]' :rows 'phone numbers and' :rows '64-byte strings, encrypted copies, VACUUM ANALYZE'
CREATE TABLE phone AS SELECT '138' || lpad(g::text, 8, '0') AS v FROM generate_series(1, :rows) g;
CREATE TABLE string64 AS SELECT md5(g::text) || md5((-g)::text) AS v FROM generate_series(1, :rows) g;

-- Methods: `expr` over `src` (%1$s is the dataset, i.e. the source table), timed as
-- SELECT count(expr) FROM src or, with a target, as INSERT INTO target SELECT expr FROM src
-- into a regular (logged) table created before the clock starts.
-- encrypt_iv: AES-256-CBC with a constant key in the query (pgcrypto has no key management)
-- and a random IV per row stored in front of the ciphertext. OFFSET 0 keeps the subquery, so
-- the IV is drawn once per row and the bytes prepended are the bytes used.
CREATE TABLE bench_method (op text, ord int, method text, expr text, src text, target text,
                           PRIMARY KEY (op, method));
\set key '''\\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f''::bytea'
\set iv_enc 'iv || encrypt_iv(convert_to(v, ''UTF8''), ' :key ', iv, ''aes-cbc'')'
\set iv_src '(SELECT v, gen_random_bytes(16) AS iv FROM %1$s OFFSET 0) s'
\set iv_dec 'convert_from(decrypt_iv(substring(e FROM 17), ' :key ', substring(e FOR 16), ''aes-cbc''), ''UTF8'')'
INSERT INTO bench_method VALUES
  ('encrypt', 1, 'baseline', 'convert_to(v, ''UTF8'')', '%1$s', NULL),
  ('encrypt', 2, 'pgkms', 'kms.encrypt(v)', '%1$s', NULL),
  ('encrypt', 3, 'encrypt_iv', :'iv_enc', :'iv_src', NULL),
  ('encrypt', 4, 'pgp_sym_encrypt', 'pgp_sym_encrypt(v, ''password'', ''s2k-mode=0'')', '%1$s', NULL),
  ('decrypt', 1, 'baseline', 'length(e::bytea)', '%1$s_kms', NULL),
  ('decrypt', 2, 'pgkms', 'kms.decrypt(e)', '%1$s_kms', NULL),
  ('decrypt', 3, 'decrypt_iv', :'iv_dec', '%1$s_iv', NULL),
  ('decrypt', 4, 'pgp_sym_decrypt', 'pgp_sym_decrypt(e, ''password'')', '%1$s_pgp', NULL),
  ('insert', 1, 'baseline', 'v', '%1$s', 'ins_plain (v text)'),
  ('insert', 2, 'pgkms', 'kms.encrypt(v)', '%1$s', 'ins_kms (e kms.encrypted)'),
  ('insert', 3, 'pgkms values, no crypto', 'e', '%1$s_kms', 'ins_kms_copy (e kms.encrypted)'),
  ('insert', 4, 'encrypt_iv', :'iv_enc', :'iv_src', 'ins_iv (e bytea)'),
  -- Masking (no keys): the phone rule, the general rule, and what users write without pgkms.
  ('mask', 1, 'baseline', 'v', '%1$s', NULL),
  ('mask', 2, 'pgkms', 'kms.mask_phone(v)', '%1$s', NULL),
  ('mask', 3, 'kms.mask(v, 3, 4)', 'kms.mask(v, 3, 4)', '%1$s', NULL),
  ('mask', 4, 'regexp_replace', $$regexp_replace(v, '^(\d{3})\d+(\d{4})$', '\1****\2')$$, '%1$s', NULL),
  ('mask', 5, 'left/repeat/right', $$left(v, 3) || repeat('*', length(v) - 7) || right(v, 4)$$, '%1$s', NULL);

-- Encrypted copies (not timed) for the decrypt runs and the sizes, made by the timed expressions.
CREATE PROCEDURE bench_prepare(ds text) LANGUAGE plpgsql AS $$
DECLARE m record;
BEGIN
  FOR m IN SELECT * FROM bench_method WHERE op = 'encrypt' AND method <> 'baseline' LOOP
    EXECUTE format('CREATE TABLE %s AS SELECT %s AS e FROM %s',
                   ds || CASE m.method WHEN 'pgkms' THEN '_kms' WHEN 'encrypt_iv' THEN '_iv'
                                       ELSE '_pgp' END,
                   m.expr, format(m.src, ds));
  END LOOP;
END $$;
CALL bench_prepare('phone');
CALL bench_prepare('string64');
VACUUM ANALYZE phone, phone_kms, phone_iv, phone_pgp, string64, string64_kms, string64_iv, string64_pgp;

-- Every encrypted copy decrypts back to its source (compared as multisets) through the timed
-- decrypt expressions, and no two encrypt_iv values share an IV.
CREATE PROCEDURE bench_check(ds text) LANGUAGE plpgsql AS $$
DECLARE
  m record;
  bad bigint;
  ok bool;
BEGIN
  FOR m IN SELECT * FROM bench_method WHERE op = 'decrypt' AND method <> 'baseline' LOOP
    EXECUTE format('SELECT count(*) FROM (SELECT %s FROM %s EXCEPT ALL SELECT v FROM %s) d',
                   m.expr, format(m.src, ds), ds) INTO bad;
    IF bad <> 0 THEN
      RAISE EXCEPTION '%: % values do not decrypt to their source with %', ds, bad, m.method;
    END IF;
  END LOOP;
  EXECUTE format('SELECT count(DISTINCT substring(e FOR 16)) = count(*) FROM %s_iv', ds) INTO ok;
  IF NOT ok THEN
    RAISE EXCEPTION '%: encrypt_iv values share IVs', ds;
  END IF;
END $$;
\echo '[check] every encrypted copy decrypts to its source'
CALL bench_check('phone');
CALL bench_check('string64');

-- The masking expressions timed side by side give the same masked phone numbers.
\echo '[check] every masking method masks each phone number the same way'
DO $$
DECLARE
  m record;
  bad bigint;
BEGIN
  FOR m IN SELECT * FROM bench_method WHERE op = 'mask' AND method NOT IN ('baseline', 'pgkms') LOOP
    EXECUTE format('SELECT count(*) FROM phone WHERE %s IS DISTINCT FROM kms.mask_phone(v)', m.expr)
      INTO bad;
    IF bad <> 0 THEN
      RAISE EXCEPTION 'phone: % values masked otherwise by % than by kms.mask_phone', bad, m.method;
    END IF;
  END LOOP;
END $$;

-- Timing: each statement is its own transaction (its COMMIT is timed too). Methods take turns
-- within a round, so load from outside falls on all of them alike. Before an INSERT the target
-- table is created afresh, a CHECKPOINT is taken and sync(1) waits for the kernel to write the
-- pages out, all before the clock starts. Besides the
-- wall clock, the backend's CPU time (user + system, /proc/self/stat, 10 ms ticks) is kept:
-- a wall time well above it means the backend waited (for other processes, for I/O).
CREATE TABLE bench_result (dataset text, op text, method text, rep int, ms float8, cpu_ms float8);
CREATE FUNCTION bench_cpu_ms() RETURNS float8 LANGUAGE sql AS $$
  SELECT (f[12]::float8 + f[13]::float8) * 1000 / 100  -- utime + stime, in ticks of 1/100 s (USER_HZ)
    FROM string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') f
$$;
CREATE PROCEDURE bench_run(ds text, grp text, reps int) LANGUAGE plpgsql AS $$
DECLARE
  methods text[];
  targets text[];
  queries text[];
  t0 timestamptz;
  c0 float8;
  elapsed float8;
BEGIN
  SELECT array_agg(method ORDER BY ord), array_agg(coalesce(target, '') ORDER BY ord),
         array_agg(CASE WHEN target IS NULL THEN format('SELECT count(%s) FROM %s', expr, src)
                        ELSE format('INSERT INTO %s SELECT %s FROM %s',
                                    split_part(target, ' ', 1), expr, src) END ORDER BY ord)
    INTO methods, targets, queries FROM bench_method WHERE op = grp;
  FOR r IN 1..reps LOOP
    FOR i IN 1..array_length(methods, 1) LOOP
      IF targets[i] <> '' THEN
        EXECUTE format('DROP TABLE IF EXISTS %s', split_part(targets[i], ' ', 1));
        EXECUTE format('CREATE TABLE %s', targets[i]);
        COMMIT;
        CHECKPOINT;
        -- The checkpoint only hands the previous run's pages to the kernel; wait until they
        -- are on disk, or their writeback runs during this run's clock.
        COPY (SELECT) TO PROGRAM 'sync';
      END IF;
      c0 := bench_cpu_ms();
      t0 := clock_timestamp();
      EXECUTE format(queries[i], ds);
      COMMIT;
      elapsed := extract(epoch FROM clock_timestamp() - t0) * 1000;
      INSERT INTO bench_result VALUES (ds, grp, methods[i], r, elapsed, bench_cpu_ms() - c0);
      COMMIT;
    END LOOP;
  END LOOP;
END $$;

\echo '[phone] encrypt'
CALL bench_run('phone', 'encrypt', :reps);
\echo '[phone] decrypt'
CALL bench_run('phone', 'decrypt', :reps);
\echo '[phone] insert'
CALL bench_run('phone', 'insert', :reps);
\echo '[phone] mask'
CALL bench_run('phone', 'mask', :reps);
\echo '[string64] encrypt'
CALL bench_run('string64', 'encrypt', :reps);
\echo '[string64] decrypt'
CALL bench_run('string64', 'decrypt', :reps);
\echo '[string64] insert'
CALL bench_run('string64', 'insert', :reps);

-- Bytes per stored value: the datum (pg_column_size) and the table (pg_table_size) per row.
CREATE TABLE bench_size (dataset text, ord int, method text, datum numeric, table_per_row numeric);
CREATE PROCEDURE bench_sizes(ds text) LANGUAGE plpgsql AS $$
DECLARE
  tbl text;
  datum numeric;
  n bigint;
BEGIN
  FOR i IN 1..4 LOOP
    tbl := ds || (ARRAY['', '_kms', '_iv', '_pgp'])[i];
    EXECUTE format('SELECT avg(pg_column_size(%s)), count(*) FROM %I',
                   CASE i WHEN 1 THEN 'v' ELSE 'e' END, tbl) INTO datum, n;
    INSERT INTO bench_size VALUES (ds, i, (ARRAY['plaintext', 'pgkms', 'encrypt_iv',
                                                 'pgp_sym_encrypt'])[i],
                                   datum, pg_table_size(tbl::regclass)::numeric / n);
  END LOOP;
END $$;
CALL bench_sizes('phone');
CALL bench_sizes('string64');

-- Searchable encryption (docs/searchable-encryption.md): indexed equality lookups of phone
-- numbers, each a separate index probe (nested loop over a parameterized index scan), on a
-- plaintext column, a deterministic column and a blind index (64 bits, beside the randomized
-- value; also with the candidate decrypted and compared, as an application checks it).
SELECT :rows / 10 AS lookups \gset
\echo '[setup] lookup tables of' :rows 'phone numbers: plaintext, deterministic, blind index; btree indexes'
SET search_path = public, kms;  -- the = operator of kms.encrypted
CREATE TABLE lk_plain AS SELECT v FROM phone;
CREATE TABLE lk_det AS SELECT kms.encrypt_det(v, context => 'phone') AS e FROM phone;
CREATE TABLE lk_bi AS
  SELECT kms.encrypt(v) AS e, kms.blind_index(v, purpose => 'phone', bits => 64) AS idx FROM phone;
CREATE INDEX ON lk_plain (v);
CREATE INDEX ON lk_det (e);
CREATE INDEX ON lk_bi (idx);
VACUUM ANALYZE lk_plain, lk_det, lk_bi;
-- The g-th key: a permutation of the phone numbers (7919 is prime, so coprime with 10^k).
\set key '''138'' || lpad((mod(g * 7919, ' :rows ') + 1)::text, 8, ''0'')'
\set probe 'generate_series(1, ' :lookups ') g, LATERAL (SELECT 1 FROM '
INSERT INTO bench_method VALUES
  ('lookup', 1, 'baseline', '*', :'probe' || 'lk_plain WHERE v = ' || :'key' || ') x', NULL),
  ('lookup', 2, 'pgkms deterministic', '*',
   :'probe' || 'lk_det WHERE e = kms.encrypt_det(' || :'key' || ', context => ''phone'')) x', NULL),
  ('lookup', 3, 'pgkms blind index', '*',
   :'probe' || 'lk_bi WHERE idx = kms.blind_index(' || :'key'
            || ', purpose => ''phone'', bits => 64)) x', NULL),
  ('lookup', 4, 'pgkms blind index, candidate decrypted', '*',
   :'probe' || 'lk_bi WHERE idx = kms.blind_index(' || :'key'
            || ', purpose => ''phone'', bits => 64) AND kms.decrypt(e) = ' || :'key' || ') x', NULL);
-- Index probes, not one hash or merge join of all the keys against the table.
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_seqscan = off;
\echo '[check] every lookup method finds each of the' :lookups 'phone numbers once, through an index'
CREATE PROCEDURE bench_check_lookups(lookups bigint) LANGUAGE plpgsql AS $$
DECLARE
  m record;
  n bigint;
  line text;
  indexed bool;
BEGIN
  FOR m IN SELECT * FROM bench_method WHERE op = 'lookup' LOOP
    EXECUTE format('SELECT count(%s) FROM %s', m.expr, m.src) INTO n;
    IF n <> lookups THEN
      RAISE EXCEPTION 'lookup %: % rows found for % lookups', m.method, n, lookups;
    END IF;
    indexed := false;
    FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT count(%s) FROM %s', m.expr, m.src) LOOP
      indexed := indexed OR line LIKE '%Index Scan%' OR line LIKE '%Index Only Scan%';
    END LOOP;
    IF NOT indexed THEN
      RAISE EXCEPTION 'lookup %: no index scan in the plan', m.method;
    END IF;
  END LOOP;
END $$;
CALL bench_check_lookups(:lookups);
\echo '[phone] lookup'
CALL bench_run('phone', 'lookup', :reps);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_seqscan;
INSERT INTO bench_size
  SELECT 'phone', 5, 'pgkms deterministic', avg(pg_column_size(e)),
         pg_table_size('lk_det')::numeric / count(*) FROM lk_det;
