/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pgkms provider in a private OSSL_LIB_CTX, created lazily in each backend (never in the
 * postmaster) and freed at process exit; and the one place that turns provider and common/
 * codes into SQLSTATEs.
 */
#include "postgres.h"

#include <string.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/elog.h"

#include "pgkms_ext.h"
#include "../provider/pgkms-params.h"
#include "../provider/pgkms-provider.h"

static OSSL_LIB_CTX *libctx;
static OSSL_PROVIDER *prov_default, *prov_pgkms;
static int libctx_pid;

static void release_libctx(int code, Datum arg)
{
    (void)code;
    (void)arg;
    /* Cached keys hold provider objects: the cache is gone with the process. */
    OSSL_PROVIDER_unload(prov_pgkms);
    OSSL_PROVIDER_unload(prov_default);
    OSSL_LIB_CTX_free(libctx);
    libctx = NULL;
}

OSSL_LIB_CTX *pgkms_libctx(void)
{
    if (libctx != NULL && libctx_pid == MyProcPid)
        return libctx;
    /* A copy inherited through fork belongs to the parent: start afresh. */
    libctx = OSSL_LIB_CTX_new();
    if (libctx == NULL)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("could not create an OpenSSL library context")));
    prov_default = OSSL_PROVIDER_load(libctx, "default");
    if (prov_default == NULL ||
        !OSSL_PROVIDER_add_builtin(libctx, PGKMS_PROV_NAME, pgkms_provider_init) ||
        (prov_pgkms = OSSL_PROVIDER_load(libctx, PGKMS_PROV_NAME)) == NULL) {
        OSSL_LIB_CTX *failed = libctx;

        libctx = NULL;
        OSSL_LIB_CTX_free(failed);
        pgkms_ereport_ossl("could not load the pgkms provider");
    }
    libctx_pid = MyProcPid;
    on_proc_exit(release_libctx, (Datum)0);
    pgkms_audit_init(); /* before the first unwrap */
    return libctx;
}

int pgkms_sqlstate(pgkms_code code)
{
    switch (code) {
    case PGKMS_E_INVALID_ARGUMENT:
        return ERRCODE_INVALID_PARAMETER_VALUE; /* 22023 */
    case PGKMS_E_BAD_FORMAT:
        return ERRCODE_INVALID_BINARY_REPRESENTATION; /* 22P03 */
    case PGKMS_E_AUTH_FAILED:
        return ERRCODE_DATA_EXCEPTION; /* 22000 */
    case PGKMS_E_KEY_NOT_FOUND:
        return ERRCODE_UNDEFINED_OBJECT; /* 42704 */
    case PGKMS_E_KEY_STATE:
        return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE; /* 55000 */
    case PGKMS_E_DENIED:
        return ERRCODE_INSUFFICIENT_PRIVILEGE; /* 42501 */
    case PGKMS_E_ROOT_UNAVAILABLE:
        return ERRCODE_SYSTEM_ERROR; /* 58000 */
    case PGKMS_E_NO_MEMORY:
        return ERRCODE_OUT_OF_MEMORY; /* 53200 */
    case PGKMS_E_LIMIT:
        return ERRCODE_PROGRAM_LIMIT_EXCEEDED; /* 54000 */
    case PGKMS_OK:
    case PGKMS_E_INTERNAL:
        break;
    }
    return ERRCODE_INTERNAL_ERROR; /* XX000 */
}

void pgkms_ereport_status(const pgkms_status *st)
{
    ereport(ERROR, (errcode(pgkms_sqlstate(st->code)), errmsg("%s", st->detail)));
}

void pgkms_ereport_ossl(const char *what)
{
    pgkms_ereport_ossl_audited(what, NULL, NULL, NULL, -1);
}

void pgkms_ereport_ossl_audited(const char *what, const char *op, const char *tenant,
                                const uint8_t *ref, int64 version)
{
    unsigned long e, ours = 0, last = 0;
    const char *data, *ours_data = NULL;
    char detail[PGKMS_DETAIL_MAX], other[256];
    int flags;

    detail[0] = other[0] = '\0';
    /* The provider's error is the most specific; anything else is kept as a detail. */
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        const char *lib = ERR_lib_error_string(e);

        if (lib != NULL && strcmp(lib, PGKMS_PROV_NAME) == 0) {
            ours = e;
            ours_data = (flags & ERR_TXT_STRING) ? data : NULL;
            strlcpy(detail, ours_data ? ours_data : "", sizeof(detail));
        } else {
            last = e;
            ERR_error_string_n(e, other, sizeof(other));
        }
    }
    if (ours != 0) {
        pgkms_code code = (pgkms_code)ERR_GET_REASON(ours);
        const char *msg = detail[0] ? detail : pgkms_code_name(code);

        /* A key refused for its state, and a value that fails authentication, are audited. */
        if (op != NULL &&
            (code == PGKMS_E_KEY_STATE || code == PGKMS_E_DENIED || code == PGKMS_E_AUTH_FAILED))
            pgkms_audit_refusal(op, tenant, ref, version,
                                psprintf("%s: %s", unpack_sql_state(pgkms_sqlstate(code)), msg));
        ereport(ERROR, (errcode(pgkms_sqlstate(code)), errmsg("%s", msg)));
    }
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("%s", what),
                    last ? errdetail("OpenSSL: %s", other) : 0));
}
