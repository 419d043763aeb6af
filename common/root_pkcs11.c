/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 root: a sensitive, non-extractable AES-256 key in a token, named by an RFC 7512 URI.
 * Tenant keys are wrapped inside the token with CKM_AES_GCM (C_Encrypt/C_Decrypt, an IV we
 * draw, the tenant key's metadata as AAD), so the root key never leaves it. Modules are loaded
 * and initialised by pkcs11_module.c. A process keeps one session per URI, shared by every
 * root opened with that URI and serialised by a lock, and opens a new one after a fork, a
 * module re-initialisation or a token outage; the PIN is read from its source each time the
 * session logs in, and wiped right after.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "pgkms/envelope.h"
#include "pgkms/format.h"
#include "pgkms/kdf.h"
#include "pgkms/pkcs11_module.h"
#include "pgkms/pkcs11_uri.h"
#include "pgkms/root.h"
#include "pgkms/secmem.h"

#define WRAP_VERSION  1
#define IV_LEN        PGKMS_NONCE_LEN
#define TAG_LEN       PGKMS_TAG_LEN
#define WRAP_OVERHEAD (1 + IV_LEN + TAG_LEN)
#define ROOT_KEY_LEN  32
#define PIN_MAX       256

static const char ID_INFO[] = "pgkms pkcs11 root id v1";

typedef struct p11_conn {
    char *uri; /* roots opened with the same URI share the connection */
    int refs;
    pthread_mutex_t lock; /* serialises the session: one operation at a time */
    pgkms_pkcs11_uri u;
    pgkms_p11_module *mod;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    int login; /* the token requires a login */
    uint8_t id[PGKMS_ROOT_ID_LEN];
    int open;       /* session and key handle were valid in (gen, epoch) */
    unsigned gen;   /* fork generation the session belongs to */
    unsigned epoch; /* module epoch the session belongs to */
    struct p11_conn *next;
} p11_conn;

/* The connections of this process, and their reference counts. */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static p11_conn *conns;

/* Token info fields are blank-padded, not NUL-terminated. */
static int field_is(const CK_UTF8CHAR *field, size_t flen, const char *want)
{
    size_t n = strlen(want);

    if (n > flen || memcmp(field, want, n) != 0)
        return 0;
    for (size_t i = n; i < flen; i++)
        if (field[i] != ' ' && field[i] != '\0')
            return 0;
    return 1;
}

static int token_matches(const pgkms_pkcs11_uri *u, const CK_TOKEN_INFO *ti)
{
    return field_is(ti->label, sizeof(ti->label), u->token) &&
           (u->manufacturer == NULL ||
            field_is(ti->manufacturerID, sizeof(ti->manufacturerID), u->manufacturer)) &&
           (u->model == NULL || field_is(ti->model, sizeof(ti->model), u->model)) &&
           (u->serial == NULL || field_is(ti->serialNumber, sizeof(ti->serialNumber), u->serial));
}

/* The one slot whose token has the URI's label (and serial etc.): slot ids are never used. */
static pgkms_code find_slot(p11_conn *c, CK_SLOT_ID *slot, CK_TOKEN_INFO *info, pgkms_status *st)
{
    CK_FUNCTION_LIST *fn = c->mod->fn;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    size_t matches = 0;
    char buf[32];
    CK_RV rv;

    for (int tries = 0; tries < 4; tries++) {
        CK_SLOT_ID *more;

        rv = fn->C_GetSlotList(CK_TRUE, NULL, &n);
        if (rv != CKR_OK)
            break;
        more = realloc(slots, (n ? n : 1) * sizeof(*slots));
        if (more == NULL) {
            free(slots);
            return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
        }
        slots = more;
        rv = fn->C_GetSlotList(CK_TRUE, slots, &n);
        if (rv != CKR_BUFFER_TOO_SMALL) /* tokens can appear between the two calls */
            break;
    }
    if (rv != CKR_OK) {
        free(slots);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "could not list the tokens of PKCS#11 module \"%s\": %s",
                          c->u.module_path, pgkms_p11_rv_name(rv, buf));
    }
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;

        if (fn->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !token_matches(&c->u, &ti))
            continue;
        if (matches++ == 0) {
            *slot = slots[i];
            *info = ti;
        }
    }
    free(slots);
    if (matches == 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "no token labelled \"%s\"%s%s%s in PKCS#11 module \"%s\"", c->u.token,
                          c->u.serial ? " with serial \"" : "", c->u.serial ? c->u.serial : "",
                          c->u.serial ? "\"" : "", c->u.module_path);
    if (matches > 1)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "%zu tokens are labelled \"%s\" in PKCS#11 module \"%s\": add "
                          "serial=<serial number> to the URI",
                          matches, c->u.token, c->u.module_path);
    return PGKMS_OK;
}

