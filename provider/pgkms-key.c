/* SPDX-License-Identifier: Apache-2.0 */
/* The key object behind an EVP_PKEY: one tenant's keyset, shared by reference count. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "pgkms-provider.h"

pgkms_prov_key *pgkms_prov_key_new(pgkms_prov_ctx *ctx)
{
    pgkms_prov_key *key = calloc(1, sizeof(*key));

    if (key == NULL)
        return NULL;
    key->lock = CRYPTO_THREAD_lock_new();
    if (key->lock == NULL) {
        free(key);
        return NULL;
    }
    key->provctx = ctx;
    key->refcnt = 1;
    return key;
}

int pgkms_prov_key_up_ref(pgkms_prov_key *key)
{
    int n;

    return CRYPTO_atomic_add(&key->refcnt, 1, &n, key->lock);
}

void pgkms_prov_key_free(pgkms_prov_key *key)
{
    int n;

    if (key == NULL || !CRYPTO_atomic_add(&key->refcnt, -1, &n, key->lock) || n > 0)
        return;
    if (key->loaded)
        pgkms_keyset_cleanup(&key->ks);
    free(key->foreign);
    CRYPTO_THREAD_lock_free(key->lock);
    free(key);
}

/* Keeps the tenant's records in place and moves other tenants' references to key->foreign. */
static pgkms_code split_tenant(pgkms_prov_key *key, const char *tenant, pgkms_keyring *kr,
                               pgkms_status *st)
{
    size_t mine = 0;

    key->foreign = calloc(kr->nkeys ? kr->nkeys : 1, PGKMS_KEY_REF_LEN);
    if (key->foreign == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < kr->nkeys; i++) {
        if (strcmp(kr->keys[i].tenant, tenant) == 0) {
            kr->keys[mine++] = kr->keys[i];
        } else {
            memcpy(key->foreign[key->nforeign++], kr->keys[i].key_id, PGKMS_KEY_REF_LEN);
            pgkms_key_record_free(&kr->keys[i]);
        }
    }
    kr->nkeys = mine;
    return PGKMS_OK;
}

pgkms_code pgkms_prov_key_load(pgkms_prov_key *key, const char *tenant, pgkms_keyring *keyring,
                               const char *select, const char *root_uri, const char *previous_uri,
                               unsigned root_flags, int ttl, pgkms_status *st)
{
    pgkms_root *root = NULL, *previous = NULL;
    pgkms_key_record *rec;
    size_t selected;
    pgkms_code rc;

    rc = pgkms_tenant_validate(tenant, st);
    if (rc == PGKMS_OK)
        rc = split_tenant(key, tenant, keyring, st);
    if (rc != PGKMS_OK)
        return rc;
    rec = select != NULL ? pgkms_keyring_find_key(keyring, tenant, select)
                         : pgkms_keyring_find_default(keyring, tenant);
    if (rec == NULL)
        return pgkms_fail(st, PGKMS_E_KEY_NOT_FOUND, "tenant \"%s\" has no %s%s%s", tenant,
                          select ? "key \"" : "default key", select ? select : "",
                          select ? "\"" : "");
    selected = (size_t)(rec - keyring->keys);
    rc = pgkms_root_open(key->provctx->libctx, root_uri, root_flags, &root, st);
    if (rc == PGKMS_OK && previous_uri != NULL && previous_uri[0] != '\0')
        rc = pgkms_root_open(key->provctx->libctx, previous_uri, 0, &previous, st);
    if (rc == PGKMS_OK)
        rc = pgkms_keyset_init(&key->ks, tenant, keyring, selected, root, ttl, st);
    if (rc != PGKMS_OK) {
        pgkms_root_close(root);
        pgkms_root_close(previous);
        return rc;
    }
    pgkms_keyset_set_previous_root(&key->ks, previous);
    key->loaded = 1;
    return PGKMS_OK;
}
