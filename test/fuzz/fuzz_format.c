/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for every decoder of untrusted bytes in common/: the value format (and
 * opening it, randomized or deterministic), base64 text form, UUIDs, keyring JSON, the masking
 * rules, PKCS#11 URIs, root key shares and KMIP responses. The first byte picks the decoder.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgkms/codec.h"
#include "pgkms/envelope.h"
#include "pgkms/keyring_file.h"
#include "pgkms/kmip.h"
#include "pgkms/mask.h"
#include "pgkms/pkcs11_uri.h"
#include "pgkms/root_file.h"
#include "pgkms/shamir.h"
#include "pgkms/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pgkms_crypto crypto;
static int crypto_ready;

static void fuzz_value(const uint8_t *data, size_t size)
{
    static const uint8_t tmk[PGKMS_TMK_LEN] = {0x40};
    pgkms_envelope env;
    pgkms_sealer s;
    uint8_t *pt;

    if (pgkms_format_parse(data, size, &env, NULL) != PGKMS_OK)
        return;
    /* The parser must describe exactly the input. */
    if (env.alg == PGKMS_ALG_SIV_DATA
            ? env.ciphertext_len + PGKMS_DET_OVERHEAD != size || env.dek_id != 0 ||
                  env.tag != data + PGKMS_HEADER_LEN ||
                  env.ciphertext + env.ciphertext_len != data + size
            : env.ciphertext_len + PGKMS_OVERHEAD != size || env.tag + PGKMS_TAG_LEN != data + size)
        abort();
    if (!crypto_ready) {
        if (pgkms_crypto_init(&crypto, NULL, NULL, NULL) != PGKMS_OK)
            abort();
        crypto_ready = 1;
    }
    pt = malloc(env.ciphertext_len + 1);
    /* Random bytes never authenticate; if they do, something is badly wrong. */
    if (env.alg == PGKMS_ALG_SIV_DATA) {
        pgkms_searcher ds;

        pgkms_searcher_init(&ds, &crypto);
        if (pgkms_search_det_open(&ds, &env, tmk, NULL, 0, pt, NULL) == PGKMS_OK)
            abort();
        pgkms_searcher_cleanup(&ds);
    } else {
        pgkms_sealer_init(&s, &crypto);
        if (pgkms_sealer_open(&s, &env, tmk, NULL, 0, pt, NULL) == PGKMS_OK)
            abort();
        pgkms_sealer_cleanup(&s);
    }
    free(pt);
}

/* True unless every byte is '*'. */
static int not_all_stars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '*')
            return 1;
    }
    return 0;
}

/* UTF-8 per RFC 3629, checked independently of common/mask.c. */
static int utf8_ok(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;

    while (p < end) {
        size_t n = *p < 0x80                  ? 1
                   : *p >= 0xC2 && *p <= 0xDF ? 2
                   : *p >= 0xE0 && *p <= 0xEF ? 3
                   : *p >= 0xF0 && *p <= 0xF4 ? 4
                                              : 0;

        if (n == 0 || (size_t)(end - p) < n)
            return 0;
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        }
        if (n > 2 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
                      (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90)))
            return 0;
        p += n;
    }
    return 1;
}

/*
 * Every rule writes within the documented size (an exact-size buffer, so ASan sees any byte
 * more), writes UTF-8, and masks input that is not UTF-8 entirely.
 */
static void fuzz_mask(const uint8_t *data, size_t size)
{
    static size_t (*const rules[])(const char *, size_t, char *) = {
        pgkms_mask_rule_name,    pgkms_mask_rule_phone,     pgkms_mask_rule_email,
        pgkms_mask_rule_id_card, pgkms_mask_rule_bank_card, pgkms_mask_rule_address};
    char *in = malloc(size ? size : 1), *out = malloc(size ? size * 3 : 1);
    size_t out_len;
    int valid = utf8_ok(data, size);

    memcpy(in, data, size);
    for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
        char *exact = malloc(size ? size : 1);

        out_len = rules[r](in, size, exact);
        if (out_len > size || !utf8_ok((const uint8_t *)exact, out_len) ||
            (!valid && not_all_stars(exact, out_len)))
            abort();
        free(exact);
    }
    if (pgkms_mask_rule_keep(in, size, size % 5, size % 3, "\xe2\x97\x8f", 3, out, &out_len,
                             NULL) != PGKMS_OK ||
        out_len > size * 3 || !utf8_ok((const uint8_t *)out, out_len))
        abort();
    if (pgkms_mask_rule_truncate(in, size, size % 7, out, &out_len, NULL) != PGKMS_OK ||
        out_len > size || !utf8_ok((const uint8_t *)out, out_len))
        abort();
    free(in);
    free(out);
}

