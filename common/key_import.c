/* SPDX-License-Identifier: Apache-2.0 */
/* BYOK import: one-time RSA wrapping keys sealed under the root, OAEP unwrapping, check values. */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pgkms/aead.h"
#include "pgkms/format.h"
#include "pgkms/kdf.h"
#include "pgkms/key_import.h"
#include "pgkms/secmem.h"

static const char IMPORT_LABEL[] = "pgkms import v1";
static const char CHECK_LABEL[] = "pgkms material check v1";

#define LABEL_LEN    (sizeof(IMPORT_LABEL) - 1)
#define SEAL_KEY_LEN PGKMS_AES256_KEY_LEN
/* version, root id, be16 length of the wrapped sealing key */
#define HDR_FIXED    (1 + PGKMS_ROOT_ID_LEN + 2)
#define WRAP_AAD_LEN (LABEL_LEN + PGKMS_UUID_LEN)
#define SEAL_AAD_LEN (LABEL_LEN + PGKMS_UUID_LEN + PGKMS_IMPORT_TOKEN_LEN)

/* What the root binds the sealing key to: label || key id. */
static void wrap_aad(uint8_t aad[WRAP_AAD_LEN], const uint8_t key_id[PGKMS_UUID_LEN])
{
    memcpy(aad, IMPORT_LABEL, LABEL_LEN);
    memcpy(aad + LABEL_LEN, key_id, PGKMS_UUID_LEN);
}

/* What GCM binds the private key to: label || key id || token, then the sealed header. */
static void seal_aad(uint8_t aad[SEAL_AAD_LEN], const uint8_t key_id[PGKMS_UUID_LEN],
                     const uint8_t *token)
{
    wrap_aad(aad, key_id);
    memcpy(aad + WRAP_AAD_LEN, token, PGKMS_IMPORT_TOKEN_LEN);
}

void pgkms_import_params_free(pgkms_import_params *p)
{
    if (p == NULL)
        return;
    free(p->public_pem);
    free(p->sealed);
    pgkms_wipe(p->token, sizeof(p->token));
    memset(p, 0, sizeof(*p));
}

/* PEM SubjectPublicKeyInfo of pkey, copied into malloc'ed memory so callers use free(). */
static pgkms_code public_pem(EVP_PKEY *pkey, char **out, pgkms_status *st)
{
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_PUBLIC_KEY, "PEM",
                                                           "SubjectPublicKeyInfo", NULL);
    unsigned char *data = NULL;
    size_t len = 0;
    int ok = ectx != NULL && OSSL_ENCODER_to_data(ectx, &data, &len) && len > 0;

    OSSL_ENCODER_CTX_free(ectx);
    if (!ok) {
        OPENSSL_free(data);
        return pgkms_fail(st, PGKMS_E_INTERNAL, "could not encode the wrapping public key");
    }
    *out = malloc(len + 1);
    if (*out == NULL) {
        OPENSSL_free(data);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    memcpy(*out, data, len);
    (*out)[len] = '\0';
    OPENSSL_free(data);
    return PGKMS_OK;
}

/* PKCS#8 DER of pkey's private key into der (secure memory, PGKMS_IMPORT_DER_MAX bytes). */
static pgkms_code private_der(EVP_PKEY *pkey, uint8_t *der, size_t *der_len, pgkms_status *st)
{
    OSSL_ENCODER_CTX *ectx =
        OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", NULL);
    unsigned char *p = der;
    size_t left = PGKMS_IMPORT_DER_MAX;
    /* Given a buffer, OpenSSL encodes into a memory BIO it wipes, then copies into der. */
    int ok = ectx != NULL && OSSL_ENCODER_to_data(ectx, &p, &left);

    OSSL_ENCODER_CTX_free(ectx);
    if (!ok)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "could not encode the wrapping private key");
    *der_len = PGKMS_IMPORT_DER_MAX - left;
    return PGKMS_OK;
}

