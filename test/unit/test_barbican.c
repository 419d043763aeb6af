/* SPDX-License-Identifier: Apache-2.0 */
/* The Barbican root: URI parsing, tokens, payload answers, and the root against a stub socket. */
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgkms/keyset.h"
#include "pgkms/kms_uri.h"
#include "pgkms/root_barbican.h"
#include "pgkms/secmem.h"
#include "harness.h"

#define ID "0f1e2d3c-4b5a-4697-8877-665544332211"

static char tmpdir[] = "/tmp/pgkms-barbican.XXXXXX";

static void check_parse(void)
{
    pgkms_barbican_target t;
    pgkms_status st;

    CHECK(pgkms_barbican_parse("barbican+https://kms.example:9311/" ID "?project=p1", &t, &st) ==
          PGKMS_OK);
    CHECK(t.payload_url != NULL &&
          strcmp(t.payload_url, "https://kms.example:9311/v1/secrets/" ID "/payload") == 0);
    CHECK(t.label != NULL &&
          strcmp(t.label, "barbican keyring barbican+https://kms.example:9311/" ID) == 0);
    CHECK(t.project != NULL && strcmp(t.project, "p1") == 0);
    CHECK(t.token_file == NULL && t.token_env == NULL && t.ca_file == NULL);
    CHECK(t.http.timeout_ms == PGKMS_HTTP_TIMEOUT_MS &&
          t.http.max_response == PGKMS_BARBICAN_MAX_RESPONSE);
    pgkms_barbican_target_free(&t);

    /* The secret_ref Barbican returns, an upper-case id, a path prefix, options. */
    CHECK(pgkms_barbican_parse("barbican+http://127.0.0.1:9311/v1/secrets/"
                               "0F1E2D3C-4B5A-4697-8877-665544332211/?project=a%2Fb%20"
                               "&ca_file=/etc/ssl/ca%20b.pem&timeout_ms=1500&retries=0"
                               "&token_file=/run/tok",
                               &t, &st) == PGKMS_E_INVALID_ARGUMENT); /* space in project */
    CHECK(pgkms_barbican_parse("http://127.0.0.1:9311/v1/secrets/"
                               "0F1E2D3C-4B5A-4697-8877-665544332211/?project=a%2Fb"
                               "&ca_file=/etc/ssl/ca%20b.pem&timeout_ms=1500&retries=0"
                               "&token_file=/run/tok",
                               &t, &st) == PGKMS_OK);
    CHECK(t.payload_url != NULL &&
          strcmp(t.payload_url, "http://127.0.0.1:9311/v1/secrets/" ID "/payload") == 0);
    CHECK(t.secret_id != NULL && strcmp(t.secret_id, ID) == 0);
    CHECK(t.project != NULL && strcmp(t.project, "a/b") == 0);
    CHECK(t.ca_file != NULL && strcmp(t.ca_file, "/etc/ssl/ca b.pem") == 0 &&
          t.http.ca_file == t.ca_file);
    CHECK(t.http.timeout_ms == 1500 && t.http.retries == 0);
    CHECK(t.token_file != NULL && strcmp(t.token_file, "/run/tok") == 0);
    pgkms_barbican_target_free(&t);
    CHECK(pgkms_barbican_parse("barbican+https://cloud.example/key-manager/" ID
                               "?token_env=OS_TOKEN&project=0123abcd",
                               &t, &st) == PGKMS_OK);
    CHECK(t.payload_url != NULL &&
          strcmp(t.payload_url, "https://cloud.example/key-manager/v1/secrets/" ID "/payload") ==
              0);
    CHECK(t.token_env != NULL && strcmp(t.token_env, "OS_TOKEN") == 0);
    pgkms_barbican_target_free(&t);

    static const struct {
        const char *uri, *says;
    } bad[] = {
        {"barbican+https://h/" ID, "needs ?project="},
        {"barbican+ftp://h/" ID "?project=p", "barbican+https://host"},
        {"barbican+https:///" ID "?project=p", "barbican+https://host"},
        {"barbican+https://user:pw@h/" ID "?project=p", "credentials do not belong"},
        {"barbican+https://h/?project=p", "no secret uuid"},
        {"barbican+https://h?project=p", "no secret uuid"},
        {"barbican+https://h/0f1e2d3c-4b5a-4697-8877-6655443322zz?project=p", "not a Barbican"},
        {"barbican+https://h/" ID "?project=p&project=q", "given twice"},
        {"barbican+https://h/" ID "?project=p&token=abc", "unknown option \"token\""},
        {"barbican+https://h/" ID "?project=p&token_file=tok", "absolute path"},
        {"barbican+https://h/" ID "?project=p&token_env=1X", "environment variable"},
        {"barbican+https://h/" ID "?project=p&token_env=T&token_file=/t", "not both"},
        {"barbican+https://h/" ID "?project=p&ca_file=ca.pem", "absolute path"},
        {"barbican+https://h/" ID "?project=p&timeout_ms=0", "timeout_ms must be"},
        {"barbican+https://h/" ID "?project=p&retries=x", "retries must be"},
        {"barbican+https://h/" ID "?project=p#frag", "fragment"},
        {"barbican+https://h/" ID "#frag", "fragment"},
        {"barbican+https://h/" ID "?project=p%zz", "percent-encoding"},
        {"barbican+https://h/" ID "?project=p%00", "percent-encoding"},
        {"barbican+https://h/" ID "?project=p%2", "percent-encoding"},
        {"barbican+https://h/" ID "?project=%0Ap", "visible ASCII"},
        {"barbican+https://h/" ID "?project=", "visible ASCII"},
        {"barbican+https://h/" ID "?project", "name=value"},
        {"barbican+https://h/" ID "?=p", "name=value"},
        {"barbican+https://h/a%20b/" ID "?project=p", "percent-encoding"},
        {"barbican+https://h x/" ID "?project=p", "holds only visible ASCII"},
        {"barbican+https://h/" ID "?project=p q", "holds only visible ASCII"},
        {"barbican+https://h\x01/" ID "?project=p", "holds only visible ASCII"},
        {"barbican+https://h/" ID "?project=p\xc3\xa9", "holds only visible ASCII"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&t, 0x5a, sizeof(t));
        CHECK_MSG(pgkms_barbican_parse(bad[i].uri, &t, &st) == PGKMS_E_INVALID_ARGUMENT &&
                      strstr(st.detail, bad[i].says) != NULL && t.label == NULL &&
                      t.project == NULL,
                  "%s: %s", bad[i].uri, st.detail);
    }
    /* Longer than any keyring URI pgkms stores: refused before anything is parsed. */
    char *long_uri = malloc(PGKMS_KMS_URI_MAX + 64);

    CHECK(long_uri != NULL);
    snprintf(long_uri, PGKMS_KMS_URI_MAX + 64, "barbican+https://h/" ID "?project=");
    memset(long_uri + strlen(long_uri), 'p', PGKMS_KMS_URI_MAX);
    long_uri[PGKMS_KMS_URI_MAX + 63] = '\0';
    CHECK(pgkms_barbican_parse(long_uri, &t, &st) == PGKMS_E_INVALID_ARGUMENT &&
          strstr(st.detail, "longer than 2048 bytes") != NULL);
    free(long_uri);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    CHECK(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0);
    chmod(path, mode);
}

