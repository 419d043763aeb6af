/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log (kms.audit_log). Administrative operations are written at once, in their own
 * transaction: if it rolls back, they did not happen. Key unwraps and refusals happened
 * whatever the transaction does, and a refusal usually aborts it, so they are kept in this
 * backend's memory (never in a transaction) and written by the next transaction of the
 * session that commits, or when the session ends. Every refusal also goes to the server log at
 * once. Records hold names, ids and versions, never key bytes or plaintext.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "pgkms/codec.h"
#include "pgkms/keyset.h"
#include "pgkms_ext.h"

/* Beyond this many unwritten records, further ones are counted, not kept. */
#define MAX_PENDING 10000

typedef struct audit_rec {
    TimestampTz at;
    Oid role;
    char tenant[PGKMS_TENANT_MAX + 1];
    char key_id[PGKMS_UUID_STR_LEN + 1]; /* empty: none */
    int64 version;                       /* -1: none */
    char operation[32];
    char outcome[8];
    char *detail; /* malloc'ed, may be NULL */
} audit_rec;

static audit_rec *pending;
static int npending, cap_pending;
static uint64 dropped;
static bool callbacks;

/* The role that acts: the session's current role, even inside SECURITY DEFINER functions. */
static Oid acting_role(void)
{
    return GetOuterUserId();
}

static const char *role_name(Oid role)
{
    const char *name = GetUserNameFromId(role, true);

    return name ? name : psprintf("role %u", role);
}

static void log_record(const audit_rec *r)
{
    ereport(LOG, (errmsg("pgkms audit: %s %s, role %s, tenant \"%s\", key %s, version %lld%s%s",
                         r->operation, r->outcome, role_name(r->role), r->tenant,
                         r->key_id[0] ? r->key_id : "-", (long long)r->version,
                         r->detail ? ": " : "", r->detail ? r->detail : "")));
}

/* Never raises: called from inside OpenSSL calls and from error paths. NULL if not kept. */
static audit_rec *keep(const char *op, const char *tenant, const char *key_id, int64 version,
                       const char *outcome, const char *detail)
{
    audit_rec *r;

    if (npending == cap_pending) {
        int cap = cap_pending ? 2 * cap_pending : 16;
        audit_rec *p = cap <= MAX_PENDING ? realloc(pending, cap * sizeof(*p)) : NULL;

        if (p == NULL) {
            dropped++;
            return NULL;
        }
        pending = p;
        cap_pending = cap;
    }
    r = &pending[npending++];
    memset(r, 0, sizeof(*r));
    r->at = GetCurrentTimestamp();
    r->role = acting_role();
    strlcpy(r->tenant, tenant ? tenant : "", sizeof(r->tenant));
    strlcpy(r->key_id, key_id ? key_id : "", sizeof(r->key_id));
    r->version = version;
    strlcpy(r->operation, op, sizeof(r->operation));
    strlcpy(r->outcome, outcome, sizeof(r->outcome));
    r->detail = detail ? strdup(detail) : NULL;
    return r;
}

static Oid audit_relid(void)
{
    Oid nsp = get_namespace_oid("kms", true);

    return nsp == InvalidOid ? InvalidOid : get_relname_relid("audit_log", nsp);
}

