/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-backend cache of tenant keys loaded into the provider, with the EVP_PKEY_CTXs reused for
 * every value. Hits touch neither SPI nor the catalog. Any change to kms._keys,
 * kms._key_versions or kms._grants (a statement trigger sends a relcache invalidation) or to the
 * root settings marks the cache stale; it is dropped at the start of the next call, never under a
 * caller.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pgkms/codec.h"
#include "pgkms_ext.h"
#include "../provider/pgkms-params.h"

typedef struct ref_entry {
    uint8_t ref[PGKMS_KEY_REF_LEN]; /* hash key */
    pgkms_tenant_entry *tenant;
    char key_id[PGKMS_UUID_STR_LEN + 1];
    uint32_t current_version;
} ref_entry;

static HTAB *tenants, *refs;
static bool stale;
static bool created_in_xact;
static Oid keys_relid = InvalidOid;
static pgkms_tenant_entry *last_tenant; /* most calls repeat the previous tenant */
static TimestampTz next_expiry;         /* imported material expires: reload then (0: never) */
uint64 pgkms_resolve_epoch;

static void free_entry(pgkms_tenant_entry *e)
{
    EVP_PKEY_CTX_free(e->enc);
    EVP_PKEY_CTX_free(e->dec);
    pgkms_search_free_entry(e);
    EVP_PKEY_free(e->pkey); /* the provider wipes unwrapped keys */
    free(e->enc_ctx);
    free(e->dec_ctx);
}

static void flush(void)
{
    HASH_SEQ_STATUS it;
    pgkms_tenant_entry *e;

    if (tenants != NULL) {
        hash_seq_init(&it, tenants);
        while ((e = hash_seq_search(&it)) != NULL)
            free_entry(e);
        hash_destroy(tenants);
        hash_destroy(refs);
    }
    tenants = refs = NULL;
    last_tenant = NULL;
    next_expiry = 0;
    stale = false;
    pgkms_resolve_epoch++;
    pgkms_grants_reset();
}

static void relcache_cb(Datum arg, Oid relid)
{
    (void)arg;
    if (relid == InvalidOid || (keys_relid != InvalidOid && relid == keys_relid)) {
        stale = true;
        pgkms_acl_invalidate();
    }
}

/* A default key created by a transaction that aborts is gone: forget what we cached. */
static void xact_cb(XactEvent event, void *arg)
{
    (void)arg;
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        if (created_in_xact)
            stale = true;
        created_in_xact = false;
    } else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
               event == XACT_EVENT_PREPARE) {
        created_in_xact = false;
    }
}

static Oid kms_keys_relid(void)
{
    if (keys_relid == InvalidOid) {
        keys_relid = get_relname_relid("_keys", get_namespace_oid("kms", false));
        /* A library update installed, but the database's objects not updated yet. */
        if (keys_relid == InvalidOid)
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("the pgkms objects of this database are older than the "
                                   "installed pgkms library"),
                            errhint("Run ALTER EXTENSION pgkms UPDATE.")));
    }
    return keys_relid;
}

/* Never flushes: callers may hold entries. Flushing happens only at SQL entry points. */
static void ensure_tables(void)
{
    static bool callbacks;

    if (!callbacks) {
        CacheRegisterRelcacheCallback(relcache_cb, (Datum)0);
        RegisterXactCallback(xact_cb, NULL);
        callbacks = true;
    }
    if (tenants == NULL) {
        HASHCTL ctl;

        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = sizeof(((pgkms_tenant_entry *)NULL)->id);
        ctl.entrysize = sizeof(pgkms_tenant_entry);
        tenants = hash_create("pgkms tenants", 64, &ctl, HASH_ELEM | HASH_STRINGS);
        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = PGKMS_KEY_REF_LEN;
        ctl.entrysize = sizeof(ref_entry);
        refs = hash_create("pgkms key refs", 256, &ctl, HASH_ELEM | HASH_BLOBS);
    }
    (void)kms_keys_relid();
}

void pgkms_cache_mark_stale(void)
{
    stale = true;
}

void pgkms_cache_flush_if_stale(void)
{
    if (stale || (next_expiry != 0 && GetCurrentStatementStartTimestamp() >= next_expiry))
        flush();
}

int pgkms_set_context(EVP_PKEY_CTX *ctx, int *is_set, char **cur, size_t *cur_len,
                      const char *context, size_t context_len)
{
    OSSL_PARAM params[2];

    if (*is_set && *cur_len == context_len &&
        (context_len == 0 || memcmp(*cur, context, context_len) == 0))
        return 1;
    params[0] =
        OSSL_PARAM_construct_octet_string(PGKMS_PARAM_CONTEXT, (void *)context, context_len);
    params[1] = OSSL_PARAM_construct_end();
    *is_set = 0;
    if (EVP_PKEY_CTX_set_params(ctx, params) <= 0)
        return 0;
    if (context_len > *cur_len || *cur == NULL) {
        char *buf = malloc(context_len ? context_len : 1);

        if (buf == NULL)
            return 0;
        free(*cur);
        *cur = buf;
    }
    if (context_len > 0)
        memcpy(*cur, context, context_len);
    *cur_len = context_len;
    *is_set = 1;
    return 1;
}