static void check_token(void)
{
    char uri[512], path[300], *tok = NULL, *big;
    pgkms_barbican_target t;
    pgkms_status st;

    snprintf(path, sizeof(path), "%s/token", tmpdir);
    snprintf(uri, sizeof(uri), "https://h/" ID "?project=p&token_file=%s", path);
    CHECK(pgkms_barbican_parse(uri, &t, &st) == PGKMS_OK);
    CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "could not open token file") && strstr(st.detail, t.label));
    write_file(path, "gAAAAABtoken-1\n", 0644);
    CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "chmod 600") != NULL);
    chmod(path, 0600);
    CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_OK && tok != NULL &&
          strcmp(tok, "gAAAAABtoken-1") == 0);
    pgkms_barbican_token_free(tok);
    write_file(path, "two words\n", 0600);
    CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_E_ROOT_UNAVAILABLE && tok == NULL &&
          strstr(st.detail, "header cannot carry") != NULL);
    write_file(path, "\n", 0600);
    CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "empty") != NULL);
    big = malloc(PGKMS_BARBICAN_TOKEN_MAX + 10);
    if (big != NULL) {
        memset(big, 'a', PGKMS_BARBICAN_TOKEN_MAX + 9);
        big[PGKMS_BARBICAN_TOKEN_MAX + 9] = '\0';
        write_file(path, big, 0600);
        CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
              strstr(st.detail, "longer than") != NULL);
        big[PGKMS_BARBICAN_TOKEN_MAX] = '\0';
        write_file(path, big, 0600);
        CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_OK && tok != NULL &&
              strlen(tok) == PGKMS_BARBICAN_TOKEN_MAX);
        pgkms_barbican_token_free(tok);
        free(big);
    }
    pgkms_barbican_target_free(&t);

    CHECK(pgkms_barbican_parse("https://h/" ID "?project=p&token_env=PGKMS_UNIT_TOKEN", &t, &st) ==
          PGKMS_OK);
    unsetenv("PGKMS_UNIT_TOKEN");
    CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "PGKMS_UNIT_TOKEN") != NULL && strstr(st.detail, "not set") != NULL);
    setenv("PGKMS_UNIT_TOKEN", "env-token", 1);
    CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_OK && tok != NULL &&
          strcmp(tok, "env-token") == 0);
    pgkms_barbican_token_free(tok);
    unsetenv("PGKMS_UNIT_TOKEN");
    pgkms_barbican_target_free(&t);

    CHECK(pgkms_barbican_parse("https://h/" ID "?project=p", &t, &st) == PGKMS_OK);
    tok = (char *)1;
    CHECK(pgkms_barbican_token(&t, &tok, &st) == PGKMS_OK && tok == NULL);
    pgkms_barbican_target_free(&t);
}

