/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tenant key records in kms._keys / kms._key_versions, read and written through SPI as the
 * owner of schema kms (callers need no privileges on the tables). Only cache misses, key
 * creation and exports come here, never a per-row path. Every name and operator is
 * schema-qualified because these queries run with the owner's rights.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "access/xact.h"
#include "utils/syscache.h"
#include "utils/uuid.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "access/htup_details.h"

#include "pgkms_ext.h"

/* Imported material past its valid_to is treated as deleted before the purge deletes it. */
#define RECORD_QUERY                                                                               \
    "SELECT k.key_id, k.tenant, k.alias, k.is_default,"                                            \
    " CASE WHEN k.valid_to OPERATOR(pg_catalog.<=) pg_catalog.now() THEN 'PendingImport'"          \
    " ELSE k.state END,"                                                                           \
    " k.current_version,"                                                                          \
    " pg_catalog.to_char(k.created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"         \
    " v.version, v.keyring, v.root_id, v.wrapped,"                                                 \
    " pg_catalog.to_char(v.created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"         \
    " k.valid_to, k.keyring_uri"                                                                   \
    " FROM kms._keys k LEFT JOIN kms._key_versions v ON v.key_id OPERATOR(pg_catalog.=) k.key_id"

/*
 * Queries run with read_only = false: a fresh snapshot after a command counter increment, so
 * a key created earlier in the same call or transaction is seen.
 */

static Oid kms_owner(void)
{
    Oid nsp = get_namespace_oid("kms", false);
    HeapTuple tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
    Oid owner;

    if (!HeapTupleIsValid(tup))
        elog(ERROR, "cache lookup failed for schema kms");
    owner = ((Form_pg_namespace)GETSTRUCT(tup))->nspowner;
    ReleaseSysCache(tup);
    return owner;
}

void pgkms_spi_as_owner(pgkms_spi_owner *o)
{
    GetUserIdAndSecContext(&o->save_user, &o->save_sec);
    SetUserIdAndSecContext(kms_owner(), o->save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                            SECURITY_RESTRICTED_OPERATION);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
}

void pgkms_spi_as_caller(pgkms_spi_owner *o)
{
    SPI_finish();
    SetUserIdAndSecContext(o->save_user, o->save_sec);
}

static char *dup_value(HeapTuple row, TupleDesc desc, int col)
{
    char *v = SPI_getvalue(row, desc, col);
    char *copy = v ? strdup(v) : NULL;

    if (v != NULL && copy == NULL)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    return copy;
}

static bytea *get_bytea(HeapTuple row, TupleDesc desc, int col)
{
    bool isnull;
    Datum d = SPI_getbinval(row, desc, col, &isnull);

    return isnull ? NULL : DatumGetByteaPP(d);
}

/*
 * Rows are ordered by key, then version: consecutive rows of one key form one record.
 * *expiry: the earliest valid_to still ahead (0 if none), after which the records change.
 */
