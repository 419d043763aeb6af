-- Every bad input gives a clear error with its SQLSTATE and never a wrong plaintext.
SET kms.tenant = 'acme';
CREATE TABLE good AS SELECT kms.encrypt('13812345678', context => 'ctx')::bytea AS b;
CREATE FUNCTION flip(b bytea, pos int) RETURNS bytea LANGUAGE sql AS
  $$ SELECT set_byte(b, pos, get_byte(b, pos) # 1) $$;
SELECT name, regexp_replace(sqlstate_of(format('SELECT kms.decrypt(%L::bytea::kms.encrypted, %L)', bad, ctx)),
                    '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<key id>') AS result
FROM good, LATERAL (VALUES
  ('empty',                 '\x'::bytea,                                   'ctx'),
  ('one byte',              '\x8b'::bytea,                                 'ctx'),
  ('truncated header',      substring(b FROM 1 FOR 47),                    'ctx'),
  ('truncated tag',         substring(b FROM 1 FOR length(b) - 1),         'ctx'),
  ('wrong magic',           flip(b, 0),                                    'ctx'),
  ('wrong format version',  set_byte(b, 2, 2),                             'ctx'),
  ('unknown algorithm',     set_byte(b, 3, 7),                             'ctx'),
  ('wrapped data key',      set_byte(b, 3, 2),                             'ctx'),
  ('key version zero',      overlay(b PLACING '\x00000000' FROM 13),       'ctx'),
  ('unknown key version',   overlay(b PLACING '\x00000009' FROM 13),       'ctx'),
  ('unknown key reference', overlay(b PLACING '\x0000000000000000' FROM 5), 'ctx'),
  ('tampered data key id',  flip(b, 17),                                   'ctx'),
  ('tampered nonce',        flip(b, 25),                                   'ctx'),
  ('tampered ciphertext',   flip(b, 35),                                   'ctx'),
  ('tampered tag',          flip(b, length(b) - 1),                        'ctx'),
  ('appended byte',         b || '\x00'::bytea,                            'ctx'),
  ('wrong context',         b,                                             'other'),
  ('no context',            b,                                             NULL),
  ('intact',                b,                                             'ctx')
) AS t(name, bad, ctx);
-- The text form is checked on input too.
SELECT sqlstate_of($$SELECT 'not base64!'::kms.encrypted$$);
SELECT sqlstate_of($$SELECT 'AAAA'::kms.encrypted$$);
SELECT sqlstate_of($$SELECT ''::kms.encrypted$$);
SELECT sqlstate_of($$SELECT 'i0sBAQ=='::kms.encrypted$$);
-- Another tenant's intact value, and the acting tenant's value in the wrong row.
SELECT sqlstate_of($$SELECT kms.decrypt(kms.encrypt('x', 'other-tenant'))$$);
-- After all of it, the original still decrypts.
SELECT kms.decrypt(b::kms.encrypted, 'ctx') FROM good;
