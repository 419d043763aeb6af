/* SPDX-License-Identifier: Apache-2.0 */
/* Masking rules: one forward pass that checks and writes at once, no allocation. */
#include <stdbool.h>
#include <string.h>

#include "pgkms/mask.h"

#define PHONE_MIN_DIGITS 7
#define PHONE_MAX_DIGITS 15 /* E.164 */
#define PHONE_KEEP_LAST  4
#define PHONE_MIN_HIDDEN 3 /* fewer hidden digits would show nearly the whole number */
#define PHONE_PREFIX_MAX 3 /* no rule keeps more leading digits than this */
#define CN_MOBILE_DIGITS 11
#define PAN_MIN_DIGITS   13
#define PAN_MAX_DIGITS   19
#define PAN_KEEP_FIRST   6
#define PAN_KEEP_LAST    4
#define ID_KEEP_FIRST    6
#define ADDRESS_WINDOW   12 /* leading characters searched for the administrative part */

/*
 * ITU-T E.164 country calling codes by their first two digits: '1' the first digit alone is
 * the code (zones 1 and 7), '2' a two-digit code, '3' three-digit codes start with these two
 * digits, '-' no code starts so. The codes are prefix-free, so this decides how many digits
 * a code has; spare codes inside a three-digit block are accepted.
 */
static const char CC_LEN[] = "----------" /* 0x */
                             "1111111111" /* 1x */
                             "23333332-3" /* 2x */
                             "2222232332" /* 3x */
                             "2232222222" /* 4x */
                             "3222222223" /* 5x */
                             "2222222333" /* 6x */
                             "1111111111" /* 7x */
                             "322-23233-" /* 8x */
                             "2222223323" /* 9x */;

/*
 * Length (1-4) of the valid UTF-8 sequence at p, with its code point in *cp, or 0 if p does
 * not start one: RFC 3629 refuses overlong forms, surrogates and code points above U+10FFFF.
 */
