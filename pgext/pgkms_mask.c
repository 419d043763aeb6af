/* SPDX-License-Identifier: Apache-2.0 */
/* SQL entry points of the masking functions; the rules are in common/mask.c. */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pgkms/mask.h"
#include "pgkms_ext.h"

/*
 * The rules read UTF-8. SQL_ASCII is accepted because its bytes carry no promise anyway:
 * what is not UTF-8 there is masked entirely. Other encodings would be misread.
 */
static void require_utf8(void)
{
    int enc = GetDatabaseEncoding();

    if (enc != PG_UTF8 && enc != PG_SQL_ASCII)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("kms masking functions need a UTF8 database, not %s",
                               GetDatabaseEncodingName())));
}

/* Applies a rule whose result is never longer than its input. */
static Datum apply_rule(FunctionCallInfo fcinfo, size_t (*rule)(const char *, size_t, char *))
{
    text *in = PG_GETARG_TEXT_PP(0), *out;
    size_t len = VARSIZE_ANY_EXHDR(in);

    require_utf8();
    out = palloc(VARHDRSZ + len);
    SET_VARSIZE(out, VARHDRSZ + rule(VARDATA_ANY(in), len, VARDATA(out)));
    PG_RETURN_TEXT_P(out);
}

/* SQL: kms.mask_name(value text) returns text */
PG_FUNCTION_INFO_V1(pgkms_mask_name);
Datum pgkms_mask_name(PG_FUNCTION_ARGS)
{
    return apply_rule(fcinfo, pgkms_mask_rule_name);
}

/* SQL: kms.mask_phone(value text) returns text */
PG_FUNCTION_INFO_V1(pgkms_mask_phone);
Datum pgkms_mask_phone(PG_FUNCTION_ARGS)
{
    return apply_rule(fcinfo, pgkms_mask_rule_phone);
}

/* SQL: kms.mask_email(value text) returns text */
PG_FUNCTION_INFO_V1(pgkms_mask_email);
Datum pgkms_mask_email(PG_FUNCTION_ARGS)
{
    return apply_rule(fcinfo, pgkms_mask_rule_email);
}

/* SQL: kms.mask_id_card(value text) returns text */
PG_FUNCTION_INFO_V1(pgkms_mask_id_card);
Datum pgkms_mask_id_card(PG_FUNCTION_ARGS)
{
    return apply_rule(fcinfo, pgkms_mask_rule_id_card);
}

/* SQL: kms.mask_bank_card(value text) returns text */
PG_FUNCTION_INFO_V1(pgkms_mask_bank_card);
Datum pgkms_mask_bank_card(PG_FUNCTION_ARGS)
{
    return apply_rule(fcinfo, pgkms_mask_rule_bank_card);
}

/* SQL: kms.mask_address(value text) returns text */
PG_FUNCTION_INFO_V1(pgkms_mask_address);
Datum pgkms_mask_address(PG_FUNCTION_ARGS)
{
    return apply_rule(fcinfo, pgkms_mask_rule_address);
}

/* SQL: kms.mask(value text, keep_first int, keep_last int, mask_char text) returns text */
PG_FUNCTION_INFO_V1(pgkms_mask);
Datum pgkms_mask(PG_FUNCTION_ARGS)
{
    text *in = PG_GETARG_TEXT_PP(0), *mc = PG_GETARG_TEXT_PP(3), *out;
    size_t len = VARSIZE_ANY_EXHDR(in), mc_len = VARSIZE_ANY_EXHDR(mc), out_len;
    pgkms_status st;

    require_utf8();
    /* Checked before sizing the result, which depends on the mask character's length. */
    if (pgkms_mask_check_char(VARDATA_ANY(mc), mc_len, &st) != PGKMS_OK)
        pgkms_ereport_status(&st);
    if (len > (MaxAllocSize - VARHDRSZ) / mc_len)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("value of %zu bytes is too large to mask with a %zu-byte "
                               "mask character",
                               len, mc_len)));
    out = palloc(VARHDRSZ + len * mc_len);
    if (pgkms_mask_rule_keep(VARDATA_ANY(in), len, PG_GETARG_INT32(1), PG_GETARG_INT32(2),
                             VARDATA_ANY(mc), mc_len, VARDATA(out), &out_len, &st) != PGKMS_OK)
        pgkms_ereport_status(&st);
    SET_VARSIZE(out, VARHDRSZ + out_len);
    PG_RETURN_TEXT_P(out);
}

/* SQL: kms.mask_truncate(value text, n int) returns text */
PG_FUNCTION_INFO_V1(pgkms_mask_truncate);
Datum pgkms_mask_truncate(PG_FUNCTION_ARGS)
{
    text *in = PG_GETARG_TEXT_PP(0), *out;
    size_t len = VARSIZE_ANY_EXHDR(in), out_len;
    pgkms_status st;

    require_utf8();
    out = palloc(VARHDRSZ + len);
    if (pgkms_mask_rule_truncate(VARDATA_ANY(in), len, PG_GETARG_INT32(1), VARDATA(out), &out_len,
                                 &st) != PGKMS_OK)
        pgkms_ereport_status(&st);
    SET_VARSIZE(out, VARHDRSZ + out_len);
    PG_RETURN_TEXT_P(out);
}

/* SQL: kms.mask_replace(value text, replacement text) returns text */
PG_FUNCTION_INFO_V1(pgkms_mask_replace);
Datum pgkms_mask_replace(PG_FUNCTION_ARGS)
{
    /* Nothing of the value is read: the replacement is the whole result. */
    PG_RETURN_TEXT_P(PG_GETARG_TEXT_PP(1));
}
