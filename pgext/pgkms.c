/* SPDX-License-Identifier: Apache-2.0 */
/* SQL entry points of the pgkms extension and its settings; the work is done by the provider. */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/uuid.h"
#include "access/parallel.h"
#include "access/xact.h"

#include "pgkms/codec.h"
#include "pgkms/mask.h"
#include "pgkms_ext.h"

PG_MODULE_MAGIC;

char *pgkms_guc_tenant = NULL;
char *pgkms_guc_root_key = NULL;
char *pgkms_guc_root_key_previous = NULL;
int pgkms_guc_key_cache_ttl = 300;

static bool check_tenant(char **newval, void **extra, GucSource source)
{
    pgkms_status st;

    (void)extra;
    if (*newval == NULL || (*newval)[0] == '\0')
        return true;
    if (pgkms_tenant_validate(*newval, &st) != PGKMS_OK) {
        GUC_check_errdetail("%s", st.detail);
        return false;
    }
    /*
     * SET, SET LOCAL and set_config() are refused for tenants the role may not act as.
     * Parallel workers only restore the leader's settings (and never run pgkms functions,
     * which are not parallel safe); the leader checked them, and checks again at use.
     */
    if (source == PGC_S_SESSION && IsTransactionState() && !InitializingParallelWorker &&
        !IsParallelWorker() && !pgkms_acl_allows(*newval)) {
        pgkms_audit_refusal("set_tenant", *newval, NULL, -1, "42501: role may not act as tenant");
        GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
        GUC_check_errmsg("role \"%s\" may not act as tenant \"%s\"",
                         GetUserNameFromId(GetUserId(), false), *newval);
        return false;
    }
    return true;
}

/* SET, RESET and their undoing at transaction end all pass here. */
static void assign_tenant(const char *newval, void *extra)
{
    (void)newval;
    (void)extra;
    pgkms_resolve_epoch++;
}

/* Root or TTL changes apply to keys loaded afterwards: drop what is cached. */
static void assign_root(const char *newval, void *extra)
{
    (void)newval;
    (void)extra;
    pgkms_cache_mark_stale();
}

static void assign_ttl(int newval, void *extra)
{
    (void)newval;
    (void)extra;
    pgkms_cache_mark_stale();
}

void _PG_init(void);

void _PG_init(void)
{
    DefineCustomStringVariable("kms.tenant", "Tenant on whose behalf kms functions act.",
                               "Empty means unset: functions then need an explicit tenant.",
                               &pgkms_guc_tenant, "", PGC_USERSET, 0, check_tenant, assign_tenant,
                               NULL);
    DefineCustomStringVariable(
        "kms.root_key",
        "Root keyring that wraps tenant keys, as a URI (file:/path, pkcs11:..., "
        "vault+https://..., awskms://...).",
        "Empty means the development default $PGDATA/pgkms_root.key, created on first use.",
        &pgkms_guc_root_key, "", PGC_SUSET, 0, NULL, assign_root, NULL);
    DefineCustomStringVariable(
        "kms.root_key_previous",
        "During a root rotation, the old root keyring, which still unwraps the tenant key "
        "versions that kms.rotate_root() has not moved yet.",
        "Empty outside a rotation (docs/root-rotation.md).", &pgkms_guc_root_key_previous, "",
        PGC_SUSET, 0, NULL, assign_root, NULL);
    DefineCustomIntVariable("kms.key_cache_ttl",
                            "Seconds an unwrapped tenant key is used before it must be "
                            "unwrapped again through the root.",
                            NULL, &pgkms_guc_key_cache_ttl, 300, 0, 86400, PGC_SUSET, GUC_UNIT_S,
                            NULL, assign_ttl, NULL);
    MarkGUCPrefixReserved("kms");
}

