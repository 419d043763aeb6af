-- Scheduled deletion, cancellation and the purge that crypto-shreds a key.
SET kms.tenant = 'del';
SELECT kms.encrypt('default key value') AS dv \gset
SELECT kms.create_key('del', 'old') AS old \gset
SELECT kms.encrypt('doomed value', key => 'old') AS v \gset
-- 7 to 30 days; never the default key.
SELECT masked(sqlstate_of(format('SELECT kms.schedule_key_deletion(%L, 6)', :'old')));
SELECT masked(sqlstate_of(format('SELECT kms.schedule_key_deletion(%L, 31)', :'old')));
SELECT masked(sqlstate_of(format('SELECT kms.schedule_key_deletion(%L)',
              (SELECT key_id FROM kms.keys WHERE tenant = 'del' AND is_default))));
SELECT kms.schedule_key_deletion(:'old', 7)::date - now()::date AS days_left;
SELECT state, deletion_date IS NOT NULL AS has_date FROM kms.keys WHERE key_id = :'old';
-- PendingDeletion neither encrypts nor decrypts, and cannot be enabled or disabled.
SELECT masked(sqlstate_of(format('SELECT kms.decrypt(%L)', :'v')));
SELECT masked(sqlstate_of($$SELECT kms.encrypt('x', key => 'old')$$));
SELECT masked(sqlstate_of(format('SELECT kms.enable_key(%L)', :'old')));
SELECT masked(sqlstate_of(format('SELECT kms.schedule_key_deletion(%L)', :'old')));
-- Cancel: the key is Disabled, then can be enabled and used again.
SELECT kms.cancel_key_deletion(:'old');
SELECT state, deletion_date FROM kms.keys WHERE key_id = :'old';
SELECT masked(sqlstate_of(format('SELECT kms.cancel_key_deletion(%L)', :'old')));
SELECT kms.enable_key(:'old');
SELECT kms.decrypt(:'v');
-- Schedule again; nothing is destroyed before the date.
SELECT kms.schedule_key_deletion(:'old', 30) IS NOT NULL AS scheduled;
SELECT kms.purge_deleted_keys() AS destroyed_early;
-- Once the date has passed (moved back here by the superuser), the purge destroys it.
UPDATE kms.keys SET deletion_date = now() - interval '1 second' WHERE key_id = :'old';
SELECT kms.purge_deleted_keys() AS destroyed;
SELECT kms.purge_deleted_keys() AS destroyed_again;
SELECT state, deletion_date FROM kms.keys WHERE key_id = :'old';
SELECT count(*) AS versions_left FROM kms.key_versions WHERE key_id = :'old';
SELECT masked(sqlstate_of(format('SELECT kms.decrypt(%L)', :'v')));
SELECT masked(sqlstate_of(format('SELECT kms.enable_key(%L)', :'old')));
-- The tenant's other keys are untouched; the export keeps the destroyed key without material,
-- so the CLI names its state too.
SELECT kms.decrypt(:'dv');
SELECT k->>'state' AS state, jsonb_array_length(k->'versions') AS versions
  FROM jsonb_array_elements(convert_from(kms.export_keyring('del'), 'UTF8')::jsonb->'keys') k
 ORDER BY 1;