static void check_payload(void)
{
    pgkms_barbican_target t;
    pgkms_status st;
    uint8_t secret[32], body[33];
    json_t *err;

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(0xa0 + i);
    CHECK(pgkms_barbican_parse("https://h:9311/" ID "?project=proj-7", &t, &st) == PGKMS_OK);
    CHECK(pgkms_barbican_payload(&t, 200, (const char *)body, 32, NULL, secret, &st) == PGKMS_OK &&
          memcmp(secret, body, 32) == 0);
    CHECK(pgkms_barbican_payload(&t, 200, (const char *)body, 16, NULL, secret, &st) ==
              PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "has 16 bytes") != NULL && strstr(st.detail, t.label) != NULL);
    CHECK(pgkms_barbican_payload(&t, 200, (const char *)body, 33, NULL, secret, &st) ==
              PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "has 33 bytes") != NULL);
    CHECK(pgkms_barbican_payload(&t, 200, "", 0, NULL, secret, &st) == PGKMS_E_ROOT_UNAVAILABLE);

    err = json_pack("{s:i,s:s,s:s}", "code", 404, "title", "Not Found", "description",
                    "Secret not found.\n\x01");
    CHECK(pgkms_barbican_payload(&t, 404, "{}", 2, err, secret, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, t.label) == st.detail && strstr(st.detail, "does not exist") &&
          strstr(st.detail, "(HTTP 404: Secret not found.?\?)") != NULL);
    json_decref(err);
    err = json_pack("{s:s}", "description", "Secret payload retrieval attempt not allowed");
    CHECK(pgkms_barbican_payload(&t, 403, "{}", 2, err, secret, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "denied for project proj-7") != NULL &&
          strstr(st.detail, "not allowed") != NULL);
    json_decref(err);
    CHECK(pgkms_barbican_payload(&t, 401, "", 0, NULL, secret, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "not authenticated (HTTP 401)") != NULL);
    CHECK(pgkms_barbican_payload(&t, 406, "", 0, NULL, secret, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "application/octet-stream") != NULL);
    CHECK(pgkms_barbican_payload(&t, 302, "", 0, NULL, secret, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "unexpected answer HTTP 302") != NULL);
    /* A JSON answer that is not an object, or whose description is not a string. */
    err = json_pack("[s]", "description");
    CHECK(pgkms_barbican_payload(&t, 404, "[]", 2, err, secret, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "(HTTP 404)") != NULL);
    json_decref(err);
    pgkms_barbican_target_free(&t);
}

