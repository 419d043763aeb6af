/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drives the PKCS#11 root against a real token where the CLI cannot: after fork() (children
 * use roots their parent opened), from several threads at once, and after the token dropped
 * every session (an outage). Usage: pkcs11-check fork|threads|outage URI.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>

#include "pgkms/pkcs11_uri.h"
#include "pgkms/secmem.h"
#include "pgkms/tenant_key.h"

#define CHILDREN 3
#define THREADS  4
#define ROUNDS   200

static pgkms_root *root;
static pgkms_key_record rec;
static uint8_t tmk[PGKMS_TMK_LEN];

static void die(const char *what, const pgkms_status *st)
{
    fprintf(stderr, "FAIL: %s: %s\n", what, st != NULL ? st->detail : "");
    exit(1);
}

/* Unwraps rec through r and checks it gives the tenant key the parent unwrapped. */
static int unwrap_same(pgkms_root *r, pgkms_status *st)
{
    uint8_t got[PGKMS_TMK_LEN];
    int ok = pgkms_tenant_key_unwrap(r, &rec, &rec.versions[0], got, st) == PGKMS_OK &&
             memcmp(got, tmk, sizeof(got)) == 0;

    pgkms_wipe(got, sizeof(got));
    return ok;
}

static void open_root(const char *uri)
{
    pgkms_status st;

    if (pgkms_root_open(NULL, uri, 0, &root, &st) != PGKMS_OK)
        die("open the root", &st);
    if (strcmp(root->ops->kind, "pkcs11") != 0)
        die("the root is not a pkcs11 root", NULL);
    if (pgkms_tenant_key_create(root, "acme", 1, &rec, &st) != PGKMS_OK)
        die("create a tenant key", &st);
    if (pgkms_tenant_key_unwrap(root, &rec, &rec.versions[0], tmk, &st) != PGKMS_OK)
        die("unwrap in the parent", &st);
}

/* Each child uses the parent's root (the module must be initialised again there), wraps a key
 * of its own, and opens a second root of the same URI; the parent's session must survive. */
static int check_fork(const char *uri)
{
    pgkms_status st;

    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();

        if (pid < 0)
            die("fork", NULL);
        if (pid == 0) {
            pgkms_key_record mine;
            pgkms_root *again = NULL;
            uint8_t k[PGKMS_TMK_LEN];

            if (!unwrap_same(root, &st))
                die("unwrap in a child with the parent's root", &st);
            if (pgkms_tenant_key_create(root, "globex", 1, &mine, &st) != PGKMS_OK ||
                pgkms_tenant_key_unwrap(root, &mine, &mine.versions[0], k, &st) != PGKMS_OK)
                die("wrap and unwrap in a child", &st);
            if (pgkms_root_open(NULL, uri, 0, &again, &st) != PGKMS_OK || !unwrap_same(again, &st))
                die("a second root in a child", &st);
            if (memcmp(again->id, root->id, PGKMS_ROOT_ID_LEN) != 0)
                die("the child's roots disagree on the root id", NULL);
            pgkms_root_close(again);
            pgkms_key_record_free(&mine);
            pgkms_root_close(root);
            pgkms_key_record_free(&rec);
            _exit(0);
        }
    }
    for (int i = 0; i < CHILDREN; i++) {
        int status;

        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            die("a child failed", NULL);
    }
    if (!unwrap_same(root, &st))
        die("unwrap in the parent after its children exited", &st);
    printf("ok: %d forked children unwrap with the parent's root, wrap their own keys and open "
           "new roots; the parent's session still works\n",
           CHILDREN);
    return 0;
}

static void *worker(void *arg)
{
    pgkms_status st;

    (void)arg;
    for (int i = 0; i < ROUNDS; i++)
        if (!unwrap_same(root, &st)) {
            fprintf(stderr, "FAIL: thread unwrap %d: %s\n", i, st.detail);
            return (void *)1;
        }
    return NULL;
}

static int check_threads(void)
{
    pthread_t t[THREADS];
    int failed = 0;

    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0)
            die("pthread_create", NULL);
    for (int i = 0; i < THREADS; i++) {
        void *rv;

        pthread_join(t[i], &rv);
        failed |= rv != NULL;
    }
    if (failed)
        die("concurrent unwraps", NULL);
    printf("ok: %d threads x %d unwraps through one session\n", THREADS, ROUNDS);
    return 0;
}

/* What an outage does to us: the token drops every session, ours included. */
static void drop_all_sessions(const char *uri)
{
    pgkms_pkcs11_uri u;
    pgkms_status st;
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST *fn;
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    void *dl;
    int dropped = 0;

    if (pgkms_pkcs11_uri_parse(uri, &u, &st) != PGKMS_OK)
        die("parse the URI", &st);
    /* The same module the root loaded: dlopen hands back the loaded copy. */
    if ((dl = dlopen(u.module_path, RTLD_NOW | RTLD_NOLOAD)) == NULL ||
        (get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList")) == NULL ||
        get(&fn) != CKR_OK || fn->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        die("reach the module", NULL);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        size_t len = strlen(u.token);

        if (fn->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, u.token, len) == 0 &&
            (len == sizeof(ti.label) || ti.label[len] == ' ') &&
            fn->C_CloseAllSessions(slots[i]) == CKR_OK)
            dropped++;
    }
    dlclose(dl);
    pgkms_pkcs11_uri_free(&u);
    if (dropped != 1)
        die("close the token's sessions", NULL);
}

static int check_outage(const char *uri)
{
    pgkms_status st;

    drop_all_sessions(uri);
    if (root->ops->refresh(root, &st) != PGKMS_OK)
        die("refresh after the token dropped its sessions", &st);
    if (!unwrap_same(root, &st))
        die("unwrap after refresh", &st);
    printf("ok: refresh opens a new session after the token dropped every session\n");
    drop_all_sessions(uri);
    if (!unwrap_same(root, &st))
        die("unwrap right after the token dropped its sessions", &st);
    printf("ok: an unwrap that finds its session gone opens a new one and succeeds\n");
    return 0;
}

int main(int argc, char **argv)
{
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: pkcs11-check fork|threads|outage URI\n");
        return 2;
    }
    open_root(argv[2]);
    if (strcmp(argv[1], "fork") == 0)
        rc = check_fork(argv[2]);
    else if (strcmp(argv[1], "threads") == 0)
        rc = check_threads();
    else if (strcmp(argv[1], "outage") == 0)
        rc = check_outage(argv[2]);
    else
        rc = 2;
    pgkms_root_close(root);
    pgkms_key_record_free(&rec);
    pgkms_wipe(tmk, sizeof(tmk));
    return rc;
}
