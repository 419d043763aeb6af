/* SPDX-License-Identifier: Apache-2.0 */
/* Tenant master keys: creation, wrapping bound to (tenant, key id, version), unwrapping. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>

#include "pgkms/secmem.h"
#include "pgkms/tenant_key.h"

static const char TMK_AAD_LABEL[] = "pgkms tmk v1";

pgkms_code pgkms_tenant_validate(const char *tenant, pgkms_status *st)
{
    size_t len;

    if (tenant == NULL || tenant[0] == '\0')
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "tenant name is empty");
    len = strlen(tenant);
    if (len > PGKMS_TENANT_MAX)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "tenant name is longer than %d characters",
                          PGKMS_TENANT_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = tenant[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '@' || c == ':' || c == '-'))
            return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                              "tenant name may contain only letters, digits and _.@:- "
                              "(invalid character at position %zu)",
                              i + 1);
    }
    return PGKMS_OK;
}

pgkms_code pgkms_alias_validate(const char *alias, pgkms_status *st)
{
    uint8_t id[PGKMS_UUID_LEN];

    if (pgkms_tenant_validate(alias, st) != PGKMS_OK)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "key alias must be 1 to %d letters, digits or _.@:-", PGKMS_TENANT_MAX);
    if (pgkms_uuid_parse(alias, id, NULL) == PGKMS_OK)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "a key alias cannot look like a key id");
    return PGKMS_OK;
}

/* AAD = label || be16(len tenant) || tenant || key id || be32(version). */
static size_t tmk_aad(uint8_t *aad, const char *tenant, const uint8_t key_id[PGKMS_UUID_LEN],
                      uint32_t version)
{
    size_t tlen = strlen(tenant), n = 0;

    memcpy(aad, TMK_AAD_LABEL, sizeof(TMK_AAD_LABEL) - 1);
    n += sizeof(TMK_AAD_LABEL) - 1;
    aad[n++] = (uint8_t)(tlen >> 8);
    aad[n++] = (uint8_t)tlen;
    memcpy(aad + n, tenant, tlen);
    n += tlen;
    memcpy(aad + n, key_id, PGKMS_UUID_LEN);
    n += PGKMS_UUID_LEN;
    pgkms_store_be32(aad + n, version);
    return n + 4;
}

#define TMK_AAD_MAX (sizeof(TMK_AAD_LABEL) + 2 + PGKMS_TENANT_MAX + PGKMS_UUID_LEN + 4)

void pgkms_utc_now(char out[21])
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

