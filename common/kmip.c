/* SPDX-License-Identifier: Apache-2.0 */
/* KMIP 1.2 messages: the requests the KMIP root sends and strict parsing of the responses. */
#include <string.h>

#include "pgkms/kmip.h"

/* Opens RequestMessage / RequestHeader (version 1.2, one item) / BatchItem / RequestPayload. */
static void begin_request(pgkms_ttlv_writer *w, uint8_t *buf, size_t cap, uint32_t operation)
{
    pgkms_ttlv_writer_init(w, buf, cap);
    pgkms_ttlv_begin(w, PGKMS_KMIP_TAG_REQUEST_MESSAGE);
    pgkms_ttlv_begin(w, PGKMS_KMIP_TAG_REQUEST_HEADER);
    pgkms_ttlv_begin(w, PGKMS_KMIP_TAG_PROTOCOL_VERSION);
    pgkms_ttlv_put_int(w, PGKMS_KMIP_TAG_PROTOCOL_VERSION_MAJOR, 1);
    pgkms_ttlv_put_int(w, PGKMS_KMIP_TAG_PROTOCOL_VERSION_MINOR, 2);
    pgkms_ttlv_end(w);
    pgkms_ttlv_put_int(w, PGKMS_KMIP_TAG_BATCH_COUNT, 1);
    pgkms_ttlv_end(w);
    pgkms_ttlv_begin(w, PGKMS_KMIP_TAG_BATCH_ITEM);
    pgkms_ttlv_put_enum(w, PGKMS_KMIP_TAG_OPERATION, operation);
    pgkms_ttlv_begin(w, PGKMS_KMIP_TAG_REQUEST_PAYLOAD);
}

static pgkms_code end_request(pgkms_ttlv_writer *w, size_t *len, pgkms_status *st)
{
    pgkms_ttlv_end(w); /* payload */
    pgkms_ttlv_end(w); /* batch item */
    pgkms_ttlv_end(w); /* message */
    return pgkms_ttlv_writer_finish(w, len, st);
}

pgkms_code pgkms_kmip_locate_request(uint8_t *buf, size_t cap, const char *name, size_t *len,
                                     pgkms_status *st)
{
    static const char attr[] = "Name";
    pgkms_ttlv_writer w;

    begin_request(&w, buf, cap, PGKMS_KMIP_OP_LOCATE);
    /* Two are enough to tell "exactly one" from "ambiguous". */
    pgkms_ttlv_put_int(&w, PGKMS_KMIP_TAG_MAXIMUM_ITEMS, 2);
    pgkms_ttlv_begin(&w, PGKMS_KMIP_TAG_ATTRIBUTE);
    pgkms_ttlv_put_text(&w, PGKMS_KMIP_TAG_ATTRIBUTE_NAME, attr, sizeof(attr) - 1);
    pgkms_ttlv_begin(&w, PGKMS_KMIP_TAG_ATTRIBUTE_VALUE);
    pgkms_ttlv_put_text(&w, PGKMS_KMIP_TAG_NAME_VALUE, name, strlen(name));
    pgkms_ttlv_put_enum(&w, PGKMS_KMIP_TAG_NAME_TYPE, PGKMS_KMIP_NAME_TEXT);
    pgkms_ttlv_end(&w);
    pgkms_ttlv_end(&w);
    return end_request(&w, len, st);
}

pgkms_code pgkms_kmip_get_attributes_request(uint8_t *buf, size_t cap, const char *uid,
                                             const char *const *names, size_t nnames, size_t *len,
                                             pgkms_status *st)
{
    pgkms_ttlv_writer w;

    begin_request(&w, buf, cap, PGKMS_KMIP_OP_GET_ATTRIBUTES);
    pgkms_ttlv_put_text(&w, PGKMS_KMIP_TAG_UNIQUE_IDENTIFIER, uid, strlen(uid));
    for (size_t i = 0; i < nnames; i++)
        pgkms_ttlv_put_text(&w, PGKMS_KMIP_TAG_ATTRIBUTE_NAME, names[i], strlen(names[i]));
    return end_request(&w, len, st);
}

