/* SPDX-License-Identifier: Apache-2.0 */
/* pgkms-escrow: splits a file root key into Shamir shares, recombines them, prints root ids. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pgkms/codec.h"
#include "pgkms/root_file.h"
#include "pgkms/secmem.h"
#include "pgkms/shamir.h"

#define EXIT_REFUSED 1 /* the operation failed or was refused; the reason is on stderr */
#define EXIT_USAGE   2
#define LINE_MAX_LEN 1024
#define KEY_LEN      PGKMS_ROOT_FILE_KEY_LEN

static const char USAGE[] = "usage: pgkms-escrow split -k ROOT_KEY_FILE -n THRESHOLD -m SHARES\n"
                            "       pgkms-escrow combine -o NEW_ROOT_KEY_FILE < SHARES\n"
                            "       pgkms-escrow id -k ROOT_KEY_FILE\n"
                            "       pgkms-escrow --help | --version\n";

static const char HELP[] =
    "\n"
    "Escrow of a pgkms file root key (docs/escrow.md).\n"
    "\n"
    "  split    prints SHARES shares of the root key, one per line; any THRESHOLD of them\n"
    "           (2 to SHARES, at most 255) recover it, fewer reveal nothing about it.\n"
    "  combine  reads shares from standard input, one per line (blank lines and lines\n"
    "           starting with # are skipped), writes the recovered root key to a new file\n"
    "           with mode 0600 and prints its root id. An existing file is never replaced.\n"
    "  id       prints the root id of a root key file (16 hex digits), the id shown by\n"
    "           kms.key_versions, storeutl -text and error messages.\n"
    "\n"
    "Root key files must be readable by their owner only (chmod 600). The key itself is\n"
    "never printed. Exit status: 0 success, 1 refused or failed (reason on stderr), 2 usage.\n";

static void say(const char *fmt, ...) PGKMS_PRINTF(1, 2);