/* The tenant to act as: argument argno if given, else kms.tenant; the role must be allowed. */
static const char *acting_tenant(FunctionCallInfo fcinfo, int argno)
{
    if (argno >= 0 && fcinfo != NULL && PG_NARGS() > argno && !PG_ARGISNULL(argno)) {
        const char *tenant = text_to_cstring(PG_GETARG_TEXT_PP(argno));
        pgkms_status st;

        if (pgkms_tenant_validate(tenant, &st) != PGKMS_OK)
            pgkms_ereport_status(&st);
        pgkms_acl_check(tenant);
        return tenant;
    }
    if (pgkms_guc_tenant == NULL || pgkms_guc_tenant[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("no tenant given and kms.tenant is not set"),
                        argno >= 0 ? errhint("SET kms.tenant = '<tenant>' or pass the tenant "
                                             "argument.")
                                   : errhint("SET kms.tenant = '<tenant>' to act as the tenant "
                                             "that owns the value.")));
    /* Checked again here: the role may have changed (SET ROLE) since kms.tenant was set. */
    pgkms_acl_check(pgkms_guc_tenant);
    return pgkms_guc_tenant;
}

static void context_arg(FunctionCallInfo fcinfo, int argno, const char **ctx, size_t *len)
{
    *ctx = NULL;
    *len = 0;
    if (PG_NARGS() > argno && !PG_ARGISNULL(argno)) {
        text *t = PG_GETARG_TEXT_PP(argno);

        *ctx = VARDATA_ANY(t);
        *len = VARSIZE_ANY_EXHDR(t);
    }
}

/* Optional argument argno as a C string (NULL when absent or NULL). */
static const char *key_arg(FunctionCallInfo fcinfo, int argno)
{
    if (PG_NARGS() > argno && !PG_ARGISNULL(argno))
        return text_to_cstring(PG_GETARG_TEXT_PP(argno));
    return NULL;
}

static void check_plaintext_len(size_t len)
{
    if (len > MaxAllocSize - VARHDRSZ - PGKMS_OVERHEAD)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("value of %zu bytes is too large to encrypt", len)));
}

/* Encrypts (data, len) with the key selected in e, acting as tenant acting. */
static bytea *seal_with_entry(pgkms_tenant_entry *e, const char *acting, const char *ctx,
                              size_t ctx_len, const char *data, size_t len)
{
    size_t out_len = len + PGKMS_OVERHEAD;
    bytea *out;

    if (!pgkms_set_context(e->enc, &e->enc_ctx_set, &e->enc_ctx, &e->enc_ctx_len, ctx, ctx_len))
        pgkms_ereport_ossl("could not set the encryption context");
    out = palloc(VARHDRSZ + out_len);
    if (EVP_PKEY_encrypt(e->enc, (unsigned char *)VARDATA(out), &out_len,
                         (const unsigned char *)data, len) <= 0)
        pgkms_ereport_ossl_audited("encryption failed", "encrypt", acting, NULL, -1);
    SET_VARSIZE(out, VARHDRSZ + out_len);
    return out;
}

bytea *pgkms_seal(const char *acting, const char *key, const char *ctx, size_t ctx_len,
                  const char *data, size_t len)
{
    const char *tenant = acting, *owner;
    uint8_t ref[PGKMS_KEY_REF_LEN];

    check_plaintext_len(len);
    pgkms_cache_flush_if_stale();
    /* Another tenant's key, named by its id, encrypts only under a grant. */
    if (key != NULL && (owner = pgkms_cache_key_owner(key, ref)) != NULL &&
        strcmp(owner, tenant) != 0) {
        pgkms_grants_require(ref, owner, tenant, PGKMS_OP_ENCRYPT, ctx, ctx_len);
        tenant = owner;
    }
    return seal_with_entry(pgkms_cache_tenant(tenant, key, true), acting, ctx, ctx_len, data, len);
}

/*
 * What kms.tenant resolved to for a role: its default key, after the ACL check. Reused while
 * pgkms_resolve_epoch and the role are unchanged, so that encrypting a column as kms.tenant
 * costs each row two comparisons instead of the ACL check and the cache lookup.
 */
static struct {
    uint64 epoch;
    Oid role;
    pgkms_tenant_entry *entry;
} session_key;

