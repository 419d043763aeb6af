/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small KMIP 1.2 client: the few requests the KMIP root keyring sends (Locate by name,
 * Get Attributes, Encrypt), strict parsing of their responses (kmip.c), and one TLS connection
 * with a client certificate and a deadline (kmip_tls.c). No allocation per message: requests
 * and responses live in caller buffers of PGKMS_KMIP_MESSAGE_MAX bytes.
 */
#ifndef PGKMS_KMIP_H
#define PGKMS_KMIP_H

#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/types.h>

#include "pgkms/ttlv.h"

#define PGKMS_KMIP_MESSAGE_MAX 16384 /* larger responses are refused */
#define PGKMS_KMIP_ID_MAX      128   /* longest unique identifier accepted */

/* Tags (KMIP 1.2 spec, section 9.1.3.1). */
enum {
    PGKMS_KMIP_TAG_ATTRIBUTE = 0x420008,
    PGKMS_KMIP_TAG_ATTRIBUTE_NAME = 0x42000A,
    PGKMS_KMIP_TAG_ATTRIBUTE_VALUE = 0x42000B,
    PGKMS_KMIP_TAG_BATCH_COUNT = 0x42000D,
    PGKMS_KMIP_TAG_BATCH_ITEM = 0x42000F,
    PGKMS_KMIP_TAG_BLOCK_CIPHER_MODE = 0x420011,
    PGKMS_KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM = 0x420028,
    PGKMS_KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS = 0x42002B,
    PGKMS_KMIP_TAG_IV_COUNTER_NONCE = 0x42003D,
    PGKMS_KMIP_TAG_MAXIMUM_ITEMS = 0x42004F,
    PGKMS_KMIP_TAG_NAME_TYPE = 0x420054,
    PGKMS_KMIP_TAG_NAME_VALUE = 0x420055,
    PGKMS_KMIP_TAG_OPERATION = 0x42005C,
    PGKMS_KMIP_TAG_PADDING_METHOD = 0x42005F,
    PGKMS_KMIP_TAG_PROTOCOL_VERSION = 0x420069,
    PGKMS_KMIP_TAG_PROTOCOL_VERSION_MAJOR = 0x42006A,
    PGKMS_KMIP_TAG_PROTOCOL_VERSION_MINOR = 0x42006B,
    PGKMS_KMIP_TAG_REQUEST_HEADER = 0x420077,
    PGKMS_KMIP_TAG_REQUEST_MESSAGE = 0x420078,
    PGKMS_KMIP_TAG_REQUEST_PAYLOAD = 0x420079,
    PGKMS_KMIP_TAG_RESPONSE_HEADER = 0x42007A,
    PGKMS_KMIP_TAG_RESPONSE_MESSAGE = 0x42007B,
    PGKMS_KMIP_TAG_RESPONSE_PAYLOAD = 0x42007C,
    PGKMS_KMIP_TAG_RESULT_MESSAGE = 0x42007D,
    PGKMS_KMIP_TAG_RESULT_REASON = 0x42007E,
    PGKMS_KMIP_TAG_RESULT_STATUS = 0x42007F,
    PGKMS_KMIP_TAG_UNIQUE_IDENTIFIER = 0x420094,
    PGKMS_KMIP_TAG_DATA = 0x4200C2,
};

/* Operations (9.1.3.2.27). */
enum {
    PGKMS_KMIP_OP_LOCATE = 0x08,
    PGKMS_KMIP_OP_GET_ATTRIBUTES = 0x0B,
    PGKMS_KMIP_OP_ENCRYPT = 0x1F,
};

/* Enumeration values used in attributes (9.1.3.2). */
enum {
    PGKMS_KMIP_STATE_ACTIVE = 2,
    PGKMS_KMIP_ALG_AES = 3,
    PGKMS_KMIP_MODE_CBC = 1,
    PGKMS_KMIP_PAD_PKCS5 = 3,
    PGKMS_KMIP_NAME_TEXT = 1, /* Uninterpreted Text String */
    PGKMS_KMIP_RESULT_SUCCESS = 0,
    PGKMS_KMIP_REASON_ITEM_NOT_FOUND = 1,
};

/* Requests: one batch item, protocol version 1.2. *len gets the message length. */
pgkms_code pgkms_kmip_locate_request(uint8_t *buf, size_t cap, const char *name, size_t *len,
                                     pgkms_status *st) PGKMS_MUST_CHECK;
