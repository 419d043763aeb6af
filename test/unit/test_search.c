/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Searchable encryption: AES-256-SIV known answers (generated, RFC 5297, OpenSSL's own
 * AES-256-SIV, and Wycheproof when PGKMS_WYCHEPROOF_DIR names a checkout), deterministic
 * values, blind indexes, pseudonyms and normalisation.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pgkms/format.h"
#include "pgkms/search.h"
#include "pgkms/siv.h"
#include "harness.h"

static pgkms_crypto crypto;

static int all_zero(const uint8_t *p, size_t len)
{
    int zero = 1;

    for (size_t i = 0; i < len; i++)
        zero &= p[i] == 0;
    return zero;
}

/* Seals (key, aad, pt), compares with expect (siv || ct), and opens it back; 1 if all hold. */
static int siv_case(pgkms_siv *s, const uint8_t *key, const uint8_t *aad, size_t aad_len,
                    const uint8_t *pt, size_t len, const uint8_t *expect)
{
    uint8_t *out = malloc(PGKMS_SIV_LEN + len + 1), *back = malloc(len + 1);
    int ok = pgkms_siv_set_key(s, crypto.cmac, crypto.ctr, key, NULL) == PGKMS_OK &&
             pgkms_siv_seal(s, aad, aad_len, NULL, 0, pt, len, out, out + PGKMS_SIV_LEN, NULL) ==
                 PGKMS_OK &&
             memcmp(out, expect, PGKMS_SIV_LEN + len) == 0 &&
             pgkms_siv_open(s, aad, aad_len, NULL, 0, out, out + PGKMS_SIV_LEN, len, back, NULL) ==
                 PGKMS_OK &&
             memcmp(back, pt, len) == 0;

    free(out);
    free(back);
    return ok;
}

/* The generated answers; each also with the AAD split in two (still one S2V component). */
static void check_kat_file(void)
{
    char path[512], line[4096], buf[64];
    FILE *f;
    pgkms_siv s;
    int n = 0;

    memset(&s, 0, sizeof(s));
    snprintf(path, sizeof(path), "%s/aes256siv_kat.txt", t_vectors_dir);
    f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        size_t kl, al, pl, ol;
        uint8_t *key, *aad, *pt, *out, *ct, siv[PGKMS_SIV_LEN];

        if (line[0] == '#')
            continue;
        key = t_hex_field(line, "key", &kl);
        aad = t_hex_field(line, "aad", &al);
        pt = t_hex_field(line, "pt", &pl);
        out = t_hex_field(line, "out", &ol);
        CHECK_MSG(key && aad && pt && out && kl == 64 && ol == pl + 16, "malformed: %.60s", line);
        if (key && aad && pt && out && kl == 64 && ol == pl + 16) {
            CHECK_MSG(siv_case(&s, key, aad, al, pt, pl, out), "%s",
                      t_field(line, "id", buf, sizeof(buf)));
            ct = malloc(pl + 1);
            CHECK(pgkms_siv_seal(&s, aad, al / 2, aad + al / 2, al - al / 2, pt, pl, siv, ct,
                                 NULL) == PGKMS_OK &&
                  memcmp(siv, out, 16) == 0 && memcmp(ct, out + 16, pl) == 0);
            free(ct);
        }
        free(key), free(aad), free(pt), free(out);
        n++;
    }
    if (f != NULL)
        fclose(f);
    pgkms_siv_cleanup(&s);
    CHECK_MSG(n >= 40, "only %d AES-SIV answers", n);
}

/* RFC 5297 appendix A.1 is AES-128-SIV, which pgkms does not use; its S2V over a 256-bit
 * CMAC key is covered by the generated answers. Here: equal to OpenSSL's own AES-256-SIV on
 * random non-empty inputs, with one keyed state reused for many messages. */