pgkms_code pgkms_kmip_encrypt_request(uint8_t *buf, size_t cap, const char *uid, const uint8_t *iv,
                                      size_t iv_len, const uint8_t *data, size_t data_len,
                                      size_t *len, pgkms_status *st)
{
    pgkms_ttlv_writer w;

    begin_request(&w, buf, cap, PGKMS_KMIP_OP_ENCRYPT);
    pgkms_ttlv_put_text(&w, PGKMS_KMIP_TAG_UNIQUE_IDENTIFIER, uid, strlen(uid));
    /* Fields in the order of the spec (2.1.5): mode, padding, then the algorithm. */
    pgkms_ttlv_begin(&w, PGKMS_KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
    pgkms_ttlv_put_enum(&w, PGKMS_KMIP_TAG_BLOCK_CIPHER_MODE, PGKMS_KMIP_MODE_CBC);
    pgkms_ttlv_put_enum(&w, PGKMS_KMIP_TAG_PADDING_METHOD, PGKMS_KMIP_PAD_PKCS5);
    pgkms_ttlv_put_enum(&w, PGKMS_KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, PGKMS_KMIP_ALG_AES);
    pgkms_ttlv_end(&w);
    pgkms_ttlv_put_bytes(&w, PGKMS_KMIP_TAG_DATA, data, data_len);
    pgkms_ttlv_put_bytes(&w, PGKMS_KMIP_TAG_IV_COUNTER_NONCE, iv, iv_len);
    return end_request(&w, len, st);
}

/* Copies a server's text for messages: printable ASCII only, truncated to fit. */
static void copy_printable(char *dst, size_t cap, const uint8_t *src, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;

    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] >= 0x20 && src[i] < 0x7F ? (char)src[i] : '?';
    dst[n] = '\0';
}

static pgkms_code malformed(pgkms_status *st, const char *what)
{
    return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "malformed KMIP response: %s", what);
}

static pgkms_code check_header(const pgkms_ttlv *msg, pgkms_status *st)
{
    pgkms_ttlv header, version, major, count;

    if (!pgkms_ttlv_find(msg, PGKMS_KMIP_TAG_RESPONSE_HEADER, PGKMS_TTLV_STRUCTURE, &header) ||
        !pgkms_ttlv_find(&header, PGKMS_KMIP_TAG_PROTOCOL_VERSION, PGKMS_TTLV_STRUCTURE,
                         &version) ||
        !pgkms_ttlv_find(&version, PGKMS_KMIP_TAG_PROTOCOL_VERSION_MAJOR, PGKMS_TTLV_INTEGER,
                         &major) ||
        !pgkms_ttlv_find(&header, PGKMS_KMIP_TAG_BATCH_COUNT, PGKMS_TTLV_INTEGER, &count))
        return malformed(st, "no response header with a protocol version and a batch count");
    if (pgkms_ttlv_u32(&major) != 1)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "KMIP server answered with protocol version %u.x, not 1.x",
                          (unsigned)pgkms_ttlv_u32(&major));
    if (pgkms_ttlv_u32(&count) != 1)
        return malformed(st, "batch count is not 1");
    return PGKMS_OK;
}

pgkms_code pgkms_kmip_parse_response(const uint8_t *buf, size_t len, uint32_t operation,
                                     pgkms_kmip_response *r, pgkms_status *st)
{
    pgkms_ttlv msg, item, field;
    pgkms_ttlv_iter it;
    int items = 0;
    pgkms_code rc;

    memset(r, 0, sizeof(*r));
    memset(&item, 0, sizeof(item));
    rc = pgkms_ttlv_decode(buf, len, &msg, st);
    if (rc != PGKMS_OK)
        return rc;
    if (msg.tag != PGKMS_KMIP_TAG_RESPONSE_MESSAGE || msg.type != PGKMS_TTLV_STRUCTURE)
        return malformed(st, "not a response message");
    rc = check_header(&msg, st);
    if (rc != PGKMS_OK)
        return rc;
    pgkms_ttlv_iter_init(&it, &msg);
    while (pgkms_ttlv_next(&it, &field))
        if (field.tag == PGKMS_KMIP_TAG_BATCH_ITEM && field.type == PGKMS_TTLV_STRUCTURE &&
            items++ == 0)
            item = field;
    if (items != 1)
        return malformed(st, "not exactly one batch item");
    /* The operation is optional in a failed item, but when present it must be ours. */
    if (pgkms_ttlv_find(&item, PGKMS_KMIP_TAG_OPERATION, PGKMS_TTLV_ENUMERATION, &field) &&
        pgkms_ttlv_u32(&field) != operation)
        return malformed(st, "the batch item answers another operation");
    if (!pgkms_ttlv_find(&item, PGKMS_KMIP_TAG_RESULT_STATUS, PGKMS_TTLV_ENUMERATION, &field))
        return malformed(st, "no result status");
    r->status = pgkms_ttlv_u32(&field);
    if (pgkms_ttlv_find(&item, PGKMS_KMIP_TAG_RESULT_REASON, PGKMS_TTLV_ENUMERATION, &field))
        r->reason = pgkms_ttlv_u32(&field);
    if (pgkms_ttlv_find(&item, PGKMS_KMIP_TAG_RESULT_MESSAGE, PGKMS_TTLV_TEXT_STRING, &field))
        copy_printable(r->message, sizeof(r->message), field.value, field.len);
    r->has_payload =
        pgkms_ttlv_find(&item, PGKMS_KMIP_TAG_RESPONSE_PAYLOAD, PGKMS_TTLV_STRUCTURE, &r->payload);
    return PGKMS_OK;
}