bytea *pgkms_seal_as_session(int tenant_argno, const char *ctx, size_t ctx_len, const char *data,
                             size_t len)
{
    Oid role = GetUserId();

    check_plaintext_len(len);
    pgkms_cache_flush_if_stale(); /* a flush bumps the epoch */
    if (session_key.entry == NULL || session_key.epoch != pgkms_resolve_epoch ||
        session_key.role != role) {
        /* Read first: whatever the resolution itself invalidates is seen next time. */
        uint64 epoch = pgkms_resolve_epoch;

        session_key.entry = NULL;
        session_key.entry = pgkms_cache_tenant(acting_tenant(NULL, tenant_argno), NULL, true);
        session_key.epoch = epoch;
        session_key.role = role;
    }
    return seal_with_entry(session_key.entry, session_key.entry->tenant, ctx, ctx_len, data, len);
}

static Datum encrypt_bytes(FunctionCallInfo fcinfo, const char *data, size_t len)
{
    const char *ctx;
    size_t ctx_len;

    context_arg(fcinfo, 2, &ctx, &ctx_len);
    if ((PG_NARGS() <= 1 || PG_ARGISNULL(1)) && (PG_NARGS() <= 3 || PG_ARGISNULL(3)))
        PG_RETURN_BYTEA_P(pgkms_seal_as_session(1, ctx, ctx_len, data, len));
    PG_RETURN_BYTEA_P(
        pgkms_seal(acting_tenant(fcinfo, 1), key_arg(fcinfo, 3), ctx, ctx_len, data, len));
}

const char *pgkms_session_tenant(void)
{
    return acting_tenant(NULL, -1);
}

/* SQL: kms.encrypt(plaintext text|bytea, tenant text, context text, key text) returns kms.encrypted
 */
PG_FUNCTION_INFO_V1(pgkms_encrypt);
Datum pgkms_encrypt(PG_FUNCTION_ARGS)
{
    text *pt;

    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    pt = PG_GETARG_TEXT_PP(0);
    return encrypt_bytes(fcinfo, VARDATA_ANY(pt), VARSIZE_ANY_EXHDR(pt));
}

/* Parses a data value and finds the cache entry of the tenant that owns its key. */
static pgkms_tenant_entry *owner_of(const uint8_t *data, size_t len, pgkms_envelope *env)
{
    pgkms_status st;
    pgkms_tenant_entry *e;

    if (pgkms_format_parse(data, len, env, &st) != PGKMS_OK)
        pgkms_ereport_status(&st);
    if (env->alg == PGKMS_ALG_GCM_KEYWRAP)
        ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
                        errmsg("value is a wrapped data key, not encrypted data")));
    pgkms_cache_flush_if_stale();
    e = pgkms_cache_tenant_of_ref(env->key_ref);
    if (e == NULL) {
        char ref[2 * PGKMS_KEY_REF_LEN + 1];

        pgkms_hex_encode(env->key_ref, PGKMS_KEY_REF_LEN, ref);
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("the key of this value does not exist (key reference %s)", ref),
                        errhint("Values survive only with the kms.keys they were encrypted "
                                "under; restore them from the same backup.")));
    }
    return e;
}

/* The acting tenant owns the value's key, or holds a grant for op with this context. */
static void authorize(const pgkms_tenant_entry *e, const pgkms_envelope *env, const char *tenant,
                      pgkms_grant_op op, const char *ctx, size_t ctx_len)
{
    if (strcmp(e->tenant, tenant) != 0)
        pgkms_grants_require(env->key_ref, e->tenant, tenant, op, ctx, ctx_len);
}

