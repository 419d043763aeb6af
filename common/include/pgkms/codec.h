/* SPDX-License-Identifier: Apache-2.0 */
/* Hex, base64 and UUID text forms used by the keyring file, the SQL type and the CLI. */
#ifndef PGKMS_CODEC_H
#define PGKMS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "pgkms/status.h"

#define PGKMS_UUID_LEN     16
#define PGKMS_UUID_STR_LEN 36

/* out gets 2*len characters and a NUL. */
void pgkms_hex_encode(const uint8_t *in, size_t len, char *out);
/* Exactly 2*out_len hex digits (either case) are required. */
pgkms_code pgkms_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len,
                            pgkms_status *st) PGKMS_MUST_CHECK;

/* The value of hex digit c (either case), or -1. */
int pgkms_hex_digit(int c);
/*
 * Percent-decodes in[0..len) (RFC 3986) into a new NUL-terminated string (free()). NULL on a
 * bad escape or a decoded NUL byte (*bad = 1), or when out of memory (*bad = 0); bad may be NULL.
 */
char *pgkms_percent_decode(const char *in, size_t len, int *bad) PGKMS_MUST_CHECK;

/* Base64 (RFC 4648, padded, no line breaks). Encoded length is pgkms_base64_len(len) + NUL. */
size_t pgkms_base64_len(size_t len);
void pgkms_base64_encode(const uint8_t *in, size_t len, char *out);
/* Decodes strictly (no whitespace, correct padding) into out (at most out_cap bytes). */
pgkms_code pgkms_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                               size_t *out_len, pgkms_status *st) PGKMS_MUST_CHECK;

void pgkms_uuid_format(const uint8_t uuid[PGKMS_UUID_LEN], char out[PGKMS_UUID_STR_LEN + 1]);
pgkms_code pgkms_uuid_parse(const char *in, uint8_t uuid[PGKMS_UUID_LEN],
                            pgkms_status *st) PGKMS_MUST_CHECK;

#endif