static void describe_pin_source(const pgkms_pkcs11_uri *u, char *out, size_t cap)
{
    if (u->pin_kind == PGKMS_PIN_FILE)
        snprintf(out, cap, "PIN file \"%s\"", u->pin_ref);
    else
        snprintf(out, cap, "environment variable %s",
                 u->pin_kind == PGKMS_PIN_ENV ? u->pin_ref : PGKMS_P11_PIN_ENV);
}

/* Reads the PIN file: its first line, which only its owner may read. */
static pgkms_code read_pin_file(const char *path, char *pin, size_t *len, pgkms_status *st)
{
    struct stat sb;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not open PIN file \"%s\": %s", path,
                          strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "PIN file \"%s\" is not a regular file",
                          path);
    }
    if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "PIN file \"%s\" is accessible by group or others (mode %03o); run "
                          "chmod 600 on it",
                          path, (unsigned)(sb.st_mode & 0777));
    }
    n = read(fd, pin, PIN_MAX + 1);
    close(fd);
    if (n < 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not read PIN file \"%s\": %s", path,
                          strerror(errno));
    /* pin is zero beyond the n bytes read, so the first line ends within them. */
    *len = strcspn(pin, "\r\n");
    if (*len > PIN_MAX)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "PIN in \"%s\" is longer than %d bytes",
                          path, PIN_MAX);
    return PGKMS_OK;
}

/* The PIN into pin (PIN_MAX + 2 bytes of secure memory, NUL-terminated). */
static pgkms_code read_pin(const p11_conn *c, char *pin, size_t *len, pgkms_status *st)
{
    const char *env;
    pgkms_code rc;

    if (c->u.pin_kind == PGKMS_PIN_FILE) {
        rc = read_pin_file(c->u.pin_ref, pin, len, st);
        if (rc != PGKMS_OK)
            return rc;
    } else {
        const char *name = c->u.pin_kind == PGKMS_PIN_ENV ? c->u.pin_ref : PGKMS_P11_PIN_ENV;

        env = getenv(name);
        if (env == NULL || env[0] == '\0')
            return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                              c->u.pin_kind == PGKMS_PIN_ENV
                                  ? "token \"%s\" needs a PIN, but environment variable %s "
                                    "(pin-source) is not set"
                                  : "token \"%s\" needs a PIN: set environment variable %s or "
                                    "add pin-source=file:/path to the URI",
                              c->u.token, name);
        *len = strlen(env);
        if (*len > PIN_MAX)
            return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                              "PIN in environment variable %s is longer than %d bytes", name,
                              PIN_MAX);
        memcpy(pin, env, *len);
    }
    pin[*len] = '\0';
    if (*len == 0) {
        char src[PGKMS_DETAIL_MAX / 2];

        describe_pin_source(&c->u, src, sizeof(src));
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "the PIN from %s is empty", src);
    }
    return PGKMS_OK;
}

/* *permanent: the PIN or its source is wrong; trying again (on a real token: locking it) is
 * no use. */
static pgkms_code login(p11_conn *c, CK_SESSION_HANDLE s, int *permanent, pgkms_status *st)
{
    char *pin = pgkms_secure_alloc(PIN_MAX + 2);
    char src[PGKMS_DETAIL_MAX / 2], buf[32];
    size_t len = 0;
    pgkms_code rc;
    CK_RV rv;

    *permanent = 1;
    if (pin == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for the PIN");
    rc = read_pin(c, pin, &len, st);
    if (rc != PGKMS_OK) {
        pgkms_secure_free(pin, PIN_MAX + 2);
        return rc;
    }
    rv = c->mod->fn->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, len);
    pgkms_secure_free(pin, PIN_MAX + 2);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
        return PGKMS_OK;
    describe_pin_source(&c->u, src, sizeof(src));
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "wrong PIN for token \"%s\" (PIN from %s)",
                          c->u.token, src);
    *permanent = rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED;
    return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                      "could not log in to token \"%s\" (PIN from %s): %s", c->u.token, src,
                      pgkms_p11_rv_name(rv, buf));
}

