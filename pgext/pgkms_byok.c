/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BYOK: keys whose material the tenant brings (origin 'external'), imported as AWS KMS does:
 * the key starts in PendingImport; kms.get_parameters_for_import() hands out a one-time
 * RSA-3072 public key and an import token (valid 24 hours); kms.import_key_material() takes the
 * 32 bytes encrypted to it with RSA-OAEP-SHA-256 and stores them wrapped under the root like any
 * tenant key version. The cryptography is common/key_import.c; this file is the SQL plumbing.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "pgkms/key_import.h"
#include "pgkms/secmem.h"
#include "pgkms_ext.h"

#define IMPORT_TOKEN_HOURS 24

static pgkms_root *open_root(void)
{
    bool is_default;
    char *uri = pgkms_root_uri(&is_default);
    pgkms_root *root;
    pgkms_status st;

    if (pgkms_root_open(pgkms_libctx(), uri, is_default ? PGKMS_ROOT_CREATE : 0, &root, &st) !=
        PGKMS_OK)
        pgkms_ereport_status(&st);
    return root;
}

static bytea *to_bytea(const uint8_t *data, size_t len)
{
    bytea *b = palloc(VARHDRSZ + len);

    SET_VARSIZE(b, VARHDRSZ + len);
    memcpy(VARDATA(b), data, len);
    return b;
}

/* The external key key_id, locked; refused (and audited) unless it was imported. */
static void lock_external(const char *op, const char *kid, char **tenant, uint32_t *current,
                          char **state)
{
    char *origin, *keyring_uri;

    if (!pgkms_keys_lock(kid, tenant, current, state, &origin, &keyring_uri))
        pgkms_refuse(op, NULL, kid, ERRCODE_UNDEFINED_OBJECT,
                     psprintf("key %s does not exist", kid));
    if (strcmp(origin, "external") != 0)
        pgkms_refuse(
            op, *tenant, kid, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            psprintf("key %s was not created for imported material (origin %s)", kid, origin));
    if (strcmp(*state, "PendingDeletion") == 0 || strcmp(*state, "Destroyed") == 0)
        pgkms_refuse(op, *tenant, kid, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                     psprintf("key %s is in state %s", kid, *state));
}

/* SQL: kms.get_parameters_for_import(key uuid) returns (public_key, import_token, valid_until) */
PG_FUNCTION_INFO_V1(pgkms_get_parameters_for_import);
Datum pgkms_get_parameters_for_import(PG_FUNCTION_ARGS)
{
    pg_uuid_t *id = PG_GETARG_UUID_P(0);
    char kid[PGKMS_UUID_STR_LEN + 1], *tenant, *state;
    uint32_t current;
    pgkms_root *root;
    pgkms_import_params params;
    uint8_t token_hash[PGKMS_IMPORT_TOKEN_HASH_LEN];
    pgkms_status st;
    pgkms_code rc;
    TimestampTz expires =
        TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64)IMPORT_TOKEN_HOURS * 3600 * 1000);
    TupleDesc desc;
    Datum values[3];
    bool nulls[3] = {false, false, false};
    bytea *token;
    pgkms_spi_owner o;
    Oid types[4] = {UUIDOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID};
    Datum args[4];

    if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "kms.get_parameters_for_import must return a row");
    pgkms_uuid_format(id->data, kid);
    lock_external("get_parameters_for_import", kid, &tenant, &current, &state);
    root = open_root();
    rc = pgkms_import_params_new(root, id->data, pgkms_libctx(), &params, &st);
    pgkms_root_close(root);
    if (rc == PGKMS_OK)
        rc = pgkms_import_token_hash(pgkms_libctx(), params.token, sizeof(params.token), token_hash,
                                     &st);
    if (rc != PGKMS_OK) {
        pgkms_import_params_free(&params);
        pgkms_ereport_status(&st);
    }
    token = to_bytea(params.token, sizeof(params.token));
    values[0] = CStringGetTextDatum(params.public_pem);
    values[1] = PointerGetDatum(token);
    values[2] = TimestampTzGetDatum(expires);
    args[0] = UUIDPGetDatum(id);
    args[1] = PointerGetDatum(to_bytea(token_hash, sizeof(token_hash)));
    args[2] = PointerGetDatum(to_bytea(params.sealed, params.sealed_len));
    args[3] = TimestampTzGetDatum(expires);
    pgkms_import_params_free(&params);
    pgkms_spi_as_owner(&o);
    /* New parameters replace any earlier ones of this key. */
    if (SPI_execute_with_args("INSERT INTO kms._import_params (key_id, token_hash, sealed, expires)"
                              " VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO UPDATE SET"
                              " token_hash = excluded.token_hash, sealed = excluded.sealed,"
                              " expires = excluded.expires",
                              4, types, args, NULL, false, 0) != SPI_OK_INSERT)
        elog(ERROR, "could not store import parameters");
    pgkms_spi_as_caller(&o);
    pgkms_audit_ok("get_parameters_for_import", tenant, kid, -1, NULL);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* The sealed parameters of key id for this token hash: NULL if none; *expired if too old. */
