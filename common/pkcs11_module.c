/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 modules: dlopen at first use, C_Initialize once per process and again after fork. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgkms/envelope.h"
#include "pgkms/pkcs11_module.h"

/* Modules stay loaded for the life of the process: unloading one under another user of it (or
 * under a session being closed) is not worth the few pages it would return. */
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static pgkms_p11_module *modules;

/* When the code is unloaded (the OpenSSL CLI unloads its providers at exit), the registry is
 * forgotten: the modules stay loaded and initialised, which is all a process about to end needs,
 * and finalising them here could run after their own destructors. */
__attribute__((destructor)) static void forget_modules(void)
{
    while (modules != NULL) {
        pgkms_p11_module *m = modules;

        modules = m->next;
        pthread_rwlock_destroy(&m->rw);
        free(m->path);
        free(m);
    }
}

const char *pgkms_p11_rv_name(CK_RV rv, char buf[32])
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
        {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
        {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
        {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
        {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
        {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
        {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
        {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
        {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID"},
        {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
        {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
        {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
        {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
        {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
        {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
        {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
        {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
        {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
        {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
        {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
        {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
        {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
        {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
        {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
        {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
        {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
        {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
        {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].rv == rv)
            return names[i].name;
    snprintf(buf, 32, "CKR 0x%lx", (unsigned long)rv);
    return buf;
}

int pgkms_p11_session_lost(CK_RV rv)
{
    switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_ERROR:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
        return 1;
    }
    return 0;
}

/* Loads the module at path. */
static pgkms_code load(const char *path, pgkms_p11_module **out, pgkms_status *st)
{
    CK_C_GetFunctionList get_list;
    pgkms_p11_module *m;
    char buf[32];
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CK_RV rv;

    if (dl == NULL) {
        const char *why = dlerror();

        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not load PKCS#11 module \"%s\": %s",
                          path, why != NULL ? why : "unknown error");
    }
    get_list = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
    m = calloc(1, sizeof(*m));
    if (m == NULL || (m->path = strdup(path)) == NULL) {
        free(m);
        dlclose(dl);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    rv = get_list != NULL ? get_list(&m->fn) : CKR_FUNCTION_FAILED;
    if (rv != CKR_OK || m->fn == NULL) {
        free(m->path);
        free(m);
        dlclose(dl);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "\"%s\" is not a PKCS#11 module (C_GetFunctionList: %s)", path,
                          get_list == NULL ? "missing" : pgkms_p11_rv_name(rv, buf));
    }
    pthread_rwlock_init(&m->rw, NULL);
    *out = m;
    return PGKMS_OK;
}

pgkms_code pgkms_p11_module_get(const char *path, pgkms_p11_module **out, pgkms_status *st)
{
    pgkms_p11_module *m;
    pgkms_code rc = PGKMS_OK;

    pthread_mutex_lock(&modules_lock);
    for (m = modules; m != NULL; m = m->next)
        if (strcmp(m->path, path) == 0)
            break;
    if (m == NULL && (rc = load(path, &m, st)) == PGKMS_OK) {
        m->next = modules;
        modules = m;
    }
    pthread_mutex_unlock(&modules_lock);
    *out = m;
    return rc;
}

/*
 * C_Initialize with CKF_OS_LOCKING_OK, as OpenSSL may call from several threads. In a forked
 * child the module's memory is a copy of the parent's: it may still believe it is initialised
 * (SoftHSM does, unless its configuration sets library.reset_on_fork), and its sessions are the
 * parent's. PKCS#11 wants the child to start over, so a module we initialised is finalised and
 * initialised again there. `again` asks for that in the same process: SoftHSM's file store
 * can read a token while another process rewrites it (each C_Login does), and then leaves the
 * token out until it is initialised again.
 */
pgkms_code pgkms_p11_module_ready(pgkms_p11_module *m, int again, pgkms_status *st)
{
    CK_C_INITIALIZE_ARGS args;
    unsigned gen = pgkms_fork_generation();
    char buf[32];
    CK_RV rv;

    if (m->ready && m->gen == gen && (!again || !m->owned))
        return PGKMS_OK;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    if (m->ready && m->owned && m->gen == gen) {
        (void)m->fn->C_Finalize(NULL);
        rv = m->fn->C_Initialize(&args);
    } else {
        rv = m->fn->C_Initialize(&args);
        if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED && m->ready && m->owned) {
            (void)m->fn->C_Finalize(NULL); /* the parent's state, copied into this child */
            rv = m->fn->C_Initialize(&args);
        } else if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
            /* Another library of this process initialised it; it stays in charge of it. */
            m->owned = 0;
            rv = CKR_OK;
            goto done;
        }
    }
    if (rv != CKR_OK) {
        m->ready = 0;
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "could not initialise PKCS#11 module \"%s\": %s", m->path,
                          pgkms_p11_rv_name(rv, buf));
    }
    m->owned = 1;
done:
    m->ready = 1;
    m->gen = gen;
    m->epoch++;
    return PGKMS_OK;
}
