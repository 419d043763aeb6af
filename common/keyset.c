/* SPDX-License-Identifier: Apache-2.0 */
/* One tenant's keys with TTL-bounded caching of unwrapped material (see keyset.h). */
#include <stdlib.h>
#include <string.h>

#include "pgkms/keyset.h"
#include "pgkms/secmem.h"

time_t pgkms_monotonic_now(void)
{
    struct timespec ts;

    /* Read per value; TTLs are whole seconds, so the cheap coarse clock is enough. */
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return ts.tv_sec;
}

pgkms_code pgkms_keyset_init(pgkms_keyset *ks, const char *tenant, pgkms_keyring *keys,
                             size_t selected, pgkms_root *root, int ttl, pgkms_status *st)
{
    memset(ks, 0, sizeof(*ks));
    if (keys->nkeys == 0 || selected >= keys->nkeys)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "keyset without keys");
    for (size_t i = 0; i < keys->nkeys; i++)
        if (strcmp(keys->keys[i].tenant, tenant) != 0)
            return pgkms_fail(st, PGKMS_E_INTERNAL, "keyset mixes tenants");
    ks->tenant = strdup(tenant);
    if (ks->tenant == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    ks->keys = *keys;
    memset(keys, 0, sizeof(*keys));
    ks->selected = selected;
    ks->root = root;
    ks->ttl = ttl < 0 ? PGKMS_DEFAULT_TTL : ttl;
    return PGKMS_OK;
}

void pgkms_keyset_cleanup(pgkms_keyset *ks)
{
    for (size_t i = 0; i < ks->nslots; i++)
        pgkms_secure_free(ks->slots[i].tmk, PGKMS_TMK_LEN);
    free(ks->slots);
    pgkms_keyring_free(&ks->keys);
    pgkms_root_close(ks->root);
    pgkms_root_close(ks->previous);
    for (size_t i = 0; i < ks->nkeyrings; i++) {
        free(ks->keyrings[i].uri);
        pgkms_root_close(ks->keyrings[i].root);
    }
    free(ks->keyrings);
    free(ks->tenant);
    memset(ks, 0, sizeof(*ks));
}

const pgkms_key_record *pgkms_keyset_selected(const pgkms_keyset *ks)
{
    return &ks->keys.keys[ks->selected];
}

pgkms_code pgkms_keyset_find(const pgkms_keyset *ks, const uint8_t ref[PGKMS_KEY_REF_LEN],
                             const pgkms_key_record **rec, pgkms_status *st)
{
    *rec = pgkms_keyring_find_ref(&ks->keys, ref);
    if (*rec == NULL) {
        char hex[2 * PGKMS_KEY_REF_LEN + 1];

        pgkms_hex_encode(ref, PGKMS_KEY_REF_LEN, hex);
        return pgkms_fail(st, PGKMS_E_KEY_NOT_FOUND, "tenant \"%s\" has no key with reference %s",
                          ks->tenant, hex);
    }
    return PGKMS_OK;
}

pgkms_code pgkms_key_usable(const pgkms_key_record *rec, pgkms_status *st)
{
    char kid[PGKMS_UUID_STR_LEN + 1];

    if (rec->enabled)
        return PGKMS_OK;
    pgkms_uuid_format(rec->key_id, kid);
    return pgkms_fail(st, PGKMS_E_KEY_STATE, "key %s of tenant \"%s\" is in state %s", kid,
                      rec->tenant, rec->state);
}

void pgkms_keyset_set_previous_root(pgkms_keyset *ks, pgkms_root *previous)
{
    pgkms_root_close(ks->previous);
    ks->previous = previous;
}

static pgkms_unwrap_observer unwrap_observer;

void pgkms_keyset_set_unwrap_observer(pgkms_unwrap_observer fn)
{
    unwrap_observer = fn;
}