/* ---- the root against a socket that answers like Barbican's payload resource ------------- */

typedef struct stub {
    int requests;
    int status;
    size_t len;
    uint8_t body[64];
    char last[2048]; /* head of the last request */
} stub;

static stub *sh;
static pid_t stub_pid;
static int stub_port;

static void stub_serve(int lfd)
{
    for (;;) {
        char buf[sizeof(sh->last)], head[160];
        size_t n = 0;
        ssize_t got;
        int fd = accept(lfd, NULL, NULL), hl;

        if (fd < 0)
            continue;
        while (n < sizeof(buf) - 1 && (got = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) {
            n += (size_t)got;
            buf[n] = '\0';
            if (strstr(buf, "\r\n\r\n") != NULL)
                break;
        }
        buf[n] = '\0';
        memcpy(sh->last, buf, n + 1);
        sh->requests++;
        hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Type: application/octet-stream\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      sh->status, sh->len);
        if (write(fd, head, (size_t)hl) == hl && write(fd, sh->body, sh->len) < 0)
            hl = 0;
        close(fd);
    }
}

static void stub_start(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, 16) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    stub_port = ntohs(a.sin_port);
    fflush(NULL);
    stub_pid = fork();
    if (stub_pid == 0) {
        stub_serve(lfd);
        _exit(0);
    }
    close(lfd);
}

static void stub_stop(void)
{
    kill(stub_pid, SIGKILL);
    waitpid(stub_pid, NULL, 0);
}

