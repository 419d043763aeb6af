/* SPDX-License-Identifier: Apache-2.0 */
/* Masking rules: every documented example, invalid input, boundaries, and random bytes. */
#include <stdlib.h>
#include <string.h>

#include "pgkms/mask.h"
#include "harness.h"

typedef size_t (*rule_fn)(const char *in, size_t len, char *out);

static const struct {
    const char *rule;
    rule_fn fn;
    const char *in, *want;
} cases[] = {
    /* Names: each word keeps its first character, one-character words are masked. */
    {"name", pgkms_mask_rule_name, "张三", "张*"},
    {"name", pgkms_mask_rule_name, "张三丰", "张**"},
    {"name", pgkms_mask_rule_name, "欧阳娜娜", "欧***"},
    {"name", pgkms_mask_rule_name, "John Smith", "J*** S****"},
    {"name", pgkms_mask_rule_name, "José García", "J*** G*****"},
    {"name", pgkms_mask_rule_name, "John F Kennedy", "J*** * K******"},
    {"name", pgkms_mask_rule_name, "Mary-Jane O'Neil", "M******** O*****"},
    {"name", pgkms_mask_rule_name, "迪丽热巴·迪力木拉提", "迪*********"},
    {"name", pgkms_mask_rule_name, "李Lee", "李***"},
    {"name", pgkms_mask_rule_name, "张 三", "* *"},
    {"name", pgkms_mask_rule_name, "王\u3000芳芳", "*\u3000芳*"},
    {"name", pgkms_mask_rule_name, "  Ann  Lee ", "  A**  L** "},
    {"name", pgkms_mask_rule_name, "😀😀", "😀*"},
    {"name", pgkms_mask_rule_name, "😀", "*"},
    {"name", pgkms_mask_rule_name, "张", "*"},
    {"name", pgkms_mask_rule_name, "J", "*"},
    {"name", pgkms_mask_rule_name, "", ""},
    {"name", pgkms_mask_rule_name, "   ", "***"},
    {"name", pgkms_mask_rule_name, "张\xff三", "***"},
    {"name", pgkms_mask_rule_name, "\xe5\xbc", "**"},           /* 张 cut short */
    {"name", pgkms_mask_rule_name, "\xc0\xaf", "**"},           /* overlong '/' */
    {"name", pgkms_mask_rule_name, "\xed\xa0\x80", "***"},      /* surrogate */
    {"name", pgkms_mask_rule_name, "\xf4\x90\x80\x80", "****"}, /* above U+10FFFF */
    {"name", pgkms_mask_rule_name, "Jo\x80hn Smith", "***********"},

    /* Phones: country code or mainland mobile prefix, and the last four digits. */
    {"phone", pgkms_mask_rule_phone, "13812345678", "138****5678"},
    {"phone", pgkms_mask_rule_phone, "138-1234-5678", "138-****-5678"},
    {"phone", pgkms_mask_rule_phone, "+86 138 1234 5678", "+86 *** **** 5678"},
    {"phone", pgkms_mask_rule_phone, "+8613812345678", "+86*******5678"},
    {"phone", pgkms_mask_rule_phone, "+1 (555) 123-4567", "+1 (***) ***-4567"},
    {"phone", pgkms_mask_rule_phone, "+44 20 7946 0958", "+44 ** **** 0958"},
    {"phone", pgkms_mask_rule_phone, "+852 2123 4567", "+852 **** 4567"},
    {"phone", pgkms_mask_rule_phone, "+7 495 123-45-67", "+7 *** ***-45-67"},
    {"phone", pgkms_mask_rule_phone, "+1 234 5678", "+1 *** 5678"},
    {"phone", pgkms_mask_rule_phone, "+852 123 4567", "+852 *** 4567"},
    {"phone", pgkms_mask_rule_phone, "+33.1.23.45.67.89", "+33.*.**.**.67.89"},
    {"phone", pgkms_mask_rule_phone, "010-62345678", "***-****5678"},
    {"phone", pgkms_mask_rule_phone, "(555) 123-4567", "(***) ***-4567"},
    {"phone", pgkms_mask_rule_phone, "0086 138 1234 5678", "**** *** **** 5678"},
    {"phone", pgkms_mask_rule_phone, "1234567", "***4567"},
    {"phone", pgkms_mask_rule_phone, "123456", "******"},
    {"phone", pgkms_mask_rule_phone, "1234567890123456", "****************"},
    {"phone", pgkms_mask_rule_phone, "+683 1234", "*********"},     /* too short to hide 3 digits */
    {"phone", pgkms_mask_rule_phone, "+0 123 4567", "***********"}, /* no such country code */
    {"phone", pgkms_mask_rule_phone, "+28 1234 5678", "*************"},
    {"phone", pgkms_mask_rule_phone, "+8 6 138 1234 5678", "******************"},
    {"phone", pgkms_mask_rule_phone, "86+13812345678", "**************"},
    {"phone", pgkms_mask_rule_phone, "138 1234 567a", "*************"},
    {"phone", pgkms_mask_rule_phone, "1381234567８", "***********"}, /* a full-width digit */
    {"phone", pgkms_mask_rule_phone, "+", "*"},
    {"phone", pgkms_mask_rule_phone, "", ""},
    {"phone", pgkms_mask_rule_phone,
     "1381234\xff"
     "5678",
     "************"},

    /* E-mail: first character of the local part, the whole domain. */
    {"email", pgkms_mask_rule_email, "alice.wang@example.com", "a*********@example.com"},
    {"email", pgkms_mask_rule_email, "a@example.com", "*@example.com"},
    {"email", pgkms_mask_rule_email, "张伟@例子.中国", "张*@例子.中国"},
    {"email", pgkms_mask_rule_email, "😀x@example.com", "😀*@example.com"},
    {"email", pgkms_mask_rule_email, "alice", "*****"},
    {"email", pgkms_mask_rule_email, "@example.com", "************"},
    {"email", pgkms_mask_rule_email, "alice@", "******"},
    {"email", pgkms_mask_rule_email, "alice@example", "*************"},
    {"email", pgkms_mask_rule_email, "alice@@example.com", "******************"},
    {"email", pgkms_mask_rule_email, "a@b@example.com", "***************"},
    {"email", pgkms_mask_rule_email, "alice@example..com", "******************"},
    {"email", pgkms_mask_rule_email, "alice@.example.com", "******************"},
    {"email", pgkms_mask_rule_email, "alice@example.com.", "******************"},
    {"email", pgkms_mask_rule_email, "alice wang@example.com", "**********************"},
    {"email", pgkms_mask_rule_email, "alice@exa\xffmple.com", "******************"},
    {"email", pgkms_mask_rule_email, "", ""},

    /* PRC resident ID: 18 characters keep 6 + 4, 15 digits keep 6 + 3, the rest is hidden. */
    {"id_card", pgkms_mask_rule_id_card, "110101199003074578", "110101********4578"},
    {"id_card", pgkms_mask_rule_id_card, "11010119900307457X", "110101********457X"},
    {"id_card", pgkms_mask_rule_id_card, "11010119900307457x", "110101********457x"},
    {"id_card", pgkms_mask_rule_id_card, "110101900307457", "110101******457"},
    {"id_card", pgkms_mask_rule_id_card, "1101011990030745", "****************"},
    {"id_card", pgkms_mask_rule_id_card, "11010119900307457", "*****************"},
    {"id_card", pgkms_mask_rule_id_card, "11010119900307457Y", "******************"},
    {"id_card", pgkms_mask_rule_id_card, "X10101199003074578", "******************"},
    {"id_card", pgkms_mask_rule_id_card, "1101011990030745X8", "******************"},
    {"id_card", pgkms_mask_rule_id_card, "11010119900307457X ", "*******************"},
    {"id_card", pgkms_mask_rule_id_card, "11010190030745X", "***************"},
    {"id_card", pgkms_mask_rule_id_card, "１１０１０１１９９００３０７４５７８",
     "******************"},
    {"id_card", pgkms_mask_rule_id_card, "", ""},

    /* Bank cards: first 6 and last 4 digits, separators in place. */
    {"bank_card", pgkms_mask_rule_bank_card, "6222021234567890123", "622202*********0123"},
    {"bank_card", pgkms_mask_rule_bank_card, "6222 0212 3456 7890 123", "6222 02** **** ***0 123"},
    {"bank_card", pgkms_mask_rule_bank_card, "4111-1111-1111-1111", "4111-11**-****-1111"},
    {"bank_card", pgkms_mask_rule_bank_card, "4111111111111111", "411111******1111"},
    {"bank_card", pgkms_mask_rule_bank_card, "4222222222222", "422222***2222"},
    {"bank_card", pgkms_mask_rule_bank_card, "422222222222", "************"},
    {"bank_card", pgkms_mask_rule_bank_card, "62220212345678901234", "********************"},
    {"bank_card", pgkms_mask_rule_bank_card, "4111  1111 1111 1111", "********************"},
    {"bank_card", pgkms_mask_rule_bank_card, " 4111111111111111", "*****************"},
    {"bank_card", pgkms_mask_rule_bank_card, "4111111111111111-", "*****************"},
    {"bank_card", pgkms_mask_rule_bank_card, "4111 1111 1111 111a", "*******************"},
    {"bank_card", pgkms_mask_rule_bank_card, "4111.1111.1111.1111", "*******************"},
    {"bank_card", pgkms_mask_rule_bank_card, "", ""},

    /* Addresses: the Chinese administrative part, or the last comma component. */
    {"address", pgkms_mask_rule_address, "北京市海淀区中关村大街27号", "北京市海淀区********"},
    {"address", pgkms_mask_rule_address, "广东省深圳市南山区科技园南路1号",
     "广东省深圳市南山区*******"},
    {"address", pgkms_mask_rule_address, "广东省东莞市长安镇乌沙村8号", "广东省东莞市********"},
    {"address", pgkms_mask_rule_address, "内蒙古自治区呼和浩特市新城区", "内蒙古自治区********"},
    {"address", pgkms_mask_rule_address, "台北市大安區忠孝東路100號", "台北市大安區********"},
    {"address", pgkms_mask_rule_address, "北京市", "***"},
    {"address", pgkms_mask_rule_address, "221B Baker Street, London", "*****************, London"},
    {"address", pgkms_mask_rule_address, "1600 Amphitheatre Parkway, Mountain View, CA 94043, USA",
     "**************************************************, USA"},
    {"address", pgkms_mask_rule_address, "中关村大街27号, 北京", "********, 北京"},
    {"address", pgkms_mask_rule_address, "London", "******"},
    {"address", pgkms_mask_rule_address, ", London", "********"},
    {"address", pgkms_mask_rule_address, "Baker Street, ", "**************"},
    {"address", pgkms_mask_rule_address, "北京市\xff海淀区", "*******"},
    {"address", pgkms_mask_rule_address, "Baker St\xff, London", "*****************"},
    {"address", pgkms_mask_rule_address, "Baker Street, Lon\xff", "******************"},
    {"address", pgkms_mask_rule_address, "", ""},
};

