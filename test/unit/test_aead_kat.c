/* SPDX-License-Identifier: Apache-2.0 */
/* AES-256-GCM known answers (NIST CAVP, Wycheproof) through common/aead.c, and for the values
 * common/gcm_batch.c serves, sealing from a nonce batch and opening with an opener. */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "pgkms/aead.h"
#include "pgkms/gcm_batch.h"
#include "harness.h"

/* Seals pt with nonce iv from a batch, the AAD split in two parts; 1 when ct and tag match. */
static int batch_seals(const EVP_CIPHER *ecb, const uint8_t *key, const uint8_t *iv,
                       const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen,
                       const uint8_t *ct, const uint8_t *tag)
{
    uint8_t out[PGKMS_GCM_BATCH_MAX], t[16];
    pgkms_gcm_batch *b;
    int ok;

    if (pgkms_gcm_batch_new(&b, ecb, key, NULL) != PGKMS_OK)
        return 0;
    ok = pgkms_gcm_batch_fill(b, iv, 1, NULL) == PGKMS_OK;
    if (ok) {
        pgkms_gcm_batch_seal(b, 0, aad, aadlen / 2, aad + aadlen / 2, aadlen - aadlen / 2, pt,
                             ptlen, out, t);
        ok = memcmp(out, ct, ptlen) == 0 && memcmp(t, tag, 16) == 0;
    }
    pgkms_gcm_batch_free(b);
    return ok;
}

/*
 * Opens ct with an opener, the AAD split in two parts: 1 when a valid vector gives pt, or an
 * invalid one is refused with nothing written.
 */
static int opener_opens(const EVP_CIPHER *ecb, const uint8_t *key, const uint8_t *iv,
                        const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen,
                        const uint8_t *tag, const uint8_t *pt, int valid)
{
    uint8_t out[PGKMS_GCM_BATCH_MAX], untouched[PGKMS_GCM_BATCH_MAX];
    pgkms_gcm_opener *o;
    pgkms_code rc;

    if (pgkms_gcm_opener_new(&o, ecb, key, NULL) != PGKMS_OK)
        return 0;
    memset(out, 0x5a, sizeof(out));
    memcpy(untouched, out, sizeof(out));
    rc = pgkms_gcm_opener_open(o, iv, aad, aadlen / 2, aad + aadlen / 2, aadlen - aadlen / 2, ct,
                               ctlen, tag, out);
    pgkms_gcm_opener_free(o);
    if (valid)
        return rc == PGKMS_OK && memcmp(out, pt, ctlen) == 0;
    return rc == PGKMS_E_AUTH_FAILED && memcmp(out, untouched, sizeof(out)) == 0;
}

static int run_file(const char *name, int *valid, int *invalid, int *batched)
{
    char path[512], line[1 << 16], buf[1 << 15];
    FILE *f;
    EVP_CIPHER *gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    EVP_CIPHER *ecb = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s", t_vectors_dir, name);
    f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        size_t klen, ivlen, aadlen, ptlen, ctlen, taglen;
        uint8_t *key, *iv, *aad, *pt, *ct, *tag, *out;
        int expect_valid;
        pgkms_code rc;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        key = t_hex_field(line, "key", &klen);
        iv = t_hex_field(line, "iv", &ivlen);
        aad = t_hex_field(line, "aad", &aadlen);
        pt = t_hex_field(line, "pt", &ptlen);
        ct = t_hex_field(line, "ct", &ctlen);
        tag = t_hex_field(line, "tag", &taglen);
        expect_valid = strcmp(t_field(line, "result", buf, sizeof(buf)), "valid") == 0;
        CHECK_MSG(key && iv && aad && pt && ct && tag && klen == 32 && ivlen == 12 && taglen == 16,
                  "malformed vector: %.80s", line);
        if (!(key && iv && aad && pt && ct && tag))
            continue;
        if (pgkms_gcm_batch_supported() && ctlen <= PGKMS_GCM_BATCH_MAX) {
            CHECK_MSG(opener_opens(ecb, key, iv, aad, aadlen, ct, ctlen, tag, pt, expect_valid),
                      "opener %s", t_field(line, "id", buf, sizeof(buf)));
            (*batched)++;
        }
        out = malloc(ctlen + ptlen + 1);
        rc = pgkms_gcm_set_key(ctx, gcm, 0, key, NULL);
        CHECK(rc == PGKMS_OK);
        rc = pgkms_gcm_open(ctx, iv, aad, aadlen, NULL, 0, ct, ctlen, tag, out, NULL);
        if (expect_valid) {
            CHECK_MSG(rc == PGKMS_OK && ctlen == ptlen && memcmp(out, pt, ptlen) == 0, "open %s",
                      t_field(line, "id", buf, sizeof(buf)));
            /* Sealing the plaintext must give the same ciphertext and tag. */
            uint8_t t2[16];

            CHECK(pgkms_gcm_set_key(ctx, gcm, 1, key, NULL) == PGKMS_OK);
            CHECK(pgkms_gcm_seal(ctx, iv, aad, aadlen, NULL, 0, pt, ptlen, out, t2, NULL) ==
                  PGKMS_OK);
            CHECK_MSG(memcmp(out, ct, ctlen) == 0 && memcmp(t2, tag, 16) == 0, "seal %s",
                      t_field(line, "id", buf, sizeof(buf)));
            if (pgkms_gcm_batch_supported() && ptlen <= PGKMS_GCM_BATCH_MAX)
                CHECK_MSG(batch_seals(ecb, key, iv, aad, aadlen, pt, ptlen, ct, tag),
                          "batch seal %s", t_field(line, "id", buf, sizeof(buf)));
            (*valid)++;
        } else {
            int zero = 1;

            for (size_t i = 0; i < ctlen; i++)
                zero &= out[i] == 0;
            CHECK_MSG(rc == PGKMS_E_AUTH_FAILED && zero, "invalid vector accepted: %s",
                      t_field(line, "id", buf, sizeof(buf)));
            (*invalid)++;
        }
        n++;
        free(key), free(iv), free(aad), free(pt), free(ct), free(tag), free(out);
    }
    if (f != NULL)
        fclose(f);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(gcm);
    EVP_CIPHER_free(ecb);
    return n;
}

void test_aead_kat(void)
{
    int valid = 0, invalid = 0, batched = 0;
    int nist = run_file("aes256gcm_nist.txt", &valid, &invalid, &batched);
    int wp = run_file("aes256gcm_wycheproof.txt", &valid, &invalid, &batched);

    CHECK_MSG(nist >= 10 && wp >= 50, "too few vectors: nist %d wycheproof %d", nist, wp);
    CHECK(valid > 0 && invalid > 0);
    CHECK(batched > 0 || !pgkms_gcm_batch_supported());
    fprintf(stderr,
            "  aead: %d NIST + %d Wycheproof vectors (%d valid, %d invalid; %d of up to 64 bytes "
            "also opened by an opener, the valid ones also sealed from a nonce batch)\n",
            nist, wp, valid, invalid, batched);
}