/* Inserts one record through SPI (connected, running as the owner of schema kms). */
static void insert(TimestampTz at, const char *role, const char *tenant, const char *key_id,
                   int64 version, const char *op, const char *outcome, const char *detail)
{
    Oid types[8] = {TIMESTAMPTZOID, NAMEOID, TEXTOID, UUIDOID, INT4OID, TEXTOID, TEXTOID, TEXTOID};
    Datum values[8];
    char nulls[8] = {' ',
                     ' ',
                     tenant && tenant[0] ? ' ' : 'n',
                     key_id && key_id[0] ? ' ' : 'n',
                     version >= 0 ? ' ' : 'n',
                     ' ',
                     ' ',
                     detail ? ' ' : 'n'};

    values[0] = TimestampTzGetDatum(at);
    values[1] = DirectFunctionCall1(namein, CStringGetDatum(role));
    values[2] = nulls[2] == ' ' ? CStringGetTextDatum(tenant) : (Datum)0;
    values[3] = nulls[3] == ' ' ? DirectFunctionCall1(uuid_in, CStringGetDatum(key_id)) : (Datum)0;
    values[4] = Int32GetDatum((int32)(version >= 0 ? version : 0));
    values[5] = CStringGetTextDatum(op);
    values[6] = CStringGetTextDatum(outcome);
    values[7] = detail ? CStringGetTextDatum(detail) : (Datum)0;
    if (SPI_execute_with_args("INSERT INTO kms.audit_log (at, role_name, tenant, key_id, version,"
                              " operation, outcome, detail)"
                              " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                              8, types, values, nulls, false, 0) != SPI_OK_INSERT)
        elog(ERROR, "could not write to kms.audit_log");
}

static void write_pending(void)
{
    pgkms_spi_owner o;
    int n = npending;

    pgkms_spi_as_owner(&o);
    for (int i = 0; i < n; i++) {
        audit_rec *r = &pending[i];

        insert(r->at, role_name(r->role), r->tenant, r->key_id, r->version, r->operation,
               r->outcome, r->detail);
    }
    if (dropped > 0)
        insert(GetCurrentTimestamp(), role_name(acting_role()), NULL, NULL, -1, "audit", "failed",
               psprintf("%llu records were lost: more than %d were waiting",
                        (unsigned long long)dropped, MAX_PENDING));
    pgkms_spi_as_caller(&o);
    /* Only now, once every insert succeeded (an error leaves them for the next commit). */
    for (int i = 0; i < n; i++)
        free(pending[i].detail);
    npending = 0;
    dropped = 0;
}

static bool can_write(void)
{
    return !IsParallelWorker() && !RecoveryInProgress() && !XactReadOnly &&
           audit_relid() != InvalidOid;
}

static void xact_cb(XactEvent event, void *arg)
{
    (void)arg;
    if (event == XACT_EVENT_PRE_COMMIT && (npending > 0 || dropped > 0) && can_write()) {
        /* Portals are closed by now: SPI needs a snapshot of its own. */
        PushActiveSnapshot(GetTransactionSnapshot());
        write_pending();
        PopActiveSnapshot();
    }
}

/* Where nothing can be written (a hot standby), the server log keeps the records. */
static void log_pending(void)
{
    for (int i = 0; i < npending; i++) {
        log_record(&pending[i]);
        free(pending[i].detail);
    }
    npending = 0;
}

/* The session ends: write what is left in a transaction of its own. */
static void at_exit(int code, Datum arg)
{
    (void)code;
    (void)arg;
    if (npending == 0 && dropped == 0)
        return;
    if (!OidIsValid(MyDatabaseId) || RecoveryInProgress()) {
        log_pending();
        return;
    }
    AbortOutOfAnyTransaction();
    StartTransactionCommand();
    if (audit_relid() != InvalidOid && !XactReadOnly) {
        PushActiveSnapshot(GetTransactionSnapshot());
        write_pending();
        PopActiveSnapshot();
    } else {
        log_pending();
    }
    CommitTransactionCommand();
}

static void record_unwrap(const pgkms_key_record *rec, uint32_t version, const pgkms_status *st)
{
    char kid[PGKMS_UUID_STR_LEN + 1];

    pgkms_uuid_format(rec->key_id, kid);
    keep("unwrap", rec->tenant, kid, version, st->code == PGKMS_OK ? "ok" : "failed",
         st->code == PGKMS_OK ? NULL : st->detail);
}

void pgkms_audit_init(void)
{
    if (callbacks)
        return;
    RegisterXactCallback(xact_cb, NULL);
    before_shmem_exit(at_exit, (Datum)0);
    pgkms_keyset_set_unwrap_observer(record_unwrap);
    callbacks = true;
}

/* Kept across rollback, and in the server log at once. */
static void keep_and_log(const char *op, const char *tenant, const char *key_id, int64 version,
                         const char *outcome, const char *detail)
{
    audit_rec *r;

    pgkms_audit_init();
    r = keep(op, tenant, key_id, version, outcome, detail);
    if (r != NULL)
        log_record(r);
}

void pgkms_audit_refusal(const char *op, const char *tenant, const uint8_t *ref, int64 version,
                         const char *detail)
{
    char kid[PGKMS_UUID_STR_LEN + 1];
    uint32_t current;

    if (ref == NULL || !pgkms_cache_key_of_ref(ref, kid, &current))
        kid[0] = '\0';
    keep_and_log(op, tenant, kid, version, "denied", detail);
}

void pgkms_refuse(const char *op, const char *tenant, const char *key_id, int sqlstate,
                  const char *message)
{
    keep_and_log(op, tenant, key_id, -1, "denied",
                 psprintf("%s: %s", unpack_sql_state(sqlstate), message));
    ereport(ERROR, (errcode(sqlstate), errmsg("%s", message)));
}

void pgkms_audit_ok(const char *op, const char *tenant, const char *key_id, int64 version,
                    const char *detail)
{
    pgkms_spi_owner o;

    pgkms_audit_init();
    pgkms_spi_as_owner(&o);
    insert(GetCurrentTimestamp(), role_name(acting_role()), tenant, key_id, version, op, "ok",
           detail);
    pgkms_spi_as_caller(&o);
}

/* SQL: kms._audit(operation, tenant, key, version, outcome, detail) */
PG_FUNCTION_INFO_V1(pgkms_audit);
Datum pgkms_audit(PG_FUNCTION_ARGS)
{
    const char *op, *outcome, *tenant = NULL, *detail = NULL;
    char kid[PGKMS_UUID_STR_LEN + 1];
    int64 version = PG_ARGISNULL(3) ? -1 : PG_GETARG_INT32(3);

    if (PG_ARGISNULL(0) || PG_ARGISNULL(4))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("an audit record needs an operation and an outcome")));
    op = text_to_cstring(PG_GETARG_TEXT_PP(0));
    outcome = text_to_cstring(PG_GETARG_TEXT_PP(4));
    if (!PG_ARGISNULL(1))
        tenant = text_to_cstring(PG_GETARG_TEXT_PP(1));
    kid[0] = '\0';
    if (!PG_ARGISNULL(2))
        pgkms_uuid_format(PG_GETARG_UUID_P(2)->data, kid);
    if (!PG_ARGISNULL(5))
        detail = text_to_cstring(PG_GETARG_TEXT_PP(5));
    if (strcmp(outcome, "ok") == 0) {
        pgkms_audit_ok(op, tenant, kid, version, detail);
    } else if (strcmp(outcome, "denied") == 0 || strcmp(outcome, "failed") == 0) {
        keep_and_log(op, tenant, kid, version, outcome, detail);
    } else {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("audit outcome must be ok, denied or failed")));
    }
    PG_RETURN_VOID();
}