/*
 * Share text, line by line from an exact-size copy: an accepted share is canonical up to the
 * case of its hex digits. Then the raw bytes as share structs, which never recombine to a key
 * whose root id differs from theirs.
 */
static void fuzz_shares(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1), text[PGKMS_SHARE_TEXT_MAX + 1];
    pgkms_share *shares = malloc(size ? size : 1), parsed;
    uint8_t secret[PGKMS_SHAMIR_SECRET_LEN], id[PGKMS_ROOT_ID_LEN];
    size_t count = size / sizeof(pgkms_share);

    memcpy(in, data, size);
    for (size_t start = 0, end; start < size; start = end + 1) {
        for (end = start; end < size && in[end] != '\n';)
            end++;
        if (pgkms_share_parse(NULL, in + start, end - start, &parsed, NULL) != PGKMS_OK)
            continue;
        if (pgkms_share_format(NULL, &parsed, text, NULL) != PGKMS_OK ||
            strlen(text) != end - start || strncasecmp(text, in + start, end - start) != 0)
            abort();
    }
    memcpy(shares, data, count * sizeof(pgkms_share));
    if (count > PGKMS_SHAMIR_MAX_SHARES)
        count = PGKMS_SHAMIR_MAX_SHARES;
    if (pgkms_shamir_combine(NULL, shares, count, secret, NULL) == PGKMS_OK &&
        (pgkms_root_file_id(NULL, secret, id, NULL) != PGKMS_OK ||
         memcmp(id, shares[0].root_id, sizeof(id)) != 0))
        abort();
    free(in);
    free(shares);
}

/* A KMIP server's answer: parsed strictly, then read as each operation's payload. */
static void fuzz_kmip(const uint8_t *data, size_t size)
{
    static const uint32_t ops[] = {PGKMS_KMIP_OP_LOCATE, PGKMS_KMIP_OP_GET_ATTRIBUTES,
                                   PGKMS_KMIP_OP_ENCRYPT};
    char uid[PGKMS_KMIP_ID_MAX];
    pgkms_kmip_response r;
    const uint8_t *out;
    size_t count, len;
    uint32_t v;

    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (pgkms_kmip_parse_response(data, size, ops[i], &r, NULL) != PGKMS_OK)
            continue;
        if (r.has_payload &&
            (r.payload.value < data || r.payload.value + r.payload.len > data + size))
            abort(); /* the payload must lie inside the input */
        if (pgkms_kmip_locate_result(&r, uid, &count, NULL) == PGKMS_OK && count > 0 &&
            strlen(uid) == 0)
            abort();
        (void)pgkms_kmip_attribute_u32(&r, "State", &v, NULL);
        if (pgkms_kmip_encrypt_result(&r, &out, &len, NULL) == PGKMS_OK &&
            (out < data || out + len > data + size))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    uint8_t out[4096], uuid[PGKMS_UUID_LEN];
    size_t len;
    pgkms_keyring kr;
    pgkms_pkcs11_uri uri;

    if (size == 0)
        return 0;
    text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 8) {
    case 0:
        fuzz_value(data + 1, size - 1);
        break;
    case 1:
        if (pgkms_base64_decode(text, size - 1, out, sizeof(out), &len, NULL) == PGKMS_OK) {
            char again[sizeof(out) * 2];

            /* Strict decoding means canonical: re-encoding gives the input back. */
            pgkms_base64_encode(out, len, again);
            if (strcmp(again, text) != 0)
                abort();
        }
        break;
    case 2:
        (void)pgkms_uuid_parse(text, uuid, NULL);
        break;
    case 3:
        if (pgkms_keyring_parse(text, size - 1, &kr, NULL) == PGKMS_OK)
            pgkms_keyring_free(&kr);
        break;
    case 4:
        fuzz_mask(data + 1, size - 1);
        break;
    case 5:
        (void)pgkms_pkcs11_uri_parse(text, &uri, NULL);
        pgkms_pkcs11_uri_free(&uri);
        break;
    case 6:
        fuzz_shares(data + 1, size - 1);
        break;
    case 7:
        fuzz_kmip(data + 1, size - 1);
        break;
    }
    free(text);
    return 0;
}