pgkms_code pgkms_kmip_get_attributes_request(uint8_t *buf, size_t cap, const char *uid,
                                             const char *const *names, size_t nnames, size_t *len,
                                             pgkms_status *st) PGKMS_MUST_CHECK;
/* Encrypt with AES in CBC mode and PKCS#5 padding under the key uid, with the IV given. */
pgkms_code pgkms_kmip_encrypt_request(uint8_t *buf, size_t cap, const char *uid, const uint8_t *iv,
                                      size_t iv_len, const uint8_t *data, size_t data_len,
                                      size_t *len, pgkms_status *st) PGKMS_MUST_CHECK;

/* The one batch item of a response; payload points into the response buffer. */
typedef struct pgkms_kmip_response {
    uint32_t status;   /* PGKMS_KMIP_RESULT_SUCCESS, or failed/pending/undone */
    uint32_t reason;   /* Result Reason when not successful (0 if the server sent none) */
    char message[128]; /* Result Message, printable ASCII only, possibly truncated */
    int has_payload;
    pgkms_ttlv payload;
} pgkms_kmip_response;

/*
 * Checks a whole response message strictly (TTLV, protocol version 1.x, one batch item that
 * answers `operation`) and fills *r. PGKMS_OK only means the response is well formed: the
 * caller looks at r->status.
 */
pgkms_code pgkms_kmip_parse_response(const uint8_t *buf, size_t len, uint32_t operation,
                                     pgkms_kmip_response *r, pgkms_status *st) PGKMS_MUST_CHECK;
/* "Item Not Found", ... for a Result Reason. */
const char *pgkms_kmip_reason_name(uint32_t reason);

/* Payload readers; each returns PGKMS_E_BAD_FORMAT when the payload lacks what it needs. */
/* Locate: how many identifiers came back, and the first one. */
pgkms_code pgkms_kmip_locate_result(const pgkms_kmip_response *r, char uid[PGKMS_KMIP_ID_MAX],
                                    size_t *count, pgkms_status *st) PGKMS_MUST_CHECK;
/* Get Attributes: the value of attribute `name` as an Enumeration or Integer. */
pgkms_code pgkms_kmip_attribute_u32(const pgkms_kmip_response *r, const char *name, uint32_t *value,
                                    pgkms_status *st) PGKMS_MUST_CHECK;
/* Encrypt: the Data item (pointing into the response). */
pgkms_code pgkms_kmip_encrypt_result(const pgkms_kmip_response *r, const uint8_t **data,
                                     size_t *len, pgkms_status *st) PGKMS_MUST_CHECK;

/* Transport (kmip_tls.c). */
typedef struct pgkms_kmip_conn {
    SSL *ssl;
    BIO_METHOD *bio_method;
    int fd;
    int64_t deadline; /* monotonic milliseconds; every step fails once it has passed */
} pgkms_kmip_conn;

/* Monotonic milliseconds, for deadlines. */
int64_t pgkms_kmip_now_ms(void);
/*
 * A TLS client context: TLS 1.2 or later, the server verified against ca (a PEM file; NULL for
 * the system's trust store), our certificate chain from cert_file and its private key from
 * key_file (PEM, unencrypted, not readable by others: see pgkms_kmip_tls_new in kmip_tls.c).
 */
pgkms_code pgkms_kmip_tls_new(OSSL_LIB_CTX *libctx, const char *ca_file, const char *cert_file,
                              const char *key_file, SSL_CTX **out,
                              pgkms_status *st) PGKMS_MUST_CHECK;
/* Connects (TCP, then TLS with the server's name or IP address checked) before the deadline. */
pgkms_code pgkms_kmip_connect(SSL_CTX *tls, const char *host, const char *port, int64_t deadline,
                              pgkms_kmip_conn *c, pgkms_status *st) PGKMS_MUST_CHECK;
/* Sends a request and reads one whole response message into resp (at most cap bytes). */
pgkms_code pgkms_kmip_roundtrip(pgkms_kmip_conn *c, const uint8_t *req, size_t req_len,
                                uint8_t *resp, size_t cap, size_t *resp_len,
                                pgkms_status *st) PGKMS_MUST_CHECK;
void pgkms_kmip_disconnect(pgkms_kmip_conn *c);

#endif
