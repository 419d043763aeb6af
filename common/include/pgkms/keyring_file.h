/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keyring files: the tenant key records (wrapped material only) as JSON, shared by
 * kms.export_keyring() and the provider. docs/format.md describes the schema.
 */
#ifndef PGKMS_KEYRING_FILE_H
#define PGKMS_KEYRING_FILE_H

#include "pgkms/tenant_key.h"

#define PGKMS_KEYRING_FORMAT    "pgkms-keyring"
#define PGKMS_KEYRING_VERSION   1
#define PGKMS_KEYRING_MAX_BYTES (64 * 1024 * 1024)

typedef struct pgkms_keyring {
    size_t nkeys;
    pgkms_key_record *keys;
} pgkms_keyring;

pgkms_code pgkms_keyring_parse(const char *json, size_t len, pgkms_keyring *out,
                               pgkms_status *st) PGKMS_MUST_CHECK;
/* *out is malloc'ed, NUL-terminated JSON. */
pgkms_code pgkms_keyring_serialize(const pgkms_keyring *kr, char **out,
                                   pgkms_status *st) PGKMS_MUST_CHECK;
/* A missing file is an empty keyring. */
pgkms_code pgkms_keyring_load(const char *path, pgkms_keyring *out,
                              pgkms_status *st) PGKMS_MUST_CHECK;
/* Replaces the file atomically (temp file, fsync, rename), mode 0600. */
pgkms_code pgkms_keyring_save(const char *path, const pgkms_keyring *kr,
                              pgkms_status *st) PGKMS_MUST_CHECK;
/* Exclusive lock for read-modify-write of path (a "<path>.lock" file); returns an fd. */
pgkms_code pgkms_keyring_lock(const char *path, int *fd, pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_keyring_unlock(int fd);

/* Takes ownership of *rec (it is zeroed). */
pgkms_code pgkms_keyring_add(pgkms_keyring *kr, pgkms_key_record *rec,
                             pgkms_status *st) PGKMS_MUST_CHECK;
pgkms_key_record *pgkms_keyring_find_default(const pgkms_keyring *kr, const char *tenant);
/* By alias or UUID text, within tenant. */
pgkms_key_record *pgkms_keyring_find_key(const pgkms_keyring *kr, const char *tenant,
                                         const char *alias_or_id);
pgkms_key_record *pgkms_keyring_find_ref(const pgkms_keyring *kr,
                                         const uint8_t ref[PGKMS_KEY_REF_LEN]);
void pgkms_keyring_free(pgkms_keyring *kr);

#endif
