/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Roots of trust: what wraps tenant keys. One small vtable, one file per backend, a registry
 * keyed by URI scheme (root_registry.c). Plaintext root material never leaves the backend.
 */
#ifndef PGKMS_ROOT_H
#define PGKMS_ROOT_H

#include <stdint.h>
#include <openssl/types.h>

#include "pgkms/status.h"

#define PGKMS_ROOT_ID_LEN 8
#define PGKMS_WRAPPED_MAX 512 /* longest wrapped key any backend produces */
#define PGKMS_ROOT_CREATE 0x1 /* file root: create a new random key if the file is missing */

typedef struct pgkms_root pgkms_root;

typedef struct pgkms_root_ops {
    const char *kind; /* recorded with every tenant key version: "file", "pkcs11", "barbican" */
    pgkms_code (*wrap)(pgkms_root *root, const uint8_t *aad, size_t aad_len, const uint8_t *key,
                       size_t key_len, uint8_t *out, size_t *out_len, pgkms_status *st);
    pgkms_code (*unwrap)(pgkms_root *root, const uint8_t *aad, size_t aad_len, const uint8_t *in,
                         size_t in_len, uint8_t *key, size_t key_len, pgkms_status *st);
    /* Checks the root again (re-reads a file, re-fetches a secret, re-authenticates to a KMS);
     * may be NULL. Called before every unwrap through this root, so a revoked root ends its
     * tenant keys within the TTL. */
    pgkms_code (*refresh)(pgkms_root *root, pgkms_status *st);
    void (*close)(pgkms_root *root);
} pgkms_root_ops;

struct pgkms_root {
    const pgkms_root_ops *ops;
    OSSL_LIB_CTX *libctx;
    char *uri;                     /* as configured; no secrets in it */
    uint8_t id[PGKMS_ROOT_ID_LEN]; /* fingerprint: tells which root wrapped a key */
    int created;                   /* set when open created a new key (file root) */
    void *state;
};

/* Opens the root named by uri ("file:/path", an absolute path, "pkcs11:...", "kmip://...",
 * "vault+https://...", "awskms://...", "barbican+https://..."). */
pgkms_code pgkms_root_open(OSSL_LIB_CTX *libctx, const char *uri, unsigned flags, pgkms_root **out,
                           pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_root_close(pgkms_root *root);

/* Backends. */
pgkms_code pgkms_root_file_open(pgkms_root *root, const char *path, unsigned flags,
                                pgkms_status *st) PGKMS_MUST_CHECK;
/* RFC 7512 URI of an AES-256 key in a PKCS#11 token (docs/keyrings.md); parses root->uri. */
pgkms_code pgkms_root_pkcs11_open(pgkms_root *root, const char *rest, unsigned flags,
                                  pgkms_status *st) PGKMS_MUST_CHECK;
/* rest is what follows "kmip://" (docs/keyrings-kmip.md). */
pgkms_code pgkms_root_kmip_open(pgkms_root *root, const char *rest, unsigned flags,
                                pgkms_status *st) PGKMS_MUST_CHECK;
/* uri without its "barbican+" prefix (root_barbican.h, docs/keyrings-barbican.md). */
pgkms_code pgkms_root_barbican_open(pgkms_root *root, const char *uri, unsigned flags,
                                    pgkms_status *st) PGKMS_MUST_CHECK;

#endif