/*
 * Has the provider generate a tenant key record (wrapped under the root): a new key, or with
 * rotate_id a new version `version` of that key. The record comes back as keyring JSON.
 */
static void generate_record(const char *tenant, const uint8_t *rotate_id, uint32_t version,
                            const char *keyring_uri, pgkms_keyring *out)
{
    bool root_is_default = false;
    char *root = keyring_uri != NULL ? (char *)keyring_uri : pgkms_root_uri(&root_is_default);
    bool root_existed = !root_is_default || access(root + 5, F_OK) == 0;
    EVP_PKEY_CTX *gen = EVP_PKEY_CTX_new_from_name(pgkms_libctx(), PGKMS_KEY_TYPE, NULL);
    EVP_PKEY *pkey = NULL;
    int ttl = pgkms_guc_key_cache_ttl, create = root_is_default;
    unsigned int new_version = version;
    char kid[PGKMS_UUID_STR_LEN + 1];
    OSSL_PARAM params[7], *p = params;
    size_t json_cap = 64 * 1024, json_len = 0;
    char *json = palloc(json_cap);
    pgkms_status st;

    *p++ = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_TENANT, (char *)tenant, 0);
    *p++ = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_ROOT_KEY, root, 0);
    *p++ = OSSL_PARAM_construct_int(PGKMS_PARAM_CACHE_TTL, &ttl);
    *p++ = OSSL_PARAM_construct_int(PGKMS_PARAM_ROOT_CREATE, &create);
    if (rotate_id != NULL) {
        pgkms_uuid_format(rotate_id, kid);
        *p++ = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_KEY_ID, kid, 0);
        *p++ = OSSL_PARAM_construct_uint(PGKMS_PARAM_VERSION, &new_version);
    }
    *p = OSSL_PARAM_construct_end();
    if (gen == NULL || EVP_PKEY_keygen_init(gen) <= 0 ||
        EVP_PKEY_CTX_set_params(gen, params) <= 0 || EVP_PKEY_generate(gen, &pkey) <= 0 ||
        !EVP_PKEY_get_utf8_string_param(pkey, PGKMS_PARAM_KEYRING, json, json_cap, &json_len)) {
        EVP_PKEY_free(pkey);
        EVP_PKEY_CTX_free(gen);
        pgkms_ereport_ossl("could not create a tenant key");
    }
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(gen);
    if (!root_existed)
        ereport(WARNING,
                (errmsg("created root key file \"%s\" inside the data directory", root + 5),
                 errdetail("A root key beside the data it protects is for development only."),
                 errhint("Set kms.root_key to a root key file outside the data directory.")));
    if (pgkms_keyring_parse(json, json_len, out, &st) != PGKMS_OK)
        pgkms_ereport_status(&st);
    created_in_xact = true;
}

/*
 * Creates a tenant key and stores its wrapped record. A default key loses quietly to a
 * concurrent creator (ON CONFLICT DO NOTHING); other keys raise on conflict.
 */
void pgkms_cache_create_key(const char *tenant, const char *alias, const char *description,
                            bool is_default, const char *keyring_uri,
                            uint8_t key_id[PGKMS_UUID_LEN])
{
    pgkms_keyring kr;

    generate_record(tenant, NULL, 1, keyring_uri, &kr);
    kr.keys[0].is_default = is_default;
    if (keyring_uri != NULL && (kr.keys[0].keyring_uri = strdup(keyring_uri)) == NULL) {
        pgkms_keyring_free(&kr);
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    }
    if (alias != NULL && (kr.keys[0].alias = strdup(alias)) == NULL) {
        pgkms_keyring_free(&kr);
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    }
    memcpy(key_id, kr.keys[0].key_id, PGKMS_UUID_LEN);
    PG_TRY();
    {
        if (pgkms_keys_insert(&kr.keys[0], description)) {
            char kid[PGKMS_UUID_STR_LEN + 1];

            pgkms_uuid_format(key_id, kid);
            pgkms_audit_ok("create_key", tenant, kid, 1,
                           is_default ? "default key, on first use" : alias);
        }
    }
    PG_FINALLY();
    {
        pgkms_keyring_free(&kr);
    }
    PG_END_TRY();
}