static const struct {
    const char *in;
    int64_t first, last;
    const char *mask_char, *want;
} keep_cases[] = {
    {"13812345678", 3, 4, "*", "138****5678"},
    {"abc", 1, 1, "*", "a*c"},
    {"abc", 1, 2, "*", "***"}, /* would show every character */
    {"abc", 5, 0, "*", "***"},
    {"abc", 0, 0, "#", "###"},
    {"abcdef", 0, 2147483647, "*", "******"},
    {"abcdef", 2, 2, "●", "ab●●ef"},
    {"张三丰", 1, 0, "＊", "张＊＊"},
    {"😀😀😀", 1, 1, "•", "😀•😀"},
    {"ab😀", 0, 1, "*", "**😀"},
    {"", 0, 0, "*", ""},
    {"ab\xff"
     "cd",
     1, 1, "*", "*****"},
    {"abc\x80", 0, 1, "*", "****"},
    {"\x80"
     "abc",
     1, 1, "*", "****"},
    {"ab\xe5\xbc", 1, 0, "●", "●●●●"},
};

static const struct {
    const char *in;
    int64_t n;
    const char *want;
} truncate_cases[] = {
    {"13812345678", 3, "138"},
    {"张三丰", 1, "张"},
    {"😀😀", 1, "😀"},
    {"abc", 0, ""},
    {"abc", 3, "***"},
    {"abc", 10, "***"},
    {"", 0, ""},
    {"ab\xff", 1, "***"},
    {"a\xff"
     "b",
     2, "***"},
    {"\xff", 0, "*"},
    {"abc\xc3", 1, "****"},
};

