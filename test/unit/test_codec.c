/* SPDX-License-Identifier: Apache-2.0 */
/* Hex, base64 and UUID codecs: RFC 4648 vectors and strict refusal of everything else. */
#include <stdlib.h>
#include <string.h>

#include "pgkms/codec.h"
#include "harness.h"

void test_codec(void)
{
    static const struct {
        const char *raw, *b64;
    } rfc4648[] = {{"", ""},
                   {"f", "Zg=="},
                   {"fo", "Zm8="},
                   {"foo", "Zm9v"},
                   {"foob", "Zm9vYg=="},
                   {"fooba", "Zm9vYmE="},
                   {"foobar", "Zm9vYmFy"}};
    static const char *bad_b64[] = {
        "Zg=", "Zg===", "Z===", "Zm9v\n", "Zh==", "Zm9=", "Zm 9", "=Zm9", "Zm=v", "Zm9v===="};
    char text[64];
    uint8_t buf[64], uuid[16];
    size_t len;

    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        size_t n = strlen(rfc4648[i].raw);

        pgkms_base64_encode((const uint8_t *)rfc4648[i].raw, n, text);
        CHECK_MSG(strcmp(text, rfc4648[i].b64) == 0, "encode %s", rfc4648[i].raw);
        CHECK(pgkms_base64_len(n) == strlen(rfc4648[i].b64));
        CHECK(pgkms_base64_decode(rfc4648[i].b64, strlen(rfc4648[i].b64), buf, sizeof(buf), &len,
                                  NULL) == PGKMS_OK &&
              len == n && memcmp(buf, rfc4648[i].raw, n) == 0);
    }
    for (size_t i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); i++)
        CHECK_MSG(pgkms_base64_decode(bad_b64[i], strlen(bad_b64[i]), buf, sizeof(buf), &len,
                                      NULL) != PGKMS_OK,
                  "accepted \"%s\"", bad_b64[i]);
    CHECK(pgkms_base64_decode("Zm9vYmFy", 8, buf, 5, &len, NULL) == PGKMS_E_LIMIT);

    pgkms_hex_encode((const uint8_t *)"\x00\xab\xff", 3, text);
    CHECK(strcmp(text, "00abff") == 0);
    CHECK(pgkms_hex_decode("00ABff", 6, buf, 3, NULL) == PGKMS_OK && buf[1] == 0xAB);
    CHECK(pgkms_hex_decode("00abf", 5, buf, 3, NULL) == PGKMS_E_BAD_FORMAT);
    CHECK(pgkms_hex_decode("00abfg", 6, buf, 3, NULL) == PGKMS_E_BAD_FORMAT);

    /* Percent-decoding (RFC 3986), shared by the kms:, kmip://, barbican+ and pkcs11: parsers. */
    CHECK(pgkms_hex_digit('0') == 0 && pgkms_hex_digit('f') == 15 && pgkms_hex_digit('F') == 15);
    CHECK(pgkms_hex_digit('g') == -1 && pgkms_hex_digit('/') == -1 && pgkms_hex_digit(-61) == -1);
    {
        static const struct {
            const char *in;
            size_t len;
            const char *out; /* NULL: refused */
        } cases[] = {
            {"a%41b%4a%4A%2f%25", 17, "aAbJJ/%"},
            {"", 0, ""},
            {"%C3%A9", 6, "\xc3\xa9"},
            {"ab%41cd", 5, "abA"}, /* length bounds */
            {"ab%4", 4, NULL},     /* the escape cut by the length */
            {"%", 1, NULL},
            {"a%", 2, NULL},
            {"%4", 2, NULL},
            {"a%4", 3, NULL},
            {"%zz", 3, NULL},
            {"%4g", 3, NULL},
            {"%g4", 3, NULL},
            {"%00", 3, NULL},
            {"x%00y", 5, NULL},
            {"%%41", 4, NULL},
            {"%+1", 3, NULL},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            int bad = -1;
            char *out = pgkms_percent_decode(cases[i].in, cases[i].len, &bad);

            if (cases[i].out == NULL)
                CHECK_MSG(out == NULL && bad == 1, "decoded %s", cases[i].in);
            else
                CHECK_MSG(out != NULL && bad == 0 && strcmp(out, cases[i].out) == 0, "%s",
                          cases[i].in);
            free(out);
        }
    }

    CHECK(pgkms_uuid_parse("6b3a1f0e-2c4d-4a5b-8c7d-9e0f1a2b3c4d", uuid, NULL) == PGKMS_OK);
    pgkms_uuid_format(uuid, text);
    CHECK(strcmp(text, "6b3a1f0e-2c4d-4a5b-8c7d-9e0f1a2b3c4d") == 0);
    CHECK(pgkms_uuid_parse("6b3a1f0e2c4d4a5b8c7d9e0f1a2b3c4d", uuid, NULL) != PGKMS_OK);
    CHECK(pgkms_uuid_parse("6b3a1f0e-2c4d-4a5b-8c7d-9e0f1a2b3c4z", uuid, NULL) != PGKMS_OK);
    CHECK(pgkms_uuid_parse("6b3a1f0e-2c4d-4a5b-8c7d+9e0f1a2b3c4d", uuid, NULL) != PGKMS_OK);
}