/* Searches the session's token; *n is how many of at most two objects matched. */
static CK_RV find_objects(p11_conn *c, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl,
                          CK_OBJECT_HANDLE found[2], CK_ULONG *n)
{
    CK_FUNCTION_LIST *fn = c->mod->fn;
    CK_RV rv = fn->C_FindObjectsInit(s, tmpl, ntmpl);

    *n = 0;
    if (rv != CKR_OK)
        return rv;
    rv = fn->C_FindObjects(s, found, 2, n);
    (void)fn->C_FindObjectsFinal(s);
    return rv;
}

/* *permanent: the token answered, and what it holds does not fit the URI. A key that seems
 * missing is not permanent: SoftHSM can index a token while another process rewrites it. */
static pgkms_code find_key(p11_conn *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *key, int *permanent,
                           pgkms_status *st)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ATTRIBUTE tmpl[4];
    CK_ULONG nt = 0, nnames, n = 0;
    CK_OBJECT_HANDLE found[2];
    const char *with_id = c->u.has_id ? " with the URI's id" : "";
    char buf[32];
    CK_RV rv;

    tmpl[nt++] = (CK_ATTRIBUTE){CKA_LABEL, c->u.object, strlen(c->u.object)};
    if (c->u.has_id)
        tmpl[nt++] = (CK_ATTRIBUTE){CKA_ID, c->u.id, c->u.id_len};
    nnames = nt;
    tmpl[nt++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    tmpl[nt++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &type, sizeof(type)};
    *permanent = 0;
    rv = find_objects(c, s, tmpl, nt, found, &n);
    if (rv != CKR_OK)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "could not search token \"%s\" for key \"%s\": %s", c->u.token,
                          c->u.object, pgkms_p11_rv_name(rv, buf));
    if (n == 1) {
        *key = found[0];
        return PGKMS_OK;
    }
    *permanent = 1;
    if (n > 1)
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT,
                          "several AES keys are labelled \"%s\"%s in token \"%s\": add "
                          "id=<CKA_ID> to the URI",
                          c->u.object, with_id, c->u.token);
    /* Say whether something else has that label: easier to fix than a typo. */
    if (find_objects(c, s, tmpl, nnames, found, &n) == CKR_OK && n > 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "object \"%s\"%s in token \"%s\" is not an AES secret key", c->u.object,
                          with_id, c->u.token);
    *permanent = 0;
    return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "token \"%s\" has no key labelled \"%s\"%s",
                      c->u.token, c->u.object, with_id);
}

/* The root key must be AES-256, sensitive, never extractable, and allowed to en/decrypt. */
static pgkms_code check_key(p11_conn *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                            pgkms_status *st)
{
    CK_ULONG value_len = 0;
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, enc = CK_FALSE, dec = CK_FALSE;
    CK_ATTRIBUTE a[] = {{CKA_VALUE_LEN, &value_len, sizeof(value_len)},
                        {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
                        {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
                        {CKA_ENCRYPT, &enc, sizeof(enc)},
                        {CKA_DECRYPT, &dec, sizeof(dec)}};

    /* An attribute the token does not report keeps the refusing default set above. */
    (void)c->mod->fn->C_GetAttributeValue(s, key, a, sizeof(a) / sizeof(a[0]));
    if (value_len != ROOT_KEY_LEN)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "key \"%s\" in token \"%s\" is not an AES-256 key (%lu bytes)",
                          c->u.object, c->u.token, (unsigned long)value_len);
    if (!sensitive || extractable)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "key \"%s\" in token \"%s\" can leave the token: a root key must be "
                          "sensitive (CKA_SENSITIVE) and not extractable (CKA_EXTRACTABLE)",
                          c->u.object, c->u.token);
    if (!enc || !dec)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "key \"%s\" in token \"%s\" does not allow encryption and decryption "
                          "(CKA_ENCRYPT, CKA_DECRYPT)",
                          c->u.object, c->u.token);
    return PGKMS_OK;
}

/*
 * One AES-GCM operation in the token, with a 128-bit tag. ulIvBits says how many IV bits we
 * supply (all of them): SoftHSM ignores it, some other tokens read it instead of ulIvLen.
 */
