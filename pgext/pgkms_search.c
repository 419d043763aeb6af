/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL entry points of searchable encryption (docs/searchable-encryption.md): deterministic
 * values, blind indexes and pseudonyms. The provider computes them (kms-op det, blind-index,
 * pseudonym) on EVP_PKEY_CTXs kept per cached tenant entry, whose parameters are set only
 * when they change. Deterministic values decrypt through kms.decrypt like any value.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pgkms/search.h"
#include "pgkms_ext.h"
#include "../provider/pgkms-params.h"

/* One context per operation, with the parameters it was last given. */
typedef struct search_ctx {
    EVP_PKEY_CTX *ctx;
    int set;    /* ctx holds len/buf (det: context; others: purpose), bits and canonical */
    size_t len; /* length of buf */
    char *buf;  /* malloc'ed */
    int bits;
    int canonical;
} search_ctx;

struct pgkms_search_ctxs {
    search_ctx det, blind, pseudonym;
};

static void ctx_free(search_ctx *c)
{
    EVP_PKEY_CTX_free(c->ctx);
    free(c->buf);
}

void pgkms_search_free_entry(pgkms_tenant_entry *e)
{
    if (e->search == NULL)
        return;
    ctx_free(&e->search->det);
    ctx_free(&e->search->blind);
    ctx_free(&e->search->pseudonym);
    free(e->search);
    e->search = NULL;
}

/* The context of operation op of entry e, made on first use. */
static search_ctx *ctx_of(pgkms_tenant_entry *e, search_ctx *(*pick)(struct pgkms_search_ctxs *),
                          const char *op)
{
    size_t max_input = PGKMS_MAX_PLAINTEXT; /* datums are whole in memory anyway */
    OSSL_PARAM params[3];
    search_ctx *c;

    if (e->search == NULL && (e->search = calloc(1, sizeof(*e->search))) == NULL)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    c = pick(e->search);
    if (c->ctx != NULL)
        return c;
    params[0] = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_OP, (char *)op, 0);
    params[1] = OSSL_PARAM_construct_size_t(PGKMS_PARAM_MAX_INPUT, &max_input);
    params[2] = OSSL_PARAM_construct_end();
    c->ctx = EVP_PKEY_CTX_new_from_pkey(pgkms_libctx(), e->pkey, NULL);
    if (c->ctx == NULL || EVP_PKEY_encrypt_init_ex(c->ctx, params) <= 0) {
        EVP_PKEY_CTX_free(c->ctx);
        c->ctx = NULL;
        pgkms_ereport_ossl("could not prepare a searchable encryption context");
    }
    return c;
}

static search_ctx *pick_det(struct pgkms_search_ctxs *s)
{
    return &s->det;
}

static search_ctx *pick_blind(struct pgkms_search_ctxs *s)
{
    return &s->blind;
}

static search_ctx *pick_pseudonym(struct pgkms_search_ctxs *s)
{
    return &s->pseudonym;
}

/* Sets purpose (and for blind indexes bits and canonical) on c unless it holds them already. */
static void set_mac_params(search_ctx *c, const char *purpose, size_t len, int bits, int canonical,
                           bool blind)
{
    OSSL_PARAM params[4], *p = params;
    char *buf;

    if (c->set && c->len == len && memcmp(c->buf, purpose, len) == 0 &&
        (!blind || (c->bits == bits && c->canonical == canonical)))
        return;
    c->set = 0;
    *p++ = OSSL_PARAM_construct_octet_string(PGKMS_PARAM_PURPOSE, (void *)purpose, len);
    if (blind) {
        *p++ = OSSL_PARAM_construct_int(PGKMS_PARAM_BITS, &bits);
        *p++ = OSSL_PARAM_construct_int(PGKMS_PARAM_CANONICAL, &canonical);
    }
    *p = OSSL_PARAM_construct_end();
    if (EVP_PKEY_CTX_set_params(c->ctx, params) <= 0)
        pgkms_ereport_ossl("invalid argument");
    if ((buf = malloc(len ? len : 1)) == NULL)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    memcpy(buf, purpose, len);
    free(c->buf);
    c->buf = buf;
    c->len = len;
    c->bits = bits;
    c->canonical = canonical;
    c->set = 1;
}

/* Argument argno, which must not be NULL. */
static void require_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
    if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be NULL", name)));
}

/*
 * The cache entry whose key computes for the acting tenant (argument 1 or kms.tenant): the key
 * named by argument key_argno (alias or id), else the tenant's default key, created on first
 * use. Another tenant's key, named by its id, is used only under an Encrypt grant for ctx, as
 * in kms.encrypt.
 */
static pgkms_tenant_entry *entry_for(FunctionCallInfo fcinfo, int key_argno, const char *ctx,
                                     size_t ctx_len, const char **acting)
{
    const char *tenant, *key, *owner;
    uint8_t ref[PGKMS_KEY_REF_LEN];

    pgkms_cache_flush_if_stale();
    tenant = *acting = pgkms_acting_tenant_arg(fcinfo, 1);
    key = pgkms_text_arg(fcinfo, key_argno);
    if (key != NULL && (owner = pgkms_cache_key_owner(key, ref)) != NULL &&
        strcmp(owner, tenant) != 0) {
        pgkms_grants_require(ref, owner, tenant, PGKMS_OP_ENCRYPT, ctx, ctx_len);
        tenant = owner;
    }
    return pgkms_cache_tenant(tenant, key, true);
}

