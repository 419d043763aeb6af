/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KMIP's Tag-Type-Length-Value encoding (KMIP 1.2 spec, section 9.1): a writer into a fixed
 * buffer and a strict, bounded reader that never allocates. Values are big-endian and padded
 * with zero bytes to a multiple of 8; a structure's value is its items, back to back.
 */
#ifndef PGKMS_TTLV_H
#define PGKMS_TTLV_H

#include <stdint.h>

#include "pgkms/status.h"

enum {
    PGKMS_TTLV_STRUCTURE = 0x01,
    PGKMS_TTLV_INTEGER = 0x02,
    PGKMS_TTLV_LONG_INTEGER = 0x03,
    PGKMS_TTLV_BIG_INTEGER = 0x04,
    PGKMS_TTLV_ENUMERATION = 0x05,
    PGKMS_TTLV_BOOLEAN = 0x06,
    PGKMS_TTLV_TEXT_STRING = 0x07,
    PGKMS_TTLV_BYTE_STRING = 0x08,
    PGKMS_TTLV_DATE_TIME = 0x09,
    PGKMS_TTLV_INTERVAL = 0x0A,
};

#define PGKMS_TTLV_HEADER_LEN 8  /* tag (3) + type (1) + length (4) */
#define PGKMS_TTLV_DEPTH_MAX  16 /* deeper nesting is refused; KMIP 1.2 messages need 6 */

/* One item: its value points into the buffer it was read from (len bytes, without padding). */
typedef struct pgkms_ttlv {
    uint32_t tag;
    uint8_t type;
    uint32_t len;
    const uint8_t *value;
} pgkms_ttlv;

/*
 * Writer: items go into buf as they are added; a structure's length is filled in when it ends.
 * Errors (no room, too deep, end without begin) are sticky and reported by finish, so callers
 * write a whole message and check once.
 */
typedef struct pgkms_ttlv_writer {
    uint8_t *buf;
    size_t cap, len;
    size_t open[PGKMS_TTLV_DEPTH_MAX]; /* offsets of the structures not yet ended */
    int depth;
    int failed;
} pgkms_ttlv_writer;

void pgkms_ttlv_writer_init(pgkms_ttlv_writer *w, uint8_t *buf, size_t cap);
void pgkms_ttlv_begin(pgkms_ttlv_writer *w, uint32_t tag);
void pgkms_ttlv_end(pgkms_ttlv_writer *w);
void pgkms_ttlv_put_int(pgkms_ttlv_writer *w, uint32_t tag, int32_t v);
void pgkms_ttlv_put_enum(pgkms_ttlv_writer *w, uint32_t tag, uint32_t v);
void pgkms_ttlv_put_text(pgkms_ttlv_writer *w, uint32_t tag, const char *s, size_t len);
void pgkms_ttlv_put_bytes(pgkms_ttlv_writer *w, uint32_t tag, const uint8_t *b, size_t len);
/* Every structure ended and everything fitted: *len is the message length. */
pgkms_code pgkms_ttlv_writer_finish(const pgkms_ttlv_writer *w, size_t *len,
                                    pgkms_status *st) PGKMS_MUST_CHECK;

/*
 * Reads the one item that is exactly buf[0..len) and checks it whole, nested items included:
 * known types, fixed lengths of fixed-size types, Booleans 0 or 1, zero padding, structures
 * tiled exactly by their items, at most PGKMS_TTLV_DEPTH_MAX levels.
 */
pgkms_code pgkms_ttlv_decode(const uint8_t *buf, size_t len, pgkms_ttlv *item,
                             pgkms_status *st) PGKMS_MUST_CHECK;

/* Iterates over the items of a structure that pgkms_ttlv_decode accepted. */
typedef struct pgkms_ttlv_iter {
    const uint8_t *p, *end;
} pgkms_ttlv_iter;

void pgkms_ttlv_iter_init(pgkms_ttlv_iter *it, const pgkms_ttlv *structure);
/* 1 and the next item, or 0 at the end. */
int pgkms_ttlv_next(pgkms_ttlv_iter *it, pgkms_ttlv *item);
/* The first item of structure s with this tag and type: 1 if found, else 0. */
int pgkms_ttlv_find(const pgkms_ttlv *s, uint32_t tag, uint8_t type, pgkms_ttlv *out);
/* The value of an Integer, Enumeration or Interval item (4 bytes). */
uint32_t pgkms_ttlv_u32(const pgkms_ttlv *item);

#endif