/* Envelope: a fresh sealing key wrapped by the root, the DER sealed under it with AES-256-GCM. */
static pgkms_code seal_private(pgkms_root *root, const uint8_t key_id[PGKMS_UUID_LEN],
                               OSSL_LIB_CTX *libctx, const uint8_t *token, const uint8_t *der,
                               size_t der_len, pgkms_import_params *out, pgkms_status *st)
{
    uint8_t *skey = pgkms_secure_alloc(SEAL_KEY_LEN);
    uint8_t waad[WRAP_AAD_LEN], saad[SEAL_AAD_LEN], wrapped[PGKMS_WRAPPED_MAX];
    size_t wlen = 0, hdr_len;
    EVP_CIPHER *gcm = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *b;
    pgkms_code rc;

    if (skey == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a sealing key");
    if (RAND_priv_bytes_ex(libctx, skey, SEAL_KEY_LEN, 256) <= 0) {
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
        goto done;
    }
    wrap_aad(waad, key_id);
    rc = root->ops->wrap(root, waad, sizeof(waad), skey, SEAL_KEY_LEN, wrapped, &wlen, st);
    if (rc != PGKMS_OK)
        goto done;
    if (wlen == 0 || wlen > PGKMS_WRAPPED_MAX) {
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "root wrapped a key into %zu bytes", wlen);
        goto done;
    }
    hdr_len = HDR_FIXED + wlen;
    out->sealed_len = hdr_len + PGKMS_NONCE_LEN + der_len + PGKMS_TAG_LEN;
    out->sealed = b = malloc(out->sealed_len);
    if (b == NULL) {
        rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
        goto done;
    }
    b[0] = PGKMS_IMPORT_SEALED_VERSION;
    memcpy(b + 1, root->id, PGKMS_ROOT_ID_LEN);
    b[1 + PGKMS_ROOT_ID_LEN] = (uint8_t)(wlen >> 8);
    b[2 + PGKMS_ROOT_ID_LEN] = (uint8_t)wlen;
    memcpy(b + HDR_FIXED, wrapped, wlen);
    if (RAND_bytes_ex(libctx, b + hdr_len, PGKMS_NONCE_LEN, 0) <= 0) {
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
        goto done;
    }
    gcm = EVP_CIPHER_fetch(libctx, "AES-256-GCM", NULL);
    ctx = EVP_CIPHER_CTX_new();
    if (gcm == NULL || ctx == NULL) {
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "AES-256-GCM is not available");
        goto done;
    }
    seal_aad(saad, key_id, token);
    rc = pgkms_gcm_set_key(ctx, gcm, 1, skey, st);
    if (rc == PGKMS_OK)
        rc = pgkms_gcm_seal(ctx, b + hdr_len, saad, sizeof(saad), b, hdr_len, der, der_len,
                            b + hdr_len + PGKMS_NONCE_LEN, b + hdr_len + PGKMS_NONCE_LEN + der_len,
                            st);
done:
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(gcm);
    pgkms_secure_free(skey, SEAL_KEY_LEN);
    return rc;
}

pgkms_code pgkms_import_params_new(pgkms_root *root, const uint8_t key_id[PGKMS_UUID_LEN],
                                   OSSL_LIB_CTX *libctx, pgkms_import_params *out, pgkms_status *st)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    EVP_PKEY *pkey;
    pgkms_code rc;

    memset(out, 0, sizeof(*out));
    if (root == NULL || key_id == NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "import parameters need a root and a key");
    pkey = EVP_PKEY_Q_keygen(libctx, NULL, "RSA", (size_t)PGKMS_IMPORT_RSA_BITS);
    if (pkey == NULL)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "could not generate an RSA-%d wrapping key",
                          PGKMS_IMPORT_RSA_BITS);
    der = pgkms_secure_alloc(PGKMS_IMPORT_DER_MAX);
    if (der == NULL)
        rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a wrapping key");
    else
        rc = public_pem(pkey, &out->public_pem, st);
    if (rc == PGKMS_OK)
        rc = private_der(pkey, der, &der_len, st);
    EVP_PKEY_free(pkey); /* OpenSSL clears the key's numbers */
    if (rc == PGKMS_OK && RAND_bytes_ex(libctx, out->token, PGKMS_IMPORT_TOKEN_LEN, 256) <= 0)
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
    if (rc == PGKMS_OK)
        rc = seal_private(root, key_id, libctx, out->token, der, der_len, out, st);
    pgkms_secure_free(der, PGKMS_IMPORT_DER_MAX);
    if (rc != PGKMS_OK)
        pgkms_import_params_free(out);
    return rc;
}