static CK_RV gcm(p11_conn *c, int encrypt, const uint8_t iv[IV_LEN], const uint8_t *aad,
                 size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out, CK_ULONG *out_len)
{
    CK_FUNCTION_LIST *fn = c->mod->fn;
    CK_GCM_PARAMS p = {(CK_BYTE *)iv, IV_LEN, IV_LEN * 8, (CK_BYTE *)aad, aad_len, TAG_LEN * 8};
    CK_MECHANISM m = {CKM_AES_GCM, &p, sizeof(p)};
    CK_RV rv;

    rv = encrypt ? fn->C_EncryptInit(c->session, &m, c->key)
                 : fn->C_DecryptInit(c->session, &m, c->key);
    if (rv != CKR_OK)
        return rv;
    return encrypt ? fn->C_Encrypt(c->session, (CK_BYTE *)in, in_len, out, out_len)
                   : fn->C_Decrypt(c->session, (CK_BYTE *)in, in_len, out, out_len);
}

/*
 * Root id: a check value of the key itself, so it survives relabelling and moving the key to
 * another token, and changes if the label ever names another key. The token computes
 * GMAC = AES-GCM(root, IV = 0^96, AAD = ID_INFO, empty plaintext); the id is
 * HMAC-SHA256(GMAC, ID_INFO)[0..8], which reveals nothing of the key.
 */
static pgkms_code compute_id(p11_conn *c, OSSL_LIB_CTX *libctx, pgkms_status *st)
{
    static const uint8_t zero_iv[IV_LEN];
    uint8_t none[1] = {0}, tag[TAG_LEN], mac[32];
    CK_ULONG len = sizeof(tag);
    char buf[32];
    /* An empty plaintext, but not a NULL pointer: SoftHSM refuses that (CKR_ARGUMENTS_BAD). */
    CK_RV rv =
        gcm(c, 1, zero_iv, (const uint8_t *)ID_INFO, sizeof(ID_INFO) - 1, none, 0, tag, &len);

    if (rv != CKR_OK || len != TAG_LEN)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "key \"%s\" in token \"%s\" does not encrypt with CKM_AES_GCM: %s",
                          c->u.object, c->u.token,
                          rv != CKR_OK ? pgkms_p11_rv_name(rv, buf) : "unexpected output length");
    if (pgkms_hmac_sha256(libctx, tag, sizeof(tag), (const uint8_t *)ID_INFO, sizeof(ID_INFO) - 1,
                          mac, st) != PGKMS_OK)
        return PGKMS_E_INTERNAL;
    memcpy(c->id, mac, PGKMS_ROOT_ID_LEN);
    return PGKMS_OK;
}

/* The session is this process's and this module epoch's. Called with mod->rw held. */
static int conn_valid(const p11_conn *c)
{
    return c->open && c->gen == pgkms_fork_generation() && c->epoch == c->mod->epoch;
}

/* Forgets the session, closing it if it is still ours: a child's copy of the parent's handle,
 * or one from before the module was initialised again, may name a session opened since. */
static void drop_session(p11_conn *c)
{
    pthread_rwlock_rdlock(&c->mod->rw);
    if (conn_valid(c))
        (void)c->mod->fn->C_CloseSession(c->session);
    pthread_rwlock_unlock(&c->mod->rw);
    c->open = 0;
}

/* Token, session, login, key, root id, with mod->rw held for reading. *transient: another try
 * (after initialising the module again) may succeed. */
static pgkms_code connect_once(p11_conn *c, OSSL_LIB_CTX *libctx, int *transient, pgkms_status *st)
{
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO ti = {0};
    CK_SESSION_HANDLE s;
    char buf[32];
    int permanent = 0;
    pgkms_code rc;
    CK_RV rv;

    *transient = 0;
    rc = find_slot(c, &slot, &ti, st);
    if (rc != PGKMS_OK) {
        *transient = rc == PGKMS_E_ROOT_UNAVAILABLE; /* not: two tokens with that label */
        return rc;
    }
    rv = c->mod->fn->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK) {
        *transient = 1;
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "could not open a session with token \"%s\": %s", c->u.token,
                          pgkms_p11_rv_name(rv, buf));
    }
    c->login = (ti.flags & CKF_LOGIN_REQUIRED) != 0;
    rc = c->login ? login(c, s, &permanent, st) : PGKMS_OK;
    if (rc == PGKMS_OK)
        rc = find_key(c, s, &c->key, &permanent, st);
    if (rc != PGKMS_OK)
        *transient = !permanent; /* login or search; an unfit key (check_key) is permanent */
    else
        rc = check_key(c, s, c->key, st);
    c->session = s;
    if (rc == PGKMS_OK && (rc = compute_id(c, libctx, st)) != PGKMS_OK)
        *transient = 1;
    if (rc != PGKMS_OK) {
        (void)c->mod->fn->C_CloseSession(s);
        return rc;
    }
    c->open = 1;
    c->gen = pgkms_fork_generation();
    c->epoch = c->mod->epoch;
    return PGKMS_OK;
}