/* Decrypts (data, len) with e's decrypt context into a new varlena; op and acting for audit. */
static bytea *open_value(pgkms_tenant_entry *e, const uint8_t *data, size_t len,
                         const pgkms_envelope *env, const char *ctx, size_t ctx_len, const char *op,
                         const char *acting)
{
    size_t out_len = env->ciphertext_len;
    bytea *out;

    if (!pgkms_set_context(e->dec, &e->dec_ctx_set, &e->dec_ctx, &e->dec_ctx_len, ctx, ctx_len))
        pgkms_ereport_ossl("could not set the decryption context");
    out = palloc(VARHDRSZ + out_len + 1);
    if (EVP_PKEY_decrypt(e->dec, (unsigned char *)VARDATA(out), &out_len, data, len) <= 0)
        pgkms_ereport_ossl_audited("decryption failed", op, acting, env->key_ref, env->key_version);
    SET_VARSIZE(out, VARHDRSZ + out_len);
    return out;
}

/*
 * Decrypts argument 0 (context: argument ctx_argno) into a new varlena; checks the acting
 * tenant owns the value or holds a grant. With masked == NULL (kms.decrypt), a role that sees
 * this tenant's data only masked is refused; otherwise *masked tells the caller to mask.
 */
static bytea *decrypt_value(FunctionCallInfo fcinfo, int ctx_argno, bool *masked)
{
    bytea *v = PG_GETARG_BYTEA_PP(0);
    const uint8_t *data = (const uint8_t *)VARDATA_ANY(v);
    size_t len = VARSIZE_ANY_EXHDR(v);
    pgkms_envelope env;
    pgkms_tenant_entry *e;
    const char *ctx, *acting;
    size_t ctx_len;
    bool may_reveal;

    e = owner_of(data, len, &env);
    context_arg(fcinfo, ctx_argno, &ctx, &ctx_len);
    acting = acting_tenant(fcinfo, -1);
    authorize(e, &env, acting, PGKMS_OP_DECRYPT, ctx, ctx_len);
    may_reveal = pgkms_acl_may_reveal(acting);
    if (masked != NULL) {
        *masked = !may_reveal;
    } else if (!may_reveal) {
        pgkms_audit_refusal("decrypt", acting, env.key_ref, env.key_version,
                            "42501: role sees this tenant's data only masked");
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("role \"%s\" sees the data of tenant \"%s\" only masked",
                               GetUserNameFromId(GetUserId(), false), acting),
                        errhint("Use kms.reveal(value, mask); an administrator can allow "
                                "plaintext with kms.grant_reveal().")));
    }
    return open_value(e, data, len, &env, ctx, ctx_len, "decrypt", acting);
}

static void require_text(const bytea *out)
{
    /* Bytes encrypted from bytea need not be text in this database's encoding. */
    if (!pg_verify_mbstr(GetDatabaseEncoding(), VARDATA(out), VARSIZE(out) - VARHDRSZ, true))
        ereport(ERROR, (errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
                        errmsg("decrypted value is not valid %s text", GetDatabaseEncodingName()),
                        errhint("Use kms.decrypt_bytea() for binary values.")));
}

/* SQL: kms.decrypt(value kms.encrypted, context text) returns text */
PG_FUNCTION_INFO_V1(pgkms_decrypt);
Datum pgkms_decrypt(PG_FUNCTION_ARGS)
{
    bytea *out;

    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    out = decrypt_value(fcinfo, 1, NULL);
    require_text(out);
    PG_RETURN_TEXT_P(out);
}

/* SQL: kms.decrypt_bytea(value kms.encrypted, context text) returns bytea */
PG_FUNCTION_INFO_V1(pgkms_decrypt_bytea);
Datum pgkms_decrypt_bytea(PG_FUNCTION_ARGS)
{
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    PG_RETURN_BYTEA_P(decrypt_value(fcinfo, 1, NULL));
}

/* Masking rules by name, for kms.reveal and the transparent column types. */
static const struct {
    const char *name;
    size_t (*rule)(const char *in, size_t len, char *out);
} mask_rules[] = {
    {"name", pgkms_mask_rule_name},
    {"phone", pgkms_mask_rule_phone},
    {"email", pgkms_mask_rule_email},
    {"id_card", pgkms_mask_rule_id_card},
    {"bank_card", pgkms_mask_rule_bank_card},
    {"address", pgkms_mask_rule_address},
    {"full", NULL},
};

