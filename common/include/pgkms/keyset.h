/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A keyset is one tenant's keys as a user of them sees it: the records, which one encrypts,
 * the root that unwraps them, and the unwrapped material cached with a TTL. Unwrapped keys are
 * refreshed through the root after half their TTL; if that fails they keep working until the
 * TTL ends, then every operation fails closed. Not thread-safe: callers lock.
 */
#ifndef PGKMS_KEYSET_H
#define PGKMS_KEYSET_H

#include <time.h>

#include "pgkms/keyring_file.h"

#define PGKMS_DEFAULT_TTL 300

typedef struct pgkms_unwrapped {
    pgkms_key_ref ref;
    uint8_t *tmk; /* secure memory */
    time_t loaded_at;
    int valid; /* tmk holds a successfully unwrapped key */
} pgkms_unwrapped;

typedef struct pgkms_keyset {
    char *tenant;
    pgkms_keyring keys;   /* this tenant's records only */
    size_t selected;      /* index of the key that encrypts */
    pgkms_root *root;     /* owned: wraps new versions, unwraps versions it wrapped */
    pgkms_root *previous; /* owned, may be NULL: unwraps versions still under the old root
                             while kms.rotate_root() moves them (docs/root-rotation.md) */
    int ttl;              /* seconds */
    size_t nkeyrings;     /* tenant-held keyrings (HYOK) opened so far, by URI */
    struct pgkms_keyset_keyring {
        char *uri;
        pgkms_root *root;
    } * keyrings;
    size_t nslots;
    pgkms_unwrapped *slots;
} pgkms_keyset;

/* Takes ownership of *keys (zeroed) and root. keys must hold at least one record of tenant. */
pgkms_code pgkms_keyset_init(pgkms_keyset *ks, const char *tenant, pgkms_keyring *keys,
                             size_t selected, pgkms_root *root, int ttl,
                             pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_keyset_cleanup(pgkms_keyset *ks);
/* Takes ownership of previous: the root that wrapped versions not yet moved to ks->root. */
void pgkms_keyset_set_previous_root(pgkms_keyset *ks, pgkms_root *previous);

const pgkms_key_record *pgkms_keyset_selected(const pgkms_keyset *ks);
/* Finds the record holding ref; PGKMS_E_KEY_NOT_FOUND if this tenant has none. */
pgkms_code pgkms_keyset_find(const pgkms_keyset *ks, const uint8_t ref[PGKMS_KEY_REF_LEN],
                             const pgkms_key_record **rec, pgkms_status *st) PGKMS_MUST_CHECK;
/* Checks that rec may be used ("Enabled"); names the state otherwise. */
pgkms_code pgkms_key_usable(const pgkms_key_record *rec, pgkms_status *st) PGKMS_MUST_CHECK;
/*
 * The unwrapped material of (rec, version) at time now (a monotonic clock, seconds):
 * *tmk stays valid until the next call on ks.
 */
pgkms_code pgkms_keyset_material(pgkms_keyset *ks, const pgkms_key_record *rec, uint32_t version,
                                 time_t now, const uint8_t **tmk,
                                 pgkms_status *st) PGKMS_MUST_CHECK;
/*
 * Until when (same clock) pgkms_keyset_material() returns the material of (rec, version) it
 * holds without asking the root again: any now before the returned time. 0 if none is held.
 */
time_t pgkms_keyset_fresh_until(const pgkms_keyset *ks, const pgkms_key_record *rec,
                                uint32_t version);
/*
 * Called after every unwrap through the root, successful (st->code PGKMS_OK) or not, for an
 * audit trail. One per process; NULL (the default) for none. It must not fail or block.
 */
typedef void (*pgkms_unwrap_observer)(const pgkms_key_record *rec, uint32_t version,
                                      const pgkms_status *st);
void pgkms_keyset_set_unwrap_observer(pgkms_unwrap_observer fn);

/* Monotonic seconds for TTLs. */
time_t pgkms_monotonic_now(void);

#endif
