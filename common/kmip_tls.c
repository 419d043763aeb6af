/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KMIP client's TLS connection: non-blocking sockets and poll(), so that connecting, the
 * handshake and every request end at one deadline instead of hanging on a silent server.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "pgkms/format.h"
#include "pgkms/kmip.h"

int64_t pgkms_kmip_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The reason of the newest OpenSSL error, for messages; the queue is left as it was found. */
static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    return r != NULL ? r : "unknown TLS error";
}

/*
 * A socket BIO that writes with MSG_NOSIGNAL: a server that closes the connection must give an
 * error, not a SIGPIPE that kills a process which did not ignore it (libpq does the same). One
 * method per connection, freed with it: the provider module can be unloaded, so no static one.
 */

static int nosig_write(BIO *b, const char *buf, int len)
{
    ssize_t n = send((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, MSG_NOSIGNAL);

    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int nosig_read(BIO *b, char *buf, int len)
{
    ssize_t n = recv((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, 0);

    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)n;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *nosig_method_new(void)
{
    /* A plain source/sink type: BIO_get_new_index() would run out after 127 connections. */
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "pgkms KMIP socket");

    if (m != NULL && BIO_meth_set_write(m, nosig_write) && BIO_meth_set_read(m, nosig_read) &&
        BIO_meth_set_ctrl(m, nosig_ctrl))
        return m;
    BIO_meth_free(m);
    return NULL;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* never prompt: a server has no terminal */
}

/* The client's private key: a PEM file that others cannot read, group at most reading it. */
static pgkms_code load_client_key(SSL_CTX *ctx, OSSL_LIB_CTX *libctx, const char *path,
                                  pgkms_status *st)
{
    FILE *f = fopen(path, "re");
    struct stat sb;
    EVP_PKEY *pkey;
    int ok;

    if (f == NULL)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "could not open KMIP client key file \"%s\": %s", path, strerror(errno));
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "KMIP client key \"%s\" is not a regular file", path);
    }
    if ((sb.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) != 0) {
        fclose(f);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "KMIP client key file \"%s\" is accessible by others (mode %03o); run "
                          "chmod 600 on it",
                          path, (unsigned)(sb.st_mode & 0777));
    }
    pkey = PEM_read_PrivateKey_ex(f, NULL, no_passphrase, NULL, libctx, NULL);
    fclose(f);
    if (pkey == NULL)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "KMIP client key file \"%s\" holds no unencrypted PEM private key (%s)",
                          path, ossl_reason());
    ok = SSL_CTX_use_PrivateKey(ctx, pkey);
    EVP_PKEY_free(pkey);
    if (!ok || !SSL_CTX_check_private_key(ctx))
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                          "KMIP client key \"%s\" does not match the client certificate (%s)", path,
                          ossl_reason());
    return PGKMS_OK;
}

pgkms_code pgkms_kmip_tls_new(OSSL_LIB_CTX *libctx, const char *ca_file, const char *cert_file,
                              const char *key_file, SSL_CTX **out, pgkms_status *st)
{
    SSL_CTX *ctx;
    pgkms_code rc = PGKMS_OK;

    *out = NULL;
    ERR_set_mark();
    ctx = SSL_CTX_new_ex(libctx, NULL, TLS_client_method());
    if (ctx == NULL) {
        ERR_pop_to_mark();
        return pgkms_fail(st, PGKMS_E_INTERNAL, "could not create a TLS client context");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Responses carry key material: wipe TLS record buffers when they are released. */
    SSL_CTX_set_options(ctx, SSL_OP_CLEANSE_PLAINTEXT);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        rc = pgkms_fail(st, PGKMS_E_INTERNAL, "could not require TLS 1.2");
    else if (ca_file != NULL ? !SSL_CTX_load_verify_file(ctx, ca_file)
                             : !SSL_CTX_set_default_verify_paths(ctx))
        rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                        "could not load KMIP CA certificates from \"%s\": %s",
                        ca_file ? ca_file : "the system trust store", ossl_reason());
    else if (!SSL_CTX_use_certificate_chain_file(ctx, cert_file))
        rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE,
                        "could not load KMIP client certificate \"%s\": %s", cert_file,
                        ossl_reason());
    else
        rc = load_client_key(ctx, libctx, key_file, st);
    ERR_pop_to_mark();
    if (rc != PGKMS_OK) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return PGKMS_OK;
}

