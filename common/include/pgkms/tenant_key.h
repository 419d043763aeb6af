/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tenant master keys: records (wrapped material only) and their creation and unwrapping
 * through a root. The wrapping is bound to tenant, key id and version (docs/format.md).
 */
#ifndef PGKMS_TENANT_KEY_H
#define PGKMS_TENANT_KEY_H

#include <stdint.h>

#include "pgkms/codec.h"
#include "pgkms/envelope.h"
#include "pgkms/root.h"

#define PGKMS_TENANT_MAX 128

typedef struct pgkms_key_version {
    uint32_t version;
    char *keyring; /* kind of root that wrapped it: "file", ... */
    uint8_t root_id[PGKMS_ROOT_ID_LEN];
    uint8_t *wrapped;
    size_t wrapped_len;
    char *created; /* ISO 8601 UTC */
} pgkms_key_version;

typedef struct pgkms_key_record {
    char *tenant;
    uint8_t key_id[PGKMS_UUID_LEN];
    char *alias;    /* may be NULL */
    int is_default; /* the tenant's default key */
    char *state;    /* "Enabled", "Disabled", ... */
    int enabled;    /* state is "Enabled": checked per value, without comparing strings */
    uint32_t current_version;
    char *created;
    /* The tenant's own keyring that protects this key (HYOK), as a URI; NULL: the root. */
    char *keyring_uri;
    size_t nversions;
    pgkms_key_version *versions;
} pgkms_key_record;

#define PGKMS_KEYRING_URI_MAX 1024

/* Tenant names: 1..128 characters of [A-Za-z0-9_.@:-]; they appear in URIs and file names. */
pgkms_code pgkms_tenant_validate(const char *tenant, pgkms_status *st) PGKMS_MUST_CHECK;

/* Key aliases: like tenant names, and never shaped like a UUID (keys are named by either). */
pgkms_code pgkms_alias_validate(const char *alias, pgkms_status *st) PGKMS_MUST_CHECK;

/* A new enabled key (random 256-bit material and UUIDv4 id), version 1, wrapped under root. */
pgkms_code pgkms_tenant_key_create(pgkms_root *root, const char *tenant, int is_default,
                                   pgkms_key_record *out, pgkms_status *st) PGKMS_MUST_CHECK;
/* Rotation: a record of existing key key_id holding only a new version (fresh material). */
pgkms_code pgkms_tenant_key_new_version(pgkms_root *root, const char *tenant,
                                        const uint8_t key_id[PGKMS_UUID_LEN], uint32_t version,
                                        pgkms_key_record *out, pgkms_status *st) PGKMS_MUST_CHECK;
/* Unwraps version v of rec into tmk (PGKMS_TMK_LEN bytes of caller's secure memory). */
pgkms_code pgkms_tenant_key_unwrap(pgkms_root *root, const pgkms_key_record *rec,
                                   const pgkms_key_version *v, uint8_t *tmk,
                                   pgkms_status *st) PGKMS_MUST_CHECK;
/* Wraps tmk as version `version` of (tenant, key_id) under root. */
pgkms_code pgkms_tenant_key_wrap(pgkms_root *root, const char *tenant,
                                 const uint8_t key_id[PGKMS_UUID_LEN], uint32_t version,
                                 const uint8_t *tmk, pgkms_key_version *out,
                                 pgkms_status *st) PGKMS_MUST_CHECK;

/* Root rotation: version v of rec, unwrapped by from and wrapped again by to, into *out. */
pgkms_code pgkms_tenant_key_rewrap(pgkms_root *from, pgkms_root *to, const pgkms_key_record *rec,
                                   const pgkms_key_version *v, pgkms_key_version *out,
                                   pgkms_status *st) PGKMS_MUST_CHECK;

/* The 8-byte reference stored in values: the first 8 bytes of the key id. */
void pgkms_key_ref_of(const uint8_t key_id[PGKMS_UUID_LEN], uint32_t version, pgkms_key_ref *out);
const pgkms_key_version *pgkms_key_record_version(const pgkms_key_record *rec, uint32_t version);
void pgkms_key_record_free(pgkms_key_record *rec);
/* Sets rec->state to a copy of state, and rec->enabled with it. */
pgkms_code pgkms_key_record_set_state(pgkms_key_record *rec, const char *state,
                                      pgkms_status *st) PGKMS_MUST_CHECK;
pgkms_code pgkms_key_record_copy(pgkms_key_record *dst, const pgkms_key_record *src,
                                 pgkms_status *st) PGKMS_MUST_CHECK;
/* ISO 8601 UTC now, "YYYY-MM-DDTHH:MM:SSZ". */
void pgkms_utc_now(char out[21]);

#endif