/* An independent check of RFC 3629, written as byte ranges. */
static int utf8_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        size_t n = 0;

        if (*p < 0x80)
            n = 1;
        else if (*p >= 0xC2 && *p <= 0xDF)
            n = 2;
        else if (*p >= 0xE0 && *p <= 0xEF)
            n = 3;
        else if (*p >= 0xF0 && *p <= 0xF4)
            n = 4;
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

static int all_stars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '*')
            return 0;
    }
    return 1;
}

static void check_rules(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].in), out_len;
        char *out = malloc(len ? len : 1); /* exactly the documented size: valgrind sees more */

        out_len = cases[i].fn(cases[i].in, len, out);
        CHECK_MSG(out_len == strlen(cases[i].want) && memcmp(out, cases[i].want, out_len) == 0,
                  "mask_%s(\"%s\") gave \"%.*s\", expected \"%s\"", cases[i].rule, cases[i].in,
                  (int)out_len, out, cases[i].want);
        free(out);
    }
}

static void check_keep(void)
{
    pgkms_status st;
    char out[64];
    size_t out_len;

    for (size_t i = 0; i < sizeof(keep_cases) / sizeof(keep_cases[0]); i++) {
        size_t len = strlen(keep_cases[i].in), mc_len = strlen(keep_cases[i].mask_char);
        char *buf = malloc(len > 0 ? len * mc_len : 1);

        CHECK(pgkms_mask_rule_keep(keep_cases[i].in, len, keep_cases[i].first, keep_cases[i].last,
                                   keep_cases[i].mask_char, mc_len, buf, &out_len,
                                   &st) == PGKMS_OK);
        CHECK_MSG(out_len == strlen(keep_cases[i].want) &&
                      memcmp(buf, keep_cases[i].want, out_len) == 0,
                  "mask(\"%s\", %lld, %lld, '%s') gave \"%.*s\", expected \"%s\"", keep_cases[i].in,
                  (long long)keep_cases[i].first, (long long)keep_cases[i].last,
                  keep_cases[i].mask_char, (int)out_len, buf, keep_cases[i].want);
        free(buf);
    }

    CHECK(pgkms_mask_rule_keep("abc", 3, -1, 0, "*", 1, out, &out_len, &st) ==
              PGKMS_E_INVALID_ARGUMENT &&
          strcmp(st.detail, "keep_first must not be negative (-1)") == 0);
    CHECK(pgkms_mask_rule_keep("abc", 3, 0, -5, "*", 1, out, &out_len, &st) ==
              PGKMS_E_INVALID_ARGUMENT &&
          strcmp(st.detail, "keep_last must not be negative (-5)") == 0);
    CHECK(pgkms_mask_rule_keep("abc", 3, 0, 0, "", 0, out, &out_len, &st) ==
              PGKMS_E_INVALID_ARGUMENT &&
          strcmp(st.detail, "mask_char must be exactly one character, not 0") == 0);
    CHECK(pgkms_mask_rule_keep("abc", 3, 0, 0, "**", 2, out, &out_len, &st) ==
              PGKMS_E_INVALID_ARGUMENT &&
          strcmp(st.detail, "mask_char must be exactly one character, not 2") == 0);
    CHECK(pgkms_mask_rule_keep("abc", 3, 0, 0, "张三", 6, out, &out_len, &st) ==
              PGKMS_E_INVALID_ARGUMENT &&
          strcmp(st.detail, "mask_char must be exactly one character, not 2") == 0);
    CHECK(pgkms_mask_rule_keep("abc", 3, 0, 0, "\xff", 1, out, &out_len, &st) ==
              PGKMS_E_INVALID_ARGUMENT &&
          strcmp(st.detail, "mask_char is not valid UTF-8") == 0);
    CHECK(pgkms_mask_rule_keep("abc", 3, 0, 0, "*\xff", 2, out, &out_len, &st) ==
          PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_mask_check_char("😀", 4, &st) == PGKMS_OK);
    CHECK(pgkms_mask_check_char("\xe5\xbc", 2, &st) == PGKMS_E_INVALID_ARGUMENT);
}

