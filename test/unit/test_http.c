/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP client against a scripted server on 127.0.0.1: retries, timeouts, caps, fork. */
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgkms/http.h"
#include "harness.h"

/* What the server answers to request i (the last entry repeats). */
typedef struct reply {
    int status; /* 0: never answer */
    const char *body;
    size_t big; /* > 0: a body of that many bytes instead */
} reply;

typedef struct shared_log {
    int requests;
    int conns;
    char last[4096]; /* the last request, head and body */
} shared_log;

static shared_log *shared;
static pid_t server_pid;
static int server_port;

#define MAX_CONNS 8

static void answer(int fd, const reply *r)
{
    char head[256];
    size_t blen = r->big ? r->big : strlen(r->body);
    int n =
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                 r->status, blen);

    if (write(fd, head, (size_t)n) != n)
        return;
    if (r->big) {
        char chunk[1024];

        memset(chunk, 'a', sizeof(chunk));
        for (size_t sent = 0; sent < blen; sent += sizeof(chunk))
            if (write(fd, chunk, blen - sent < sizeof(chunk) ? blen - sent : sizeof(chunk)) < 0)
                return;
    } else if (write(fd, r->body, blen) < 0) {
        return;
    }
}

/* One complete request at the start of buf: its length, or 0 if more bytes are needed. */
static size_t request_len(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    const char *cl;
    size_t head, body = 0;

    if (end == NULL)
        return 0;
    head = (size_t)(end - buf) + 4;
    cl = memmem(buf, head, "Content-Length: ", 16);
    if (cl != NULL)
        body = strtoul(cl + 16, NULL, 10);
    return len >= head + body ? head + body : 0;
}

static void serve(int lfd, const reply *script, int n)
{
    struct pollfd fds[MAX_CONNS + 1];
    static char bufs[MAX_CONNS + 1][8192];
    size_t lens[MAX_CONNS + 1] = {0};
    int nfds = 1;

    fds[0].fd = lfd;
    fds[0].events = POLLIN;
    for (;;) {
        if (poll(fds, (nfds_t)nfds, -1) < 0)
            continue;
        if ((fds[0].revents & POLLIN) && nfds <= MAX_CONNS) {
            int fd = accept(lfd, NULL, NULL);

            if (fd >= 0) {
                fds[nfds].fd = fd;
                fds[nfds].events = POLLIN;
                fds[nfds].revents = 0;
                lens[nfds++] = 0;
                shared->conns++;
            }
        }
        for (int i = 1; i < nfds; i++) {
            ssize_t got;
            size_t rl;

            if (!(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            got = read(fds[i].fd, bufs[i] + lens[i], sizeof(bufs[i]) - 1 - lens[i]);
            if (got <= 0) {
                close(fds[i].fd);
                fds[i] = fds[nfds - 1];
                memcpy(bufs[i], bufs[nfds - 1], lens[nfds - 1]);
                lens[i] = lens[nfds - 1];
                nfds--;
                i--;
                continue;
            }
            lens[i] += (size_t)got;
            while ((rl = request_len(bufs[i], lens[i])) > 0) {
                int idx = shared->requests++;
                const reply *r = &script[idx < n ? idx : n - 1];

                memcpy(shared->last, bufs[i],
                       rl < sizeof(shared->last) ? rl : sizeof(shared->last) - 1);
                shared->last[rl < sizeof(shared->last) ? rl : sizeof(shared->last) - 1] = '\0';
                if (r->status != 0)
                    answer(fds[i].fd, r);
                memmove(bufs[i], bufs[i] + rl, lens[i] - rl);
                lens[i] -= rl;
            }
        }
    }
}

static void server_start(const reply *script, int n)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, 16) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    server_port = ntohs(a.sin_port);
    memset(shared, 0, sizeof(*shared));
    fflush(NULL); /* children must not print the parent's buffered output again */
    server_pid = fork();
    if (server_pid == 0) {
        serve(lfd, script, n);
        _exit(0);
    }
    close(lfd);
}

static void server_stop(void)
{
    kill(server_pid, SIGKILL);
    waitpid(server_pid, NULL, 0);
}

static pgkms_http *client(long timeout_ms, int retries)
{
    pgkms_http_config cfg;
    pgkms_http *c = NULL;
    pgkms_status st;

    pgkms_http_config_init(&cfg);
    cfg.timeout_ms = timeout_ms;
    cfg.retries = retries;
    cfg.max_response = 4096;
    CHECK(pgkms_http_new(&cfg, "test keyring", &c, &st) == PGKMS_OK);
    return c;
}

static double elapsed_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static pgkms_code get(pgkms_http *c, const char *path, pgkms_http_response *resp, pgkms_status *st)
{
    char url[128];
    pgkms_http_header h = {"X-Test-Token", "s3cret"};

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server_port, path);
    return pgkms_http_json(c, "GET", url, &h, 1, NULL, resp, st);
}