pgkms_code pgkms_import_token_hash(OSSL_LIB_CTX *libctx, const uint8_t *token, size_t token_len,
                                   uint8_t out[PGKMS_IMPORT_TOKEN_HASH_LEN], pgkms_status *st)
{
    EVP_MD *md;
    unsigned int outl = 0;
    int ok;

    if (token == NULL || token_len != PGKMS_IMPORT_TOKEN_LEN)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "an import token has %d bytes, not %zu",
                          PGKMS_IMPORT_TOKEN_LEN, token == NULL ? (size_t)0 : token_len);
    md = EVP_MD_fetch(libctx, "SHA256", NULL);
    ok = md != NULL && EVP_Digest(token, token_len, out, &outl, md, NULL) &&
         outl == PGKMS_IMPORT_TOKEN_HASH_LEN;
    EVP_MD_free(md);
    if (!ok)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "SHA-256 failed");
    return PGKMS_OK;
}

pgkms_code pgkms_import_oaep_decrypt(OSSL_LIB_CTX *libctx, EVP_PKEY *pkey, const uint8_t *encrypted,
                                     size_t encrypted_len,
                                     uint8_t material[PGKMS_IMPORT_MATERIAL_LEN], pgkms_status *st)
{
    OSSL_PARAM params[4];
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    size_t size, outlen;
    int decrypted, good;
    pgkms_code rc = PGKMS_OK;

    pgkms_wipe(material, PGKMS_IMPORT_MATERIAL_LEN);
    if (pkey == NULL || !EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_get_size(pkey) <= 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "the wrapping key is not an RSA key");
    size = (size_t)EVP_PKEY_get_size(pkey);
    if (encrypted == NULL || encrypted_len != size)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "encrypted key material must be %zu bytes (one RSA-%d block), not %zu",
                          size, EVP_PKEY_get_bits(pkey),
                          encrypted == NULL ? (size_t)0 : encrypted_len);
    buf = pgkms_secure_alloc(size);
    if (buf == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for key material");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                                 (char *)OSSL_PKEY_RSA_PAD_MODE_OAEP, 0);
    params[1] =
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, (char *)"SHA256", 0);
    params[2] =
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, (char *)"SHA256", 0);
    params[3] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_pkey(libctx, pkey, NULL);
    if (ctx == NULL || EVP_PKEY_decrypt_init_ex(ctx, params) <= 0) {
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "RSA-OAEP with SHA-256 is not available");
        goto done;
    }
    /*
     * From here on, every failure is the same code and message, and OpenSSL's errors are
     * dropped: only "decrypts to 32 bytes or not" leaves this function. A plaintext of another
     * length means the padding was valid, which only someone who encrypted it can achieve, so
     * folding it in costs nothing and keeps the answer to one bit.
     */
    ERR_set_mark();
    outlen = size;
    decrypted = EVP_PKEY_decrypt(ctx, buf, &outlen, encrypted, encrypted_len) > 0;
    ERR_pop_to_mark();
    good = decrypted & (outlen == PGKMS_IMPORT_MATERIAL_LEN);
    if (good)
        memcpy(material, buf, PGKMS_IMPORT_MATERIAL_LEN);
    else
        rc = pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                        "key material does not decrypt: it must be exactly %d bytes encrypted "
                        "with RSAES-OAEP using SHA-256 and MGF1 with SHA-256, without a label, "
                        "under the wrapping public key of this import",
                        PGKMS_IMPORT_MATERIAL_LEN);