static void check_truncate(void)
{
    pgkms_status st;
    char out[8];
    size_t out_len;

    for (size_t i = 0; i < sizeof(truncate_cases) / sizeof(truncate_cases[0]); i++) {
        size_t len = strlen(truncate_cases[i].in);
        char *buf = malloc(len ? len : 1);

        CHECK(pgkms_mask_rule_truncate(truncate_cases[i].in, len, truncate_cases[i].n, buf,
                                       &out_len, &st) == PGKMS_OK);
        CHECK_MSG(out_len == strlen(truncate_cases[i].want) &&
                      memcmp(buf, truncate_cases[i].want, out_len) == 0,
                  "mask_truncate(\"%s\", %lld) gave \"%.*s\", expected \"%s\"",
                  truncate_cases[i].in, (long long)truncate_cases[i].n, (int)out_len, buf,
                  truncate_cases[i].want);
        free(buf);
    }
    CHECK(pgkms_mask_rule_truncate("abc", 3, -1, out, &out_len, &st) == PGKMS_E_INVALID_ARGUMENT &&
          strcmp(st.detail, "n must not be negative (-1)") == 0);
}

/*
 * Random strings over an alphabet of digits, separators, '@', '+', multi-byte characters and
 * stray bytes: every rule stays within its buffer and writes valid UTF-8, and input that is
 * not valid UTF-8 never survives in the output.
 */