/* SQL: kms.reveal(value kms.encrypted, mask text, context text) returns text */
PG_FUNCTION_INFO_V1(pgkms_reveal);
Datum pgkms_reveal(PG_FUNCTION_ARGS)
{
    const char *mask = PG_ARGISNULL(1) ? "full" : text_to_cstring(PG_GETARG_TEXT_PP(1));
    size_t r, n = sizeof(mask_rules) / sizeof(mask_rules[0]), len, out_len;
    bytea *pt;
    text *out;
    bool masked;

    /* The rule is checked first, so that errors do not depend on who calls. */
    for (r = 0; r < n && strcmp(mask_rules[r].name, mask) != 0; r++)
        ;
    if (r == n)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown mask \"%s\"", mask),
                 errhint("Masks: name, phone, email, id_card, bank_card, address, full.")));
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    pt = decrypt_value(fcinfo, 2, &masked);
    require_text(pt);
    if (!masked)
        PG_RETURN_TEXT_P(pt);
    len = VARSIZE(pt) - VARHDRSZ;
    out = palloc(VARHDRSZ + len);
    if (mask_rules[r].rule != NULL) {
        out_len = mask_rules[r].rule(VARDATA(pt), len, VARDATA(out));
    } else {
        pgkms_status st;

        if (pgkms_mask_rule_keep(VARDATA(pt), len, 0, 0, "*", 1, VARDATA(out), &out_len, &st) !=
            PGKMS_OK) {
            explicit_bzero(VARDATA(pt), len);
            pgkms_ereport_status(&st);
        }
    }
    explicit_bzero(VARDATA(pt), len);
    SET_VARSIZE(out, VARHDRSZ + out_len);
    PG_RETURN_TEXT_P(out);
}

/*
 * Re-encrypts argument 0 under the current version of its own key, with the same context
 * (argument 1). The plaintext exists only in a buffer wiped before returning. A value already
 * at the current version is returned as it is.
 */
static Datum rewrap(FunctionCallInfo fcinfo, bool as_owning_tenant)
{
    bytea *v = PG_GETARG_BYTEA_PP(0), *pt, *out;
    const uint8_t *data = (const uint8_t *)VARDATA_ANY(v);
    size_t len = VARSIZE_ANY_EXHDR(v), pt_len, out_len;
    pgkms_envelope env;
    pgkms_tenant_entry *e, *enc;
    char key_id[PGKMS_UUID_STR_LEN + 1];
    uint32_t current;
    const char *ctx, *acting;
    size_t ctx_len;

    e = owner_of(data, len, &env);
    context_arg(fcinfo, 1, &ctx, &ctx_len);
    acting = as_owning_tenant ? e->tenant : acting_tenant(fcinfo, -1);
    authorize(e, &env, acting, PGKMS_OP_REENCRYPT, ctx, ctx_len);
    if (!pgkms_cache_key_of_ref(env.key_ref, key_id, &current))
        elog(ERROR, "key reference missing from the cache");
    /* Deterministic values stay under the key's search version, or lookups would miss them. */
    if (env.key_version == current || env.alg == PGKMS_ALG_SIV_DATA)
        PG_RETURN_BYTEA_P(v);
    pt = open_value(e, data, len, &env, ctx, ctx_len, "rewrap", acting);
    pt_len = VARSIZE(pt) - VARHDRSZ;
    enc = pgkms_cache_tenant(e->tenant, key_id, false);
    out_len = pt_len + PGKMS_OVERHEAD;
    out = palloc(VARHDRSZ + out_len);
    if (!pgkms_set_context(enc->enc, &enc->enc_ctx_set, &enc->enc_ctx, &enc->enc_ctx_len, ctx,
                           ctx_len) ||
        EVP_PKEY_encrypt(enc->enc, (unsigned char *)VARDATA(out), &out_len,
                         (const unsigned char *)VARDATA(pt), pt_len) <= 0) {
        explicit_bzero(VARDATA(pt), pt_len);
        pgkms_ereport_ossl("re-encryption failed");
    }
    explicit_bzero(VARDATA(pt), pt_len);
    pfree(pt);
    SET_VARSIZE(out, VARHDRSZ + out_len);
    PG_RETURN_BYTEA_P(out);
}

