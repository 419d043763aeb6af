/* SPDX-License-Identifier: Apache-2.0 */
/* KMIP TTLV encoding: a fixed-buffer writer and a strict reader (see ttlv.h). */
#include <string.h>

#include "pgkms/format.h"
#include "pgkms/ttlv.h"

static size_t padded(size_t len)
{
    return (len + 7) & ~(size_t)7;
}

void pgkms_ttlv_writer_init(pgkms_ttlv_writer *w, uint8_t *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = cap;
}

/* Writes the header and the value with its padding; the value may be NULL (filled later). */
static void put(pgkms_ttlv_writer *w, uint32_t tag, uint8_t type, const void *value, size_t len)
{
    size_t total = PGKMS_TTLV_HEADER_LEN + padded(len);
    uint8_t *p;

    if (w->failed || len > UINT32_MAX || total > w->cap - w->len) {
        w->failed = 1;
        return;
    }
    p = w->buf + w->len;
    pgkms_store_be32(p, tag << 8 | type);
    pgkms_store_be32(p + 4, (uint32_t)len);
    memset(p + PGKMS_TTLV_HEADER_LEN, 0, padded(len));
    if (value != NULL && len > 0)
        memcpy(p + PGKMS_TTLV_HEADER_LEN, value, len);
    w->len += total;
}

void pgkms_ttlv_begin(pgkms_ttlv_writer *w, uint32_t tag)
{
    if (w->depth == PGKMS_TTLV_DEPTH_MAX)
        w->failed = 1;
    if (w->failed)
        return;
    w->open[w->depth++] = w->len;
    put(w, tag, PGKMS_TTLV_STRUCTURE, NULL, 0);
}

void pgkms_ttlv_end(pgkms_ttlv_writer *w)
{
    size_t start;

    if (w->depth == 0)
        w->failed = 1;
    if (w->failed)
        return;
    start = w->open[--w->depth];
    pgkms_store_be32(w->buf + start + 4, (uint32_t)(w->len - start - PGKMS_TTLV_HEADER_LEN));
}

void pgkms_ttlv_put_int(pgkms_ttlv_writer *w, uint32_t tag, int32_t v)
{
    uint8_t b[4];

    pgkms_store_be32(b, (uint32_t)v);
    put(w, tag, PGKMS_TTLV_INTEGER, b, sizeof(b));
}

void pgkms_ttlv_put_enum(pgkms_ttlv_writer *w, uint32_t tag, uint32_t v)
{
    uint8_t b[4];

    pgkms_store_be32(b, v);
    put(w, tag, PGKMS_TTLV_ENUMERATION, b, sizeof(b));
}

void pgkms_ttlv_put_text(pgkms_ttlv_writer *w, uint32_t tag, const char *s, size_t len)
{
    put(w, tag, PGKMS_TTLV_TEXT_STRING, s, len);
}

void pgkms_ttlv_put_bytes(pgkms_ttlv_writer *w, uint32_t tag, const uint8_t *b, size_t len)
{
    put(w, tag, PGKMS_TTLV_BYTE_STRING, b, len);
}

pgkms_code pgkms_ttlv_writer_finish(const pgkms_ttlv_writer *w, size_t *len, pgkms_status *st)
{
    if (w->failed)
        return pgkms_fail(st, PGKMS_E_LIMIT, "KMIP request does not fit in %zu bytes", w->cap);
    if (w->depth != 0)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "KMIP request has an unended structure");
    *len = w->len;
    return PGKMS_OK;
}

