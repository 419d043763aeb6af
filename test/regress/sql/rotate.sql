-- Rotation: a new version encrypts, older versions still decrypt, nothing is re-encrypted.
SET kms.tenant = 'rot';
SELECT kms.encrypt('v1 value') AS v1 \gset
SELECT key_id AS kid FROM kms.keys WHERE tenant = 'rot' AND is_default \gset
SELECT kms.rotate_key(:'kid') AS new_version;
SELECT kms.encrypt('v2 value') AS v2 \gset
-- Bytes 13..16 of a value carry its key version.
SELECT get_byte(:'v1'::kms.encrypted::bytea, 15) AS v1_version,
       get_byte(:'v2'::kms.encrypted::bytea, 15) AS v2_version;
SELECT kms.decrypt(:'v1'), kms.decrypt(:'v2');
SELECT kms.rotate_key(:'kid') AS newer_version;
SELECT kms.decrypt(:'v1'), kms.decrypt(:'v2'), get_byte(kms.encrypt('x')::bytea, 15) AS now_version;
SELECT k.current_version, array_agg(v.version ORDER BY v.version) AS versions,
       bool_and(length(v.wrapped) = 61) AS all_wrapped
  FROM kms.keys k JOIN kms._key_versions v USING (key_id) WHERE k.key_id = :'kid'
 GROUP BY k.current_version;
-- Only enabled keys rotate; unknown keys are reported.
SELECT kms.create_key('rot', 'side') AS side \gset
SELECT kms.disable_key(:'side');
SELECT regexp_replace(sqlstate_of(format('SELECT kms.rotate_key(%L)', :'side')),
       '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<key id>');
SELECT sqlstate_of($$SELECT kms.rotate_key('00000000-0000-4000-8000-000000000000')$$);
SELECT kms.rotate_key(NULL) IS NULL AS null_key;
-- Automatic rotation: keys whose current version is older than their period rotate.
SELECT kms.set_rotation_period(:'kid', interval '90 days');
SELECT sqlstate_of(format('SELECT kms.set_rotation_period(%L, %L)', :'kid', '1 hour'));
SELECT sqlstate_of($$SELECT kms.set_rotation_period('00000000-0000-4000-8000-000000000000', '30 days')$$);
SELECT kms.rotate_due_keys() AS rotated_when_fresh;
UPDATE kms.key_versions SET created = now() - interval '91 days'
 WHERE key_id = :'kid' AND version = (SELECT current_version FROM kms.keys WHERE key_id = :'kid');
SELECT kms.rotate_due_keys() AS rotated_when_due;
SELECT current_version FROM kms.keys WHERE key_id = :'kid';
SELECT kms.rotate_due_keys() AS rotated_again;
SELECT kms.decrypt(:'v1'), get_byte(kms.encrypt('x')::bytea, 15) AS now_version;
SELECT kms.set_rotation_period(:'kid', NULL);
