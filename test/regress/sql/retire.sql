-- Retiring old key versions: refused while values use them, unless forced.
SET kms.tenant = 'ret';
CREATE TABLE notes (id int, body kms.encrypted);
INSERT INTO notes SELECT g, kms.encrypt('note ' || g) FROM generate_series(1, 3) g;
SELECT key_id AS kid FROM kms.keys WHERE tenant = 'ret' AND is_default \gset
SELECT kms.rotate_key(:'kid');
-- Version 1 is still used by the three notes.
SELECT masked(sqlstate_of(format('SELECT kms.retire_key_version(%L, 1)', :'kid')));
SELECT masked(sqlstate_of(format('SELECT kms.retire_key_version(%L, 2)', :'kid')));
SELECT masked(sqlstate_of(format('SELECT kms.retire_key_version(%L, 9)', :'kid')));
-- After rewrapping the column, version 1 can go; the notes still decrypt.
CALL kms.rewrap_table('notes', 'body');
SELECT kms.retire_key_version(:'kid', 1);
SELECT array_agg(version ORDER BY version) AS versions FROM kms.key_versions WHERE key_id = :'kid';
SELECT string_agg(kms.decrypt(body), ', ' ORDER BY id) FROM notes;
-- force => true retires a version in use: its values become unreadable (42704).
SELECT kms.rotate_key(:'kid');
INSERT INTO notes VALUES (4, kms.encrypt('under version 3'));
SELECT kms.rotate_key(:'kid');
SELECT masked(sqlstate_of(format('SELECT kms.retire_key_version(%L, 3)', :'kid')));
SELECT kms.retire_key_version(:'kid', 3, force => true);
SELECT masked(sqlstate_of($$SELECT kms.decrypt(body) FROM notes WHERE id = 4$$));
SELECT kms.decrypt(body) FROM notes WHERE id = 1;
