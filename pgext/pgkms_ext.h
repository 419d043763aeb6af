/* SPDX-License-Identifier: Apache-2.0 */
/* Extension-internal API: GUCs, the per-backend key cache, error translation. */
#ifndef PGKMS_EXT_H
#define PGKMS_EXT_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"

#include <openssl/evp.h>

#include "pgkms/format.h"
#include "pgkms/keyring_file.h"

/* GUCs (pgkms.c). */
extern char *pgkms_guc_tenant;
extern char *pgkms_guc_root_key;
extern char *pgkms_guc_root_key_previous;
extern int pgkms_guc_key_cache_ttl;

/* One tenant's keys as loaded into the provider, with contexts reused for every value. */
#define PGKMS_KEY_NAME_MAX 128 /* alias or UUID text */

typedef struct pgkms_tenant_entry {
    char id[PGKMS_TENANT_MAX + PGKMS_KEY_NAME_MAX + 2]; /* hash key: "tenant" or "tenant;key" */
    char tenant[PGKMS_TENANT_MAX + 1];
    char key[PGKMS_KEY_NAME_MAX + 1]; /* key that encrypts; empty: the tenant's default */
    EVP_PKEY *pkey;                   /* NULL until loaded */
    EVP_PKEY_CTX *enc;
    EVP_PKEY_CTX *dec;
    /* Context last set on enc/dec, so unchanged contexts cost nothing per row. */
    int enc_ctx_set, dec_ctx_set;
    size_t enc_ctx_len, dec_ctx_len;
    char *enc_ctx, *dec_ctx;          /* malloc'ed copies */
    struct pgkms_search_ctxs *search; /* pgkms_search.c: made on first use */
} pgkms_tenant_entry;

/* pgkms.c */
/* Encrypts (data, len) as tenant acting, under key (alias or id; NULL: default key). */
bytea *pgkms_seal(const char *acting, const char *key, const char *ctx, size_t ctx_len,
                  const char *data, size_t len);
/*
 * Encrypts as kms.tenant with its default key (pgkms_seal(pgkms_session_tenant(), NULL, ...)),
 * memoizing the resolution per role. tenant_argno: the SQL argument that would have named a
 * tenant (for the hint when kms.tenant is unset), or -1.
 */
bytea *pgkms_seal_as_session(int tenant_argno, const char *ctx, size_t ctx_len, const char *data,
                             size_t len);
/* pgkms_search.c: deterministic encryption as tenant acting, default key, no context. */
bytea *pgkms_seal_det(const char *acting, const char *data, size_t len);
/* kms.tenant, checked against the current role (errors if unset or not allowed). */
const char *pgkms_session_tenant(void);

/* pgkms_cache.c */
/* The tenant's keys with `key` (alias or id; NULL: the default key) selected to encrypt. */
pgkms_tenant_entry *pgkms_cache_tenant(const char *tenant, const char *key, bool create_default);
/* Adds version `version` (fresh material) to existing key key_id and makes it current. */
void pgkms_cache_rotate_key(const char *tenant, const uint8_t key_id[PGKMS_UUID_LEN],
                            uint32_t version, const char *keyring_uri);
/* Creates a tenant key through the provider and stores it; returns its id. */
/* keyring_uri: the tenant's own keyring that protects the key (HYOK); NULL: the root. */
void pgkms_cache_create_key(const char *tenant, const char *alias, const char *description,
                            bool is_default, const char *keyring_uri,
                            uint8_t key_id[PGKMS_UUID_LEN]);
/* Tenant owning a key reference; NULL if no such key. */
pgkms_tenant_entry *pgkms_cache_tenant_of_ref(const uint8_t ref[PGKMS_KEY_REF_LEN]);
/* Tenant owning the key with id `key` (its reference in ref); NULL for an alias or none. */
const char *pgkms_cache_key_owner(const char *key, uint8_t ref[PGKMS_KEY_REF_LEN]);
/* After pgkms_cache_tenant_of_ref(ref) succeeded: the key's id and current version. */
bool pgkms_cache_key_of_ref(const uint8_t ref[PGKMS_KEY_REF_LEN],
                            char key_id[PGKMS_UUID_STR_LEN + 1], uint32_t *current_version);
void pgkms_cache_flush_if_stale(void);
void pgkms_cache_mark_stale(void);
/*
 * Bumped whenever what kms.tenant resolves to may change: a cache flush, an ACL invalidation,
 * an assignment of kms.tenant. Staleness reaches it through the flush: compare it only after
 * pgkms_cache_flush_if_stale().
 */
extern uint64 pgkms_resolve_epoch;
int pgkms_set_context(EVP_PKEY_CTX *ctx, int *is_set, char **cur, size_t *cur_len,
                      const char *context, size_t context_len);

/* pgkms_search.c: frees the entry's searchable encryption contexts. */
void pgkms_search_free_entry(pgkms_tenant_entry *e);

/* pgkms.c: arguments of SQL entry points, for the other files' entry points. */
/* The tenant to act as: argument argno if given, else kms.tenant; the role must be allowed. */
const char *pgkms_acting_tenant_arg(FunctionCallInfo fcinfo, int argno);
/* Argument argno as a context (NULL/0 when absent or NULL). */
void pgkms_context_arg(FunctionCallInfo fcinfo, int argno, const char **ctx, size_t *len);
/* Argument argno as a C string (NULL when absent or NULL). */
const char *pgkms_text_arg(FunctionCallInfo fcinfo, int argno);