static void check_against_openssl(void)
{
    EVP_CIPHER *ossl = EVP_CIPHER_fetch(NULL, "AES-256-SIV", NULL);
    pgkms_siv s;
    uint8_t key[64], aad[80], pt[300], mine[16 + 300], theirs[16 + 300];
    int n = 0;

    memset(&s, 0, sizeof(s));
    CHECK(ossl != NULL);
    for (int k = 0; ossl != NULL && k < 8; k++) {
        CHECK(RAND_bytes(key, sizeof(key)) == 1);
        CHECK(pgkms_siv_set_key(&s, crypto.cmac, crypto.ctr, key, NULL) == PGKMS_OK);
        for (int i = 0; i < 40; i++) {
            size_t al = (size_t)(i * 7) % sizeof(aad), pl = 1 + (size_t)(i * 37 + k) % 299;
            EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
            OSSL_PARAM p[2] = {
                OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, theirs, 16),
                OSSL_PARAM_construct_end()};
            int outl;

            CHECK(RAND_bytes(aad, sizeof(aad)) == 1 && RAND_bytes(pt, sizeof(pt)) == 1);
            CHECK(pgkms_siv_seal(&s, aad, al, NULL, 0, pt, pl, mine, mine + 16, NULL) == PGKMS_OK);
            /* OpenSSL 3.0 skips an empty AAD update, where S2V counts an empty component. */
            CHECK(EVP_EncryptInit_ex2(c, ossl, key, NULL, NULL) &&
                  (al == 0 || EVP_EncryptUpdate(c, NULL, &outl, aad, (int)al)) &&
                  EVP_EncryptUpdate(c, theirs + 16, &outl, pt, (int)pl) &&
                  EVP_EncryptFinal_ex(c, theirs + 16 + pl, &outl) &&
                  EVP_CIPHER_CTX_get_params(c, p));
            if (al > 0)
                CHECK_MSG(memcmp(mine, theirs, 16 + pl) == 0, "key %d message %d", k, i);
            EVP_CIPHER_CTX_free(c);
            n++;
        }
    }
    pgkms_siv_cleanup(&s);
    EVP_CIPHER_free(ossl);
    CHECK(n == 320);
}

static uint8_t *json_hex(json_t *obj, const char *name, size_t *len)
{
    const char *hex = json_string_value(json_object_get(obj, name));

    return hex != NULL ? t_unhex(hex, len) : NULL;
}

/* Wycheproof aes_siv_cmac_test.json, 512-bit keys, when a checkout is named: not shipped. */
static void check_wycheproof(void)
{
    const char *dir = getenv("PGKMS_WYCHEPROOF_DIR");
    char path[1024];
    json_t *root, *groups;
    json_error_t err;
    pgkms_siv s;
    size_t gi, ti;
    json_t *g, *t;
    int valid = 0, invalid = 0;

    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "  search: Wycheproof AES-SIV not checked (set PGKMS_WYCHEPROOF_DIR)\n");
        return;
    }
    snprintf(path, sizeof(path), "%s/testvectors_v1/aes_siv_cmac_test.json", dir);
    root = json_load_file(path, 0, &err);
    CHECK_MSG(root != NULL, "cannot read %s: %s", path, err.text);
    if (root == NULL)
        return;
    memset(&s, 0, sizeof(s));
    groups = json_object_get(root, "testGroups");
    json_array_foreach(groups, gi, g)
    {
        if (json_integer_value(json_object_get(g, "keySize")) != 512)
            continue;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t kl, al, ml, cl;
            uint8_t *key = json_hex(t, "key", &kl), *aad = json_hex(t, "aad", &al),
                    *msg = json_hex(t, "msg", &ml), *ct = json_hex(t, "ct", &cl), *out;
            const char *result = json_string_value(json_object_get(t, "result"));
            int id = (int)json_integer_value(json_object_get(t, "tcId"));

            CHECK_MSG(key && aad && msg && ct && kl == 64, "tcId %d malformed", id);
            if (!(key && aad && msg && ct && kl == 64))
                continue;
            if (strcmp(result, "valid") == 0) {
                CHECK_MSG(cl == ml + 16 && siv_case(&s, key, aad, al, msg, ml, ct), "tcId %d", id);
                valid++;
            } else if (cl >= 16) {
                out = malloc(cl);
                CHECK(pgkms_siv_set_key(&s, crypto.cmac, crypto.ctr, key, NULL) == PGKMS_OK);
                CHECK_MSG(pgkms_siv_open(&s, aad, al, NULL, 0, ct, ct + 16, cl - 16, out, NULL) ==
                                  PGKMS_E_AUTH_FAILED &&
                              all_zero(out, cl - 16),
                          "invalid tcId %d accepted", id);
                free(out);
                invalid++;
            } else {
                invalid++; /* shorter than a SIV: the value parser refuses it already */
            }
            free(key), free(aad), free(msg), free(ct);
        }
    }
    json_decref(root);
    pgkms_siv_cleanup(&s);
    CHECK_MSG(valid + invalid >= 100, "only %d Wycheproof AES-SIV tests", valid + invalid);
    fprintf(stderr, "  search: %d Wycheproof AES-256-SIV tests (%d valid, %d invalid)\n",
            valid + invalid, valid, invalid);
}