static void check_answers(void)
{
    static const reply ok[] = {{200, "{\"data\":{\"x\":1}}", 0}};
    static const reply flaky[] = {{503, "{}", 0}, {503, "{}", 0}, {200, "{\"ok\":true}", 0}};
    static const reply denied[] = {{401, "{\"errors\":[\"permission denied\"]}", 0}};
    pgkms_http *c = client(2000, 2);
    pgkms_http_response r;
    pgkms_status st;
    struct timespec t0;

    server_start(ok, 1);
    CHECK(get(c, "/v1/x", &r, &st) == PGKMS_OK && r.status == 200 && r.attempts == 1);
    CHECK(r.json != NULL &&
          json_integer_value(json_object_get(json_object_get(r.json, "data"), "x")) == 1);
    CHECK(strncmp(shared->last, "GET /v1/x HTTP/1.1\r\n", 20) == 0);
    CHECK(strstr(shared->last, "\r\nX-Test-Token: s3cret\r\n") != NULL);
    CHECK(strstr(shared->last, "\r\nAccept: application/json\r\n") != NULL);
    pgkms_http_response_free(&r);
    CHECK(get(c, "/v1/y", &r, &st) == PGKMS_OK && shared->conns == 1); /* kept alive */
    pgkms_http_response_free(&r);
    server_stop();

    /* 503, 503, then 200: success on the third attempt, after two backoffs (>= 50 + 100 ms). */
    server_start(flaky, 3);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(get(c, "/", &r, &st) == PGKMS_OK && r.status == 200 && r.attempts == 3);
    CHECK(elapsed_since(&t0) >= 0.15);
    pgkms_http_response_free(&r);
    server_stop();

    /* 401 is an answer: no retry, the caller judges it. */
    server_start(denied, 1);
    CHECK(get(c, "/", &r, &st) == PGKMS_OK && r.status == 401 && r.attempts == 1);
    CHECK(shared->requests == 1);
    pgkms_http_response_free(&r);
    server_stop();
    pgkms_http_free(c);
}

