/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider through EVP, in this process, as a C program or the extension uses it: one
 * EVP_PKEY_CTX sealing value after value. While the key's material is fresh the provider
 * seals without taking the key's lock (pgkms-asymcipher.c); these checks hold it to the
 * bounds of the key cache. When the root disappears, encryption goes on from the cache
 * for at least half the TTL and stops within the TTL. Once refused, it stays refused
 * until the root returns. Every value sealed on the way opens. With a TTL of 0 nothing is
 * cached, so the first value after the root goes is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "harness.h"
#include "../../provider/pgkms-provider.h"

#define MAX_VALUES 500 /* the last three hold the values sealed before the root goes */
#define VALUE_LEN  11

static double seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A new tenant key under the file root at root_uri (created), loaded with cache TTL ttl. */
static EVP_PKEY *new_tenant_key(OSSL_LIB_CTX *lib, const char *root_uri, int ttl)
{
    EVP_PKEY_CTX *gen = EVP_PKEY_CTX_new_from_name(lib, PGKMS_KEY_TYPE, NULL), *from = NULL;
    EVP_PKEY *made = NULL, *key = NULL;
    int create = 1;
    char json[16384];
    size_t json_len = 0;
    OSSL_PARAM gen_params[] = {
        OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_TENANT, (char *)"acme", 0),
        OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_ROOT_KEY, (char *)root_uri, 0),
        OSSL_PARAM_construct_int(PGKMS_PARAM_CACHE_TTL, &ttl),
        OSSL_PARAM_construct_int(PGKMS_PARAM_ROOT_CREATE, &create),
        OSSL_PARAM_construct_end(),
    };
    OSSL_PARAM load_params[5];

    if (gen == NULL || EVP_PKEY_keygen_init(gen) <= 0 ||
        EVP_PKEY_CTX_set_params(gen, gen_params) <= 0 || EVP_PKEY_generate(gen, &made) <= 0 ||
        !EVP_PKEY_get_utf8_string_param(made, PGKMS_PARAM_KEYRING, json, sizeof(json), &json_len))
        goto done;
    /* The record generated, loaded as a keyring holding it. */
    load_params[0] = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_TENANT, (char *)"acme", 0);
    load_params[1] = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_KEYRING, json, json_len);
    load_params[2] = OSSL_PARAM_construct_utf8_string(PGKMS_PARAM_ROOT_KEY, (char *)root_uri, 0);
    load_params[3] = OSSL_PARAM_construct_int(PGKMS_PARAM_CACHE_TTL, &ttl);
    load_params[4] = OSSL_PARAM_construct_end();
    if ((from = EVP_PKEY_CTX_new_from_name(lib, PGKMS_KEY_TYPE, NULL)) == NULL ||
        EVP_PKEY_fromdata_init(from) <= 0 ||
        EVP_PKEY_fromdata(from, &key, EVP_PKEY_KEYPAIR, load_params) <= 0)
        key = NULL;
done:
    EVP_PKEY_CTX_free(from);
    EVP_PKEY_free(made);
    EVP_PKEY_CTX_free(gen);
    return key;
}

/* Value i: an 11-digit phone number. */
static void plaintext(int i, char pt[VALUE_LEN + 1])
{
    snprintf(pt, VALUE_LEN + 1, "138%08u", (unsigned)i % 100000000u);
}

static int seal(EVP_PKEY_CTX *enc, int i, uint8_t out[VALUE_LEN + PGKMS_OVERHEAD])
{
    char pt[VALUE_LEN + 1];
    size_t out_len = VALUE_LEN + PGKMS_OVERHEAD;

    plaintext(i, pt);
    ERR_clear_error();
    return EVP_PKEY_encrypt(enc, out, &out_len, (const uint8_t *)pt, VALUE_LEN) > 0 &&
           out_len == VALUE_LEN + PGKMS_OVERHEAD;
}

static int opens(OSSL_LIB_CTX *lib, EVP_PKEY *key, int i, const uint8_t *value)
{
    EVP_PKEY_CTX *dec = EVP_PKEY_CTX_new_from_pkey(lib, key, NULL);
    char want[VALUE_LEN + 1];
    uint8_t pt[VALUE_LEN + PGKMS_OVERHEAD];
    size_t pt_len = sizeof(pt);
    int ok;

    plaintext(i, want);
    ok = dec != NULL && EVP_PKEY_decrypt_init(dec) > 0 &&
         EVP_PKEY_decrypt(dec, pt, &pt_len, value, VALUE_LEN + PGKMS_OVERHEAD) > 0 &&
         pt_len == VALUE_LEN && memcmp(pt, want, VALUE_LEN) == 0;
    EVP_PKEY_CTX_free(dec);
    return ok;
}