/* Waits until fd is ready for events: 1 ready, 0 deadline passed, -1 error (errno). */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd pfd = {fd, events, 0};

    for (;;) {
        int64_t left = deadline - pgkms_kmip_now_ms();
        int r;

        if (left <= 0)
            return 0;
        r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static pgkms_code timed_out(pgkms_status *st, const char *what)
{
    return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: timed out", what);
}

/* A connected non-blocking TCP socket to host:port, trying each address in turn. */
static pgkms_code tcp_connect(const char *host, const char *port, int64_t deadline, int *out,
                              pgkms_status *st)
{
    struct addrinfo hints, *res = NULL;
    int err, fd = -1, one = 1;
    pgkms_code rc = PGKMS_E_ROOT_UNAVAILABLE;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    err = getaddrinfo(host, port, &hints, &res);
    if (err != 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not resolve \"%s\": %s", host,
                          gai_strerror(err));
    pgkms_fail(st, rc, "no address for \"%s\"", host);
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        socklen_t len = sizeof(err);
        int w;

        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            pgkms_fail(st, rc, "could not create a socket: %s", strerror(errno));
            continue;
        }
        err = 0;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS)
                err = errno;
            else if ((w = wait_fd(fd, POLLOUT, deadline)) <= 0)
                err = w == 0 ? ETIMEDOUT : errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
        }
        if (err != 0) {
            pgkms_fail(st, rc, "could not connect to %s port %s: %s", host, port, strerror(err));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return rc;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *out = fd;
    return PGKMS_OK;
}

/*
 * Runs one TLS step (handshake, read or write) until it completes, waiting for the socket as
 * OpenSSL asks. Returns the step's positive result, or 0 with st set. SSL_get_error needs an
 * empty error queue, so the queue is cleared before each step and after a failure.
 */
static int tls_step(pgkms_kmip_conn *c, int (*step)(SSL *, void *, int), void *buf, int len,
                    const char *what, pgkms_status *st)
{
    for (;;) {
        int n, err, w;

        ERR_clear_error();
        errno = 0;
        n = step(c->ssl, buf, len);
        if (n > 0)
            return n;
        err = SSL_get_error(c->ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            w = wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, c->deadline);
            if (w > 0)
                continue;
            if (w == 0)
                timed_out(st, what);
            else
                pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s", what, strerror(errno));
        } else if (err == SSL_ERROR_ZERO_RETURN ||
                   (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)) {
            pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: the server closed the connection", what);
        } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s", what, strerror(errno));
        } else if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
            pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: server certificate not trusted: %s", what,
                       X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
        } else if (ERR_GET_REASON(ERR_peek_last_error()) >= SSL_AD_REASON_OFFSET) {
            /* An alert the server sent: it refused our certificate or our TLS parameters. */
            pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: the server refused the connection (%s)",
                       what, ossl_reason());
        } else {
            pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "%s: %s", what, ossl_reason());
        }
        ERR_clear_error();
        return 0;
    }
}

static int step_connect(SSL *ssl, void *buf, int len)
{
    (void)buf;
    (void)len;
    return SSL_connect(ssl);
}

static int step_write(SSL *ssl, void *buf, int len)
{
    return SSL_write(ssl, buf, len);
}

static int step_read(SSL *ssl, void *buf, int len)
{
    return SSL_read(ssl, buf, len);
}