static void say(const char *fmt, ...)
{
    va_list ap;

    fputs("pgkms-escrow: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int usage_error(const char *what)
{
    if (what != NULL)
        say("%s", what);
    fputs(USAGE, stderr);
    return EXIT_USAGE;
}

/* A whole number from lo to hi, nothing else; -1 otherwise. */
static long parse_count(const char *s, long lo, long hi)
{
    char *end;
    long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && v >= lo && v <= hi ? v : -1;
}

/* Writes all of buf to fd: share text goes out from secure memory, not through stdio. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void print_id(const uint8_t id[PGKMS_ROOT_ID_LEN])
{
    char hex[2 * PGKMS_ROOT_ID_LEN + 1];

    pgkms_hex_encode(id, PGKMS_ROOT_ID_LEN, hex);
    printf("%s\n", hex);
}

static int finish_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        say("could not write to standard output: %s", strerror(errno));
        return EXIT_REFUSED;
    }
    return 0;
}

static int cmd_split(const char *key_path, long threshold, long count)
{
    size_t shares_size = (size_t)count * sizeof(pgkms_share);
    uint8_t *root = pgkms_secure_alloc(KEY_LEN);
    pgkms_share *shares = pgkms_secure_alloc(shares_size);
    char *text = pgkms_secure_alloc(PGKMS_SHARE_TEXT_MAX + 2);
    pgkms_status st;
    pgkms_code rc;
    int ret = EXIT_REFUSED;

    if (root == NULL || shares == NULL || text == NULL) {
        say("out of memory");
        goto done;
    }
    rc = pgkms_root_file_read(key_path, root, &st);
    if (rc == PGKMS_OK)
        rc = pgkms_shamir_split(NULL, root, (unsigned)threshold, (unsigned)count, shares, &st);
    if (rc != PGKMS_OK) {
        say("%s", st.detail);
        goto done;
    }
    for (long i = 0; i < count; i++) {
        if (pgkms_share_format(NULL, &shares[i], text, &st) != PGKMS_OK) {
            say("%s", st.detail);
            goto done;
        }
        strcat(text, "\n");
        if (write_all(STDOUT_FILENO, text, strlen(text)) != 0) {
            say("could not write the shares to standard output: %s", strerror(errno));
            goto done;
        }
    }
    ret = 0;
done:
    pgkms_secure_free(root, KEY_LEN);
    pgkms_secure_free(shares, shares_size);
    pgkms_secure_free(text, PGKMS_SHARE_TEXT_MAX + 2);
    return ret;
}

/* Reads shares, one per line; returns how many, or -1 after saying why. */
static long read_shares(FILE *in, pgkms_share *shares, char *line)
{
    long count = 0, lineno = 0;
    pgkms_status st;

    while (fgets(line, LINE_MAX_LEN, in) != NULL) {
        size_t len = strlen(line), start = 0;

        lineno++;
        if (len == LINE_MAX_LEN - 1 && line[len - 1] != '\n' && !feof(in)) {
            say("line %ld is too long to be a share", lineno);
            return -1;
        }
        while (len > 0 && strchr(" \t\r\n", line[len - 1]) != NULL)
            len--;
        while (start < len && (line[start] == ' ' || line[start] == '\t'))
            start++;
        if (start == len || line[start] == '#')
            continue;
        if (count == PGKMS_SHAMIR_MAX_SHARES) {
            say("more than %d shares given", PGKMS_SHAMIR_MAX_SHARES);
            return -1;
        }
        if (pgkms_share_parse(NULL, line + start, len - start, &shares[count], &st) != PGKMS_OK) {
            say("line %ld: %s", lineno, st.detail);
            return -1;
        }
        count++;
    }
    if (ferror(in)) {
        say("could not read the shares from standard input: %s", strerror(errno));
        return -1;
    }
    return count;
}

static int cmd_combine(const char *out_path)
{
    size_t shares_size = PGKMS_SHAMIR_MAX_SHARES * sizeof(pgkms_share);
    pgkms_share *shares = pgkms_secure_alloc(shares_size);
    uint8_t *root = pgkms_secure_alloc(KEY_LEN), *back = pgkms_secure_alloc(KEY_LEN);
    char *line = pgkms_secure_alloc(LINE_MAX_LEN);
    uint8_t id[PGKMS_ROOT_ID_LEN];
    pgkms_status st;
    pgkms_code rc;
    long count;
    int ret = EXIT_REFUSED;

    if (shares == NULL || root == NULL || back == NULL || line == NULL) {
        say("out of memory");
        goto done;
    }
    /* Refuse before the custodians type anything; writing refuses again, atomically. */
    if (access(out_path, F_OK) == 0) {
        say("root key file \"%s\" already exists; it is never replaced", out_path);
        goto done;
    }
    if (isatty(STDIN_FILENO))
        fputs("Enter the shares, one per line, then Ctrl-D:\n", stderr);
    /* stdin's buffer would keep copies of the shares in ordinary memory: read unbuffered. */
    setvbuf(stdin, NULL, _IONBF, 0);
    count = read_shares(stdin, shares, line);
    if (count < 0)
        goto done;
    rc = pgkms_shamir_combine(NULL, shares, (size_t)count, root, &st);
    if (rc == PGKMS_OK)
        rc = pgkms_root_file_write(out_path, root, &st);
    /* Read the file back as the server will, so what was written is what was verified. */
    if (rc == PGKMS_OK)
        rc = pgkms_root_file_read(out_path, back, &st);
    if (rc == PGKMS_OK)
        rc = pgkms_root_file_id(NULL, back, id, &st);
    if (rc == PGKMS_OK && memcmp(id, shares[0].root_id, PGKMS_ROOT_ID_LEN) != 0)
        rc = pgkms_fail(&st, PGKMS_E_INTERNAL, "root key file \"%s\" does not read back as written",
                        out_path);
    if (rc != PGKMS_OK) {
        say("%s", st.detail);
        goto done;
    }
    print_id(id);
    ret = finish_stdout();
done:
    pgkms_secure_free(shares, shares_size);
    pgkms_secure_free(root, KEY_LEN);
    pgkms_secure_free(back, KEY_LEN);
    pgkms_secure_free(line, LINE_MAX_LEN);
    return ret;
}

static int cmd_id(const char *key_path)
{
    uint8_t *root = pgkms_secure_alloc(KEY_LEN);
    uint8_t id[PGKMS_ROOT_ID_LEN];
    pgkms_status st;
    pgkms_code rc;

    if (root == NULL) {
        say("out of memory");
        return EXIT_REFUSED;
    }
    rc = pgkms_root_file_read(key_path, root, &st);
    if (rc == PGKMS_OK)
        rc = pgkms_root_file_id(NULL, root, id, &st);
    pgkms_secure_free(root, KEY_LEN);
    if (rc != PGKMS_OK) {
        say("%s", st.detail);
        return EXIT_REFUSED;
    }
    print_id(id);
    return finish_stdout();
}

int main(int argc, char **argv)
{
    const struct rlimit no_core = {0, 0};
    const char *cmd, *key = NULL, *out = NULL, *n_arg = NULL, *m_arg = NULL;
    long n, m;
    int opt;

    /* Secure memory is already left out of core dumps; stdio and the stack are not. */
    (void)setrlimit(RLIMIT_CORE, &no_core);
    if (argc < 2)
        return usage_error(NULL);
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        printf("%s%s", USAGE, HELP);
        return finish_stdout();
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("pgkms-escrow %s\n", PGKMS_VERSION);
        return finish_stdout();
    }
    while ((opt = getopt(argc - 1, argv + 1, "+:k:n:m:o:")) != -1) {
        switch (opt) {
        case 'k':
            key = optarg;
            break;
        case 'n':
            n_arg = optarg;
            break;
        case 'm':
            m_arg = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case ':':
            say("option -%c needs a value", optopt);
            return usage_error(NULL);
        default:
            say("unknown option -%c", optopt);
            return usage_error(NULL);
        }
    }
    if (optind < argc - 1)
        return usage_error("unexpected argument");
    if (strcmp(cmd, "split") == 0) {
        if (key == NULL || n_arg == NULL || m_arg == NULL || out != NULL)
            return usage_error("split needs -k, -n and -m");
        n = parse_count(n_arg, PGKMS_SHAMIR_MIN_THRESHOLD, PGKMS_SHAMIR_MAX_SHARES);
        if (n < 0) {
            say("-n (the threshold) must be a number from %d to %d", PGKMS_SHAMIR_MIN_THRESHOLD,
                PGKMS_SHAMIR_MAX_SHARES);
            return usage_error(NULL);
        }
        m = parse_count(m_arg, n, PGKMS_SHAMIR_MAX_SHARES);
        if (m < 0) {
            say("-m (the number of shares) must be a number from %ld (the threshold) to %d", n,
                PGKMS_SHAMIR_MAX_SHARES);
            return usage_error(NULL);
        }
        return cmd_split(key, n, m);
    }
    if (strcmp(cmd, "combine") == 0) {
        if (out == NULL || key != NULL || n_arg != NULL || m_arg != NULL)
            return usage_error("combine needs -o and nothing else");
        return cmd_combine(out);
    }
    if (strcmp(cmd, "id") == 0) {
        if (key == NULL || out != NULL || n_arg != NULL || m_arg != NULL)
            return usage_error("id needs -k and nothing else");
        return cmd_id(key);
    }
    return usage_error("unknown command");
}