const char *pgkms_kmip_reason_name(uint32_t reason)
{
    static const char *const names[] = {"no reason given",
                                        "Item Not Found",
                                        "Response Too Large",
                                        "Authentication Not Successful",
                                        "Invalid Message",
                                        "Operation Not Supported",
                                        "Missing Data",
                                        "Invalid Field",
                                        "Feature Not Supported",
                                        "Operation Canceled By Requester",
                                        "Cryptographic Failure",
                                        "Illegal Operation",
                                        "Permission Denied",
                                        "Object Archived",
                                        "Index Out of Bounds",
                                        "Application Namespace Not Supported",
                                        "Key Format Type Not Supported",
                                        "Key Compression Type Not Supported",
                                        "Encoding Option Error",
                                        "Key Value Not Present",
                                        "Attestation Required",
                                        "Attestation Failed",
                                        "Sensitive",
                                        "Not Extractable",
                                        "Object Already Exists"};

    if (reason < sizeof(names) / sizeof(names[0]))
        return names[reason];
    return reason == 0x100 ? "General Failure" : "unknown reason";
}

static pgkms_code need_payload(const pgkms_kmip_response *r, pgkms_status *st)
{
    if (r->status != PGKMS_KMIP_RESULT_SUCCESS)
        return pgkms_fail(st, PGKMS_E_INTERNAL, "KMIP operation did not succeed");
    if (!r->has_payload)
        return malformed(st, "no response payload");
    return PGKMS_OK;
}

pgkms_code pgkms_kmip_locate_result(const pgkms_kmip_response *r, char uid[PGKMS_KMIP_ID_MAX],
                                    size_t *count, pgkms_status *st)
{
    pgkms_ttlv_iter it;
    pgkms_ttlv field;
    pgkms_code rc = need_payload(r, st);

    *count = 0;
    uid[0] = '\0';
    if (rc != PGKMS_OK)
        return rc;
    pgkms_ttlv_iter_init(&it, &r->payload);
    while (pgkms_ttlv_next(&it, &field)) {
        if (field.tag != PGKMS_KMIP_TAG_UNIQUE_IDENTIFIER)
            continue;
        if (field.type != PGKMS_TTLV_TEXT_STRING || field.len == 0 ||
            field.len >= PGKMS_KMIP_ID_MAX || memchr(field.value, '\0', field.len) != NULL)
            return malformed(st, "a unique identifier is empty, too long or not text");
        if ((*count)++ == 0) {
            memcpy(uid, field.value, field.len);
            uid[field.len] = '\0';
        }
    }
    return PGKMS_OK;
}

pgkms_code pgkms_kmip_attribute_u32(const pgkms_kmip_response *r, const char *name, uint32_t *value,
                                    pgkms_status *st)
{
    size_t nlen = strlen(name);
    pgkms_ttlv_iter it;
    pgkms_ttlv attr, field;
    pgkms_code rc = need_payload(r, st);

    if (rc != PGKMS_OK)
        return rc;
    pgkms_ttlv_iter_init(&it, &r->payload);
    while (pgkms_ttlv_next(&it, &attr)) {
        if (attr.tag != PGKMS_KMIP_TAG_ATTRIBUTE || attr.type != PGKMS_TTLV_STRUCTURE ||
            !pgkms_ttlv_find(&attr, PGKMS_KMIP_TAG_ATTRIBUTE_NAME, PGKMS_TTLV_TEXT_STRING,
                             &field) ||
            field.len != nlen || memcmp(field.value, name, nlen) != 0)
            continue;
        if (pgkms_ttlv_find(&attr, PGKMS_KMIP_TAG_ATTRIBUTE_VALUE, PGKMS_TTLV_ENUMERATION,
                            &field) ||
            pgkms_ttlv_find(&attr, PGKMS_KMIP_TAG_ATTRIBUTE_VALUE, PGKMS_TTLV_INTEGER, &field)) {
            *value = pgkms_ttlv_u32(&field);
            return PGKMS_OK;
        }
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "malformed KMIP response: attribute \"%s\" is not an enumeration or "
                          "integer",
                          name);
    }
    return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "KMIP server did not return attribute \"%s\"", name);
}

pgkms_code pgkms_kmip_encrypt_result(const pgkms_kmip_response *r, const uint8_t **data,
                                     size_t *len, pgkms_status *st)
{
    pgkms_ttlv field;
    pgkms_code rc = need_payload(r, st);

    if (rc != PGKMS_OK)
        return rc;
    if (!pgkms_ttlv_find(&r->payload, PGKMS_KMIP_TAG_DATA, PGKMS_TTLV_BYTE_STRING, &field))
        return malformed(st, "no data in the Encrypt response");
    *data = field.value;
    *len = field.len;
    return PGKMS_OK;
}