pgkms_code pgkms_tenant_key_wrap(pgkms_root *root, const char *tenant,
                                 const uint8_t key_id[PGKMS_UUID_LEN], uint32_t version,
                                 const uint8_t *tmk, pgkms_key_version *out, pgkms_status *st)
{
    uint8_t aad[TMK_AAD_MAX];
    uint8_t wrapped[PGKMS_WRAPPED_MAX];
    size_t aad_len, wrapped_len = 0;
    char now[21];
    pgkms_code rc;

    rc = pgkms_tenant_validate(tenant, st);
    if (rc != PGKMS_OK)
        return rc;
    aad_len = tmk_aad(aad, tenant, key_id, version);
    rc = root->ops->wrap(root, aad, aad_len, tmk, PGKMS_TMK_LEN, wrapped, &wrapped_len, st);
    if (rc != PGKMS_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    pgkms_utc_now(now);
    out->version = version;
    out->keyring = strdup(root->ops->kind);
    out->created = strdup(now);
    out->wrapped = malloc(wrapped_len);
    if (out->keyring == NULL || out->created == NULL || out->wrapped == NULL) {
        free(out->keyring);
        free(out->created);
        free(out->wrapped);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    memcpy(out->wrapped, wrapped, wrapped_len);
    out->wrapped_len = wrapped_len;
    memcpy(out->root_id, root->id, PGKMS_ROOT_ID_LEN);
    return PGKMS_OK;
}

/* A record of tenant key `key_id` holding one new version: fresh random material, wrapped. */
static pgkms_code new_record(pgkms_root *root, const char *tenant, const uint8_t *key_id,
                             uint32_t version, int is_default, pgkms_key_record *out,
                             pgkms_status *st)
{
    uint8_t *tmk = pgkms_secure_alloc(PGKMS_TMK_LEN);
    char now[21];
    pgkms_code rc;

    memset(out, 0, sizeof(*out));
    if (tmk == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a tenant key");
    if (RAND_priv_bytes_ex(root->libctx, tmk, PGKMS_TMK_LEN, 256) <= 0) {
        pgkms_secure_free(tmk, PGKMS_TMK_LEN);
        return pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
    }
    memcpy(out->key_id, key_id, PGKMS_UUID_LEN);
    out->versions = calloc(1, sizeof(pgkms_key_version));
    if (out->versions == NULL) {
        pgkms_secure_free(tmk, PGKMS_TMK_LEN);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    rc = pgkms_tenant_key_wrap(root, tenant, out->key_id, version, tmk, &out->versions[0], st);
    pgkms_secure_free(tmk, PGKMS_TMK_LEN);
    if (rc != PGKMS_OK) {
        free(out->versions);
        out->versions = NULL;
        return rc;
    }
    out->nversions = 1;
    pgkms_utc_now(now);
    out->tenant = strdup(tenant);
    out->created = strdup(now);
    out->is_default = is_default;
    out->current_version = version;
    if (out->tenant == NULL || out->created == NULL ||
        pgkms_key_record_set_state(out, "Enabled", NULL) != PGKMS_OK) {
        pgkms_key_record_free(out);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    return PGKMS_OK;
}

pgkms_code pgkms_tenant_key_create(pgkms_root *root, const char *tenant, int is_default,
                                   pgkms_key_record *out, pgkms_status *st)
{
    uint8_t key_id[PGKMS_UUID_LEN];

    if (RAND_bytes_ex(root->libctx, key_id, PGKMS_UUID_LEN, 0) <= 0)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
    key_id[6] = (key_id[6] & 0x0F) | 0x40; /* UUID version 4 */
    key_id[8] = (key_id[8] & 0x3F) | 0x80; /* RFC 4122 variant */
    return new_record(root, tenant, key_id, 1, is_default, out, st);
}

pgkms_code pgkms_tenant_key_new_version(pgkms_root *root, const char *tenant,
                                        const uint8_t key_id[PGKMS_UUID_LEN], uint32_t version,
                                        pgkms_key_record *out, pgkms_status *st)
{
    if (version < 2 || version > 0x7FFFFFFF)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid new key version %u", version);
    return new_record(root, tenant, key_id, version, 0, out, st);
}

pgkms_code pgkms_tenant_key_unwrap(pgkms_root *root, const pgkms_key_record *rec,
                                   const pgkms_key_version *v, uint8_t *tmk, pgkms_status *st)
{
    uint8_t aad[TMK_AAD_MAX];
    char want[2 * PGKMS_ROOT_ID_LEN + 1], have[2 * PGKMS_ROOT_ID_LEN + 1];
    char kid[PGKMS_UUID_STR_LEN + 1];
    size_t aad_len;
    pgkms_code rc;

    pgkms_uuid_format(rec->key_id, kid);
    if (v->keyring == NULL || strcmp(v->keyring, root->ops->kind) != 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "key %s version %u is protected by a \"%s\" keyring, but the root key "
                          "is a \"%s\" keyring",
                          kid, v->version, v->keyring ? v->keyring : "?", root->ops->kind);
    if (memcmp(v->root_id, root->id, PGKMS_ROOT_ID_LEN) != 0) {
        /* A pkcs11 URI is named by its path (token, object): its query would crowd out the ids. */
        int shown = strncmp(root->uri, "pkcs11:", 7) == 0 ? (int)strcspn(root->uri, "?")
                                                          : (int)strlen(root->uri);

        pgkms_hex_encode(v->root_id, PGKMS_ROOT_ID_LEN, want);
        pgkms_hex_encode(root->id, PGKMS_ROOT_ID_LEN, have);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "key %s version %u is wrapped under root key %s, but the configured "
                          "root key (%.*s) is %s",
                          kid, v->version, want, shown, root->uri, have);
    }
    if (pgkms_tenant_validate(rec->tenant, st) != PGKMS_OK)
        return PGKMS_E_BAD_FORMAT;
    aad_len = tmk_aad(aad, rec->tenant, rec->key_id, v->version);
    rc = root->ops->unwrap(root, aad, aad_len, v->wrapped, v->wrapped_len, tmk, PGKMS_TMK_LEN, st);
    if (rc == PGKMS_E_AUTH_FAILED)
        return pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                          "key %s version %u of tenant \"%s\" does not unwrap: the record was "
                          "modified or belongs to another tenant",
                          kid, v->version, rec->tenant);
    return rc;
}

void pgkms_key_ref_of(const uint8_t key_id[PGKMS_UUID_LEN], uint32_t version, pgkms_key_ref *out)
{
    memcpy(out->ref, key_id, PGKMS_KEY_REF_LEN);
    out->version = version;
}

const pgkms_key_version *pgkms_key_record_version(const pgkms_key_record *rec, uint32_t version)
{
    for (size_t i = 0; i < rec->nversions; i++)
        if (rec->versions[i].version == version)
            return &rec->versions[i];
    return NULL;
}

void pgkms_key_record_free(pgkms_key_record *rec)
{
    if (rec == NULL)
        return;
    for (size_t i = 0; i < rec->nversions; i++) {
        free(rec->versions[i].keyring);
        free(rec->versions[i].wrapped);
        free(rec->versions[i].created);
    }
    free(rec->versions);
    free(rec->tenant);
    free(rec->alias);
    free(rec->state);
    free(rec->created);
    free(rec->keyring_uri);
    memset(rec, 0, sizeof(*rec));
}

pgkms_code pgkms_key_record_set_state(pgkms_key_record *rec, const char *state, pgkms_status *st)
{
    char *copy = strdup(state);

    if (copy == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    free(rec->state);
    rec->state = copy;
    rec->enabled = strcmp(state, "Enabled") == 0;
    return PGKMS_OK;
}

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 1;
    *dst = strdup(src);
    return *dst != NULL;
}

pgkms_code pgkms_key_record_copy(pgkms_key_record *dst, const pgkms_key_record *src,
                                 pgkms_status *st)
{
    int ok;

    memset(dst, 0, sizeof(*dst));
    memcpy(dst->key_id, src->key_id, PGKMS_UUID_LEN);
    dst->is_default = src->is_default;
    dst->enabled = src->enabled;
    dst->current_version = src->current_version;
    ok = dup_str(&dst->tenant, src->tenant) && dup_str(&dst->alias, src->alias) &&
         dup_str(&dst->state, src->state) && dup_str(&dst->created, src->created) &&
         dup_str(&dst->keyring_uri, src->keyring_uri);
    if (ok && src->nversions > 0) {
        dst->versions = calloc(src->nversions, sizeof(pgkms_key_version));
        ok = dst->versions != NULL;
    }
    for (size_t i = 0; ok && i < src->nversions; i++) {
        pgkms_key_version *d = &dst->versions[i];
        const pgkms_key_version *s = &src->versions[i];

        dst->nversions = i + 1;
        d->version = s->version;
        d->wrapped_len = s->wrapped_len;
        memcpy(d->root_id, s->root_id, PGKMS_ROOT_ID_LEN);
        ok = dup_str(&d->keyring, s->keyring) && dup_str(&d->created, s->created) &&
             (d->wrapped = malloc(s->wrapped_len ? s->wrapped_len : 1)) != NULL;
        if (ok)
            memcpy(d->wrapped, s->wrapped, s->wrapped_len);
    }
    if (!ok) {
        pgkms_key_record_free(dst);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    return PGKMS_OK;
}

pgkms_code pgkms_tenant_key_rewrap(pgkms_root *from, pgkms_root *to, const pgkms_key_record *rec,
                                   const pgkms_key_version *v, pgkms_key_version *out,
                                   pgkms_status *st)
{
    uint8_t *tmk = pgkms_secure_alloc(PGKMS_TMK_LEN);
    pgkms_code rc;

    if (tmk == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a tenant key");
    rc = pgkms_tenant_key_unwrap(from, rec, v, tmk, st);
    if (rc == PGKMS_OK)
        rc = pgkms_tenant_key_wrap(to, rec->tenant, rec->key_id, v->version, tmk, out, st);
    pgkms_secure_free(tmk, PGKMS_TMK_LEN);
    return rc;
}