static size_t utf8_next(const uint8_t *p, const uint8_t *end, uint32_t *cp)
{
    size_t n;
    uint32_t c = p[0], min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        c &= 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        c &= 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* True if [p, end) is valid UTF-8. */
static bool utf8_valid(const uint8_t *p, const uint8_t *end)
{
    uint32_t cp;

    while (p < end) {
        size_t n = utf8_next(p, end, &cp);

        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* Every character replaced; a byte that starts no valid sequence counts as one character. */
static size_t mask_all(const char *in, size_t len, const char *mc, size_t mc_len, char *out)
{
    const uint8_t *p = (const uint8_t *)in, *end = p + len;
    char *o = out;
    uint32_t cp;

    while (p < end) {
        size_t n = utf8_next(p, end, &cp);

        p += n ? n : 1;
        memcpy(o, mc, mc_len);
        o += mc_len;
    }
    return (size_t)(o - out);
}

static size_t stars(const char *in, size_t len, char *out)
{
    return mask_all(in, len, "*", 1, out);
}

/* Each character of [p, end) replaced by mc; NULL if the run is not valid UTF-8. */
static char *put_masked(const uint8_t *p, const uint8_t *end, const char *mc, size_t mc_len,
                        char *o)
{
    uint32_t cp;

    while (p < end) {
        size_t n = utf8_next(p, end, &cp);

        if (n == 0)
            return NULL;
        p += n;
        memcpy(o, mc, mc_len);
        o += mc_len;
    }
    return o;
}

/* [p, end) copied once it is known to be valid UTF-8; NULL if it is not. */
static char *put_checked(const uint8_t *p, const uint8_t *end, char *o)
{
    if (!utf8_valid(p, end))
        return NULL;
    memcpy(o, p, (size_t)(end - p));
    return o + (end - p);
}

static bool is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 || cp == 0x3000;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp < 0xA0);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Words: runs of characters between whitespace. The first character of a word is written
 * only once a second one shows the word is longer, so a one-character word is masked.
 */
size_t pgkms_mask_rule_name(const char *in, size_t len, char *out)
{
    const uint8_t *p = (const uint8_t *)in, *end = p + len, *first = p;
    char *o = out;
    size_t word = 0, first_len = 0;
    bool any = false;
    uint32_t cp;

    while (p < end) {
        size_t n = utf8_next(p, end, &cp);

        if (n == 0)
            return stars(in, len, out);
        if (is_space(cp)) {
            if (word == 1)
                *o++ = '*';
            word = 0;
            memcpy(o, p, n);
            o += n;
        } else {
            if (word == 0) {
                first = p;
                first_len = n;
            } else {
                if (word == 1) {
                    memcpy(o, first, first_len);
                    o += first_len;
                }
                *o++ = '*';
            }
            word++;
            any = true;
        }
        p += n;
    }
    if (word == 1)
        *o++ = '*';
    if (!any) /* whitespace only: not a name */
        return stars(in, len, out);
    return (size_t)(o - out);
}

/* Digits of the country calling code at p (after the '+'), or 0 if none is recognised. */
static size_t country_code_len(const char *p, size_t avail)
{
    if (avail < 1 || !is_digit(p[0]))
        return 0;
    if (CC_LEN[(p[0] - '0') * 10] == '1')
        return 1;
    if (avail < 2 || !is_digit(p[1]))
        return 0;
    switch (CC_LEN[(p[0] - '0') * 10 + (p[1] - '0')]) {
    case '2':
        return 2;
    case '3':
        return avail >= 3 && is_digit(p[2]) ? 3 : 0;
    default:
        return 0;
    }
}

/*
 * Every character is ASCII once checked, so out mirrors in byte for byte. Digits past the
 * longest possible prefix are masked as they come; the prefix and the last digits are set
 * once the digit count shows which rule applies.
 */
size_t pgkms_mask_rule_phone(const char *in, size_t len, char *out)
{
    size_t digits = 0, keep_first = 0, i = 0, seen;
    char first_digit = 0;
    bool plus = len > 0 && in[0] == '+';

    if (plus) {
        keep_first = country_code_len(in + 1, len - 1);
        if (keep_first == 0)
            return stars(in, len, out);
        out[i++] = '+';
    }
    for (; i < len; i++) {
        char c = in[i];

        if (is_digit(c)) {
            if (++digits > PHONE_MAX_DIGITS)
                return stars(in, len, out);
            if (digits == 1)
                first_digit = c;
            out[i] = digits <= PHONE_PREFIX_MAX ? c : '*';
        } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
            out[i] = c;
        } else {
            return stars(in, len, out);
        }
    }
    if (!plus && digits == CN_MOBILE_DIGITS && first_digit == '1')
        keep_first = 3;
    if (digits < PHONE_MIN_DIGITS || digits < keep_first + PHONE_KEEP_LAST + PHONE_MIN_HIDDEN)
        return stars(in, len, out);
    for (i = 0, seen = 0; seen < PHONE_PREFIX_MAX; i++) {
        if (is_digit(in[i]) && ++seen > keep_first)
            out[i] = '*';
    }
    for (i = len, seen = 0; seen < PHONE_KEEP_LAST;) {
        if (is_digit(in[--i])) {
            out[i] = in[i];
            seen++;
        }
    }
    return len;
}

/* local@domain: one '@', a non-empty local part, a domain of two or more non-empty labels. */
size_t pgkms_mask_rule_email(const char *in, size_t len, char *out)
{
    const uint8_t *p = (const uint8_t *)in, *end = p + len, *first = p;
    char *o = out;
    size_t local = 0, label = 0, dots = 0, first_len = 0;
    bool at = false;
    uint32_t cp;

    while (p < end) {
        size_t n = utf8_next(p, end, &cp);

        if (n == 0 || is_control(cp) || is_space(cp))
            return stars(in, len, out);
        if (at) {
            if (cp == '@' || (cp == '.' && label == 0))
                return stars(in, len, out);
            if (cp == '.') {
                dots++;
                label = 0;
            } else {
                label++;
            }
            memcpy(o, p, n);
            o += n;
        } else if (cp == '@') {
            if (local == 0)
                return stars(in, len, out);
            if (local == 1) /* a one-character local part would be shown whole */
                *o++ = '*';
            *o++ = '@';
            at = true;
        } else {
            if (local == 0) {
                first = p;
                first_len = n;
            } else {
                if (local == 1) {
                    memcpy(o, first, first_len);
                    o += first_len;
                }
                *o++ = '*';
            }
            local++;
        }
        p += n;
    }
    if (!at || dots == 0 || label == 0)
        return stars(in, len, out);
    return (size_t)(o - out);
}

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return false;
    }
    return true;
}

