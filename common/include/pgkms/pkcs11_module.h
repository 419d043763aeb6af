/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 modules in this process: loaded with dlopen at first use, initialised once per
 * process (again in a forked child), shared by every root that names them. Used by the
 * pkcs11 root (root_pkcs11.c); needs p11-kit's pkcs11.h (pkg-config --cflags p11-kit-1).
 */
#ifndef PGKMS_PKCS11_MODULE_H
#define PGKMS_PKCS11_MODULE_H

#include <pthread.h>
#include <p11-kit/pkcs11.h>

#include "pgkms/status.h"

/*
 * A loaded module. Every call into it holds rw for reading; initialising it again (after a
 * fork, or to recover from a token that failed to load) holds it for writing and bumps epoch,
 * so that no caller goes on with a session handle from before: handles are reused.
 */
typedef struct pgkms_p11_module {
    char *path;
    CK_FUNCTION_LIST *fn;
    pthread_rwlock_t rw;
    unsigned gen;   /* fork generation of our last C_Initialize */
    unsigned epoch; /* bumped at every C_Initialize of ours */
    int ready;      /* initialised in generation gen */
    int owned;      /* our C_Initialize made it ready (not another user in the process) */
    struct pgkms_p11_module *next;
} pgkms_p11_module;

/* The module at path (absolute), loaded once per process and kept loaded. */
pgkms_code pgkms_p11_module_get(const char *path, pgkms_p11_module **out,
                                pgkms_status *st) PGKMS_MUST_CHECK;
/*
 * Initialises m in this process if it is not yet (first use, or a forked child); with again,
 * initialises it anew (C_Finalize, C_Initialize) if it is ours. Called with m->rw held for
 * writing.
 */
pgkms_code pgkms_p11_module_ready(pgkms_p11_module *m, int again,
                                  pgkms_status *st) PGKMS_MUST_CHECK;
/* "CKR_PIN_INCORRECT", or "CKR 0x..." in buf for codes without a name here. */
const char *pgkms_p11_rv_name(CK_RV rv, char buf[32]);
/* Errors after which a new session may succeed: the token went away or was reset. */
int pgkms_p11_session_lost(CK_RV rv);

#endif