done:
    EVP_PKEY_CTX_free(ctx);
    pgkms_secure_free(buf, size);
    return rc;
}

/* Strict parse of the sealed parameters; offsets of the wrapped key and of the nonce. */
static pgkms_code parse_sealed(const pgkms_root *root, const char *kid, const uint8_t *sealed,
                               size_t sealed_len, size_t *wlen, size_t *der_len, pgkms_status *st)
{
    char want[2 * PGKMS_ROOT_ID_LEN + 1], have[2 * PGKMS_ROOT_ID_LEN + 1];
    size_t w;

    if (sealed == NULL || sealed_len < HDR_FIXED || sealed_len > PGKMS_IMPORT_SEALED_MAX ||
        sealed[0] != PGKMS_IMPORT_SEALED_VERSION)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "import parameters of key %s are malformed", kid);
    w = ((size_t)sealed[1 + PGKMS_ROOT_ID_LEN] << 8) | sealed[2 + PGKMS_ROOT_ID_LEN];
    if (w == 0 || w > PGKMS_WRAPPED_MAX ||
        sealed_len <= HDR_FIXED + w + PGKMS_NONCE_LEN + PGKMS_TAG_LEN ||
        sealed_len - (HDR_FIXED + w + PGKMS_NONCE_LEN + PGKMS_TAG_LEN) > PGKMS_IMPORT_DER_MAX)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "import parameters of key %s are malformed", kid);
    if (memcmp(sealed + 1, root->id, PGKMS_ROOT_ID_LEN) != 0) {
        pgkms_hex_encode(sealed + 1, PGKMS_ROOT_ID_LEN, want);
        pgkms_hex_encode(root->id, PGKMS_ROOT_ID_LEN, have);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "import parameters of key %s are sealed under root key %s, but the "
                          "configured root key is %s",
                          kid, want, have);
    }
    *wlen = w;
    *der_len = sealed_len - (HDR_FIXED + w + PGKMS_NONCE_LEN + PGKMS_TAG_LEN);
    return PGKMS_OK;
}

/* Unwraps the sealing key and opens the DER into der (secure memory of *der_len bytes). */
static pgkms_code open_private(pgkms_root *root, const uint8_t key_id[PGKMS_UUID_LEN],
                               OSSL_LIB_CTX *libctx, const char *kid, const uint8_t *token,
                               const uint8_t *sealed, size_t wlen, size_t der_len, uint8_t *der,
                               pgkms_status *st)
{
    uint8_t *skey = pgkms_secure_alloc(SEAL_KEY_LEN);
    uint8_t waad[WRAP_AAD_LEN], saad[SEAL_AAD_LEN];
    size_t hdr_len = HDR_FIXED + wlen;
    EVP_CIPHER *gcm = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    pgkms_code rc;

    if (skey == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a sealing key");
    wrap_aad(waad, key_id);
    rc = root->ops->unwrap(root, waad, sizeof(waad), sealed + HDR_FIXED, wlen, skey, SEAL_KEY_LEN,
                           st);
    if (rc == PGKMS_E_AUTH_FAILED || rc == PGKMS_E_BAD_FORMAT) {
        rc = pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                        "import parameters do not unwrap for key %s: they belong to another key "
                        "or were modified",
                        kid);
        goto done;
    }
    if (rc != PGKMS_OK)
        goto done;
    gcm = EVP_CIPHER_fetch(libctx, "AES-256-GCM", NULL);
    ctx = EVP_CIPHER_CTX_new();
    if (gcm == NULL || ctx == NULL) {
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "AES-256-GCM is not available");
        goto done;
    }
    seal_aad(saad, key_id, token);
    rc = pgkms_gcm_set_key(ctx, gcm, 0, skey, st);
    if (rc == PGKMS_OK)
        rc = pgkms_gcm_open(ctx, sealed + hdr_len, saad, sizeof(saad), sealed, hdr_len,
                            sealed + hdr_len + PGKMS_NONCE_LEN, der_len,
                            sealed + hdr_len + PGKMS_NONCE_LEN + der_len, der, st);
    if (rc == PGKMS_E_AUTH_FAILED)
        rc = pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                        "import token does not match the import parameters of key %s, or they "
                        "were modified",
                        kid);
