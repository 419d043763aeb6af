/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms.rotate_root(): moves every tenant key version wrapped under the previous root
 * (kms.root_key_previous) to the current root (kms.root_key), without touching data. Sessions
 * keep working throughout, because while both settings are in place every session unwraps
 * with whichever root a version names (docs/root-rotation.md).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "pgkms/codec.h"
#include "pgkms_ext.h"

/* Stores the new wrapping of (key, version), if it is still under the old root. */
static void store(const pgkms_key_record *rec, const pgkms_key_version *v,
                  const uint8_t old_id[PGKMS_ROOT_ID_LEN])
{
    char kid[PGKMS_UUID_STR_LEN + 1];
    pgkms_spi_owner o;
    Oid types[6] = {TEXTOID, INT4OID, TEXTOID, BYTEAOID, BYTEAOID, BYTEAOID};
    Datum args[6];
    bytea *root_id = palloc(VARHDRSZ + PGKMS_ROOT_ID_LEN),
          *wrapped = palloc(VARHDRSZ + v->wrapped_len);
    bytea *old = palloc(VARHDRSZ + PGKMS_ROOT_ID_LEN);

    pgkms_uuid_format(rec->key_id, kid);
    SET_VARSIZE(root_id, VARHDRSZ + PGKMS_ROOT_ID_LEN);
    memcpy(VARDATA(root_id), v->root_id, PGKMS_ROOT_ID_LEN);
    SET_VARSIZE(wrapped, VARHDRSZ + v->wrapped_len);
    memcpy(VARDATA(wrapped), v->wrapped, v->wrapped_len);
    SET_VARSIZE(old, VARHDRSZ + PGKMS_ROOT_ID_LEN);
    memcpy(VARDATA(old), old_id, PGKMS_ROOT_ID_LEN);
    args[0] = CStringGetTextDatum(kid);
    args[1] = Int32GetDatum((int32)v->version);
    args[2] = CStringGetTextDatum(v->keyring);
    args[3] = PointerGetDatum(root_id);
    args[4] = PointerGetDatum(wrapped);
    args[5] = PointerGetDatum(old);
    pgkms_spi_as_owner(&o);
    if (SPI_execute_with_args("UPDATE kms._key_versions SET keyring = $3, root_id = $4,"
                              " wrapped = $5"
                              " WHERE key_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
                              " AND version OPERATOR(pg_catalog.=) $2"
                              " AND root_id OPERATOR(pg_catalog.=) $6",
                              6, types, args, NULL, false, 0) != SPI_OK_UPDATE)
        elog(ERROR, "could not store a rewrapped tenant key version");
    pgkms_spi_as_caller(&o);
}

/* SQL: kms.rotate_root(new_root_uri text) returns integer */
PG_FUNCTION_INFO_V1(pgkms_rotate_root);
Datum pgkms_rotate_root(PG_FUNCTION_ARGS)
{
    bool is_default;
    char *current = pgkms_root_uri(&is_default);
    const char *previous = pgkms_guc_root_key_previous;
    pgkms_root *from = NULL, *to = NULL;
    pgkms_keyring kr;
    pgkms_status st;
    volatile int moved = 0, elsewhere = 0;
    char from_id[2 * PGKMS_ROOT_ID_LEN + 1], to_id[2 * PGKMS_ROOT_ID_LEN + 1];

    if (!PG_ARGISNULL(0) && strcmp(text_to_cstring(PG_GETARG_TEXT_PP(0)), current) != 0)
        pgkms_refuse("rotate_root", NULL, NULL, ERRCODE_INVALID_PARAMETER_VALUE,
                     psprintf("the new root \"%s\" is not the configured kms.root_key \"%s\"",
                              text_to_cstring(PG_GETARG_TEXT_PP(0)), current));
    if (previous == NULL || previous[0] == '\0')
        pgkms_refuse("rotate_root", NULL, NULL, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                     "kms.root_key_previous is not set: configure the new root as kms.root_key "
                     "and the old one as kms.root_key_previous, reload, then rotate");
    if (pgkms_root_open(pgkms_libctx(), current, is_default ? PGKMS_ROOT_CREATE : 0, &to, &st) !=
            PGKMS_OK ||
        pgkms_root_open(pgkms_libctx(), previous, 0, &from, &st) != PGKMS_OK) {
        pgkms_root_close(to);
        pgkms_ereport_status(&st);
    }
    pgkms_hex_encode(from->id, PGKMS_ROOT_ID_LEN, from_id);
    pgkms_hex_encode(to->id, PGKMS_ROOT_ID_LEN, to_id);
    PG_TRY();
    {
        if (memcmp(from->id, to->id, PGKMS_ROOT_ID_LEN) == 0)
            pgkms_refuse("rotate_root", NULL, NULL, ERRCODE_INVALID_PARAMETER_VALUE,
                         psprintf("kms.root_key and kms.root_key_previous are the same root key "
                                  "(%s)",
                                  to_id));
        pgkms_keys_load_all(&kr);
        for (size_t i = 0; i < kr.nkeys; i++) {
            const pgkms_key_record *rec = &kr.keys[i];

            if (rec->keyring_uri != NULL)
                continue; /* protected by the tenant's own keyring, not by the root */

            for (size_t j = 0; j < rec->nversions; j++) {
                const pgkms_key_version *v = &rec->versions[j];
                pgkms_key_version moved_v;

                if (memcmp(v->root_id, to->id, PGKMS_ROOT_ID_LEN) == 0)
                    continue;
                if (memcmp(v->root_id, from->id, PGKMS_ROOT_ID_LEN) != 0) {
                    elsewhere++;
                    continue;
                }
                if (pgkms_tenant_key_rewrap(from, to, rec, v, &moved_v, &st) != PGKMS_OK)
                    pgkms_ereport_status(&st);
                memcpy(moved_v.root_id, to->id, PGKMS_ROOT_ID_LEN);
                store(rec, &moved_v, from->id);
                free(moved_v.wrapped);
                free(moved_v.keyring);
                free(moved_v.created);
                moved++;
            }
        }
        pgkms_keyring_free(&kr);
    }
    PG_FINALLY();
    {
        pgkms_root_close(from);
        pgkms_root_close(to);
    }
    PG_END_TRY();
    if (elsewhere > 0)
        ereport(WARNING,
                (errmsg("%d tenant key versions are wrapped under neither root and were left as "
                        "they are",
                        elsewhere),
                 errhint("They are unreadable with the current settings; see kms.key_versions.")));
    pgkms_audit_ok("rotate_root", NULL, NULL, -1,
                   psprintf("%d versions moved from root %s to root %s", moved, from_id, to_id));
    PG_RETURN_INT32(moved);
}
