/* SPDX-License-Identifier: Apache-2.0 */
/* Shamir escrow of the file root: field arithmetic, every small split, vectors, the text form. */
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "pgkms/root_file.h"
#include "pgkms/secmem.h"
#include "pgkms/shamir.h"
#include "harness.h"

#define LEN PGKMS_SHAMIR_SECRET_LEN

/* Schoolbook reference: carry-less product, then reduction by 0x11B from the top bit down. */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
    unsigned p = 0;

    for (int i = 0; i < 8; i++)
        if (b & (1u << i))
            p ^= (unsigned)a << i;
    for (int i = 14; i >= 8; i--)
        if (p & (1u << i))
            p ^= 0x11Bu << (i - 8);
    return (uint8_t)p;
}

static void check_field(void)
{
    int bad_mul = 0, bad_inv = 0;

    /* FIPS-197 §4.2 and §5.1.1 (the S-box starts from the inverse: {53}^-1 = {CA}). */
    CHECK(pgkms_gf256_mul(0x57, 0x83) == 0xC1);
    CHECK(pgkms_gf256_mul(0x57, 0x13) == 0xFE);
    CHECK(pgkms_gf256_mul(0x02, 0x80) == 0x1B);
    CHECK(pgkms_gf256_inv(0x53) == 0xCA && pgkms_gf256_inv(0xCA) == 0x53);
    CHECK(pgkms_gf256_inv(0x01) == 0x01);
    CHECK(pgkms_gf256_inv(0x00) == 0x00);
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++)
            bad_mul += pgkms_gf256_mul((uint8_t)a, (uint8_t)b) != ref_mul((uint8_t)a, (uint8_t)b);
        if (a != 0)
            bad_inv += pgkms_gf256_mul((uint8_t)a, pgkms_gf256_inv((uint8_t)a)) != 1;
    }
    CHECK_MSG(bad_mul == 0, "%d products differ from the reference", bad_mul);
    CHECK_MSG(bad_inv == 0, "%d inverses are wrong", bad_inv);
}

