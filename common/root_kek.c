/* SPDX-License-Identifier: Apache-2.0 */
/* Wrapping under a root secret held in this process (see root_kek.h). */
#include <string.h>
#include <openssl/rand.h>

#include "pgkms/aead.h"
#include "pgkms/format.h"
#include "pgkms/kdf.h"
#include "pgkms/root_kek.h"
#include "pgkms/secmem.h"

#define WRAP_VERSION  1
#define WRAP_OVERHEAD (1 + PGKMS_NONCE_LEN + PGKMS_TAG_LEN)

static const char ID_INFO[] = "pgkms root id v1";
static const char KEK_INFO[] = "pgkms root wrap v1";

pgkms_code pgkms_root_kek_id(OSSL_LIB_CTX *libctx, const uint8_t secret[PGKMS_ROOT_SECRET_LEN],
                             uint8_t id[PGKMS_ROOT_ID_LEN], pgkms_status *st)
{
    uint8_t mac[32];
    pgkms_code rc = pgkms_hmac_sha256(libctx, secret, PGKMS_ROOT_SECRET_LEN,
                                      (const uint8_t *)ID_INFO, sizeof(ID_INFO) - 1, mac, st);

    if (rc == PGKMS_OK)
        memcpy(id, mac, PGKMS_ROOT_ID_LEN);
    pgkms_wipe(mac, sizeof(mac));
    return rc;
}

pgkms_code pgkms_root_kek_derive(OSSL_LIB_CTX *libctx, const uint8_t secret[PGKMS_ROOT_SECRET_LEN],
                                 pgkms_root_kek *kek, uint8_t id[PGKMS_ROOT_ID_LEN],
                                 pgkms_status *st)
{
    pgkms_code rc = pgkms_root_kek_id(libctx, secret, id, st);

    if (rc == PGKMS_OK)
        rc = pgkms_hkdf_sha256(libctx, secret, PGKMS_ROOT_SECRET_LEN, (const uint8_t *)KEK_INFO,
                               sizeof(KEK_INFO) - 1, kek->key, sizeof(kek->key), st);
    if (rc != PGKMS_OK)
        pgkms_wipe(kek, sizeof(*kek));
    return rc;
}

pgkms_code pgkms_root_kek_wrap(OSSL_LIB_CTX *libctx, const pgkms_root_kek *kek, const uint8_t *aad,
                               size_t aad_len, const uint8_t *key, size_t key_len, uint8_t *out,
                               size_t *out_len, pgkms_status *st)
{
    pgkms_code rc;

    if (key_len + WRAP_OVERHEAD > PGKMS_WRAPPED_MAX)
        return pgkms_fail(st, PGKMS_E_LIMIT, "key of %zu bytes is too long to wrap", key_len);
    out[0] = WRAP_VERSION;
    if (RAND_bytes_ex(libctx, out + 1, PGKMS_NONCE_LEN, 0) <= 0)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
    rc = pgkms_gcm_seal_once(libctx, kek->key, out + 1, aad, aad_len, key, key_len,
                             out + 1 + PGKMS_NONCE_LEN, out + 1 + PGKMS_NONCE_LEN + key_len, st);
    if (rc == PGKMS_OK)
        *out_len = key_len + WRAP_OVERHEAD;
    return rc;
}

pgkms_code pgkms_root_kek_unwrap(OSSL_LIB_CTX *libctx, const pgkms_root_kek *kek,
                                 const uint8_t *aad, size_t aad_len, const uint8_t *in,
                                 size_t in_len, uint8_t *key, size_t key_len, pgkms_status *st)
{
    pgkms_code rc;

    if (in_len != key_len + WRAP_OVERHEAD || in[0] != WRAP_VERSION)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "wrapped key has %zu bytes, expected %zu", in_len,
                          key_len + WRAP_OVERHEAD);
    rc = pgkms_gcm_open_once(libctx, kek->key, in + 1, aad, aad_len, in + 1 + PGKMS_NONCE_LEN,
                             key_len, in + in_len - PGKMS_TAG_LEN, key, st);
    if (rc == PGKMS_E_AUTH_FAILED)
        rc = pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                        "wrapped tenant key does not verify under the root key");
    return rc;
}