done:
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(gcm);
    pgkms_secure_free(skey, SEAL_KEY_LEN);
    return rc;
}

static pgkms_code decode_private(OSSL_LIB_CTX *libctx, const uint8_t *der, size_t der_len,
                                 EVP_PKEY **pkey, pgkms_status *st)
{
    OSSL_DECODER_CTX *dctx;
    const unsigned char *p = der;
    size_t left = der_len;
    int ok;

    *pkey = NULL;
    /* Decoders may queue errors of the candidates they tried even on success. */
    ERR_set_mark();
    dctx = OSSL_DECODER_CTX_new_for_pkey(pkey, "DER", "PrivateKeyInfo", "RSA", EVP_PKEY_KEYPAIR,
                                         libctx, NULL);
    ok = dctx != NULL && OSSL_DECODER_from_data(dctx, &p, &left) && *pkey != NULL && left == 0;
    OSSL_DECODER_CTX_free(dctx);
    ERR_pop_to_mark();
    if (!ok) {
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
        return pgkms_fail(st, PGKMS_E_INTERNAL, "the sealed wrapping key does not decode");
    }
    return PGKMS_OK;
}

pgkms_code pgkms_import_unwrap_material(pgkms_root *root, const uint8_t key_id[PGKMS_UUID_LEN],
                                        OSSL_LIB_CTX *libctx, const uint8_t *token,
                                        size_t token_len, const uint8_t *sealed, size_t sealed_len,
                                        const uint8_t *encrypted, size_t encrypted_len,
                                        uint8_t material[PGKMS_IMPORT_MATERIAL_LEN],
                                        pgkms_status *st)
{
    char kid[PGKMS_UUID_STR_LEN + 1];
    size_t wlen = 0, der_len = 0;
    EVP_PKEY *pkey = NULL;
    uint8_t *der;
    pgkms_code rc;

    pgkms_wipe(material, PGKMS_IMPORT_MATERIAL_LEN);
    if (root == NULL || key_id == NULL)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "importing needs a root and a key");
    if (token == NULL || token_len != PGKMS_IMPORT_TOKEN_LEN)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "an import token has %d bytes, not %zu",
                          PGKMS_IMPORT_TOKEN_LEN, token == NULL ? (size_t)0 : token_len);
    pgkms_uuid_format(key_id, kid);
    rc = parse_sealed(root, kid, sealed, sealed_len, &wlen, &der_len, st);
    if (rc != PGKMS_OK)
        return rc;
    der = pgkms_secure_alloc(der_len);
    if (der == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a wrapping key");
    rc = open_private(root, key_id, libctx, kid, token, sealed, wlen, der_len, der, st);
    if (rc == PGKMS_OK)
        rc = decode_private(libctx, der, der_len, &pkey, st);
    pgkms_secure_free(der, der_len);
    if (rc == PGKMS_OK)
        rc = pgkms_import_oaep_decrypt(libctx, pkey, encrypted, encrypted_len, material, st);
    EVP_PKEY_free(pkey);
    return rc;
}

pgkms_code pgkms_material_check(OSSL_LIB_CTX *libctx,
                                const uint8_t material[PGKMS_IMPORT_MATERIAL_LEN],
                                const uint8_t key_id[PGKMS_UUID_LEN],
                                uint8_t out[PGKMS_IMPORT_CHECK_LEN], pgkms_status *st)
{
    uint8_t msg[sizeof(CHECK_LABEL) - 1 + PGKMS_UUID_LEN];

    memcpy(msg, CHECK_LABEL, sizeof(CHECK_LABEL) - 1);
    memcpy(msg + sizeof(CHECK_LABEL) - 1, key_id, PGKMS_UUID_LEN);
    return pgkms_hmac_sha256(libctx, material, PGKMS_IMPORT_MATERIAL_LEN, msg, sizeof(msg), out,
                             st);
}
