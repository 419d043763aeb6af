/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transparent encrypted columns (docs/transparent-columns.md): types kms.enc_text,
 * kms.enc_phone, ... whose input encrypts plaintext under the session's tenant (kms.tenant),
 * so that an application changes only a column's type. Input that already is a pgkms value
 * (the base64 text form, or the bytes in binary input) is stored unchanged, which makes
 * COPY, pg_dump/pg_restore and re-inserting a selected value work without a tenant and
 * without plaintext. Output is always the ciphertext (kms.encrypted's functions); plaintext
 * comes only through the casts to text, which call kms.reveal().
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "pgkms/codec.h"
#include "pgkms_ext.h"

/* The bytes, as a varlena, if they are a well-formed pgkms value; else NULL. */
static bytea *as_value(const uint8_t *data, size_t len)
{
    pgkms_envelope env;
    pgkms_status st;
    bytea *out;

    if (pgkms_format_parse(data, len, &env, &st) != PGKMS_OK)
        return NULL;
    out = palloc(VARHDRSZ + len);
    SET_VARSIZE(out, VARHDRSZ + len);
    memcpy(VARDATA(out), data, len);
    return out;
}

/* The text form of a value (strict base64 of a well-formed value); else NULL. */
static bytea *as_value_text(const char *s, size_t len)
{
    size_t cap = len / 4 * 3 + 3, n = 0;
    uint8_t *buf;
    bytea *v;

    /* Every value starts with the magic 8B 4B 01, whose base64 is "i0sB". */
    if (len < 4 || memcmp(s, "i0sB", 4) != 0 || len > pgkms_base64_len(PGKMS_MAX_VALUE_LEN))
        return NULL;
    buf = palloc(cap);
    v = pgkms_base64_decode(s, len, buf, cap, &n, NULL) == PGKMS_OK ? as_value(buf, n) : NULL;
    pfree(buf);
    return v;
}

static bytea *seal_plaintext(const char *s, size_t len)
{
    return pgkms_seal_as_session(-1, NULL, 0, s, len);
}

/* Deterministic columns: equal plaintexts must give equal bytes, or lookups miss rows. */
static bytea *det_value(bytea *v)
{
    if (((const uint8_t *)VARDATA(v))[3] != PGKMS_ALG_SIV_DATA)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("a deterministic column stores only deterministic values"),
                        errhint("Store plaintext, or a value made by kms.encrypt_det().")));
    return v;
}

static bytea *seal_det(const char *s, size_t len)
{
    return pgkms_seal_det(pgkms_session_tenant(), s, len);
}

/* SQL: input function of kms.enc_*_det */
PG_FUNCTION_INFO_V1(pgkms_column_det_in);
Datum pgkms_column_det_in(PG_FUNCTION_ARGS)
{
    const char *s = PG_GETARG_CSTRING(0);
    size_t len = strlen(s);
    bytea *v = as_value_text(s, len);

    PG_RETURN_BYTEA_P(v != NULL ? det_value(v) : seal_det(s, len));
}

/* SQL: receive function of kms.enc_*_det */
PG_FUNCTION_INFO_V1(pgkms_column_det_recv);
Datum pgkms_column_det_recv(PG_FUNCTION_ARGS)
{
    StringInfo buf = (StringInfo)PG_GETARG_POINTER(0);
    bytea *v = as_value((const uint8_t *)buf->data + buf->cursor, buf->len - buf->cursor);
    char *s;
    int n;

    if (v != NULL) {
        buf->cursor = buf->len;
        PG_RETURN_BYTEA_P(det_value(v));
    }
    s = pq_getmsgtext(buf, buf->len - buf->cursor, &n);
    PG_RETURN_BYTEA_P(seal_det(s, (size_t)n));
}

/* SQL: assignment cast text -> kms.enc_*_det */
PG_FUNCTION_INFO_V1(pgkms_column_det_from_text);
Datum pgkms_column_det_from_text(PG_FUNCTION_ARGS)
{
    text *t = PG_GETARG_TEXT_PP(0);
    bytea *v = as_value_text(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));

    PG_RETURN_BYTEA_P(v != NULL ? det_value(v) : seal_det(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}

/* SQL: input function of kms.enc_* (cstring, oid, integer) */
PG_FUNCTION_INFO_V1(pgkms_column_in);
Datum pgkms_column_in(PG_FUNCTION_ARGS)
{
    const char *s = PG_GETARG_CSTRING(0);
    size_t len = strlen(s);
    bytea *v = as_value_text(s, len);

    PG_RETURN_BYTEA_P(v != NULL ? v : seal_plaintext(s, len));
}

/* SQL: receive function of kms.enc_* (internal, oid, integer): value bytes, or text. */
PG_FUNCTION_INFO_V1(pgkms_column_recv);
Datum pgkms_column_recv(PG_FUNCTION_ARGS)
{
    StringInfo buf = (StringInfo)PG_GETARG_POINTER(0);
    bytea *v = as_value((const uint8_t *)buf->data + buf->cursor, buf->len - buf->cursor);
    char *s;
    int n;

    if (v != NULL) {
        buf->cursor = buf->len;
        PG_RETURN_BYTEA_P(v);
    }
    s = pq_getmsgtext(buf, buf->len - buf->cursor, &n); /* client to server encoding */
    PG_RETURN_BYTEA_P(seal_plaintext(s, (size_t)n));
}

/* SQL: assignment cast text -> kms.enc_* (an UPDATE ... SET col = text_expression) */
PG_FUNCTION_INFO_V1(pgkms_column_from_text);
Datum pgkms_column_from_text(PG_FUNCTION_ARGS)
{
    text *t = PG_GETARG_TEXT_PP(0);
    bytea *v = as_value_text(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));

    PG_RETURN_BYTEA_P(v != NULL ? v : seal_plaintext(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}