/* Checks the item at buf (at most avail bytes) and, recursively, what it holds. */
static pgkms_code check_item(const uint8_t *buf, size_t avail, int depth, pgkms_ttlv *item,
                             size_t *used, pgkms_status *st)
{
    size_t pad;
    uint32_t expect = 0;

    if (avail < PGKMS_TTLV_HEADER_LEN)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "KMIP item truncated in its header");
    item->tag = pgkms_load_be32(buf) >> 8;
    item->type = buf[3];
    item->len = pgkms_load_be32(buf + 4);
    item->value = buf + PGKMS_TTLV_HEADER_LEN;
    if ((item->tag >> 16) != 0x42 && (item->tag >> 16) != 0x54)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "KMIP item has tag %06x, not a KMIP (42) or extension (54) tag",
                          (unsigned)item->tag);
    if (item->len > avail - PGKMS_TTLV_HEADER_LEN ||
        padded(item->len) > avail - PGKMS_TTLV_HEADER_LEN)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "KMIP item %06x is longer than its message",
                          (unsigned)item->tag);
    switch (item->type) {
    case PGKMS_TTLV_INTEGER:
    case PGKMS_TTLV_ENUMERATION:
    case PGKMS_TTLV_INTERVAL:
        expect = 4;
        break;
    case PGKMS_TTLV_LONG_INTEGER:
    case PGKMS_TTLV_BOOLEAN:
    case PGKMS_TTLV_DATE_TIME:
        expect = 8;
        break;
    case PGKMS_TTLV_BIG_INTEGER:
        if (item->len == 0 || item->len % 8 != 0)
            return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                              "KMIP big integer %06x has %u bytes, not a multiple of 8",
                              (unsigned)item->tag, (unsigned)item->len);
        break;
    case PGKMS_TTLV_TEXT_STRING:
    case PGKMS_TTLV_BYTE_STRING:
        break;
    case PGKMS_TTLV_STRUCTURE: {
        size_t off = 0, n;
        pgkms_ttlv child;
        pgkms_code rc;

        if (depth >= PGKMS_TTLV_DEPTH_MAX)
            return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "KMIP structures nest deeper than %d",
                              PGKMS_TTLV_DEPTH_MAX);
        /* Items are padded, so they tile the structure exactly or the length is wrong. */
        while (off < item->len) {
            rc = check_item(item->value + off, item->len - off, depth + 1, &child, &n, st);
            if (rc != PGKMS_OK)
                return rc;
            off += n;
        }
        *used = PGKMS_TTLV_HEADER_LEN + item->len;
        return PGKMS_OK;
    }
    default:
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "KMIP item %06x has unknown type %02x",
                          (unsigned)item->tag, item->type);
    }
    if (expect != 0 && item->len != expect)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "KMIP item %06x of type %02x has %u bytes, not %u", (unsigned)item->tag,
                          item->type, (unsigned)item->len, (unsigned)expect);
    if (item->type == PGKMS_TTLV_BOOLEAN &&
        (pgkms_load_be32(item->value) != 0 || pgkms_load_be32(item->value + 4) > 1))
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "KMIP boolean %06x is neither 0 nor 1",
                          (unsigned)item->tag);
    pad = padded(item->len) - item->len;
    for (size_t i = 0; i < pad; i++)
        if (item->value[item->len + i] != 0)
            return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "KMIP item %06x has non-zero padding",
                              (unsigned)item->tag);
    *used = PGKMS_TTLV_HEADER_LEN + padded(item->len);
    return PGKMS_OK;
}

pgkms_code pgkms_ttlv_decode(const uint8_t *buf, size_t len, pgkms_ttlv *item, pgkms_status *st)
{
    size_t used = 0;
    pgkms_code rc = check_item(buf, len, 0, item, &used, st);

    if (rc == PGKMS_OK && used != len)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "%zu bytes follow the KMIP message", len - used);
    return rc;
}

void pgkms_ttlv_iter_init(pgkms_ttlv_iter *it, const pgkms_ttlv *structure)
{
    it->p = structure->value;
    it->end = structure->value + structure->len;
}

int pgkms_ttlv_next(pgkms_ttlv_iter *it, pgkms_ttlv *item)
{
    if (it->p >= it->end)
        return 0;
    item->tag = pgkms_load_be32(it->p) >> 8;
    item->type = it->p[3];
    item->len = pgkms_load_be32(it->p + 4);
    item->value = it->p + PGKMS_TTLV_HEADER_LEN;
    it->p += PGKMS_TTLV_HEADER_LEN + padded(item->len);
    return 1;
}

int pgkms_ttlv_find(const pgkms_ttlv *s, uint32_t tag, uint8_t type, pgkms_ttlv *out)
{
    pgkms_ttlv_iter it;

    pgkms_ttlv_iter_init(&it, s);
    while (pgkms_ttlv_next(&it, out))
        if (out->tag == tag && out->type == type)
            return 1;
    return 0;
}

uint32_t pgkms_ttlv_u32(const pgkms_ttlv *item)
{
    return pgkms_load_be32(item->value);
}