static bytea *find_params(pg_uuid_t *id, const uint8_t hash[PGKMS_IMPORT_TOKEN_HASH_LEN],
                          bool *expired)
{
    pgkms_spi_owner o;
    Oid types[2] = {UUIDOID, BYTEAOID};
    Datum args[2] = {UUIDPGetDatum(id),
                     PointerGetDatum(to_bytea(hash, PGKMS_IMPORT_TOKEN_HASH_LEN))};
    bytea *sealed = NULL;

    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args("SELECT sealed, expires OPERATOR(pg_catalog.<=) pg_catalog.now()"
                              " FROM kms._import_params"
                              " WHERE key_id OPERATOR(pg_catalog.=) $1"
                              " AND token_hash OPERATOR(pg_catalog.=) $2",
                              2, types, args, NULL, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "could not read import parameters");
    if (SPI_processed == 1) {
        bool isnull;
        bytea *b = DatumGetByteaPP(
            SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

        sealed = SPI_palloc(VARSIZE_ANY(b));
        memcpy(sealed, b, VARSIZE_ANY(b));
        *expired =
            DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    }
    pgkms_spi_as_caller(&o);
    return sealed;
}

/* Stores the import's outcome: material check, validity, state; the parameters are used up. */
static void finish_import(pg_uuid_t *id, const uint8_t check[PGKMS_IMPORT_CHECK_LEN],
                          Datum valid_to, bool no_valid_to)
{
    pgkms_spi_owner o;
    Oid types[3] = {UUIDOID, BYTEAOID, TIMESTAMPTZOID};
    Datum args[3] = {UUIDPGetDatum(id), PointerGetDatum(to_bytea(check, PGKMS_IMPORT_CHECK_LEN)),
                     valid_to};
    char nulls[3] = {' ', ' ', no_valid_to ? 'n' : ' '};

    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args("UPDATE kms._keys SET material_check = $2, valid_to = $3,"
                              " state = CASE state WHEN 'PendingImport' THEN 'Enabled'"
                              " ELSE state END"
                              " WHERE key_id OPERATOR(pg_catalog.=) $1",
                              3, types, args, nulls, false, 0) != SPI_OK_UPDATE ||
        SPI_execute_with_args("DELETE FROM kms._import_params"
                              " WHERE key_id OPERATOR(pg_catalog.=) $1",
                              1, types, args, NULL, false, 0) != SPI_OK_DELETE)
        elog(ERROR, "could not record the import");
    pgkms_spi_as_caller(&o);
}

/* The material check stored by an earlier import of key id, if any (into out). */
static bool earlier_check(pg_uuid_t *id, uint8_t out[PGKMS_IMPORT_CHECK_LEN])
{
    pgkms_spi_owner o;
    Oid types[1] = {UUIDOID};
    Datum args[1] = {UUIDPGetDatum(id)};
    bool found = false;

    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args("SELECT material_check FROM kms._keys"
                              " WHERE key_id OPERATOR(pg_catalog.=) $1",
                              1, types, args, NULL, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "could not read key %s", "material check");
    if (SPI_processed == 1) {
        bool isnull;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

        if (!isnull) {
            bytea *b = DatumGetByteaPP(d);

            found = VARSIZE_ANY_EXHDR(b) == PGKMS_IMPORT_CHECK_LEN;
            if (found)
                memcpy(out, VARDATA_ANY(b), PGKMS_IMPORT_CHECK_LEN);
        }
    }
    pgkms_spi_as_caller(&o);
    return found;
}

/* SQL: kms.import_key_material(key uuid, import_token bytea, encrypted_material bytea,
 *                              valid_to timestamptz) returns void */