/* The keyring that unwraps version v of rec: its own keyring (HYOK), else a root. */
static pgkms_code keyring_of(pgkms_keyset *ks, const pgkms_key_record *rec,
                             const pgkms_key_version *v, pgkms_root **out, pgkms_status *st)
{
    struct pgkms_keyset_keyring *k;
    pgkms_code rc;

    if (rec->keyring_uri == NULL) {
        *out = ks->previous != NULL && memcmp(v->root_id, ks->previous->id, PGKMS_ROOT_ID_LEN) == 0
                   ? ks->previous
                   : ks->root;
        return PGKMS_OK;
    }
    for (size_t i = 0; i < ks->nkeyrings; i++)
        if (strcmp(ks->keyrings[i].uri, rec->keyring_uri) == 0) {
            *out = ks->keyrings[i].root;
            return PGKMS_OK;
        }
    k = realloc(ks->keyrings, (ks->nkeyrings + 1) * sizeof(*k));
    if (k == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    ks->keyrings = k;
    k = &ks->keyrings[ks->nkeyrings];
    if ((k->uri = strdup(rec->keyring_uri)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    rc = pgkms_root_open(ks->root->libctx, rec->keyring_uri, 0, &k->root, st);
    if (rc != PGKMS_OK) {
        free(k->uri);
        return rc;
    }
    ks->nkeyrings++;
    *out = k->root;
    return PGKMS_OK;
}

/* The slot of (rec, version), NULL if none. */
static pgkms_unwrapped *slot_of(const pgkms_keyset *ks, const pgkms_key_record *rec,
                                uint32_t version)
{
    pgkms_key_ref ref;

    pgkms_key_ref_of(rec->key_id, version, &ref);
    for (size_t i = 0; i < ks->nslots; i++)
        if (memcmp(&ks->slots[i].ref, &ref, sizeof(ref)) == 0)
            return &ks->slots[i];
    return NULL;
}

/* A slot is fresh for half the TTL: the other half bridges a root that does not answer. */
static time_t fresh_until(const pgkms_keyset *ks, const pgkms_unwrapped *slot)
{
    return slot != NULL && slot->valid ? slot->loaded_at + (ks->ttl + 1) / 2 : 0;
}

time_t pgkms_keyset_fresh_until(const pgkms_keyset *ks, const pgkms_key_record *rec,
                                uint32_t version)
{
    return fresh_until(ks, slot_of(ks, rec, version));
}

pgkms_code pgkms_keyset_material(pgkms_keyset *ks, const pgkms_key_record *rec, uint32_t version,
                                 time_t now, const uint8_t **tmk, pgkms_status *st)
{
    const pgkms_key_version *v = pgkms_key_record_version(rec, version);
    pgkms_unwrapped *slot;
    pgkms_code rc;

    *tmk = NULL;
    if (v == NULL) {
        char kid[PGKMS_UUID_STR_LEN + 1];

        pgkms_uuid_format(rec->key_id, kid);
        return pgkms_fail(st, PGKMS_E_KEY_NOT_FOUND, "key %s has no version %u", kid, version);
    }
    slot = slot_of(ks, rec, version);
    if (now < fresh_until(ks, slot)) {
        *tmk = slot->tmk;
        return PGKMS_OK;
    }
    if (slot == NULL) {
        pgkms_unwrapped *slots = realloc(ks->slots, (ks->nslots + 1) * sizeof(*slots));

        if (slots == NULL)
            return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
        ks->slots = slots;
        slot = &ks->slots[ks->nslots++];
        memset(slot, 0, sizeof(*slot));
        pgkms_key_ref_of(rec->key_id, version, &slot->ref);
    }
    if (slot->tmk == NULL && (slot->tmk = pgkms_secure_alloc(PGKMS_TMK_LEN)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a tenant key");
    {
        /* Refresh into a scratch buffer so a failed refresh leaves the cached key intact. */
        uint8_t *fresh = pgkms_secure_alloc(PGKMS_TMK_LEN);

        if (fresh == NULL)
            return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a tenant key");
        pgkms_root *root = NULL;

        /*
         * Every unwrap is preceded by a refresh, not only those of keys still cached: a root
         * keeps its material in memory (a file's KEK, a Barbican secret's KEK), so once a key
         * has failed closed, an unwrap without a refresh would bring it back from a root that
         * is gone.
         */
        rc = keyring_of(ks, rec, v, &root, st);
        if (rc == PGKMS_OK && root->ops->refresh != NULL)
            rc = root->ops->refresh(root, st);
        if (rc == PGKMS_OK)
            rc = pgkms_tenant_key_unwrap(root, rec, v, fresh, st);
        if (unwrap_observer != NULL) {
            pgkms_status ok = {PGKMS_OK, ""};

            unwrap_observer(rec, version, rc == PGKMS_OK ? &ok : st);
        }
        if (rc == PGKMS_OK) {
            memcpy(slot->tmk, fresh, PGKMS_TMK_LEN);
            slot->loaded_at = now;
            slot->valid = 1;
        }
        pgkms_secure_free(fresh, PGKMS_TMK_LEN);
    }
    if (rc == PGKMS_OK || (slot->valid && now - slot->loaded_at < ks->ttl)) {
        *tmk = slot->tmk;
        return PGKMS_OK;
    }
    /* Past the TTL with no fresh unwrap: fail closed and drop the stale key. */
    pgkms_secure_free(slot->tmk, PGKMS_TMK_LEN);
    slot->tmk = NULL;
    slot->valid = 0;
    return rc;
}