static void rows_to_keyring(pgkms_keyring *out, TimestampTz *expiry)
{
    TupleDesc desc = SPI_tuptable->tupdesc;
    pgkms_key_record *cur = NULL;
    pgkms_status st;

    memset(out, 0, sizeof(*out));
    *expiry = 0;
    for (uint64 i = 0; i < SPI_processed; i++) {
        HeapTuple row = SPI_tuptable->vals[i];
        char *kid = SPI_getvalue(row, desc, 1);
        uint8_t id[PGKMS_UUID_LEN];
        pgkms_key_version *v;
        bytea *root_id, *wrapped;
        bool no_expiry;
        TimestampTz valid_to = DatumGetTimestampTz(SPI_getbinval(row, desc, 13, &no_expiry));

        if (!no_expiry && valid_to > GetCurrentTransactionStartTimestamp() &&
            (*expiry == 0 || valid_to < *expiry))
            *expiry = valid_to;

        if (pgkms_uuid_parse(kid, id, &st) != PGKMS_OK)
            pgkms_ereport_status(&st);
        if (cur == NULL || memcmp(cur->key_id, id, PGKMS_UUID_LEN) != 0) {
            pgkms_key_record rec;

            memset(&rec, 0, sizeof(rec));
            memcpy(rec.key_id, id, PGKMS_UUID_LEN);
            rec.tenant = dup_value(row, desc, 2);
            rec.alias = dup_value(row, desc, 3);
            rec.is_default = strcmp(SPI_getvalue(row, desc, 4), "t") == 0;
            if (pgkms_key_record_set_state(&rec, SPI_getvalue(row, desc, 5), &st) != PGKMS_OK)
                pgkms_ereport_status(&st);
            rec.current_version = (uint32_t)pg_strtoint32(SPI_getvalue(row, desc, 6));
            rec.created = dup_value(row, desc, 7);
            rec.keyring_uri = dup_value(row, desc, 14);
            if (pgkms_keyring_add(out, &rec, &st) != PGKMS_OK)
                pgkms_ereport_status(&st);
            cur = &out->keys[out->nkeys - 1];
        }
        if (SPI_getvalue(row, desc, 8) == NULL)
            continue; /* a key without material (PendingImport, Destroyed) */
        v = realloc(cur->versions, (cur->nversions + 1) * sizeof(*v));
        if (v == NULL)
            ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
        cur->versions = v;
        v = &cur->versions[cur->nversions++];
        memset(v, 0, sizeof(*v));
        v->version = (uint32_t)pg_strtoint32(SPI_getvalue(row, desc, 8));
        v->keyring = dup_value(row, desc, 9);
        v->created = dup_value(row, desc, 12);
        root_id = get_bytea(row, desc, 10);
        wrapped = get_bytea(row, desc, 11);
        if (root_id == NULL || VARSIZE_ANY_EXHDR(root_id) != PGKMS_ROOT_ID_LEN || wrapped == NULL ||
            VARSIZE_ANY_EXHDR(wrapped) == 0)
            ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                            errmsg("key %s version %u has a malformed record", kid, v->version)));
        memcpy(v->root_id, VARDATA_ANY(root_id), PGKMS_ROOT_ID_LEN);
        v->wrapped_len = VARSIZE_ANY_EXHDR(wrapped);
        v->wrapped = malloc(v->wrapped_len);
        if (v->wrapped == NULL)
            ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
        memcpy(v->wrapped, VARDATA_ANY(wrapped), v->wrapped_len);
    }
}

void pgkms_keys_load(const char *tenant, pgkms_keyring *out, TimestampTz *expiry)
{
    pgkms_spi_owner o;
    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(tenant)};

    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args(RECORD_QUERY " WHERE k.tenant OPERATOR(pg_catalog.=) $1"
                                           " ORDER BY k.key_id, v.version",
                              1, types, values, NULL, false, 0) != SPI_OK_SELECT)
        elog(ERROR, "could not read the keys of tenant \"%s\"", tenant);
    rows_to_keyring(out, expiry);
    pgkms_spi_as_caller(&o);
}

void pgkms_keys_load_all(pgkms_keyring *out)
{
    pgkms_spi_owner o;
    TimestampTz expiry;

    pgkms_spi_as_owner(&o);
    if (SPI_execute(RECORD_QUERY " ORDER BY k.tenant, k.key_id, v.version", false, 0) !=
        SPI_OK_SELECT)
        elog(ERROR, "could not read the tenant keys");
    rows_to_keyring(out, &expiry);
    pgkms_spi_as_caller(&o);
}

const char *pgkms_keys_tenant_of_ref(const uint8_t ref[PGKMS_KEY_REF_LEN])
{
    pgkms_spi_owner o;
    Oid types[1] = {BYTEAOID};
    bytea *b = palloc(VARHDRSZ + PGKMS_KEY_REF_LEN);
    Datum values[1];
    const char *tenant = NULL;
    char *destroyed = NULL;

    SET_VARSIZE(b, VARHDRSZ + PGKMS_KEY_REF_LEN);
    memcpy(VARDATA(b), ref, PGKMS_KEY_REF_LEN);
    values[0] = PointerGetDatum(b);
    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args("SELECT tenant, state, key_id FROM kms._keys "
                              "WHERE key_ref OPERATOR(pg_catalog.=) $1",
                              1, types, values, NULL, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "could not look up a key reference");
    if (SPI_processed == 1) {
        HeapTuple row = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;

        tenant = MemoryContextStrdup(TopTransactionContext, SPI_getvalue(row, desc, 1));
        if (strcmp(SPI_getvalue(row, desc, 2), "Destroyed") == 0)
            destroyed = MemoryContextStrdup(TopTransactionContext, SPI_getvalue(row, desc, 3));
    }
    pgkms_spi_as_caller(&o);
    /* Crypto-shredded: say so, rather than "not found". */
    if (destroyed != NULL)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("key %s is in state Destroyed: values under it can never be "
                               "decrypted",
                               destroyed)));
    return tenant;
}

