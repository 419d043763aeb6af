-- SPDX-License-Identifier: Apache-2.0
-- make bench: the results of bench/bench.sql as markdown tables (run with psql -At).
\set ON_ERROR_STOP on
CREATE TEMP VIEW med AS
SELECT dataset, op, method, percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) AS ms,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY cpu_ms) AS cpu_ms,
       string_agg(round(ms)::text, ' / ' ORDER BY rep) AS runs,
       (SELECT count(*) FROM phone) AS nrows
  FROM bench_result GROUP BY dataset, op, method;

\echo '## Throughput'
\echo
\echo 'Medians of the runs, one backend, no parallel workers. ms: wall clock of the statement;'
\echo 'CPU ms: CPU time of the backend (10 ms ticks); µs/row over baseline: (ms − baseline ms) / rows.'
\echo
\echo '| dataset | operation | method | ms | rows/s | CPU ms | µs/row over baseline | runs (ms) |'
\echo '|---|---|---|---:|---:|---:|---:|---|'
SELECT format('| %s | %s | %s | %s | %s | %s | %s | %s |', m.dataset, m.op,
              CASE WHEN m.method = 'pgkms' THEN '**pgkms**' ELSE m.method END,
              to_char(m.ms, 'FM999,999,990'), to_char(m.nrows / (m.ms / 1000), 'FM999,999,990'),
              to_char(m.cpu_ms, 'FM999,999,990'),
              CASE WHEN m.method = 'baseline' THEN '' ELSE to_char((m.ms - b.ms) * 1000 / m.nrows, 'FM990.00') END,
              m.runs)
  FROM med m JOIN bench_method bm ON bm.op = m.op AND bm.method = m.method
  JOIN med b ON b.dataset = m.dataset AND b.op = m.op AND b.method = 'baseline'
 WHERE m.op <> 'lookup'
 ORDER BY m.dataset, array_position(ARRAY['encrypt', 'decrypt', 'insert', 'mask'], m.op), bm.ord;

\echo
\echo '## Targets (ratios of medians from this run)'
\echo
\echo 'PASS/MISS is judged on the wall-clock ratio of the medians. Two other readings are shown'
\echo 'as a check on noise: the ratio in CPU time, and the median of the per-round ratios (each'
\echo 'round times every method once, in turn, so a slow stretch of the machine that spans a round'
\echo 'falls on both sides of its ratio).'
\echo
\echo '| target | dataset | ratio | ratio in CPU time | median per-round ratio | goal | result |'
\echo '|---|---|---:|---:|---:|---:|---|'
WITH t(ord, target, op, num, den, goal, at_least) AS (VALUES
  (1, 'encrypt: `encrypt_iv` (random IV) time / pgkms time', 'encrypt', 'encrypt_iv', 'pgkms', 2.0, true),
  (2, 'encrypt: `pgp_sym_encrypt` (s2k-mode=0) time / pgkms time', 'encrypt', 'pgp_sym_encrypt', 'pgkms', 5.0, true),
  (3, 'decrypt: `decrypt_iv` time / pgkms time', 'decrypt', 'decrypt_iv', 'pgkms', 2.0, true),
  (4, 'INSERT: pgkms time / plaintext time', 'insert', 'pgkms', 'baseline', 2.0, false),
  (5, 'mask: `regexp_replace` time / `kms.mask_phone` time', 'mask', 'regexp_replace', 'pgkms', 1.0, true)),
paired AS (
  SELECT t.ord, n.dataset, percentile_disc(0.5) WITHIN GROUP (ORDER BY n.ms / d.ms) AS ratio
    FROM t JOIN bench_result n ON n.op = t.op AND n.method = t.num
    JOIN bench_result d ON d.dataset = n.dataset AND d.op = t.op AND d.method = t.den AND d.rep = n.rep
   GROUP BY t.ord, n.dataset)
SELECT format('| %s | %s | %s× | %s× | %s× | %s %s× | %s |', t.target, n.dataset, to_char(n.ms / d.ms, 'FM990.00'),
              to_char(n.cpu_ms / nullif(d.cpu_ms, 0), 'FM990.00'), to_char(p.ratio, 'FM990.00'),
              CASE WHEN t.at_least THEN '≥' ELSE '≤' END, t.goal,
              CASE WHEN (t.at_least AND n.ms / d.ms >= t.goal) OR (NOT t.at_least AND n.ms / d.ms <= t.goal)
                   THEN 'PASS' ELSE '**MISS**' END)
  FROM t JOIN med n ON n.op = t.op AND n.method = t.num
  JOIN med d ON d.dataset = n.dataset AND d.op = t.op AND d.method = t.den
  JOIN paired p ON p.ord = t.ord AND p.dataset = n.dataset
 ORDER BY t.ord, n.dataset;

\echo
\echo '## Bytes per stored value'
\echo
\echo 'Datum: avg(pg_column_size(column)). Table: pg_table_size / rows (heap with tuple headers'
\echo 'and line pointers; free space and visibility maps included).'
\echo
\echo '| dataset | method | datum bytes | over plaintext | table bytes per row | over plaintext |'
\echo '|---|---|---:|---:|---:|---:|'
SELECT format('| %s | %s | %s | %s | %s | %s |', s.dataset, s.method, round(s.datum, 1),
              CASE WHEN s.ord = 1 THEN '' ELSE '+' || round(s.datum - p.datum, 1) END,
              round(s.table_per_row, 1),
              CASE WHEN s.ord = 1 THEN '' ELSE to_char(s.table_per_row / p.table_per_row, 'FM990.00') || '×' END)
  FROM bench_size s JOIN bench_size p ON p.dataset = s.dataset AND p.ord = 1
 ORDER BY s.dataset, s.ord;

\echo
\echo '## Searchable encryption: indexed lookups'
\echo
\echo 'One index probe per phone number, rows/10 probes per statement (a nested loop over a'
\echo 'parameterized index scan), medians of the runs. Ratio: time / the plaintext lookups.'
\echo
\echo '| method | ms | lookups | µs per lookup | ratio | CPU ms | runs (ms) |'
\echo '|---|---:|---:|---:|---:|---:|---|'
SELECT format('| %s | %s | %s | %s | %s× | %s | %s |',
              CASE WHEN m.method = 'baseline' THEN 'plaintext column' ELSE m.method END,
              to_char(m.ms, 'FM999,999,990'), to_char(m.nrows / 10, 'FM999,999,990'),
              to_char(m.ms * 1000 / (m.nrows / 10), 'FM990.00'), to_char(m.ms / b.ms, 'FM990.00'),
              to_char(m.cpu_ms, 'FM999,999,990'), m.runs)
  FROM med m JOIN bench_method bm ON bm.op = m.op AND bm.method = m.method
  JOIN med b ON b.op = m.op AND b.method = 'baseline'
 WHERE m.op = 'lookup'
 ORDER BY bm.ord;