static void check_failures(void)
{
    static const reply down[] = {{503, "{\"errors\":[\"Vault is sealed\"]}", 0}};
    static const reply hang[] = {{0, NULL, 0}};
    static const reply big[] = {{200, NULL, 5000}};
    pgkms_http *c = client(300, 1);
    pgkms_http_response r;
    pgkms_status st;
    struct timespec t0;
    int port;
    double t;

    /* Always 503: fails after 1 + retries attempts, then holds down without a request. */
    server_start(down, 1);
    CHECK(get(c, "/", &r, &st) == PGKMS_E_ROOT_UNAVAILABLE && shared->requests == 2);
    CHECK_MSG(strstr(st.detail, "test keyring: no usable answer after 2 attempts (HTTP 503)") ==
                  st.detail,
              "%s", st.detail);
    CHECK(r.body == NULL && r.json == NULL);
    CHECK(get(c, "/", &r, &st) == PGKMS_E_ROOT_UNAVAILABLE && shared->requests == 2);
    CHECK_MSG(strstr(st.detail, "unavailable (HTTP 503); next attempt in") != NULL, "%s",
              st.detail);
    server_stop();
    pgkms_http_free(c);

    /* Nobody listening: refused at once, retried, reported. */
    c = client(300, 2);
    port = server_port;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(get(c, "/", &r, &st) == PGKMS_E_ROOT_UNAVAILABLE);
    CHECK(elapsed_since(&t0) < 3.0);
    CHECK_MSG(strstr(st.detail, "after 3 attempts") != NULL && strstr(st.detail, "s3cret") == NULL,
              "%s", st.detail);
    pgkms_http_free(c);

    /* A server that never answers: each attempt ends at timeout_ms. */
    c = client(300, 1);
    server_start(hang, 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(get(c, "/", &r, &st) == PGKMS_E_ROOT_UNAVAILABLE);
    t = elapsed_since(&t0);
    CHECK_MSG(t >= 0.6 && t < 4.0, "two 300 ms attempts took %.3f s", t);
    CHECK_MSG(strstr(st.detail, "after 2 attempts") != NULL, "%s", st.detail);
    server_stop();
    pgkms_http_free(c);

    /* Answers larger than max_response are refused, not truncated. */
    c = client(2000, 2);
    server_start(big, 1);
    CHECK(get(c, "/", &r, &st) == PGKMS_E_LIMIT && shared->requests == 1);
    CHECK(r.body == NULL);
    server_stop();

    /* Plain http:// only to the loopback address. */
    server_port = port;
    CHECK(pgkms_http_json(c, "GET", "http://10.0.0.1/v1/x", NULL, 0, NULL, &r, &st) ==
          PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_http_json(c, "GET", "http://127.0.0.10/v1/x", NULL, 0, NULL, &r, &st) ==
          PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_http_json(c, "GET", "ftp://127.0.0.1/x", NULL, 0, NULL, &r, &st) ==
          PGKMS_E_INVALID_ARGUMENT);
    pgkms_http_free(c);
}

static int throttled(const pgkms_http_response *resp, void *arg)
{
    const char *type = json_string_value(json_object_get(resp->json, "__type"));

    (void)arg;
    return resp->status == 400 && type != NULL && strcmp(type, "ThrottlingException") == 0;
}

static void check_bodies(void)
{
    static const reply throttle[] = {{400, "{\"__type\":\"ThrottlingException\"}", 0},
                                     {200, "{}", 0}};
    static const reply fail500[] = {{500, "{}", 0}};
    pgkms_http *c = client(2000, 2);
    pgkms_http_response r;
    pgkms_status st;
    pgkms_http_request req;
    json_t *body = json_pack("{s:s, s:i}", "plaintext", "AAAA", "n", 7);
    char url[64];
    size_t len;
    char *text = pgkms_json_dump_secret(body, &len);

    CHECK(text != NULL && strcmp(text, "{\"plaintext\":\"AAAA\",\"n\":7}") == 0 &&
          len == strlen(text));
    server_start(throttle, 2);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", server_port);
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.body = text;
    req.body_len = len;
    req.retryable = throttled;
    CHECK(pgkms_http_send(c, &req, &r, &st) == PGKMS_OK && r.status == 200 && r.attempts == 2);
    CHECK(strncmp(shared->last, "POST / HTTP/1.1\r\n", 17) == 0);
    CHECK(strstr(shared->last, "\r\n\r\n{\"plaintext\":\"AAAA\",\"n\":7}") != NULL);
    pgkms_http_response_free(&r);
    CHECK(pgkms_http_json(c, "DELETE", url, NULL, 0, body, &r, &st) == PGKMS_OK);
    CHECK(strncmp(shared->last, "DELETE / HTTP/1.1\r\n", 19) == 0);
    CHECK(strstr(shared->last, "\r\nContent-Type: application/json\r\n") != NULL);
    pgkms_http_response_free(&r);
    server_stop();

    /* A request that must not run twice is not retried after it may have reached the server. */
    server_start(fail500, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", server_port);
    req.flags = PGKMS_HTTP_NOT_IDEMPOTENT;
    req.retryable = NULL;
    CHECK(pgkms_http_send(c, &req, &r, &st) == PGKMS_E_ROOT_UNAVAILABLE && shared->requests == 1);
    CHECK_MSG(strstr(st.detail, "after 1 attempt (HTTP 500)") != NULL, "%s", st.detail);
    server_stop();
    pgkms_http_secret_free(text, len);
    pgkms_json_wipe_free(body);
    pgkms_http_free(c);
}

/* A child gets its own connection; the parent's kept-alive connection keeps working. */
static void check_fork(void)
{
    static const reply ok[] = {{200, "{}", 0}};
    pgkms_http *c = client(2000, 0);
    pgkms_http_response r;
    pgkms_status st;
    pid_t pid;
    int status = -1;

    server_start(ok, 1);
    CHECK(get(c, "/", &r, &st) == PGKMS_OK && shared->conns == 1);
    pgkms_http_response_free(&r);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int ok = get(c, "/child", &r, &st) == PGKMS_OK && r.status == 200;

        pgkms_http_response_free(&r);
        pgkms_http_free(c);
        _exit(ok ? 0 : 1);
    }
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(shared->conns == 2 && shared->requests == 2);
    CHECK(get(c, "/again", &r, &st) == PGKMS_OK && r.status == 200);
    CHECK(shared->conns == 2 && shared->requests == 3);
    pgkms_http_response_free(&r);
    server_stop();
    pgkms_http_free(c);
}

static void check_config(void)
{
    pgkms_http_config cfg;
    pgkms_status st;
    char out[16];

    pgkms_http_config_init(&cfg);
    CHECK(pgkms_http_config_knows("timeout_ms") && pgkms_http_config_knows("ca_file"));
    CHECK(!pgkms_http_config_knows("token") && !pgkms_http_config_knows("insecure"));
    CHECK(pgkms_http_config_set(&cfg, "timeout_ms", "1500", &st) == PGKMS_OK &&
          cfg.timeout_ms == 1500);
    CHECK(pgkms_http_config_set(&cfg, "retries", "11", &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_http_config_set(&cfg, "retries", "", &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_http_config_set(&cfg, "connect_timeout_ms", "5x", &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_http_config_set(&cfg, "holddown_ms", "0", &st) == PGKMS_OK && cfg.holddown_ms == 0);
    CHECK(pgkms_http_config_set(&cfg, "ca_file", "ca.pem", &st) == PGKMS_E_INVALID_ARGUMENT);
    CHECK(pgkms_http_config_set(&cfg, "ca_file", "/etc/ca.pem", &st) == PGKMS_OK);
    pgkms_http_sanitize("bad\x01\n text \xff  ", out, sizeof(out));
    CHECK(strcmp(out, "bad?? text ?") == 0);
    pgkms_http_sanitize("0123456789abcdefghij", out, sizeof(out));
    CHECK(strlen(out) == 15);
}

void test_http(void)
{
    shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared != MAP_FAILED);
    if (shared == MAP_FAILED)
        return;
    check_config();
    check_answers();
    check_failures();
    check_bodies();
    check_fork();
    munmap(shared, sizeof(*shared));
}