/* Deterministic values: determinism, what changes them, strict parsing, tampering. */
static void check_det_values(void)
{
    static const uint8_t tmk[32] = {1, 2, 3}, other_tmk[32] = {9};
    pgkms_key_ref key = {{1, 2, 3, 4, 5, 6, 7, 8}, 1}, v2 = {{1, 2, 3, 4, 5, 6, 7, 8}, 2};
    uint8_t a[11 + PGKMS_DET_OVERHEAD], b[sizeof(a)], bad[sizeof(a)], pt[16];
    pgkms_searcher s, fresh;
    pgkms_envelope env;
    pgkms_status st;
    const uint8_t *phone = (const uint8_t *)"13812345678";

    pgkms_searcher_init(&s, &crypto);
    pgkms_searcher_init(&fresh, &crypto);
    CHECK(pgkms_search_det_seal(&s, &key, tmk, (const uint8_t *)"ctx", 3, phone, 11, a, NULL) ==
          PGKMS_OK);
    CHECK(pgkms_search_det_seal(&fresh, &key, tmk, (const uint8_t *)"ctx", 3, phone, 11, b, NULL) ==
          PGKMS_OK);
    CHECK(memcmp(a, b, sizeof(a)) == 0); /* same input, same bytes, in any process */
    CHECK(a[3] == PGKMS_ALG_SIV_DATA && all_zero(a + 16, 4) && pgkms_load_be32(a + 12) == 1);
    CHECK(pgkms_search_det_seal(&s, &key, tmk, (const uint8_t *)"ctx2", 4, phone, 11, b, NULL) ==
              PGKMS_OK &&
          memcmp(a, b, sizeof(a)) != 0);
    CHECK(pgkms_search_det_seal(&s, &key, tmk, NULL, 0, phone, 11, b, NULL) == PGKMS_OK &&
          memcmp(a, b, sizeof(a)) != 0);
    CHECK(pgkms_search_det_seal(&s, &v2, tmk, (const uint8_t *)"ctx", 3, phone, 11, b, NULL) ==
              PGKMS_OK &&
          memcmp(a + 20, b + 20, sizeof(a) - 20) != 0);
    CHECK(pgkms_search_det_seal(&fresh, &key, other_tmk, (const uint8_t *)"ctx", 3, phone, 11, b,
                                NULL) == PGKMS_OK &&
          memcmp(a, b, sizeof(a)) == 0); /* cached per key reference: the tmk is not re-read */
    pgkms_searcher_cleanup(&fresh);
    pgkms_searcher_init(&fresh, &crypto);
    CHECK(pgkms_search_det_seal(&fresh, &key, other_tmk, (const uint8_t *)"ctx", 3, phone, 11, b,
                                NULL) == PGKMS_OK &&
          memcmp(a + 20, b + 20, sizeof(a) - 20) != 0);
    pgkms_searcher_cleanup(&fresh);

    /* Parsing: 36 bytes at least, the data key id field zero. */
    CHECK(pgkms_format_parse(a, sizeof(a), &env, NULL) == PGKMS_OK && env.ciphertext_len == 11 &&
          env.tag == a + 20 && env.ciphertext == a + 36 && env.nonce == NULL);
    CHECK(pgkms_format_parse(a, PGKMS_DET_OVERHEAD, &env, NULL) == PGKMS_OK &&
          env.ciphertext_len == 0);
    for (size_t len = 1; len < PGKMS_DET_OVERHEAD; len++)
        CHECK_MSG(pgkms_format_parse(a, len, &env, &st) == PGKMS_E_BAD_FORMAT, "len %zu", len);
    memcpy(bad, a, sizeof(a));
    bad[19] = 1;
    CHECK(pgkms_format_parse(bad, sizeof(bad), &env, &st) == PGKMS_E_BAD_FORMAT &&
          strstr(st.detail, "data key id") != NULL);
    bad[19] = 0;
    bad[3] = 4;
    CHECK(pgkms_format_parse(bad, sizeof(bad), &env, &st) == PGKMS_E_BAD_FORMAT);

    /* Opening, and every flipped bit refused with nothing released. */
    CHECK(pgkms_format_parse(a, sizeof(a), &env, NULL) == PGKMS_OK);
    CHECK(pgkms_search_det_open(&s, &env, tmk, (const uint8_t *)"ctx", 3, pt, NULL) == PGKMS_OK &&
          memcmp(pt, phone, 11) == 0);
    CHECK(pgkms_search_det_open(&s, &env, tmk, (const uint8_t *)"ctx\0", 4, pt, &st) ==
          PGKMS_E_AUTH_FAILED);
    CHECK(pgkms_search_det_open(&s, &env, tmk, NULL, 0, pt, &st) == PGKMS_E_AUTH_FAILED);
    for (size_t i = 0; i < sizeof(a); i++) {
        memcpy(bad, a, sizeof(a));
        bad[i] ^= 0x01;
        if (pgkms_format_parse(bad, sizeof(bad), &env, &st) != PGKMS_OK)
            continue;
        memset(pt, 0xAA, sizeof(pt));
        CHECK_MSG(pgkms_search_det_open(&s, &env, tmk, (const uint8_t *)"ctx", 3, pt, &st) ==
                          PGKMS_E_AUTH_FAILED &&
                      all_zero(pt, 11),
                  "flipped byte %zu", i);
    }
    /* The GCM opener refuses a deterministic value instead of misreading it. */
    {
        pgkms_sealer sealer;

        CHECK(pgkms_format_parse(a, sizeof(a), &env, NULL) == PGKMS_OK);
        pgkms_sealer_init(&sealer, &crypto);
        CHECK(pgkms_sealer_open(&sealer, &env, tmk, (const uint8_t *)"ctx", 3, pt, &st) ==
              PGKMS_E_INTERNAL);
        pgkms_sealer_cleanup(&sealer);
    }
    /* Many keys through the four slots: each still gives its own bytes. */
    for (uint32_t v = 1; v <= 9; v++) {
        pgkms_key_ref k = key;

        k.version = v;
        CHECK(pgkms_search_det_seal(&s, &k, tmk, NULL, 0, phone, 11, b, NULL) == PGKMS_OK);
        CHECK(pgkms_format_parse(b, sizeof(b), &env, NULL) == PGKMS_OK &&
              pgkms_search_det_open(&s, &env, tmk, NULL, 0, pt, NULL) == PGKMS_OK &&
              memcmp(pt, phone, 11) == 0);
    }
    pgkms_searcher_cleanup(&s);
}

