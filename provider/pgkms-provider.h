/* SPDX-License-Identifier: Apache-2.0 */
/* Provider-internal types: the provider context, the key object, error raising. */
#ifndef PGKMS_PROVIDER_H
#define PGKMS_PROVIDER_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/provider.h>

#include "pgkms/envelope.h"
#include "pgkms/keyset.h"
#include "pgkms-params.h"

typedef struct pgkms_prov_ctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx; /* child of the core's: sees the providers the application loaded */
    OSSL_FUNC_core_new_error_fn *new_error;
    OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
    OSSL_FUNC_core_vset_error_fn *vset_error;
    CRYPTO_RWLOCK *lock; /* guards crypto */
    int crypto_ready;
    pgkms_crypto crypto;     /* fetched on first use: the default provider may load after us */
    char *root_key;          /* configuration, environment first */
    char *root_key_previous; /* during a root rotation; NULL otherwise */
    char *keyring;
    int cache_ttl;
    /* A configuration mistake, reported by every operation: OpenSSL drops errors from init. */
    char config_error[PGKMS_DETAIL_MAX];
} pgkms_prov_ctx;

/* A tenant's keys as an EVP_PKEY sees them. Reference-counted: the store and EVP_PKEYs share. */
typedef struct pgkms_prov_key {
    pgkms_prov_ctx *provctx;
    CRYPTO_RWLOCK *lock; /* guards ks: OpenSSL may use one key from several threads */
    int refcnt;
    int loaded;
    pgkms_keyset ks;
    uint32_t pinned_version; /* from a URI's ;version=, 0 if none */
    /* References of other tenants' keys in the same keyring: "denied", not "not found". */
    size_t nforeign;
    uint8_t (*foreign)[PGKMS_KEY_REF_LEN];
} pgkms_prov_key;

/* Raises st as an OpenSSL error of this provider (reason = pgkms_code). */
void pgkms_prov_raise(const pgkms_prov_ctx *ctx, const pgkms_status *st) PGKMS_COLD;
void pgkms_prov_raise_code(const pgkms_prov_ctx *ctx, pgkms_code code, const char *fmt, ...)
    PGKMS_PRINTF(3, 4) PGKMS_COLD;
const pgkms_crypto *pgkms_prov_crypto(pgkms_prov_ctx *ctx, pgkms_status *st);
/* 1 if the configuration is usable; otherwise raises its error and returns 0. */
int pgkms_prov_config_ok(const pgkms_prov_ctx *ctx);
OSSL_provider_init_fn pgkms_provider_init;

pgkms_prov_key *pgkms_prov_key_new(pgkms_prov_ctx *ctx);
void pgkms_prov_key_free(pgkms_prov_key *key);
int pgkms_prov_key_up_ref(pgkms_prov_key *key);
/* Loads a tenant's keys from a keyring (JSON text or file) and the root. */
/* previous_uri (may be NULL): the old root during a root rotation. */
pgkms_code pgkms_prov_key_load(pgkms_prov_key *key, const char *tenant, pgkms_keyring *keyring,
                               const char *select, const char *root_uri, const char *previous_uri,
                               unsigned root_flags, int ttl, pgkms_status *st);

extern const OSSL_DISPATCH pgkms_pgkms_keymgmt_functions[];
extern const OSSL_DISPATCH pgkms_pgkms_asym_cipher_functions[];
extern const OSSL_DISPATCH pgkms_kms_store_functions[];
extern const OSSL_DISPATCH pgkms_pgkms_text_encoder_functions[];

#endif