/* Inserts every version of rec (key id as a text datum); runs inside pgkms_spi_as_owner(). */
static void insert_versions(Datum kid, const pgkms_key_record *rec)
{
    for (size_t i = 0; i < rec->nversions; i++) {
        const pgkms_key_version *v = &rec->versions[i];
        Oid vtypes[5] = {TEXTOID, INT4OID, TEXTOID, BYTEAOID, BYTEAOID};
        Datum vvals[5];
        bytea *root_id = palloc(VARHDRSZ + PGKMS_ROOT_ID_LEN);
        bytea *wrapped = palloc(VARHDRSZ + v->wrapped_len);

        SET_VARSIZE(root_id, VARHDRSZ + PGKMS_ROOT_ID_LEN);
        memcpy(VARDATA(root_id), v->root_id, PGKMS_ROOT_ID_LEN);
        SET_VARSIZE(wrapped, VARHDRSZ + v->wrapped_len);
        memcpy(VARDATA(wrapped), v->wrapped, v->wrapped_len);
        vvals[0] = kid;
        vvals[1] = Int32GetDatum((int32)v->version);
        vvals[2] = CStringGetTextDatum(v->keyring);
        vvals[3] = PointerGetDatum(root_id);
        vvals[4] = PointerGetDatum(wrapped);
        if (SPI_execute_with_args("INSERT INTO kms._key_versions (key_id, version, keyring, "
                                  "root_id, wrapped) VALUES "
                                  "($1::pg_catalog.uuid, $2, $3, $4, $5)",
                                  5, vtypes, vvals, NULL, false, 0) != SPI_OK_INSERT)
            elog(ERROR, "could not store a tenant key version");
    }
}

bool pgkms_keys_insert(const pgkms_key_record *rec, const char *description)
{
    pgkms_spi_owner o;
    char kid[PGKMS_UUID_STR_LEN + 1];
    Oid ktypes[7] = {TEXTOID, TEXTOID, TEXTOID, BOOLOID, INT4OID, TEXTOID, TEXTOID};
    Datum kvals[7];
    char knulls[7] = {' ',
                      ' ',
                      rec->alias ? ' ' : 'n',
                      ' ',
                      ' ',
                      description ? ' ' : 'n',
                      rec->keyring_uri ? ' ' : 'n'};
    bool inserted;

    pgkms_uuid_format(rec->key_id, kid);
    kvals[0] = CStringGetTextDatum(kid);
    kvals[1] = CStringGetTextDatum(rec->tenant);
    kvals[2] = rec->alias ? CStringGetTextDatum(rec->alias) : (Datum)0;
    kvals[3] = BoolGetDatum(rec->is_default);
    kvals[4] = Int32GetDatum((int32)rec->current_version);
    kvals[5] = description ? CStringGetTextDatum(description) : (Datum)0;
    kvals[6] = rec->keyring_uri ? CStringGetTextDatum(rec->keyring_uri) : (Datum)0;
    pgkms_spi_as_owner(&o);
    /*
     * A concurrent first use may have created the tenant's default key: keep that one. Other
     * keys must not vanish silently, so their conflicts (a taken alias) raise.
     */
    if (SPI_execute_with_args(rec->is_default
                                  ? "INSERT INTO kms._keys (key_id, tenant, alias, is_default, "
                                    "current_version, description, keyring_uri) VALUES "
                                    "($1::pg_catalog.uuid, $2, $3, $4, $5, $6, $7) "
                                    "ON CONFLICT DO NOTHING"
                                  : "INSERT INTO kms._keys (key_id, tenant, alias, is_default, "
                                    "current_version, description, keyring_uri) VALUES "
                                    "($1::pg_catalog.uuid, $2, $3, $4, $5, $6, $7)",
                              7, ktypes, kvals, knulls, false, 0) != SPI_OK_INSERT)
        elog(ERROR, "could not store a tenant key");
    inserted = SPI_processed == 1;
    if (inserted)
        insert_versions(kvals[0], rec);
    pgkms_spi_as_caller(&o);
    return inserted;
}