/* Blind indexes and pseudonyms from the Python vectors; argument checks; normalisation. */
static void check_search_vectors(void)
{
    char path[512], line[4096], buf[512];
    static const uint8_t tmk[32] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                    0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
                                    0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
                                    0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f};
    pgkms_key_ref key = {{0x6b, 0x3a, 0x1f, 0x0e, 0x2c, 0x4d, 0x4a, 0x5b}, 1};
    pgkms_searcher s;
    FILE *f;
    int blind = 0, pseudo = 0;

    pgkms_searcher_init(&s, &crypto);
    snprintf(path, sizeof(path), "%s/search_vectors.txt", t_vectors_dir);
    f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    /* Twice: the second pass reaches the cached keys in another order. */
    for (int pass = 0; pass < 2 && f != NULL; pass++, rewind(f)) {
        while (fgets(line, sizeof(line), f) != NULL) {
            size_t pl, vl, ol;
            uint8_t *purpose, *value, *out, got[32], *norm;
            const char *kind = t_field(line, "kind", buf, sizeof(buf));

            if (line[0] == '#')
                continue;
            purpose = t_hex_field(line, "purpose", &pl);
            value = t_hex_field(line, "value", &vl);
            if (strcmp(kind, "blind") == 0) {
                int bits = atoi(t_field(line, "bits", buf, sizeof(buf)));
                int canonical = atoi(t_field(line, "canonical", buf, sizeof(buf)));
                size_t nl = vl;

                out = t_hex_field(line, "out", &ol);
                norm = malloc(vl + 1);
                if (canonical)
                    nl = pgkms_search_normalize(value, vl, norm);
                else if (vl > 0)
                    memcpy(norm, value, vl);
                CHECK(pgkms_search_blind_index(&s, &key, tmk, purpose, pl, bits, norm, nl, got,
                                               NULL) == PGKMS_OK &&
                      ol == (size_t)bits / 8 && memcmp(got, out, ol) == 0);
                free(norm);
                free(out);
                blind++;
            } else {
                char ps[PGKMS_PSEUDONYM_LEN + 1];

                CHECK(pgkms_search_pseudonym(&s, &key, tmk, purpose, pl, value, vl, ps, NULL) ==
                          PGKMS_OK &&
                      strcmp(ps, t_field(line, "out", buf, sizeof(buf))) == 0);
                pseudo++;
            }
            free(purpose);
            free(value);
        }
    }
    if (f != NULL)
        fclose(f);
    CHECK_MSG(blind >= 14 && pseudo >= 8, "only %d blind and %d pseudonym vectors", blind, pseudo);

    /* Arguments. */
    {
        uint8_t out[32], big[PGKMS_PURPOSE_MAX + 1];
        char ps[PGKMS_PSEUDONYM_LEN + 1];
        pgkms_status st;
        static const int bad_bits[] = {0, 8, 24, 31, 33, 100, 264, 512, -8};

        memset(big, 'p', sizeof(big));
        for (size_t i = 0; i < sizeof(bad_bits) / sizeof(bad_bits[0]); i++)
            CHECK_MSG(pgkms_search_blind_index(&s, &key, tmk, (const uint8_t *)"p", 1, bad_bits[i],
                                               (const uint8_t *)"x", 1, out,
                                               &st) == PGKMS_E_INVALID_ARGUMENT,
                      "bits %d", bad_bits[i]);
        CHECK(pgkms_search_blind_index(&s, &key, tmk, (const uint8_t *)"", 0, 64,
                                       (const uint8_t *)"x", 1, out,
                                       &st) == PGKMS_E_INVALID_ARGUMENT);
        CHECK(pgkms_search_blind_index(&s, &key, tmk, big, sizeof(big), 64, (const uint8_t *)"x", 1,
                                       out, &st) == PGKMS_E_INVALID_ARGUMENT);
        CHECK(pgkms_search_blind_index(&s, &key, tmk, big, sizeof(big) - 1, 64,
                                       (const uint8_t *)"x", 1, out, &st) == PGKMS_OK);
        CHECK(pgkms_search_pseudonym(&s, &key, tmk, (const uint8_t *)"", 0, (const uint8_t *)"x", 1,
                                     ps, &st) == PGKMS_E_INVALID_ARGUMENT);
        /* Kinds, purposes and key versions give unrelated outputs. */
        {
            uint8_t a[32], b[32];
            pgkms_key_ref k2 = key;
            char p1[PGKMS_PSEUDONYM_LEN + 1], p2[PGKMS_PSEUDONYM_LEN + 1];

            k2.version = 2;
            CHECK(pgkms_search_blind_index(&s, &key, tmk, (const uint8_t *)"a", 1, 256,
                                           (const uint8_t *)"x", 1, a, NULL) == PGKMS_OK);
            CHECK(pgkms_search_blind_index(&s, &k2, tmk, (const uint8_t *)"a", 1, 256,
                                           (const uint8_t *)"x", 1, b, NULL) == PGKMS_OK &&
                  memcmp(a, b, 32) != 0);
            CHECK(pgkms_search_blind_index(&s, &key, tmk, (const uint8_t *)"b", 1, 256,
                                           (const uint8_t *)"x", 1, b, NULL) == PGKMS_OK &&
                  memcmp(a, b, 32) != 0);
            CHECK(pgkms_search_pseudonym(&s, &key, tmk, (const uint8_t *)"a", 1,
                                         (const uint8_t *)"x", 1, p1, NULL) == PGKMS_OK);
            CHECK(pgkms_search_pseudonym(&s, &key, tmk, (const uint8_t *)"b", 1,
                                         (const uint8_t *)"x", 1, p2, NULL) == PGKMS_OK &&
                  strcmp(p1, p2) != 0 && strncmp(p1, "ps_", 3) == 0 &&
                  strlen(p1) == PGKMS_PSEUDONYM_LEN);
        }
    }
    pgkms_searcher_cleanup(&s);
}

static void check_normalize(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"   ", ""},
        {"a", "a"},
        {"  John.Doe@Example.COM ", "john.doe@example.com"},
        {"\tA \n\r B\v\fC  ", "a b c"},
        {"Fēng ÉCOLE 张三", "fēng École 张三"}, /* only ASCII letters change case */
        {"x\xc2\xa0y", "x\xc2\xa0y"},           /* U+00A0 is not ASCII white space */
    };
    uint8_t out[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = pgkms_search_normalize((const uint8_t *)cases[i].in, strlen(cases[i].in), out);

        CHECK_MSG(n == strlen(cases[i].out) && memcmp(out, cases[i].out, n) == 0, "case %zu", i);
    }
}

void test_search(void)
{
    CHECK(pgkms_crypto_init(&crypto, NULL, NULL, NULL) == PGKMS_OK);
    check_kat_file();
    check_against_openssl();
    check_wycheproof();
    check_det_values();
    check_search_vectors();
    check_normalize();
    pgkms_crypto_cleanup(&crypto);
}
