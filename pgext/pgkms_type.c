/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Type kms.encrypted: the pgkms value format as a varlena. Its text form is base64, so COPY
 * and pg_dump carry ciphertext only; input and receive parse strictly.
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"

#include "pgkms/codec.h"
#include "pgkms_ext.h"

static bytea *validated(const uint8_t *data, size_t len)
{
    pgkms_envelope env;
    pgkms_status st;
    bytea *out;

    if (pgkms_format_parse(data, len, &env, &st) != PGKMS_OK)
        ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
                        errmsg("invalid kms.encrypted value: %s", st.detail)));
    out = palloc(VARHDRSZ + len);
    SET_VARSIZE(out, VARHDRSZ + len);
    memcpy(VARDATA(out), data, len);
    return out;
}

/* SQL: kms.encrypted_in(cstring) returns kms.encrypted */
PG_FUNCTION_INFO_V1(pgkms_encrypted_in);
Datum pgkms_encrypted_in(PG_FUNCTION_ARGS)
{
    const char *text = PG_GETARG_CSTRING(0);
    size_t text_len = strlen(text), len = 0;
    uint8_t *buf;
    pgkms_status st;

    if (text_len > pgkms_base64_len(PGKMS_MAX_VALUE_LEN))
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("kms.encrypted text form is too long")));
    buf = palloc(text_len / 4 * 3 + 3);
    if (pgkms_base64_decode(text, text_len, buf, text_len / 4 * 3 + 3, &len, &st) != PGKMS_OK)
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("invalid input syntax for type kms.encrypted: %s", st.detail),
                        errhint("The text form of kms.encrypted is base64.")));
    PG_RETURN_BYTEA_P(validated(buf, len));
}

/* SQL: kms.encrypted_out(kms.encrypted) returns cstring */
PG_FUNCTION_INFO_V1(pgkms_encrypted_out);
Datum pgkms_encrypted_out(PG_FUNCTION_ARGS)
{
    bytea *v = PG_GETARG_BYTEA_PP(0);
    size_t len = VARSIZE_ANY_EXHDR(v);
    char *out = palloc(pgkms_base64_len(len) + 1);

    pgkms_base64_encode((const uint8_t *)VARDATA_ANY(v), len, out);
    PG_RETURN_CSTRING(out);
}

/* SQL: kms.encrypted_recv(internal) returns kms.encrypted */
PG_FUNCTION_INFO_V1(pgkms_encrypted_recv);
Datum pgkms_encrypted_recv(PG_FUNCTION_ARGS)
{
    StringInfo buf = (StringInfo)PG_GETARG_POINTER(0);
    int len = buf->len - buf->cursor;
    const char *data = pq_getmsgbytes(buf, len);

    PG_RETURN_BYTEA_P(validated((const uint8_t *)data, (size_t)len));
}

/* SQL: kms.encrypted_send(kms.encrypted) returns bytea */
PG_FUNCTION_INFO_V1(pgkms_encrypted_send);
Datum pgkms_encrypted_send(PG_FUNCTION_ARGS)
{
    bytea *v = PG_GETARG_BYTEA_P_COPY(0);

    PG_RETURN_BYTEA_P(v);
}
