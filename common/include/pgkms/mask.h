/* SPDX-License-Identifier: Apache-2.0 */
/* Masking of personal data (docs/masking.md): UTF-8 in, UTF-8 out, no allocation. */
#ifndef PGKMS_MASK_H
#define PGKMS_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "pgkms/status.h"

/* Longest UTF-8 encoding of one character, and so of a mask character. */
#define PGKMS_MASK_CHAR_MAX 4

/*
 * Rules shared by every function here:
 * - Input is UTF-8 and is never copied through unchecked: input that is not valid UTF-8, or
 *   that the rule does not recognise, is masked entirely, one mask character per character
 *   (each byte that does not start a valid sequence counts as one character).
 * - A rule never reveals every character of a value: where it would, the value is masked
 *   entirely instead.
 * - The result goes to out (no NUL added), whose length in bytes is returned or stored in
 *   *out_len. Every input character yields at most one character, kept or masked, so out
 *   needs len bytes when the mask character is '*' and len * mask_len bytes otherwise.
 * The functions are named pgkms_mask_rule_*: the SQL entry points own pgkms_mask_<sqlname>.
 */

/* Each word keeps its first character; one-character words are masked. */
size_t pgkms_mask_rule_name(const char *in, size_t len, char *out);
/* Country code (after '+') or a mainland China mobile's first 3 digits, and the last 4. */
size_t pgkms_mask_rule_phone(const char *in, size_t len, char *out);
/* First character of the local part and the whole domain. */
size_t pgkms_mask_rule_email(const char *in, size_t len, char *out);
/* PRC resident ID: 18 characters keep 6 + 4, 15 digits keep 6 + 3. */
size_t pgkms_mask_rule_id_card(const char *in, size_t len, char *out);
/* PAN of 13-19 digits keeps its first 6 and last 4 digits (PCI DSS). */
size_t pgkms_mask_rule_bank_card(const char *in, size_t len, char *out);
/* Chinese addresses keep their district (or city); others keep their last comma component. */
size_t pgkms_mask_rule_address(const char *in, size_t len, char *out);

/* PGKMS_OK if (c, len) is exactly one valid UTF-8 character. */
pgkms_code pgkms_mask_check_char(const char *c, size_t len, pgkms_status *st) PGKMS_MUST_CHECK;

/*
 * Keeps the first keep_first and the last keep_last characters and replaces the others with
 * mask_char (one valid UTF-8 character). Counts must not be negative.
 */
pgkms_code pgkms_mask_rule_keep(const char *in, size_t len, int64_t keep_first, int64_t keep_last,
                                const char *mask_char, size_t mask_len, char *out, size_t *out_len,
                                pgkms_status *st) PGKMS_MUST_CHECK;

/* The first n characters (n must not be negative). */
pgkms_code pgkms_mask_rule_truncate(const char *in, size_t len, int64_t n, char *out,
                                    size_t *out_len, pgkms_status *st) PGKMS_MUST_CHECK;

#endif