pgkms_code pgkms_kmip_connect(SSL_CTX *tls, const char *host, const char *port, int64_t deadline,
                              pgkms_kmip_conn *c, pgkms_status *st)
{
    unsigned char ip[sizeof(struct in6_addr)];
    int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    BIO *bio;
    pgkms_code rc;
    char what[96];

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->deadline = deadline;
    rc = tcp_connect(host, port, deadline, &c->fd, st);
    if (rc != PGKMS_OK)
        return rc;
    c->ssl = SSL_new(tls);
    c->bio_method = nosig_method_new();
    bio = c->ssl != NULL && c->bio_method != NULL ? BIO_new(c->bio_method) : NULL;
    if (bio == NULL)
        rc = pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    if (rc == PGKMS_OK) {
        BIO_set_data(bio, (void *)(intptr_t)c->fd);
        BIO_set_init(bio, 1);
        SSL_set_bio(c->ssl, bio, bio);
        /* The server's certificate must name what we connected to (SNI only for names). */
        if (is_ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host)
                  : !SSL_set1_host(c->ssl, host) || !SSL_set_tlsext_host_name(c->ssl, host))
            rc = pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "invalid KMIP server name \"%.64s\"",
                            host);
    }
    snprintf(what, sizeof(what), "TLS handshake with %.48s port %s", host, port);
    if (rc == PGKMS_OK && tls_step(c, step_connect, NULL, 0, what, st) <= 0)
        rc = PGKMS_E_ROOT_UNAVAILABLE;
    if (rc != PGKMS_OK) {
        ERR_clear_error();
        pgkms_kmip_disconnect(c);
    }
    return rc;
}

/* Reads exactly len bytes. */
static pgkms_code read_full(pgkms_kmip_conn *c, uint8_t *buf, size_t len, pgkms_status *st)
{
    while (len > 0) {
        int n = tls_step(c, step_read, buf, len > INT32_MAX ? INT32_MAX : (int)len,
                         "reading the KMIP response", st);

        if (n <= 0)
            return PGKMS_E_ROOT_UNAVAILABLE;
        buf += n;
        len -= (size_t)n;
    }
    return PGKMS_OK;
}

pgkms_code pgkms_kmip_roundtrip(pgkms_kmip_conn *c, const uint8_t *req, size_t req_len,
                                uint8_t *resp, size_t cap, size_t *resp_len, pgkms_status *st)
{
    pgkms_code rc = PGKMS_OK;
    size_t body;

    /* SSL_write without partial writes completes the whole request or fails. */
    if (tls_step(c, step_write, (void *)req, (int)req_len, "sending the KMIP request", st) <= 0)
        rc = PGKMS_E_ROOT_UNAVAILABLE;
    if (rc == PGKMS_OK)
        rc = read_full(c, resp, PGKMS_TTLV_HEADER_LEN, st);
    if (rc == PGKMS_OK) {
        body = pgkms_load_be32(resp + 4);
        if (pgkms_load_be32(resp) != (PGKMS_KMIP_TAG_RESPONSE_MESSAGE << 8 | PGKMS_TTLV_STRUCTURE))
            rc = pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                            "the server did not answer with a KMIP response message");
        else if (body > cap - PGKMS_TTLV_HEADER_LEN)
            rc = pgkms_fail(st, PGKMS_E_LIMIT, "KMIP response of %zu bytes is larger than %zu",
                            body, cap);
        else
            rc = read_full(c, resp + PGKMS_TTLV_HEADER_LEN, body, st);
        *resp_len = PGKMS_TTLV_HEADER_LEN + body;
    }
    return rc;
}

void pgkms_kmip_disconnect(pgkms_kmip_conn *c)
{
    if (c->ssl != NULL) {
        /* One non-blocking close_notify after a completed handshake; no answer awaited. */
        if (SSL_is_init_finished(c->ssl))
            (void)SSL_shutdown(c->ssl);
        SSL_free(c->ssl); /* and the BIO */
        ERR_clear_error();
    }
    BIO_meth_free(c->bio_method);
    if (c->fd >= 0)
        close(c->fd);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}