/* pgkms_keys.c: SPI as the owner of schema kms (callers need no rights on its tables). */
typedef struct pgkms_spi_owner {
    Oid save_user;
    int save_sec;
} pgkms_spi_owner;
void pgkms_spi_as_owner(pgkms_spi_owner *o); /* switches user and connects SPI */
void pgkms_spi_as_caller(pgkms_spi_owner *o);

/* pgkms_keys.c: tenant key records in kms tables (wrapped material only). */
/* *expiry: the earliest valid_to ahead among the tenant's keys, or 0. */
void pgkms_keys_load(const char *tenant, pgkms_keyring *out, TimestampTz *expiry);
const char *pgkms_keys_tenant_of_ref(const uint8_t ref[PGKMS_KEY_REF_LEN]);
bool pgkms_keys_insert(const pgkms_key_record *rec, const char *description);
/* A key for imported material (origin external, PendingImport, no versions yet). */
void pgkms_keys_insert_external(const char *tenant, const char *alias, const char *description,
                                uint8_t key_id[PGKMS_UUID_LEN]);
/* Locks a key's row for a state or version change; false if there is no such key. */
bool pgkms_keys_lock(const char *key_id, char **tenant, uint32_t *current, char **state,
                     char **origin, char **keyring_uri);
/* Stores rec's (new) version and makes it the key's current version. */
void pgkms_keys_add_version(const pgkms_key_record *rec);
void pgkms_keys_load_all(pgkms_keyring *out);
char *pgkms_root_uri(bool *is_default);

/* Operations a grant allows (bits of pgkms_grant_rule.ops), as named in kms._grants. */
typedef enum pgkms_grant_op {
    PGKMS_OP_ENCRYPT = 1u << 0,
    PGKMS_OP_DECRYPT = 1u << 1,
    PGKMS_OP_REENCRYPT = 1u << 2,
    PGKMS_OP_DESCRIBE = 1u << 3,
} pgkms_grant_op;

typedef struct pgkms_grant_rule {
    uint32 ops;
    char *context;        /* NULL: any; else the call's context must equal it */
    char *context_prefix; /* NULL: any; else the call's context must start with it */
} pgkms_grant_rule;

/* The grants of the key with reference ref to grantee, allocated in cxt; returns how many. */
int pgkms_keys_grants(const uint8_t ref[PGKMS_KEY_REF_LEN], const char *grantee, MemoryContext cxt,
                      pgkms_grant_rule **rules);

/* pgkms_grants.c: grants checked per call from a per-backend cache. */
/* 42501 (and an audit record) unless a grant lets grantee do op on the key with this context. */
void pgkms_grants_require(const uint8_t ref[PGKMS_KEY_REF_LEN], const char *owner,
                          const char *grantee, pgkms_grant_op op, const char *context,
                          size_t context_len);
void pgkms_grants_reset(void);

/* pgkms_audit.c: kms.audit_log (docs/audit.md). */
void pgkms_audit_init(void);
/* An administrative operation that succeeded, written in the current transaction. */
void pgkms_audit_ok(const char *op, const char *tenant, const char *key_id, int64 version,
                    const char *detail);
/* Records a refused operation on key_id (text, or NULL) and raises it with sqlstate. */
void pgkms_refuse(const char *op, const char *tenant, const char *key_id, int sqlstate,
                  const char *message) pg_attribute_noreturn();
/* A refusal: kept even if the transaction rolls back. ref/version may be NULL/-1. */
void pgkms_audit_refusal(const char *op, const char *tenant, const uint8_t *ref, int64 version,
                         const char *detail);

/* pgkms_acl.c: tenants a role may act as. */
void pgkms_acl_invalidate(void);
bool pgkms_acl_allows(const char *tenant); /* for the current user */
bool pgkms_acl_role_allows(Oid role, const char *tenant);
void pgkms_acl_check(const char *tenant); /* 42501 (audited) unless allowed */
void pgkms_acl_role_check(Oid role, const char *tenant);
/* Whether the current role sees tenant's data in plaintext (else only masked: kms.reveal). */
bool pgkms_acl_may_reveal(const char *tenant);
/* pgkms_keys.c: the tenants of role_name in kms.<table> (role_tenants or reveal_grants), as a
 * malloc'ed array of malloc'ed strings; and whether role_name is in kms.masked_roles. */
char **pgkms_keys_role_tenants(const char *table, const char *role_name, int *n);
bool pgkms_keys_role_masked(const char *role_name);

/* pgkms_ossl.c: the provider in a private library context. */
OSSL_LIB_CTX *pgkms_libctx(void);
/* Raises the pending provider error (or code/detail) as an ereport(ERROR) with our SQLSTATE. */
void pgkms_ereport_ossl(const char *what) pg_attribute_noreturn() PGKMS_COLD;
/* The same, and a refusal (key state, denial, failed authentication) goes to the audit log. */
void pgkms_ereport_ossl_audited(const char *what, const char *op, const char *tenant,
                                const uint8_t *ref, int64 version)
    pg_attribute_noreturn() PGKMS_COLD;
void pgkms_ereport_status(const pgkms_status *st) pg_attribute_noreturn() PGKMS_COLD;
int pgkms_sqlstate(pgkms_code code);

#endif