/* Seals until the root's absence is noticed; returns how many values were sealed. */
static int seal_until_refused(EVP_PKEY_CTX *enc, uint8_t (*values)[VALUE_LEN + PGKMS_OVERHEAD],
                              double *refused_after)
{
    double start = seconds_now();
    int n = 0;

    *refused_after = -1;
    while (n < MAX_VALUES - 4 && seconds_now() - start < 6) {
        if (!seal(enc, n, values[n])) {
            *refused_after = seconds_now() - start;
            return n;
        }
        n++;
        usleep(15000);
    }
    return n;
}

static void check_ttl(OSSL_LIB_CTX *lib, const char *dir, int ttl)
{
    char root[256], gone[512], uri[512];
    uint8_t(*values)[VALUE_LEN + PGKMS_OVERHEAD] = calloc(MAX_VALUES, sizeof(*values));
    uint8_t scratch[VALUE_LEN + PGKMS_OVERHEAD];
    EVP_PKEY *key;
    EVP_PKEY_CTX *enc = NULL;
    double refused_after;
    int n, sealed_again;

    snprintf(root, sizeof(root), "%s/root-%d.key", dir, ttl);
    snprintf(gone, sizeof(gone), "%s.gone", root);
    snprintf(uri, sizeof(uri), "file:%s", root);
    key = new_tenant_key(lib, uri, ttl);
    CHECK_MSG(key != NULL, "no key with TTL %d", ttl);
    if (key == NULL || values == NULL)
        goto done;
    enc = EVP_PKEY_CTX_new_from_pkey(lib, key, NULL);
    CHECK(enc != NULL && EVP_PKEY_encrypt_init(enc) > 0);
    /* The first values: unwrap through the root, then from the cache. */
    for (int i = 0; i < 3; i++)
        CHECK(seal(enc, MAX_VALUES - 1 - i, values[MAX_VALUES - 1 - i]));

    CHECK(rename(root, gone) == 0);
    n = seal_until_refused(enc, values, &refused_after);
    CHECK_MSG(refused_after >= 0, "TTL %d: %d values sealed in 6 s without the root", ttl, n);
    if (ttl == 0) {
        CHECK_MSG(n == 0, "TTL 0: %d values sealed without the root", n);
    } else {
        /*
         * The cache works in whole seconds of a coarse clock: the material was loaded less
         * than 1 s before the root went, and is kept until the TTL has passed.
         */
        CHECK_MSG(n > 0 && refused_after >= ttl - 1.05 && refused_after <= ttl + 1,
                  "TTL %d: refused after %.2f s", ttl, refused_after);
    }
    sealed_again = seal(enc, 0, scratch);
    CHECK_MSG(!sealed_again, "TTL %d: sealed again without the root", ttl);

    CHECK(rename(gone, root) == 0);
    CHECK_MSG(seal(enc, n, values[n]), "TTL %d: not sealing when the root is back", ttl);
    for (int i = 0; i <= n; i++)
        CHECK_MSG(opens(lib, key, i, values[i]), "TTL %d: value %d does not open", ttl, i);
    for (int i = 0; i < 3; i++)
        CHECK(opens(lib, key, MAX_VALUES - 1 - i, values[MAX_VALUES - 1 - i]));

done:
    EVP_PKEY_CTX_free(enc);
    EVP_PKEY_free(key);
    free(values);
    unlink(root);
    unlink(gone);
}

void test_provider_cache(void)
{
    char dir[] = "/tmp/pgkms-unit-XXXXXX";
    OSSL_LIB_CTX *lib = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *dflt = NULL, *prov = NULL;

    CHECK(lib != NULL && mkdtemp(dir) != NULL);
    if (lib != NULL) {
        dflt = OSSL_PROVIDER_load(lib, "default");
        CHECK(OSSL_PROVIDER_add_builtin(lib, PGKMS_PROV_NAME, pgkms_provider_init));
        prov = OSSL_PROVIDER_load(lib, PGKMS_PROV_NAME);
        CHECK(dflt != NULL && prov != NULL);
    }
    if (prov != NULL) {
        check_ttl(lib, dir, 0);
        check_ttl(lib, dir, 2);
    }
    OSSL_PROVIDER_unload(prov);
    OSSL_PROVIDER_unload(dflt);
    OSSL_LIB_CTX_free(lib);
    rmdir(dir);
}