/* SQL: kms.rewrap(value kms.encrypted, context text) returns kms.encrypted */
PG_FUNCTION_INFO_V1(pgkms_rewrap);
Datum pgkms_rewrap(PG_FUNCTION_ARGS)
{
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    return rewrap(fcinfo, false);
}

/* SQL: kms._rewrap_any(value kms.encrypted, context text) returns kms.encrypted (admin) */
PG_FUNCTION_INFO_V1(pgkms_rewrap_any);
Datum pgkms_rewrap_any(PG_FUNCTION_ARGS)
{
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    return rewrap(fcinfo, true);
}

/* SQL: kms._needs_rewrap(value kms.encrypted) returns boolean (admin) */
PG_FUNCTION_INFO_V1(pgkms_needs_rewrap);
Datum pgkms_needs_rewrap(PG_FUNCTION_ARGS)
{
    bytea *v;
    pgkms_envelope env;
    char key_id[PGKMS_UUID_STR_LEN + 1];
    uint32_t current;

    if (PG_ARGISNULL(0))
        PG_RETURN_BOOL(false);
    v = PG_GETARG_BYTEA_PP(0);
    (void)owner_of((const uint8_t *)VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &env);
    if (!pgkms_cache_key_of_ref(env.key_ref, key_id, &current))
        elog(ERROR, "key reference missing from the cache");
    PG_RETURN_BOOL(env.key_version != current && env.alg != PGKMS_ALG_SIV_DATA);
}

/* SQL: kms.create_key(tenant, alias, description, origin, keyring text) returns uuid */
PG_FUNCTION_INFO_V1(pgkms_create_key);
Datum pgkms_create_key(PG_FUNCTION_ARGS)
{
    const char *tenant, *alias = key_arg(fcinfo, 1), *description = key_arg(fcinfo, 2),
                        *origin = key_arg(fcinfo, 3), *keyring = key_arg(fcinfo, 4);
    pg_uuid_t *id = palloc(sizeof(pg_uuid_t));
    pgkms_status st;

    if (PG_ARGISNULL(0))
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("kms.create_key needs a tenant")));
    tenant = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (pgkms_tenant_validate(tenant, &st) != PGKMS_OK ||
        (alias != NULL && pgkms_alias_validate(alias, &st) != PGKMS_OK))
        pgkms_ereport_status(&st);
    if (keyring != NULL && (keyring[0] == '\0' || strlen(keyring) > PGKMS_KEYRING_URI_MAX))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("keyring must be a keyring URI of at most %d characters",
                               PGKMS_KEYRING_URI_MAX)));
    if (keyring != NULL && origin != NULL && strcmp(origin, "external") == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("a key for imported material is protected by the root keyring, "
                               "not by a keyring of its own")));
    if (origin == NULL || strcmp(origin, "pgkms") == 0) {
        /* With keyring, the tenant's own keyring wraps the key (HYOK): docs/hyok.md. */
        pgkms_cache_create_key(tenant, alias, description, false, keyring, id->data);
    } else if (strcmp(origin, "external") == 0) {
        char kid[PGKMS_UUID_STR_LEN + 1];

        /* Material comes later: kms.get_parameters_for_import(), kms.import_key_material(). */
        pgkms_keys_insert_external(tenant, alias, description, id->data);
        pgkms_uuid_format(id->data, kid);
        pgkms_audit_ok("create_key", tenant, kid, -1, "origin external, PendingImport");
    } else {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("origin must be 'pgkms' or 'external', not \"%s\"", origin)));
    }
    PG_RETURN_UUID_P(id);
}