static void check_random(void)
{
    static const char *const atoms[] = {
        "0", "1", "7", "8",  "9",  "6",  "X", "a",    ".",    "@",        "+",       " ",
        "-", ",", "(", "张", "区", "市", "😀", "\xff", "\x80", "\xe5\xbc", "\xc0\xaf"};
    static const rule_fn rules[] = {pgkms_mask_rule_name,      pgkms_mask_rule_phone,
                                    pgkms_mask_rule_email,     pgkms_mask_rule_id_card,
                                    pgkms_mask_rule_bank_card, pgkms_mask_rule_address};
    uint32_t seed = 12345;
    char in[128];

    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0, natoms, out_len;
        char *out;
        pgkms_status st;

        seed = seed * 1103515245 + 12345;
        natoms = (seed >> 16) % 24;
        for (size_t k = 0; k < natoms; k++) {
            const char *a;

            seed = seed * 1103515245 + 12345;
            a = atoms[(seed >> 16) % (sizeof(atoms) / sizeof(atoms[0]))];
            memcpy(in + len, a, strlen(a));
            len += strlen(a);
        }
        out = malloc(len > 0 ? len * 3 : 1);
        for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
            out_len = rules[r](in, len, out);
            CHECK_MSG(out_len <= len && utf8_ok(out, out_len), "rule %zu on %.*s", r, (int)len, in);
            if (!utf8_ok(in, len))
                CHECK(all_stars(out, out_len));
        }
        seed = seed * 1103515245 + 12345;
        CHECK(pgkms_mask_rule_keep(in, len, (seed >> 16) % 8, (seed >> 20) % 8, "●", 3, out,
                                   &out_len, &st) == PGKMS_OK &&
              out_len <= len * 3 && utf8_ok(out, out_len));
        CHECK(pgkms_mask_rule_truncate(in, len, (seed >> 24) % 8, out, &out_len, &st) == PGKMS_OK &&
              out_len <= len && utf8_ok(out, out_len));
        free(out);
    }
}

void test_mask(void)
{
    check_rules();
    check_keep();
    check_truncate();
    check_random();
}