#define CONNECT_TRIES 8

/* A new session, trying again while failures may be transient: the module initialised anew,
 * 10, 20, 40 then 100 ms apart, about half a second in all. Called with c->lock held, mod->rw
 * not held. */
static pgkms_code connect_token(p11_conn *c, OSSL_LIB_CTX *libctx, pgkms_status *st)
{
    pgkms_p11_module *m = c->mod;
    pgkms_code rc = PGKMS_OK;
    int transient = 0;

    drop_session(c);
    for (int attempt = 0; attempt < CONNECT_TRIES; attempt++) {
        if (attempt > 0)
            usleep((useconds_t)(attempt < 4 ? 10000 << (attempt - 1) : 100000) +
                   (useconds_t)(getpid() % 5000));
        pthread_rwlock_wrlock(&m->rw);
        rc = pgkms_p11_module_ready(m, attempt > 0, st);
        pthread_rwlock_unlock(&m->rw);
        if (rc != PGKMS_OK)
            return rc;
        pthread_rwlock_rdlock(&m->rw);
        rc = connect_once(c, libctx, &transient, st);
        pthread_rwlock_unlock(&m->rw);
        if (rc == PGKMS_OK || !transient)
            break;
    }
    return rc;
}

/* A usable session in this process: a new one after a fork, a new module epoch or a lost
 * token. Called with c->lock held, mod->rw not held. */
static pgkms_code ensure_open(p11_conn *c, OSSL_LIB_CTX *libctx, pgkms_status *st)
{
    int valid;

    pthread_rwlock_rdlock(&c->mod->rw);
    valid = conn_valid(c);
    pthread_rwlock_unlock(&c->mod->rw);
    return valid ? PGKMS_OK : connect_token(c, libctx, st);
}

/* Whether the session is still logged in and the key still there (e.g. after an outage).
 * Called with mod->rw held. */
static int session_healthy(p11_conn *c)
{
    CK_SESSION_INFO si;
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof(cls)};

    if (c->mod->fn->C_GetSessionInfo(c->session, &si) != CKR_OK)
        return 0;
    if (c->login && si.state != CKS_RO_USER_FUNCTIONS && si.state != CKS_RW_USER_FUNCTIONS)
        return 0;
    return c->mod->fn->C_GetAttributeValue(c->session, c->key, &a, 1) == CKR_OK;
}

/* The root's id follows the key its URI names now; unwrap compares it with each record. */
static void sync_id(pgkms_root *root, const p11_conn *c)
{
    memcpy(root->id, c->id, PGKMS_ROOT_ID_LEN);
}

/*
 * One GCM operation through c's session, with c->lock held: a session found gone is replaced
 * once. *rv is the token's answer; *healthy, after a failure, whether the session was sound.
 * For an unwrap (check_id), the key the URI names must still be the one root->id describes.
 */
static pgkms_code run_gcm(pgkms_root *root, p11_conn *c, int encrypt, const uint8_t *iv,
                          const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                          uint8_t *out, CK_ULONG *out_len, CK_RV *rv, int *healthy,
                          pgkms_status *st)
{
    CK_ULONG cap = *out_len;
    int replaced = 0;
    pgkms_code rc = PGKMS_OK;

    *rv = CKR_OK;
    for (int attempt = 0; attempt < 3; attempt++) {
        int valid;

        rc = ensure_open(c, root->libctx, st);
        if (rc != PGKMS_OK)
            return rc;
        if (!encrypt && memcmp(c->id, root->id, PGKMS_ROOT_ID_LEN) != 0) {
            sync_id(root, c);
            return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                              "key \"%s\" in token \"%s\" is no longer the key this root was "
                              "opened with",
                              c->u.object, c->u.token);
        }
        pthread_rwlock_rdlock(&c->mod->rw);
        valid = conn_valid(c); /* the module may have been initialised again meanwhile */
        if (valid) {
            *out_len = cap;
            *rv = gcm(c, encrypt, iv, aad, aad_len, in, in_len, out, out_len);
            *healthy = *rv == CKR_OK || session_healthy(c);
        }
        pthread_rwlock_unlock(&c->mod->rw);
        if (valid && (*rv == CKR_OK || !pgkms_p11_session_lost(*rv) || replaced))
            return PGKMS_OK;
        if (valid) {
            replaced = 1; /* the token went away: one new session, then give up */
            drop_session(c);
        }
    }
    return rc;
}