size_t pgkms_mask_rule_id_card(const char *in, size_t len, char *out)
{
    size_t keep_last;

    if (len == 18 && all_digits(in, 17) && (is_digit(in[17]) || in[17] == 'X' || in[17] == 'x'))
        keep_last = 4;
    else if (len == 15 && all_digits(in, 15))
        keep_last = 3;
    else
        return stars(in, len, out);
    memcpy(out, in, ID_KEEP_FIRST);
    memset(out + ID_KEEP_FIRST, '*', len - ID_KEEP_FIRST - keep_last);
    memcpy(out + len - keep_last, in + len - keep_last, keep_last);
    return len;
}

/* Digits with single spaces or dashes between them; ASCII, so out mirrors in. */
size_t pgkms_mask_rule_bank_card(const char *in, size_t len, char *out)
{
    size_t digits = 0, i, seen;

    for (i = 0; i < len; i++) {
        char c = in[i];

        if (is_digit(c)) {
            if (++digits > PAN_MAX_DIGITS)
                return stars(in, len, out);
            out[i] = digits <= PAN_KEEP_FIRST ? c : '*';
        } else if ((c == ' ' || c == '-') && i > 0 && is_digit(in[i - 1]) && i + 1 < len) {
            out[i] = c;
        } else {
            return stars(in, len, out);
        }
    }
    if (digits < PAN_MIN_DIGITS)
        return stars(in, len, out);
    /* The last digits are known only now. */
    for (i = len, seen = 0; seen < PAN_KEEP_LAST;) {
        if (is_digit(in[--i])) {
            out[i] = in[i];
            seen++;
        }
    }
    return len;
}

/* Suffixes of Chinese administrative divisions (simplified and traditional forms). */
static bool is_district(uint32_t cp)
{
    return cp == 0x533A /* 区 */ || cp == 0x5340 /* 區 */ || cp == 0x53BF /* 县 */ ||
           cp == 0x7E23 /* 縣 */ || cp == 0x65D7 /* 旗 */;
}

static bool is_city(uint32_t cp)
{
    return cp == 0x7701 /* 省 */ || cp == 0x5E02 /* 市 */ || cp == 0x5DDE /* 州 */ ||
           cp == 0x76DF /* 盟 */;
}

/*
 * Chinese addresses run from province to door: the administrative part leads and is kept,
 * up to the first district within the first ADDRESS_WINDOW characters, else up to the last
 * city or province there. Other addresses run from door to country: what follows the last
 * comma is kept. Anything else is masked entirely.
 */