void pgkms_keys_insert_external(const char *tenant, const char *alias, const char *description,
                                uint8_t key_id[PGKMS_UUID_LEN])
{
    pgkms_spi_owner o;
    Oid types[3] = {TEXTOID, TEXTOID, TEXTOID};
    Datum values[3] = {CStringGetTextDatum(tenant), alias ? CStringGetTextDatum(alias) : (Datum)0,
                       description ? CStringGetTextDatum(description) : (Datum)0};
    char nulls[3] = {' ', alias ? ' ' : 'n', description ? ' ' : 'n'};
    bool isnull;

    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args("INSERT INTO kms._keys (key_id, tenant, alias, description, state,"
                              " origin) VALUES (pg_catalog.gen_random_uuid(), $1, $2, $3,"
                              " 'PendingImport', 'external') RETURNING key_id",
                              3, types, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING ||
        SPI_processed != 1)
        elog(ERROR, "could not store a tenant key");
    memcpy(key_id,
           DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull))
               ->data,
           PGKMS_UUID_LEN);
    pgkms_spi_as_caller(&o);
}

bool pgkms_keys_lock(const char *key_id, char **tenant, uint32_t *current, char **state,
                     char **origin, char **keyring_uri)
{
    pgkms_spi_owner o;
    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(key_id)};
    bool found;

    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args(
            "SELECT tenant, current_version, state, origin, keyring_uri FROM kms._keys "
            "WHERE key_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid FOR UPDATE",
            1, types, values, NULL, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "could not look up key %s", key_id);
    found = SPI_processed == 1;
    if (found) {
        HeapTuple row = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;

        *tenant = MemoryContextStrdup(TopTransactionContext, SPI_getvalue(row, desc, 1));
        *current = (uint32_t)pg_strtoint32(SPI_getvalue(row, desc, 2));
        *state = MemoryContextStrdup(TopTransactionContext, SPI_getvalue(row, desc, 3));
        *origin = MemoryContextStrdup(TopTransactionContext, SPI_getvalue(row, desc, 4));
        *keyring_uri = SPI_getvalue(row, desc, 5) == NULL
                           ? NULL
                           : MemoryContextStrdup(TopTransactionContext, SPI_getvalue(row, desc, 5));
    }
    pgkms_spi_as_caller(&o);
    return found;
}

void pgkms_keys_add_version(const pgkms_key_record *rec)
{
    pgkms_spi_owner o;
    char kid[PGKMS_UUID_STR_LEN + 1];
    Oid types[2] = {TEXTOID, INT4OID};
    Datum values[2];

    pgkms_uuid_format(rec->key_id, kid);
    values[0] = CStringGetTextDatum(kid);
    values[1] = Int32GetDatum((int32)rec->current_version);
    pgkms_spi_as_owner(&o);
    insert_versions(values[0], rec);
    if (SPI_execute_with_args("UPDATE kms._keys SET current_version = $2 "
                              "WHERE key_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid",
                              2, types, values, NULL, false, 0) != SPI_OK_UPDATE ||
        SPI_processed != 1)
        elog(ERROR, "could not make version %u current", rec->current_version);
    pgkms_spi_as_caller(&o);
}