void pgkms_cache_rotate_key(const char *tenant, const uint8_t key_id[PGKMS_UUID_LEN],
                            uint32_t version, const char *keyring_uri)
{
    pgkms_keyring kr;

    generate_record(tenant, key_id, version, keyring_uri, &kr);
    PG_TRY();
    {
        char kid[PGKMS_UUID_STR_LEN + 1];

        pgkms_keys_add_version(&kr.keys[0]);
        pgkms_uuid_format(key_id, kid);
        pgkms_audit_ok("rotate_key", tenant, kid, version, NULL);
    }
    PG_FINALLY();
    {
        pgkms_keyring_free(&kr);
    }
    PG_END_TRY();
}

/*
 * Entries loaded to decrypt a value found by its key reference must never encrypt: the
 * tenant may have no default key yet, and encryption must then create one, not pick another.
 */
#define DECRYPT_ONLY "*"

static bool decrypt_only(const pgkms_tenant_entry *e)
{
    return strcmp(e->key, DECRYPT_ONLY) == 0;
}

/* Loads the tenant's records into the provider; keys stay wrapped until first use. */
static void load_entry(pgkms_tenant_entry *e, bool create_default)
{
    pgkms_keyring kr;
    pgkms_status st;
    const pgkms_key_record *sel;
    char *json = NULL, kid[PGKMS_UUID_STR_LEN + 1];
    bool root_is_default;
    char *root = pgkms_root_uri(&root_is_default);
    int ttl = pgkms_guc_key_cache_ttl;
    OSSL_PARAM params[7];
    EVP_PKEY_CTX *fromdata;
    TimestampTz expiry;
    int ok;

    pgkms_keys_load(e->tenant, &kr, &expiry);
    if (pgkms_keyring_find_default(&kr, e->tenant) == NULL && create_default && e->key[0] == '\0') {
        uint8_t created[PGKMS_UUID_LEN];

        pgkms_keyring_free(&kr);
        pgkms_cache_create_key(e->tenant, NULL, NULL, true, NULL, created);
        pgkms_keys_load(e->tenant, &kr, &expiry);
    }
    if (expiry != 0 && (next_expiry == 0 || expiry < next_expiry))
        next_expiry = expiry;
    if (kr.nkeys == 0) {
        pgkms_keyring_free(&kr);
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("tenant \"%s\" has no keys", e->tenant)));
    }
    sel = e->key[0] && !decrypt_only(e) ? pgkms_keyring_find_key(&kr, e->tenant, e->key)
                                        : pgkms_keyring_find_default(&kr, e->tenant);
    if (sel == NULL && e->key[0] && !decrypt_only(e)) {
        pgkms_keyring_free(&kr);
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("tenant \"%s\" has no key \"%s\"", e->tenant, e->key)));
    }
    pgkms_uuid_format((sel ? sel : &kr.keys[0])->key_id, kid);
    if (pgkms_keyring_serialize(&kr, &json, &st) != PGKMS_OK) {
        pgkms_keyring_free(&kr);
        pgkms_ereport_status(&st);
    }
    params[0] = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_TENANT, e->tenant, 0);
    params[1] = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_KEYRING, json, 0);
    params[2] = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_KEY, kid, 0);
    params[3] = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_ROOT_KEY, root, 0);
    params[4] = OSSL_PARAM_construct_int(PGKMS_PARAM_CACHE_TTL, &ttl);
    params[5] = OSSL_PARAM_construct_utf8_string(
        PGKMS_PARAM_ROOT_KEY_PREVIOUS,
        pgkms_guc_root_key_previous ? pgkms_guc_root_key_previous : (char *)"", 0);
    params[6] = OSSL_PARAM_construct_end();
    fromdata = EVP_PKEY_CTX_new_from_name(pgkms_libctx(), PGKMS_KEY_TYPE, NULL);
    ok = fromdata != NULL && EVP_PKEY_fromdata_init(fromdata) > 0 &&
         EVP_PKEY_fromdata(fromdata, &e->pkey, EVP_PKEY_KEYPAIR, params) > 0;
    EVP_PKEY_CTX_free(fromdata);
    free(json);
    if (ok) {
        size_t max_input = PGKMS_MAX_PLAINTEXT; /* datums are whole in memory anyway */
        OSSL_PARAM limit[2] = {OSSL_PARAM_construct_size_t(PGKMS_PARAM_MAX_INPUT, &max_input),
                               OSSL_PARAM_construct_end()};

        e->enc = EVP_PKEY_CTX_new_from_pkey(pgkms_libctx(), e->pkey, NULL);
        e->dec = EVP_PKEY_CTX_new_from_pkey(pgkms_libctx(), e->pkey, NULL);
        ok = e->enc != NULL && e->dec != NULL && EVP_PKEY_encrypt_init_ex(e->enc, limit) > 0 &&
             EVP_PKEY_decrypt_init(e->dec) > 0;
    }
    if (!ok) {
        pgkms_keyring_free(&kr);
        free_entry(e);
        memset(&e->pkey, 0, sizeof(*e) - offsetof(pgkms_tenant_entry, pkey));
        pgkms_ereport_ossl("could not load the keys of a tenant");
    }
    for (size_t i = 0; i < kr.nkeys; i++) {
        bool found;
        ref_entry *r = hash_search(refs, kr.keys[i].key_id, HASH_ENTER, &found);

        if (!found)
            r->tenant = e; /* any entry of the tenant holds all its keys for decryption */
        pgkms_uuid_format(kr.keys[i].key_id, r->key_id);
        r->current_version = kr.keys[i].current_version;
    }
    pgkms_keyring_free(&kr);
}