size_t pgkms_mask_rule_address(const char *in, size_t len, char *out)
{
    const uint8_t *start = (const uint8_t *)in, *end = start + len, *p = start, *keep = NULL;
    const uint8_t *comma;
    char *o;
    uint32_t cp;

    for (size_t chars = 0; p < end && chars < ADDRESS_WINDOW; chars++) {
        size_t n = utf8_next(p, end, &cp);

        if (n == 0)
            return stars(in, len, out);
        p += n;
        if (is_district(cp)) {
            keep = p;
            break;
        }
        if (is_city(cp))
            keep = p;
    }
    if (keep != NULL) {
        if (keep == end)
            return stars(in, len, out);
        memcpy(out, in, (size_t)(keep - start));
        o = put_masked(keep, end, "*", 1, out + (keep - start));
        return o != NULL ? (size_t)(o - out) : stars(in, len, out);
    }
    comma = len > 0 ? memrchr(in, ',', len) : NULL;
    if (comma == NULL || comma == start)
        return stars(in, len, out);
    /* The kept component must say something: not only spaces. */
    for (p = comma + 1; p < end && (*p == ' ' || *p == '\t'); p++)
        ;
    if (p == end)
        return stars(in, len, out);
    o = put_masked(start, comma, "*", 1, out);
    if (o != NULL)
        o = put_checked(comma, end, o);
    return o != NULL ? (size_t)(o - out) : stars(in, len, out);
}

pgkms_code pgkms_mask_check_char(const char *c, size_t len, pgkms_status *st)
{
    const uint8_t *p = (const uint8_t *)c, *end = p + len;
    size_t chars = 0;
    uint32_t cp;

    if (!utf8_valid(p, end))
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "mask_char is not valid UTF-8");
    for (; p < end; chars++)
        p += utf8_next(p, end, &cp);
    if (chars != 1)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "mask_char must be exactly one character, not %zu", chars);
    return PGKMS_OK;
}

pgkms_code pgkms_mask_rule_keep(const char *in, size_t len, int64_t keep_first, int64_t keep_last,
                                const char *mask_char, size_t mask_len, char *out, size_t *out_len,
                                pgkms_status *st)
{
    const uint8_t *start = (const uint8_t *)in, *end = start + len, *p = start, *tail = end;
    char *o;
    int64_t i;
    uint32_t cp;
    pgkms_code rc;

    if (keep_first < 0 || keep_last < 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "%s must not be negative (%lld)",
                          keep_first < 0 ? "keep_first" : "keep_last",
                          (long long)(keep_first < 0 ? keep_first : keep_last));
    if ((rc = pgkms_mask_check_char(mask_char, mask_len, st)) != PGKMS_OK)
        return rc;
    /* UTF-8 synchronises backwards: the last characters start at the last lead bytes. */
    for (i = 0; i < keep_last && tail > start; i++) {
        do
            tail--;
        while (tail > start && (*tail & 0xC0) == 0x80);
    }
    if (i < keep_last)
        goto all;
    for (i = 0; i < keep_first && p < tail; i++) {
        size_t n = utf8_next(p, end, &cp);

        if (n == 0)
            goto all;
        p += n;
    }
    if (p >= tail) /* nothing would be masked */
        goto all;
    memcpy(out, in, (size_t)(p - start));
    o = put_masked(p, tail, mask_char, mask_len, out + (p - start));
    if (o != NULL)
        o = put_checked(tail, end, o);
    if (o == NULL)
        goto all;
    *out_len = (size_t)(o - out);
    return PGKMS_OK;
all:
    *out_len = mask_all(in, len, mask_char, mask_len, out);
    return PGKMS_OK;
}

pgkms_code pgkms_mask_rule_truncate(const char *in, size_t len, int64_t n, char *out,
                                    size_t *out_len, pgkms_status *st)
{
    const uint8_t *start = (const uint8_t *)in, *end = start + len, *p = start;
    uint32_t cp;

    if (n < 0)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "n must not be negative (%lld)",
                          (long long)n);
    for (int64_t i = 0; i < n && p < end; i++) {
        size_t k = utf8_next(p, end, &cp);

        if (k == 0)
            goto all;
        p += k;
    }
    /* A value no longer than n would be shown whole; the cut-off rest must still be UTF-8. */
    if (p >= end || !utf8_valid(p, end))
        goto all;
    memcpy(out, in, (size_t)(p - start));
    *out_len = (size_t)(p - start);
    return PGKMS_OK;
all:
    *out_len = stars(in, len, out);
    return PGKMS_OK;
}