static pgkms_code p11_wrap(pgkms_root *root, const uint8_t *aad, size_t aad_len, const uint8_t *key,
                           size_t key_len, uint8_t *out, size_t *out_len, pgkms_status *st)
{
    p11_conn *c = root->state;
    CK_ULONG len = key_len + TAG_LEN;
    char buf[32];
    int healthy = 1;
    pgkms_code rc;
    CK_RV rv = CKR_OK;

    if (key_len + WRAP_OVERHEAD > PGKMS_WRAPPED_MAX)
        return pgkms_fail(st, PGKMS_E_LIMIT, "key of %zu bytes is too long to wrap", key_len);
    out[0] = WRAP_VERSION;
    if (RAND_bytes_ex(root->libctx, out + 1, IV_LEN, 0) <= 0)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "random number generator failed");
    pthread_mutex_lock(&c->lock);
    ERR_set_mark(); /* SoftHSM leaves OpenSSL errors behind (a missing rdrand engine) */
    rc = run_gcm(root, c, 1, out + 1, aad, aad_len, key, key_len, out + 1 + IV_LEN, &len, &rv,
                 &healthy, st);
    if (rc == PGKMS_OK && rv != CKR_OK) {
        drop_session(c); /* also ends an operation a failed call may have left active */
        rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                        "token \"%s\" could not wrap a key with \"%s\": %s", c->u.token,
                        c->u.object, pgkms_p11_rv_name(rv, buf));
    } else if (rc == PGKMS_OK && len != key_len + TAG_LEN) {
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "token \"%s\" returned %lu bytes for a %zu-byte key",
                        c->u.token, (unsigned long)len, key_len);
    }
    if (rc == PGKMS_OK) {
        sync_id(root, c); /* the id of the key that wrapped this one */
        *out_len = key_len + WRAP_OVERHEAD;
    }
    ERR_pop_to_mark();
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static pgkms_code p11_unwrap(pgkms_root *root, const uint8_t *aad, size_t aad_len,
                             const uint8_t *in, size_t in_len, uint8_t *key, size_t key_len,
                             pgkms_status *st)
{
    p11_conn *c = root->state;
    /* SoftHSM wants room for the whole input (ciphertext and tag) before it checks the tag. */
    size_t cap = key_len + TAG_LEN;
    CK_ULONG len = cap;
    uint8_t *plain;
    char buf[32];
    int healthy = 1;
    pgkms_code rc;
    CK_RV rv = CKR_OK;

    if (in_len != key_len + WRAP_OVERHEAD || in[0] != WRAP_VERSION)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "wrapped key has %zu bytes, expected %zu", in_len,
                          key_len + WRAP_OVERHEAD);
    if ((plain = pgkms_secure_alloc(cap)) == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory for a tenant key");
    pthread_mutex_lock(&c->lock);
    ERR_set_mark();
    rc = run_gcm(root, c, 0, in + 1, aad, aad_len, in + 1 + IV_LEN, key_len + TAG_LEN, plain, &len,
                 &rv, &healthy, st);
    if (rc == PGKMS_OK && rv != CKR_OK) {
        /*
         * A tag mismatch is CKR_ENCRYPTED_DATA_INVALID, but SoftHSM 2.6 answers
         * CKR_GENERAL_ERROR: with the session still sound, that is taken as a mismatch too.
         */
        int mismatch = rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
                       (rv == CKR_GENERAL_ERROR && healthy);

        if (!mismatch)
            drop_session(c);
        rc = mismatch ? pgkms_fail(st, PGKMS_E_AUTH_FAILED,
                                   "wrapped tenant key does not verify under the root key")
                      : pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                                   "token \"%s\" could not unwrap a key with \"%s\": %s",
                                   c->u.token, c->u.object, pgkms_p11_rv_name(rv, buf));
    } else if (rc == PGKMS_OK && len != key_len) {
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "token \"%s\" returned %lu bytes for a %zu-byte key",
                        c->u.token, (unsigned long)len, key_len);
    }
    ERR_pop_to_mark();
    pthread_mutex_unlock(&c->lock);
    if (rc == PGKMS_OK)
        memcpy(key, plain, key_len);
    pgkms_secure_free(plain, cap);
    return rc;
}

