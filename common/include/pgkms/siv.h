/* SPDX-License-Identifier: Apache-2.0 */
/* AES-256-SIV (RFC 5297): deterministic authenticated encryption with one AAD component. */
#ifndef PGKMS_SIV_H
#define PGKMS_SIV_H

#include <stdint.h>
#include <openssl/evp.h>

#include "pgkms/status.h"

#define PGKMS_SIV_KEY_LEN 64 /* K1 (S2V, CMAC) || K2 (CTR) */
#define PGKMS_SIV_LEN     16 /* the synthetic IV, which is also the tag */

/*
 * A key kept ready for any number of messages: CMAC keyed with K1, AES-256-CTR keyed with
 * K2 and S2V's first block. Per message only the MAC is restarted and the counter set.
 */
typedef struct pgkms_siv {
    EVP_MAC_CTX *cmac;
    EVP_CIPHER_CTX *ctr;
    uint8_t d0[16]; /* CMAC(K1, 0^128) */
} pgkms_siv;

/* cmac is a fetched "CMAC", ctr a fetched "AES-256-CTR". */
pgkms_code pgkms_siv_set_key(pgkms_siv *s, EVP_MAC *cmac, const EVP_CIPHER *ctr,
                             const uint8_t key[PGKMS_SIV_KEY_LEN],
                             pgkms_status *st) PGKMS_MUST_CHECK;
/* Frees the contexts (OpenSSL cleanses their key schedules); s may be all zero. */
void pgkms_siv_cleanup(pgkms_siv *s);

/*
 * The AAD is one S2V component, aad1 || aad2 (either part may be empty); the plaintext is the
 * last. ct gets len bytes. The same key, AAD and plaintext always give the same siv and ct.
 */
pgkms_code pgkms_siv_seal(pgkms_siv *s, const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
                          size_t aad2_len, const uint8_t *pt, size_t len,
                          uint8_t siv[PGKMS_SIV_LEN], uint8_t *ct,
                          pgkms_status *st) PGKMS_MUST_CHECK;

/* Opens into pt (len bytes); on any failure pt is wiped before returning. */
pgkms_code pgkms_siv_open(pgkms_siv *s, const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
                          size_t aad2_len, const uint8_t siv[PGKMS_SIV_LEN], const uint8_t *ct,
                          size_t len, uint8_t *pt, pgkms_status *st) PGKMS_MUST_CHECK;

#endif