static int all_zero(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

/* Copies the shares selected by mask (bit i: share i+1), last first; returns how many. */
static size_t pick(const pgkms_share *all, unsigned m, unsigned mask, pgkms_share *out)
{
    size_t n = 0;

    for (int i = (int)m - 1; i >= 0; i--)
        if (mask & (1u << i))
            out[n++] = all[i];
    return n;
}

/* Every N-of-M with M <= 6: every subset of N or more recombines; N-1 shares never yield a key,
 * not even when they claim a threshold of N-1 (then the root id check refuses the result). */
static void check_all_small_splits(void)
{
    pgkms_share *all = pgkms_secure_alloc(6 * sizeof(pgkms_share));
    pgkms_share *sub = pgkms_secure_alloc(6 * sizeof(pgkms_share));
    uint8_t *root = pgkms_secure_alloc(LEN), *got = pgkms_secure_alloc(LEN);
    pgkms_status st;
    int ok = 0, refused_count = 0, refused_id = 0, bad = 0;

    CHECK(RAND_bytes(root, LEN) == 1);
    for (unsigned m = 2; m <= 6; m++) {
        for (unsigned n = 2; n <= m; n++) {
            CHECK(pgkms_shamir_split(NULL, root, n, m, all, &st) == PGKMS_OK);
            for (unsigned mask = 1; mask < (1u << m); mask++) {
                size_t k = pick(all, m, mask, sub);
                pgkms_code rc;

                memset(got, 0xAA, LEN);
                rc = pgkms_shamir_combine(NULL, sub, k, got, &st);
                if (k >= n) {
                    bad += rc != PGKMS_OK || memcmp(got, root, LEN) != 0;
                    ok++;
                } else if (k == n - 1) {
                    bad += rc != PGKMS_E_INVALID_ARGUMENT || strstr(st.detail, "needs") == NULL;
                    refused_count++;
                    if (n - 1 < PGKMS_SHAMIR_MIN_THRESHOLD)
                        continue;
                    for (size_t i = 0; i < k; i++)
                        sub[i].threshold = (uint8_t)(n - 1);
                    memset(got, 0xAA, LEN);
                    rc = pgkms_shamir_combine(NULL, sub, k, got, &st);
                    bad += rc != PGKMS_E_AUTH_FAILED || !all_zero(got, LEN) ||
                           strstr(st.detail, "do not recombine") == NULL;
                    refused_id++;
                }
            }
        }
    }
    CHECK_MSG(bad == 0, "%d of the subsets gave a wrong answer", bad);
    CHECK(ok == 201 && refused_count == 114 && refused_id == 94);
    pgkms_secure_free(all, 6 * sizeof(pgkms_share));
    pgkms_secure_free(sub, 6 * sizeof(pgkms_share));
    pgkms_secure_free(root, LEN);
    pgkms_secure_free(got, LEN);
}

static void check_limits_and_mixing(void)
{
    size_t size = 2 * PGKMS_SHAMIR_MAX_SHARES * sizeof(pgkms_share);
    pgkms_share *a = pgkms_secure_alloc(size), *b = a + PGKMS_SHAMIR_MAX_SHARES, set[4];
    uint8_t root[LEN], other[LEN], got[LEN];
    pgkms_status st;

    for (int i = 0; i < LEN; i++) {
        root[i] = (uint8_t)(0x80 + i);
        other[i] = (uint8_t)(0x81 + i);
    }
    CHECK(pgkms_shamir_split(NULL, root, 1, 3, a, &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_shamir_split(NULL, root, 0, 3, a, &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_shamir_split(NULL, root, 4, 3, a, &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_shamir_split(NULL, root, 2, 256, a, &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_shamir_split(NULL, root, 256, 256, a, &st) == PGKMS_E_INVALID_ARGUMENT);

    /* 255 shares, the most there can be: the two highest indexes, and all of a 255-of-255. */
    CHECK(pgkms_shamir_split(NULL, root, 2, 255, a, &st) == PGKMS_OK && a[254].index == 255);
    CHECK(pgkms_shamir_combine(NULL, a + 253, 2, got, &st) == PGKMS_OK &&
          memcmp(got, root, LEN) == 0);
    CHECK(pgkms_shamir_split(NULL, root, 255, 255, a, &st) == PGKMS_OK);
    CHECK(pgkms_shamir_combine(NULL, a, 255, got, &st) == PGKMS_OK && memcmp(got, root, LEN) == 0);
    CHECK(pgkms_shamir_combine(NULL, a, 254, got, &st) == PGKMS_E_INVALID_ARGUMENT);

    /* Two 2-of-3 splits of one root: each works, a mixture is refused by the root id. */
    CHECK(pgkms_shamir_split(NULL, root, 2, 3, a, &st) == PGKMS_OK);
    CHECK(pgkms_shamir_split(NULL, root, 2, 3, b, &st) == PGKMS_OK);
    set[0] = a[0];
    set[1] = b[1];
    CHECK(pgkms_shamir_combine(NULL, set, 2, got, &st) == PGKMS_E_AUTH_FAILED &&
          all_zero(got, LEN));
    set[2] = a[2]; /* three shares: all are interpolated, so the odd one still spoils it */
    set[1] = a[1];
    set[0] = b[0];
    CHECK(pgkms_shamir_combine(NULL, set, 3, got, &st) == PGKMS_E_AUTH_FAILED);
    /* One altered byte. */
    set[0] = a[0];
    set[0].y[31] ^= 0x01;
    CHECK(pgkms_shamir_combine(NULL, set, 2, got, &st) == PGKMS_E_AUTH_FAILED);

    /* Shares of another root, other thresholds, repeated or zero indexes. */
    CHECK(pgkms_shamir_split(NULL, other, 2, 3, b, &st) == PGKMS_OK);
    set[0] = a[0];
    set[1] = b[1];
    CHECK(pgkms_shamir_combine(NULL, set, 2, got, &st) == PGKMS_E_INVALID_ARGUMENT &&
          strstr(st.detail, "two root keys") != NULL);
    CHECK(pgkms_shamir_split(NULL, root, 3, 3, b, &st) == PGKMS_OK);
    set[1] = b[1];
    set[2] = b[2];
    CHECK(pgkms_shamir_combine(NULL, set, 3, got, &st) == PGKMS_E_INVALID_ARGUMENT &&
          strstr(st.detail, "two splits") != NULL);
    set[0] = a[1];
    set[1] = a[1];
    CHECK(pgkms_shamir_combine(NULL, set, 2, got, &st) == PGKMS_E_INVALID_ARGUMENT &&
          strstr(st.detail, "share 2 is given twice") != NULL);
    set[0] = a[0];
    set[1].index = 0;
    CHECK(pgkms_shamir_combine(NULL, set, 2, got, &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_shamir_combine(NULL, set, 0, got, &st) == PGKMS_E_INVALID_ARGUMENT &&
          strstr(st.detail, "no shares") != NULL);
    pgkms_secure_free(a, size);
}

/* shamir_vectors.txt (gen_shamir_vectors.py): the same coefficients give the same share texts,
 * which parse back and recombine to the root. */
static void check_vectors(void)
{
    char path[512], line[40000], buf[64], name[8], text[PGKMS_SHARE_TEXT_MAX + 1];
    pgkms_share *shares = pgkms_secure_alloc(PGKMS_SHAMIR_MAX_SHARES * sizeof(pgkms_share));
    pgkms_share parsed, listed[PGKMS_SHAMIR_MAX_SHARES];
    uint8_t got[LEN];
    pgkms_status st;
    int vectors = 0, texts = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/shamir_vectors.txt", t_vectors_dir);
    f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        size_t root_len = 0, id_len = 0, coeffs_len = 0, nlisted = 0;
        uint8_t *root, *id, *coeffs;
        unsigned n, m;

        if (line[0] == '#')
            continue;
        root = t_hex_field(line, "root", &root_len);
        id = t_hex_field(line, "id", &id_len);
        coeffs = t_hex_field(line, "coeffs", &coeffs_len);
        n = (unsigned)atoi(t_field(line, "n", buf, sizeof(buf)) ? buf : "0");
        m = (unsigned)atoi(t_field(line, "m", buf, sizeof(buf)) ? buf : "0");
        CHECK(root != NULL && root_len == LEN && id != NULL && id_len == 8 && coeffs != NULL &&
              coeffs_len == (n - 1) * LEN);
        if (root == NULL || root_len != LEN || coeffs == NULL || coeffs_len != (n - 1) * LEN) {
            free(root), free(id), free(coeffs);
            continue;
        }
        CHECK(pgkms_shamir_split_coeffs(NULL, root, n, m, coeffs, shares, &st) == PGKMS_OK);
        for (unsigned i = 1; i <= m; i++) {
            char want[200];

            snprintf(name, sizeof(name), "s%u", i);
            if (t_field(line, name, want, sizeof(want)) == NULL)
                continue;
            CHECK(pgkms_share_format(NULL, &shares[i - 1], text, &st) == PGKMS_OK);
            CHECK_MSG(strcmp(text, want) == 0, "share %u: %s, expected %s", i, text, want);
            CHECK(pgkms_share_parse(NULL, want, strlen(want), &parsed, &st) == PGKMS_OK &&
                  memcmp(&parsed, &shares[i - 1], sizeof(parsed)) == 0 &&
                  memcmp(parsed.root_id, id, 8) == 0);
            listed[nlisted++] = parsed;
            texts++;
        }
        /* The last n listed shares recombine (the highest indexes where only some are listed). */
        CHECK(nlisted >= n &&
              pgkms_shamir_combine(NULL, listed + nlisted - n, n, got, &st) == PGKMS_OK &&
              memcmp(got, root, LEN) == 0);
        vectors++;
        free(root), free(id), free(coeffs);
    }
    if (f != NULL)
        fclose(f);
    CHECK_MSG(vectors == 6 && texts == 28, "%d vectors, %d shares", vectors, texts);
    pgkms_secure_free(shares, PGKMS_SHAMIR_MAX_SHARES * sizeof(pgkms_share));
}

static int is_hex_letter(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int parses(const char *text)
{
    pgkms_share s;
    pgkms_status st;

    return pgkms_share_parse(NULL, text, strlen(text), &s, &st) == PGKMS_OK;
}

/* A valid share of the vector root: 2-of-3, index 1. */
static const char GOOD[] = "pgkms-share-v1:18480e897e4178b1:2:1:"
                           "ff3c736011bebeb812b36164e29617ae714d400f979c4534cf77543023d67b1c:"
                           "1fadf03f";

static void check_text_errors(void)
{
    static const struct {
        const char *text, *detail;
    } bad[] = {
        {"", "not a pgkms share"},
        {"pgkms-share", "not a pgkms share"},
        {"PGKMS-share-v1:18480e897e4178b1:2:1:00:00", "not a pgkms share"},
        {"pgkms-share-v2:18480e897e4178b1:2:1:00:00", "version \"2\" is not supported"},
        {"pgkms-share-v:18480e897e4178b1:2:1:00:00", "version \"\" is not supported"},
        {"pgkms-share-v1", "0 fields"},
        {"pgkms-share-v1:18480e897e4178b1:2:1:00", "4 fields"},
        {"pgkms-share-v1:18480e897e4178b1:2:1:00:00:00", "more than 5 fields"},
        {"pgkms-share-v1:18480e897e4178b:2:1:00:00", "root id must be 16 hex"},
        {"pgkms-share-v1:18480e897e4178bx:2:1:00:00", "root id must be 16 hex"},
        {"pgkms-share-v1:18480e897e4178b1:1:1:00:00", "threshold must be a number from 2 to 255"},
        {"pgkms-share-v1:18480e897e4178b1:0:1:00:00", "threshold"},
        {"pgkms-share-v1:18480e897e4178b1:256:1:00:00", "threshold"},
        {"pgkms-share-v1:18480e897e4178b1:02:1:00:00", "threshold"},
        {"pgkms-share-v1:18480e897e4178b1:+2:1:00:00", "threshold"},
        {"pgkms-share-v1:18480e897e4178b1::1:00:00", "threshold"},
        {"pgkms-share-v1:18480e897e4178b1:2:0:00:00", "index must be a number from 1 to 255"},
        {"pgkms-share-v1:18480e897e4178b1:2:256:00:00", "index"},
        {"pgkms-share-v1:18480e897e4178b1:2:1 :00:00", "index"},
        {"pgkms-share-v1:18480e897e4178b1:2:1:00:00", "value must be 64 hex"},
        {"pgkms-share-v1:18480e897e4178b1:2:1:"
         "ff3c736011bebeb812b36164e29617ae714d400f979c4534cf77543023d67b1c:1fadf03",
         "check must be 8 hex"},
        {"pgkms-share-v1:18480e897e4178b1:2:1:"
         "ff3c736011bebeb812b36164e29617ae714d400f979c4534cf77543023d67b1c:1fadf03e",
         "share does not match its check: it was mistyped or altered"},
        {"pgkms-share-v1:18480e897e4178b1:2:1:"
         "ff3c736011bebeb812b36164e29617ae714d400f979c4534cf77543023d67b1c:1fadf03f\n",
         "check must be 8 hex"},
        {"pgkms-share-v1:18480e897e4178b1:2:1:"
         "ff3c736011bebeb812b36164e29617ae714d400f979c4534cf77543023d67b1c:1fadf03f "
         "0123456789012345678901234567890123456789",
         "longer than 113"},
    };
    static const char SUBST[] = "0123456789abcdefABCDEF:-gxz \t";
    char text[PGKMS_SHARE_TEXT_MAX + 2];
    size_t len = strlen(GOOD);
    pgkms_share s;
    pgkms_status st;
    int accepted = 0, tried = 0;

    CHECK(len == PGKMS_SHARE_TEXT_MAX - 4); /* threshold and index of one digit each */
    CHECK(parses(GOOD));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&s, 0x55, sizeof(s));
        CHECK_MSG(pgkms_share_parse(NULL, bad[i].text, strlen(bad[i].text), &s, &st) ==
                          PGKMS_E_BAD_FORMAT &&
                      strstr(st.detail, bad[i].detail) != NULL,
                  "\"%s\": %s", bad[i].text, st.detail);
        CHECK(all_zero((const uint8_t *)&s, sizeof(s))); /* nothing half-parsed is left */
    }
    /* Only the given length is read: a valid share followed by junk parses when cut off. */
    snprintf(text, sizeof(text), "%s!", GOOD);
    CHECK(pgkms_share_parse(NULL, text, len, &s, &st) == PGKMS_OK);

    /* Upper-case hex is the same share (the check covers the canonical text). */
    for (size_t i = 0; i < len; i++)
        text[i] = (i >= 15 && GOOD[i] >= 'a' && GOOD[i] <= 'f') ? (char)(GOOD[i] - 32) : GOOD[i];
    text[len] = '\0';
    CHECK(parses(text));

    /* Every single-character typo is refused: substitution, deletion, insertion, swap. */
    for (size_t i = 0; i < len; i++) {
        for (const char *c = SUBST; *c; c++) {
            int same = *c == GOOD[i] || (i >= 15 && is_hex_letter(*c) && is_hex_letter(GOOD[i]) &&
                                         (*c | 0x20) == (GOOD[i] | 0x20));

            if (same)
                continue;
            memcpy(text, GOOD, len + 1);
            text[i] = *c;
            accepted += parses(text);
            tried++;
            /* insertion before position i */
            memcpy(text, GOOD, i);
            text[i] = *c;
            memcpy(text + i + 1, GOOD + i, len - i + 1);
            accepted += parses(text);
            tried++;
        }
        memcpy(text, GOOD, i);
        memcpy(text + i, GOOD + i + 1, len - i);
        accepted += parses(text);
        tried++;
        if (i + 1 < len && GOOD[i] != GOOD[i + 1]) {
            memcpy(text, GOOD, len + 1);
            text[i] = GOOD[i + 1];
            text[i + 1] = GOOD[i];
            accepted += parses(text);
            tried++;
        }
    }
    CHECK_MSG(accepted == 0, "%d of %d typos were accepted", accepted, tried);
}

void test_shamir(void)
{
    check_field();
    check_all_small_splits();
    check_limits_and_mixing();
    check_vectors();
    check_text_errors();
}