/* Before cached keys are unwrapped again: a lost, logged-out or forked session is replaced, so
 * a token that came back is used again, and a deleted key ends access within the TTL. */
static pgkms_code p11_refresh(pgkms_root *root, pgkms_status *st)
{
    p11_conn *c = root->state;
    int stale;
    pgkms_code rc;

    pthread_mutex_lock(&c->lock);
    ERR_set_mark();
    pthread_rwlock_rdlock(&c->mod->rw);
    stale = conn_valid(c) && !session_healthy(c);
    pthread_rwlock_unlock(&c->mod->rw);
    if (stale)
        drop_session(c);
    rc = ensure_open(c, root->libctx, st);
    if (rc == PGKMS_OK)
        sync_id(root, c);
    ERR_pop_to_mark();
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void conn_release(p11_conn *c)
{
    int last;

    pthread_mutex_lock(&conns_lock);
    last = --c->refs == 0;
    if (last)
        for (p11_conn **p = &conns; *p != NULL; p = &(*p)->next)
            if (*p == c) {
                *p = c->next;
                break;
            }
    pthread_mutex_unlock(&conns_lock);
    if (!last)
        return;
    ERR_set_mark();
    drop_session(c); /* nobody else can reach c any more */
    ERR_pop_to_mark();
    pthread_mutex_destroy(&c->lock);
    pgkms_pkcs11_uri_free(&c->u);
    free(c->uri);
    free(c);
}

static void p11_close(pgkms_root *root)
{
    if (root->state != NULL)
        conn_release(root->state);
    root->state = NULL;
}

static const pgkms_root_ops pkcs11_ops = {"pkcs11", p11_wrap, p11_unwrap, p11_refresh, p11_close};

/* The connection for root->uri, shared with other roots of the same URI. */
static pgkms_code conn_get(pgkms_root *root, pgkms_pkcs11_uri *u, p11_conn **out, pgkms_status *st)
{
    p11_conn *c;
    pgkms_code rc = PGKMS_OK;

    pthread_mutex_lock(&conns_lock);
    for (c = conns; c != NULL; c = c->next)
        if (strcmp(c->uri, root->uri) == 0)
            break;
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL || (c->uri = strdup(root->uri)) == NULL) {
            free(c);
            c = NULL;
            rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
        } else if ((rc = pgkms_p11_module_get(u->module_path, &c->mod, st)) != PGKMS_OK) {
            free(c->uri);
            free(c);
            c = NULL;
        } else {
            pthread_mutex_init(&c->lock, NULL);
            c->u = *u;
            memset(u, 0, sizeof(*u));
            c->next = conns;
            conns = c;
        }
    }
    if (c != NULL)
        c->refs++;
    pthread_mutex_unlock(&conns_lock);
    *out = c;
    return rc;
}

pgkms_code pgkms_root_pkcs11_open(pgkms_root *root, const char *rest, unsigned flags,
                                  pgkms_status *st)
{
    pgkms_pkcs11_uri u;
    p11_conn *c = NULL;
    pgkms_code rc;

    (void)rest;  /* the whole URI is parsed: root->uri */
    (void)flags; /* a root key in a token is never created here: that is the token admin's job */
    rc = pgkms_pkcs11_uri_parse(root->uri, &u, st);
    if (rc == PGKMS_OK)
        rc = conn_get(root, &u, &c, st);
    pgkms_pkcs11_uri_free(&u);
    if (rc != PGKMS_OK)
        return rc;
    pthread_mutex_lock(&c->lock);
    ERR_set_mark(); /* SoftHSM leaves OpenSSL errors behind (a missing rdrand engine) */
    rc = ensure_open(c, root->libctx, st);
    if (rc == PGKMS_OK)
        sync_id(root, c);
    ERR_pop_to_mark();
    pthread_mutex_unlock(&c->lock);
    if (rc != PGKMS_OK) {
        conn_release(c);
        return rc;
    }
    root->state = c;
    root->ops = &pkcs11_ops;
    return PGKMS_OK;
}