PG_FUNCTION_INFO_V1(pgkms_import_key_material);
Datum pgkms_import_key_material(PG_FUNCTION_ARGS)
{
    const char *op = "import_key_material";
    pg_uuid_t *id;
    bytea *token, *encrypted, *sealed;
    char kid[PGKMS_UUID_STR_LEN + 1], *tenant, *state;
    uint32_t current;
    uint8_t hash[PGKMS_IMPORT_TOKEN_HASH_LEN], check[PGKMS_IMPORT_CHECK_LEN];
    uint8_t before[PGKMS_IMPORT_CHECK_LEN];
    uint8_t *material;
    bool expired = false, had_material;
    pgkms_root *root;
    pgkms_status st;
    pgkms_code rc;
    pgkms_key_record rec;
    pgkms_key_version v;

    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("kms.import_key_material needs a key, an import token and the "
                               "encrypted material")));
    id = PG_GETARG_UUID_P(0);
    token = PG_GETARG_BYTEA_PP(1);
    encrypted = PG_GETARG_BYTEA_PP(2);
    pgkms_uuid_format(id->data, kid);
    lock_external(op, kid, &tenant, &current, &state);
    if (!PG_ARGISNULL(3) && PG_GETARG_TIMESTAMPTZ(3) <= GetCurrentTransactionStartTimestamp())
        pgkms_refuse(op, tenant, kid, ERRCODE_INVALID_PARAMETER_VALUE,
                     "valid_to must be in the future");
    if (pgkms_import_token_hash(pgkms_libctx(), (const uint8_t *)VARDATA_ANY(token),
                                VARSIZE_ANY_EXHDR(token), hash, &st) != PGKMS_OK ||
        (sealed = find_params(id, hash, &expired)) == NULL)
        pgkms_refuse(op, tenant, kid, ERRCODE_INVALID_PARAMETER_VALUE,
                     psprintf("this import token is not valid for key %s", kid));
    if (expired)
        pgkms_refuse(op, tenant, kid, ERRCODE_INVALID_PARAMETER_VALUE,
                     psprintf("the import token of key %s has expired; get new parameters", kid));

    material = pgkms_secure_alloc(PGKMS_IMPORT_MATERIAL_LEN);
    if (material == NULL)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    root = open_root();
    rc = pgkms_import_unwrap_material(
        root, id->data, pgkms_libctx(), (const uint8_t *)VARDATA_ANY(token),
        VARSIZE_ANY_EXHDR(token), (const uint8_t *)VARDATA_ANY(sealed), VARSIZE_ANY_EXHDR(sealed),
        (const uint8_t *)VARDATA_ANY(encrypted), VARSIZE_ANY_EXHDR(encrypted), material, &st);
    if (rc == PGKMS_OK)
        rc = pgkms_material_check(pgkms_libctx(), material, id->data, check, &st);
    memset(&v, 0, sizeof(v));
    had_material = earlier_check(id, before);
    if (rc == PGKMS_OK && !(had_material && pgkms_memcmp_ct(before, check, sizeof(check)) != 0) &&
        strcmp(state, "PendingImport") == 0)
        rc = pgkms_tenant_key_wrap(root, tenant, id->data, current, material, &v, &st);
    pgkms_secure_free(material, PGKMS_IMPORT_MATERIAL_LEN);
    pgkms_root_close(root);
    if (rc != PGKMS_OK)
        pgkms_refuse(op, tenant, kid, pgkms_sqlstate(st.code), st.detail);
    /* The same key must always mean the same material: values under it depend on that. */
    if (had_material && pgkms_memcmp_ct(before, check, sizeof(check)) != 0) {
        free(v.wrapped);
        free(v.keyring);
        pgkms_refuse(op, tenant, kid, ERRCODE_INVALID_PARAMETER_VALUE,
                     psprintf("this is not the material imported into key %s before", kid));
    }
    if (v.wrapped != NULL) {
        /* PendingImport: the material becomes the key's current version again. */
        memset(&rec, 0, sizeof(rec));
        memcpy(rec.key_id, id->data, PGKMS_UUID_LEN);
        rec.current_version = current;
        rec.versions = &v;
        rec.nversions = 1;
        PG_TRY();
        {
            pgkms_keys_add_version(&rec);
        }
        PG_FINALLY();
        {
            free(v.wrapped);
            free(v.keyring);
            free(v.created);
        }
        PG_END_TRY();
    }
    finish_import(id, check, PG_ARGISNULL(3) ? (Datum)0 : PG_GETARG_DATUM(3), PG_ARGISNULL(3));
    pgkms_audit_ok(op, tenant, kid, current,
                   PG_ARGISNULL(3)
                       ? "no expiry"
                       : psprintf("valid to %s", timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(3))));
    PG_RETURN_VOID();
}