/* SQL: kms.rotate_key(key uuid) returns integer */
PG_FUNCTION_INFO_V1(pgkms_rotate_key);
Datum pgkms_rotate_key(PG_FUNCTION_ARGS)
{
    pg_uuid_t *id;
    char kid[PGKMS_UUID_STR_LEN + 1], *tenant, *state, *origin, *keyring_uri;
    uint32_t current;

    id = PG_GETARG_UUID_P(0); /* STRICT */
    pgkms_uuid_format(id->data, kid);
    if (!pgkms_keys_lock(kid, &tenant, &current, &state, &origin, &keyring_uri))
        pgkms_refuse("rotate_key", NULL, kid, ERRCODE_UNDEFINED_OBJECT,
                     psprintf("key %s does not exist", kid));
    if (strcmp(origin, "external") == 0)
        pgkms_refuse("rotate_key", tenant, kid, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                     psprintf("key %s holds imported material and cannot be rotated; create a new "
                              "key and import new material into it",
                              kid));
    if (strcmp(state, "Enabled") != 0)
        pgkms_refuse("rotate_key", tenant, kid, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                     psprintf("key %s is in state %s; only enabled keys rotate", kid, state));
    if (current >= 0x7FFFFFFF)
        pgkms_refuse("rotate_key", tenant, kid, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                     psprintf("key %s has no version numbers left", kid));
    pgkms_cache_rotate_key(tenant, id->data, current + 1, keyring_uri);
    PG_RETURN_INT32((int32)(current + 1));
}

/* SQL: kms._acting_tenant() returns text */
PG_FUNCTION_INFO_V1(pgkms_acting_tenant);
Datum pgkms_acting_tenant(PG_FUNCTION_ARGS)
{
    if (pgkms_guc_tenant == NULL || pgkms_guc_tenant[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("kms.tenant is not set"),
                        errhint("SET kms.tenant = '<tenant>' to act as a tenant.")));
    /* The session's role, not the owner of a SECURITY DEFINER function calling us. */
    pgkms_acl_role_check(GetOuterUserId(), pgkms_guc_tenant);
    PG_RETURN_TEXT_P(cstring_to_text(pgkms_guc_tenant));
}

/* SQL: kms.export_keyring(tenant text) returns bytea */
PG_FUNCTION_INFO_V1(pgkms_export_keyring);
Datum pgkms_export_keyring(PG_FUNCTION_ARGS)
{
    pgkms_keyring kr;
    pgkms_status st;
    char *json = NULL;
    bytea *out;
    size_t len;

    if (PG_ARGISNULL(0)) {
        pgkms_keys_load_all(&kr);
    } else {
        char *tenant = text_to_cstring(PG_GETARG_TEXT_PP(0));
        TimestampTz expiry; /* the export states what holds now */

        if (pgkms_tenant_validate(tenant, &st) != PGKMS_OK)
            pgkms_ereport_status(&st);
        pgkms_keys_load(tenant, &kr, &expiry);
        if (kr.nkeys == 0)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                            errmsg("tenant \"%s\" has no keys", tenant)));
    }
    if (pgkms_keyring_serialize(&kr, &json, &st) != PGKMS_OK) {
        pgkms_keyring_free(&kr);
        pgkms_ereport_status(&st);
    }
    pgkms_audit_ok("export_keyring", PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
                   NULL, -1, psprintf("%zu keys", kr.nkeys));
    pgkms_keyring_free(&kr);
    len = strlen(json);
    out = palloc(VARHDRSZ + len + 1);
    memcpy(VARDATA(out), json, len);
    VARDATA(out)[len] = '\n';
    SET_VARSIZE(out, VARHDRSZ + len + 1);
    free(json);
    PG_RETURN_BYTEA_P(out);
}

const char *pgkms_acting_tenant_arg(FunctionCallInfo fcinfo, int argno)
{
    return acting_tenant(fcinfo, argno);
}

void pgkms_context_arg(FunctionCallInfo fcinfo, int argno, const char **ctx, size_t *len)
{
    context_arg(fcinfo, argno, ctx, len);
}

const char *pgkms_text_arg(FunctionCallInfo fcinfo, int argno)
{
    return key_arg(fcinfo, argno);
}