pgkms_tenant_entry *pgkms_cache_tenant(const char *tenant, const char *key, bool create_default)
{
    pgkms_tenant_entry *e;
    bool found;
    pgkms_status st;
    char id[sizeof(e->id)];

    if (key == NULL)
        key = "";
    if (!stale && last_tenant != NULL && strcmp(last_tenant->tenant, tenant) == 0 &&
        strcmp(last_tenant->key, key) == 0)
        return last_tenant;
    if (pgkms_tenant_validate(tenant, &st) != PGKMS_OK)
        pgkms_ereport_status(&st);
    if (strlen(key) > PGKMS_KEY_NAME_MAX)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("key name is longer than %d characters", PGKMS_KEY_NAME_MAX)));
    /* ';' is not allowed in tenant names, so "tenant;key" cannot collide with a tenant. */
    snprintf(id, sizeof(id), "%s%s%s", tenant, key[0] ? ";" : "", key);
    ensure_tables();
    e = hash_search(tenants, id, HASH_ENTER, &found);
    if (!found) {
        memset(e->tenant, 0, sizeof(*e) - offsetof(pgkms_tenant_entry, tenant));
        strlcpy(e->tenant, tenant, sizeof(e->tenant));
        strlcpy(e->key, key, sizeof(e->key));
    }
    if (e->pkey == NULL) {
        last_tenant = NULL;
        load_entry(e, create_default);
    }
    last_tenant = e;
    return e;
}

pgkms_tenant_entry *pgkms_cache_tenant_of_ref(const uint8_t ref[PGKMS_KEY_REF_LEN])
{
    ref_entry *r;
    const char *tenant;

    ensure_tables();
    r = hash_search(refs, ref, HASH_FIND, NULL);
    if (r != NULL)
        return r->tenant;
    tenant = pgkms_keys_tenant_of_ref(ref);
    if (tenant == NULL)
        return NULL;
    return pgkms_cache_tenant(tenant, DECRYPT_ONLY, false);
}

const char *pgkms_cache_key_owner(const char *key, uint8_t ref[PGKMS_KEY_REF_LEN])
{
    uint8_t id[PGKMS_UUID_LEN];
    char text[PGKMS_UUID_STR_LEN + 1];
    ref_entry *r;

    if (pgkms_uuid_parse(key, id, NULL) != PGKMS_OK)
        return NULL; /* an alias: always the acting tenant's own */
    memcpy(ref, id, PGKMS_KEY_REF_LEN);
    pgkms_uuid_format(id, text);
    ensure_tables();
    r = hash_search(refs, ref, HASH_FIND, NULL);
    if (r == NULL && pgkms_cache_tenant_of_ref(ref) != NULL)
        r = hash_search(refs, ref, HASH_FIND, NULL);
    return r != NULL && strcmp(r->key_id, text) == 0 ? r->tenant->tenant : NULL;
}

bool pgkms_cache_key_of_ref(const uint8_t ref[PGKMS_KEY_REF_LEN],
                            char key_id[PGKMS_UUID_STR_LEN + 1], uint32_t *current_version)
{
    ref_entry *r;

    ensure_tables();
    r = hash_search(refs, ref, HASH_FIND, NULL);
    if (r == NULL)
        return false;
    memcpy(key_id, r->key_id, PGKMS_UUID_STR_LEN + 1);
    *current_version = r->current_version;
    return true;
}

/* SQL: trigger kms._keys_changed() on kms.keys and kms.key_versions */
PG_FUNCTION_INFO_V1(pgkms_keys_changed);
Datum pgkms_keys_changed(PG_FUNCTION_ARGS)
{
    TriggerData *td = (TriggerData *)fcinfo->context;

    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("kms._keys_changed() must be called as a trigger")));
    (void)td;
    /* Delivered to every backend at commit, and to hot standbys through WAL. */
    CacheInvalidateRelcacheByRelid(kms_keys_relid());
    return PointerGetDatum(NULL);
}
