/* SPDX-License-Identifier: Apache-2.0 */
/* Page-backed secret memory: excluded from core dumps, locked when allowed, wiped on free. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "pgkms/secmem.h"

static size_t round_to_pages(size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    return (len + page - 1) / page * page;
}

void *pgkms_secure_alloc(size_t len)
{
    size_t size = round_to_pages(len == 0 ? 1 : len);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_DONTDUMP
    (void)madvise(p, size, MADV_DONTDUMP);
#endif
    /* Best effort: unprivileged processes may have a small RLIMIT_MEMLOCK. */
    (void)mlock(p, size);
    return p;
}

void pgkms_secure_free(void *p, size_t len)
{
    size_t size;

    if (p == NULL)
        return;
    size = round_to_pages(len == 0 ? 1 : len);
    OPENSSL_cleanse(p, size);
    (void)munlock(p, size);
    (void)munmap(p, size);
}

void pgkms_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0)
        OPENSSL_cleanse(p, len);
}

int pgkms_memcmp_ct(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len);
}
