/* SPDX-License-Identifier: Apache-2.0 */
/* Text codecs with strict decoding: every input byte is checked, lengths are exact. */
#include <stdlib.h>
#include <string.h>

#include "pgkms/codec.h"

static const char HEX[] = "0123456789abcdef";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void pgkms_hex_encode(const uint8_t *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = HEX[in[i] >> 4];
        out[2 * i + 1] = HEX[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int pgkms_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *pgkms_percent_decode(const char *in, size_t len, int *bad)
{
    char *out = malloc(len + 1); /* decoding never lengthens */
    size_t n = 0;

    if (bad != NULL)
        *bad = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];

        if (c == '%') {
            int hi = i + 2 < len ? pgkms_hex_digit(in[i + 1]) : -1;
            int lo = hi >= 0 ? pgkms_hex_digit(in[i + 2]) : -1;

            c = lo < 0 ? 0 : hi << 4 | lo; /* a bad escape is refused like a NUL */
            i += 2;
        }
        if (c == 0) {
            free(out);
            if (bad != NULL)
                *bad = 1;
            return NULL;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return out;
}

pgkms_code pgkms_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len,
                            pgkms_status *st)
{
    if (in_len != 2 * out_len)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "expected %zu hex digits, found %zu", 2 * out_len,
                          in_len);
    for (size_t i = 0; i < out_len; i++) {
        int hi = pgkms_hex_digit(in[2 * i]), lo = pgkms_hex_digit(in[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "invalid hex digit at position %zu",
                              2 * i + (hi < 0 ? 0 : 1));
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return PGKMS_OK;
}

size_t pgkms_base64_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

void pgkms_base64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t i = 0;
    char *o = out;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = B64[(v >> 6) & 63];
        *o++ = B64[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = B64[(v >> 6) & 63];
        *o++ = '=';
    }
    *o = '\0';
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

pgkms_code pgkms_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                               size_t *out_len, pgkms_status *st)
{
    size_t n = 0;

    if (in_len % 4 != 0)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "base64 length %zu is not a multiple of 4",
                          in_len);
    for (size_t i = 0; i < in_len; i += 4) {
        int v[4], pad = 0;
        uint32_t w;

        for (int j = 0; j < 4; j++) {
            char c = in[i + j];

            if (c == '=' && i + 4 == in_len && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (v[j] = b64_val(c)) < 0)
                return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "invalid base64 character at %zu", i + j);
        }
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        /* Non-canonical encodings (stray bits under the padding) are refused. */
        if ((pad == 1 && (w & 0xFF) != 0) || (pad == 2 && (w & 0xFFFF) != 0))
            return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "non-canonical base64 padding");
        if (n + 3 - pad > out_cap)
            return pgkms_fail(st, PGKMS_E_LIMIT, "decoded base64 exceeds %zu bytes", out_cap);
        out[n++] = (uint8_t)(w >> 16);
        if (pad < 2)
            out[n++] = (uint8_t)(w >> 8);
        if (pad < 1)
            out[n++] = (uint8_t)w;
    }
    *out_len = n;
    return PGKMS_OK;
}

void pgkms_uuid_format(const uint8_t uuid[PGKMS_UUID_LEN], char out[PGKMS_UUID_STR_LEN + 1])
{
    char *o = out;

    for (int i = 0; i < PGKMS_UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = HEX[uuid[i] >> 4];
        *o++ = HEX[uuid[i] & 15];
    }
    *o = '\0';
}

pgkms_code pgkms_uuid_parse(const char *in, uint8_t uuid[PGKMS_UUID_LEN], pgkms_status *st)
{
    size_t k = 0;

    if (strlen(in) != PGKMS_UUID_STR_LEN)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "a key id is a UUID of 36 characters");
    for (size_t i = 0; i < PGKMS_UUID_STR_LEN;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (in[i] != '-')
                return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "malformed UUID");
            i++;
            continue;
        }
        if (pgkms_hex_decode(in + i, 2, uuid + k, 1, NULL) != PGKMS_OK)
            return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "malformed UUID");
        k++;
        i += 2;
    }
    return PGKMS_OK;
}
