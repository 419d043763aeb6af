/* SPDX-License-Identifier: Apache-2.0 */
/* Memory for plaintext keys: wiped on free, kept out of core dumps and swap where possible. */
#ifndef PGKMS_SECMEM_H
#define PGKMS_SECMEM_H

#include <stddef.h>

/* Zeroed, page-backed memory; NULL when out of memory. */
void *pgkms_secure_alloc(size_t len);
/* Wipes and releases; NULL is fine. */
void pgkms_secure_free(void *p, size_t len);
/* Wipes a buffer in a way the compiler cannot drop. */
void pgkms_wipe(void *p, size_t len);
/* Constant-time comparison: 0 when equal. */
int pgkms_memcmp_ct(const void *a, const void *b, size_t len);

#endif