/* Deterministic encryption of (data, len) with e's det context, acting for audit. */
static bytea *det_seal(pgkms_tenant_entry *e, const char *acting, const char *ctx, size_t ctx_len,
                       const char *data, size_t len)
{
    search_ctx *c = ctx_of(e, pick_det, "det");
    size_t out_len = len + PGKMS_DET_OVERHEAD;
    bytea *out;

    if (len > MaxAllocSize - VARHDRSZ - PGKMS_DET_OVERHEAD)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("value of %zu bytes is too large to encrypt", len)));
    if (!pgkms_set_context(c->ctx, &c->set, &c->buf, &c->len, ctx, ctx_len))
        pgkms_ereport_ossl("could not set the encryption context");
    out = palloc(VARHDRSZ + out_len);
    if (EVP_PKEY_encrypt(c->ctx, (unsigned char *)VARDATA(out), &out_len,
                         (const unsigned char *)data, len) <= 0)
        pgkms_ereport_ossl_audited("deterministic encryption failed", "encrypt_det", acting, NULL,
                                   -1);
    SET_VARSIZE(out, VARHDRSZ + out_len);
    return out;
}

bytea *pgkms_seal_det(const char *acting, const char *data, size_t len)
{
    pgkms_cache_flush_if_stale();
    return det_seal(pgkms_cache_tenant(acting, NULL, true), acting, NULL, 0, data, len);
}

/* SQL: kms.encrypt_det(plaintext text|bytea, tenant text, context text, key text)
 * returns kms.encrypted */
PG_FUNCTION_INFO_V1(pgkms_encrypt_det);
Datum pgkms_encrypt_det(PG_FUNCTION_ARGS)
{
    text *pt;
    pgkms_tenant_entry *e;
    const char *acting, *ctx;
    size_t ctx_len;

    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    pt = PG_GETARG_TEXT_PP(0);
    pgkms_context_arg(fcinfo, 2, &ctx, &ctx_len);
    e = entry_for(fcinfo, 3, ctx, ctx_len, &acting);
    PG_RETURN_BYTEA_P(det_seal(e, acting, ctx, ctx_len, VARDATA_ANY(pt), VARSIZE_ANY_EXHDR(pt)));
}

/* The purpose (argument 2) of a blind index or pseudonym, and the entry of its key. */
static pgkms_tenant_entry *mac_entry(FunctionCallInfo fcinfo, int key_argno, const char **acting,
                                     const char **purpose, size_t *purpose_len)
{
    text *p;

    require_arg(fcinfo, 2, "purpose");
    p = PG_GETARG_TEXT_PP(2);
    *purpose = VARDATA_ANY(p);
    *purpose_len = VARSIZE_ANY_EXHDR(p);
    return entry_for(fcinfo, key_argno, NULL, 0, acting);
}

/* SQL: kms.blind_index(value text, tenant text, purpose text, bits integer, canonical boolean,
 *                      key text) returns bytea */
PG_FUNCTION_INFO_V1(pgkms_blind_index);
Datum pgkms_blind_index(PG_FUNCTION_ARGS)
{
    text *value;
    pgkms_tenant_entry *e;
    search_ctx *c;
    const char *acting, *purpose;
    size_t purpose_len, out_len;
    int bits;
    bytea *out;
    pgkms_status st;

    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    value = PG_GETARG_TEXT_PP(0);
    require_arg(fcinfo, 3, "bits");
    require_arg(fcinfo, 4, "canonical");
    bits = PG_GETARG_INT32(3);
    /* Checked here too, so that a bad argument fails before any key is touched. */
    if (pgkms_search_bits_validate(bits, &st) != PGKMS_OK)
        pgkms_ereport_status(&st);
    e = mac_entry(fcinfo, 5, &acting, &purpose, &purpose_len);
    c = ctx_of(e, pick_blind, "blind-index");
    set_mac_params(c, purpose, purpose_len, bits, PG_GETARG_BOOL(4) ? 1 : 0, true);
    out_len = (size_t)bits / 8;
    out = palloc(VARHDRSZ + out_len);
    if (EVP_PKEY_encrypt(c->ctx, (unsigned char *)VARDATA(out), &out_len,
                         (const unsigned char *)VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value)) <= 0)
        pgkms_ereport_ossl_audited("blind index failed", "blind_index", acting, NULL, -1);
    SET_VARSIZE(out, VARHDRSZ + out_len);
    PG_RETURN_BYTEA_P(out);
}

/* SQL: kms.pseudonym(value text, tenant text, purpose text, key text) returns text */
PG_FUNCTION_INFO_V1(pgkms_pseudonym);
Datum pgkms_pseudonym(PG_FUNCTION_ARGS)
{
    text *value, *out;
    pgkms_tenant_entry *e;
    search_ctx *c;
    const char *acting, *purpose;
    size_t purpose_len, out_len = PGKMS_PSEUDONYM_LEN;

    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    value = PG_GETARG_TEXT_PP(0);
    e = mac_entry(fcinfo, 3, &acting, &purpose, &purpose_len);
    c = ctx_of(e, pick_pseudonym, "pseudonym");
    set_mac_params(c, purpose, purpose_len, 0, 0, false);
    out = palloc(VARHDRSZ + out_len);
    if (EVP_PKEY_encrypt(c->ctx, (unsigned char *)VARDATA(out), &out_len,
                         (const unsigned char *)VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value)) <= 0)
        pgkms_ereport_ossl_audited("pseudonym failed", "pseudonym", acting, NULL, -1);
    SET_VARSIZE(out, VARHDRSZ + out_len);
    PG_RETURN_TEXT_P(out);
}