int pgkms_keys_grants(const uint8_t ref[PGKMS_KEY_REF_LEN], const char *grantee, MemoryContext cxt,
                      pgkms_grant_rule **rules)
{
    pgkms_spi_owner o;
    Oid types[2] = {BYTEAOID, TEXTOID};
    bytea *b = palloc(VARHDRSZ + PGKMS_KEY_REF_LEN);
    Datum values[2];
    int n;

    SET_VARSIZE(b, VARHDRSZ + PGKMS_KEY_REF_LEN);
    memcpy(VARDATA(b), ref, PGKMS_KEY_REF_LEN);
    values[0] = PointerGetDatum(b);
    values[1] = CStringGetTextDatum(grantee);
    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args(
            "SELECT 'Encrypt' OPERATOR(pg_catalog.=) ANY (g.operations),"
            " 'Decrypt' OPERATOR(pg_catalog.=) ANY (g.operations),"
            " 'ReEncrypt' OPERATOR(pg_catalog.=) ANY (g.operations),"
            " 'DescribeKey' OPERATOR(pg_catalog.=) ANY (g.operations),"
            " g.constraints OPERATOR(pg_catalog.->>) 'context',"
            " g.constraints OPERATOR(pg_catalog.->>) 'context_prefix'"
            " FROM kms._grants g JOIN kms._keys k ON k.key_id OPERATOR(pg_catalog.=) g.key_id"
            " WHERE k.key_ref OPERATOR(pg_catalog.=) $1"
            " AND g.grantee_tenant OPERATOR(pg_catalog.=) $2",
            2, types, values, NULL, false, 0) != SPI_OK_SELECT)
        elog(ERROR, "could not read kms._grants");
    n = (int)SPI_processed;
    *rules = n > 0 ? MemoryContextAllocZero(cxt, n * sizeof(pgkms_grant_rule)) : NULL;
    for (int i = 0; i < n; i++) {
        HeapTuple row = SPI_tuptable->vals[i];
        TupleDesc desc = SPI_tuptable->tupdesc;
        char *ctx = SPI_getvalue(row, desc, 5), *prefix = SPI_getvalue(row, desc, 6);

        for (int op = 0; op < 4; op++)
            if (strcmp(SPI_getvalue(row, desc, op + 1), "t") == 0)
                (*rules)[i].ops |= 1u << op;
        (*rules)[i].context = ctx ? MemoryContextStrdup(cxt, ctx) : NULL;
        (*rules)[i].context_prefix = prefix ? MemoryContextStrdup(cxt, prefix) : NULL;
    }
    pgkms_spi_as_caller(&o);
    return n;
}

char **pgkms_keys_role_tenants(const char *table, const char *role_name, int *n)
{
    pgkms_spi_owner o;
    Oid types[1] = {NAMEOID};
    Datum values[1];
    char **out = NULL;

    values[0] = DirectFunctionCall1(namein, CStringGetDatum(role_name));
    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args(psprintf("SELECT tenant FROM kms.%s "
                                       "WHERE role_name OPERATOR(pg_catalog.=) $1",
                                       quote_identifier(table)),
                              1, types, values, NULL, false, 0) != SPI_OK_SELECT)
        elog(ERROR, "could not read kms.%s", table);
    *n = (int)SPI_processed;
    if (*n > 0 && (out = calloc((size_t)*n, sizeof(char *))) == NULL)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    for (int i = 0; i < *n; i++)
        out[i] = dup_value(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
    pgkms_spi_as_caller(&o);
    return out;
}

bool pgkms_keys_role_masked(const char *role_name)
{
    pgkms_spi_owner o;
    Oid types[1] = {NAMEOID};
    Datum values[1];
    bool masked;

    values[0] = DirectFunctionCall1(namein, CStringGetDatum(role_name));
    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args("SELECT 1 FROM kms.masked_roles "
                              "WHERE role_name OPERATOR(pg_catalog.=) $1",
                              1, types, values, NULL, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "could not read kms.masked_roles");
    masked = SPI_processed == 1;
    pgkms_spi_as_caller(&o);
    return masked;
}

char *pgkms_root_uri(bool *is_default)
{
    static bool warned;
    const char *path;
    size_t dlen = strlen(DataDir);

    *is_default = pgkms_guc_root_key == NULL || pgkms_guc_root_key[0] == '\0';
    if (*is_default)
        return psprintf("file:%s/pgkms_root.key", DataDir);
    path =
        strncmp(pgkms_guc_root_key, "file:", 5) == 0 ? pgkms_guc_root_key + 5 : pgkms_guc_root_key;
    /* A backup of the data directory would carry the key beside the data it protects. */
    if (!warned && strncmp(path, DataDir, dlen) == 0 && path[dlen] == '/') {
        ereport(WARNING, (errmsg("kms.root_key \"%s\" is inside the data directory", path),
                          errdetail("A root key beside the data it protects is for development "
                                    "only.")));
        warned = true;
    }
    return pgkms_guc_root_key;
}