static void answer(int status, const uint8_t *body, size_t len)
{
    sh->status = status;
    sh->len = len;
    memcpy(sh->body, body, len);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void check_root(void)
{
    static const char root_hex[] =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    static const char not_found[] = "{\"code\": 404, \"description\": \"Secret not found.\"}";
    uint8_t secret[32], wrapped[PGKMS_WRAPPED_MAX], key[32], back[32];
    char uri[512], path[300], furi[320];
    pgkms_root *root = NULL, *froot = NULL;
    pgkms_keyring kr = {0, NULL};
    pgkms_key_record rec;
    pgkms_keyset ks;
    pgkms_status st;
    const uint8_t *tmk = NULL;
    size_t wlen = 0;
    int before;

    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)i;
    memset(key, 0x42, sizeof(key));
    stub_start();
    answer(200, secret, 32);
    snprintf(path, sizeof(path), "%s/token", tmpdir);
    write_file(path, "tok-123\n", 0600);
    snprintf(uri, sizeof(uri),
             "barbican+http://127.0.0.1:%d/v1/secrets/" ID "?project=proj-1&token_file=%s",
             stub_port, path);
    CHECK(pgkms_root_open(NULL, uri, PGKMS_ROOT_CREATE, &root, &st) == PGKMS_OK && root != NULL);
    if (root == NULL) {
        stub_stop();
        return;
    }
    CHECK(strcmp(root->ops->kind, "barbican") == 0 && !root->created);
    CHECK(strstr(sh->last, "GET /v1/secrets/" ID "/payload HTTP/1.1\r\n") == sh->last);
    CHECK(strstr(sh->last, "\r\nX-Project-Id: proj-1\r\n") != NULL);
    CHECK(strstr(sh->last, "\r\nX-Auth-Token: tok-123\r\n") != NULL);
    CHECK(strstr(sh->last, "\r\nAccept: application/octet-stream\r\n") != NULL);

    /* The same 32 bytes as a root file: the same root id, and each unwraps what the other
     * wrapped, because both wrap through root_kek.c. */
    snprintf(path, sizeof(path), "%s/same.key", tmpdir);
    write_file(path, root_hex, 0600);
    snprintf(furi, sizeof(furi), "file:%s", path);
    CHECK(pgkms_root_open(NULL, furi, 0, &froot, &st) == PGKMS_OK);
    if (froot != NULL) {
        CHECK(memcmp(froot->id, root->id, PGKMS_ROOT_ID_LEN) == 0);
        CHECK(root->ops->wrap(root, (const uint8_t *)"aad", 3, key, 32, wrapped, &wlen, &st) ==
              PGKMS_OK);
        CHECK(froot->ops->unwrap(froot, (const uint8_t *)"aad", 3, wrapped, wlen, back, 32, &st) ==
                  PGKMS_OK &&
              memcmp(back, key, 32) == 0);
        CHECK(root->ops->unwrap(root, (const uint8_t *)"aaD", 3, wrapped, wlen, back, 32, &st) ==
              PGKMS_E_AUTH_FAILED);
        pgkms_root_close(froot);
    }

    /* Refreshes within a second of a fetch share it. */
    before = sh->requests;
    CHECK(root->ops->refresh(root, &st) == PGKMS_OK && sh->requests == before);

    /* A keyset over the root: deleting the secret ends the key at the TTL, and it stays closed
     * until the secret is back. */
    CHECK(pgkms_tenant_key_create(root, "bb", 1, &rec, &st) == PGKMS_OK);
    CHECK(pgkms_keyring_add(&kr, &rec, &st) == PGKMS_OK);
    CHECK(pgkms_keyset_init(&ks, "bb", &kr, 0, root, 10, &st) == PGKMS_OK);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 100, &tmk, &st) == PGKMS_OK);
    answer(404, (const uint8_t *)not_found, strlen(not_found));
    sleep_ms(1100);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 106, &tmk, &st) == PGKMS_OK);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 110, &tmk, &st) ==
              PGKMS_E_ROOT_UNAVAILABLE &&
          tmk == NULL && strstr(st.detail, "barbican keyring") == st.detail &&
          strstr(st.detail, "does not exist") != NULL);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 111, &tmk, &st) ==
          PGKMS_E_ROOT_UNAVAILABLE);
    /* Without a fetched secret, the root wraps and unwraps nothing. */
    CHECK(root->ops->wrap(root, (const uint8_t *)"aad", 3, key, 32, wrapped, &wlen, &st) ==
              PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "not available") != NULL);
    answer(200, secret, 32);
    CHECK(pgkms_keyset_material(&ks, pgkms_keyset_selected(&ks), 1, 112, &tmk, &st) == PGKMS_OK &&
          tmk != NULL);

    /* The server gone: 58000 at once (connection refused), naming the keyring. */
    stub_stop();
    sleep_ms(1100);
    CHECK(root->ops->refresh(root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "barbican keyring") == st.detail);
    pgkms_keyset_cleanup(&ks); /* closes the root */

    /* Open fails the same ways, with the cause. */
    stub_start();
    answer(200, secret, 16);
    snprintf(uri, sizeof(uri), "barbican+http://127.0.0.1:%d/" ID "?project=p", stub_port);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE && root == NULL &&
          strstr(st.detail, "has 16 bytes") != NULL);
    answer(403, (const uint8_t *)"{}", 2);
    CHECK(pgkms_root_open(NULL, uri, 0, &root, &st) == PGKMS_E_ROOT_UNAVAILABLE &&
          strstr(st.detail, "denied for project p ") != NULL);
    stub_stop();
    CHECK(pgkms_root_open(NULL, "barbican+http://10.0.0.1/" ID "?project=p", 0, &root, &st) ==
              PGKMS_E_INVALID_ARGUMENT &&
          strstr(st.detail, "use https://") != NULL);
    CHECK(pgkms_root_open(NULL, "barbican+https://h/" ID, 0, &root, &st) ==
          PGKMS_E_INVALID_ARGUMENT);
}

void test_barbican(void)
{
    char cmd[300];

    CHECK(mkdtemp(tmpdir) != NULL);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(sh != MAP_FAILED);
    if (sh == MAP_FAILED)
        return;
    check_parse();
    check_token();
    check_payload();
    check_root();
    munmap(sh, sizeof(*sh));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
}
