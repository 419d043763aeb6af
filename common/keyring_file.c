/* SPDX-License-Identifier: Apache-2.0 */
/* JSON keyring files (jansson). Parsing is strict: unknown versions and bad fields are refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "pgkms/keyring_file.h"
#include "pgkms/secmem.h"

static pgkms_code bad(pgkms_status *st, size_t i, const char *what)
{
    return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "keyring entry %zu: %s", i, what);
}

static const char *opt_string(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static pgkms_code parse_version(json_t *jv, size_t i, pgkms_key_version *v, pgkms_status *st)
{
    json_t *num = json_object_get(jv, "version");
    const char *keyring = opt_string(jv, "keyring");
    const char *root_id = opt_string(jv, "root_id");
    const char *wrapped = opt_string(jv, "wrapped");
    const char *created = opt_string(jv, "created");
    uint8_t buf[PGKMS_WRAPPED_MAX];
    size_t len = 0;

    if (!json_is_integer(num) || json_integer_value(num) < 1 ||
        json_integer_value(num) > 0x7FFFFFFF)
        return bad(st, i, "version must be an integer from 1");
    if (keyring == NULL || strlen(keyring) == 0 || strlen(keyring) > 32)
        return bad(st, i, "keyring kind is missing");
    if (root_id == NULL ||
        pgkms_hex_decode(root_id, strlen(root_id), v->root_id, PGKMS_ROOT_ID_LEN, NULL) != PGKMS_OK)
        return bad(st, i, "root_id must be 16 hex digits");
    if (wrapped == NULL ||
        pgkms_base64_decode(wrapped, strlen(wrapped), buf, sizeof(buf), &len, NULL) != PGKMS_OK ||
        len == 0)
        return bad(st, i, "wrapped must be base64 of at most 512 bytes");
    v->version = (uint32_t)json_integer_value(num);
    v->keyring = strdup(keyring);
    v->created = created ? strdup(created) : NULL;
    v->wrapped = malloc(len);
    v->wrapped_len = len;
    if (v->keyring == NULL || v->wrapped == NULL || (created && v->created == NULL))
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    memcpy(v->wrapped, buf, len);
    return PGKMS_OK;
}

static pgkms_code parse_key(json_t *jk, size_t i, pgkms_key_record *rec, pgkms_status *st)
{
    const char *tenant = opt_string(jk, "tenant");
    const char *key_id = opt_string(jk, "key_id");
    const char *alias = opt_string(jk, "alias");
    const char *state = opt_string(jk, "state");
    const char *created = opt_string(jk, "created");
    const char *keyring_uri = opt_string(jk, "keyring_uri");
    json_t *def = json_object_get(jk, "default");
    json_t *cur = json_object_get(jk, "current_version");
    json_t *versions = json_object_get(jk, "versions");
    size_t n;
    pgkms_code rc;

    if (!json_is_object(jk))
        return bad(st, i, "not an object");
    if (tenant == NULL || pgkms_tenant_validate(tenant, NULL) != PGKMS_OK)
        return bad(st, i, "tenant is missing or invalid");
    if (key_id == NULL || pgkms_uuid_parse(key_id, rec->key_id, NULL) != PGKMS_OK)
        return bad(st, i, "key_id must be a UUID");
    if (state == NULL || strlen(state) > 32)
        return bad(st, i, "state is missing");
    if (json_object_get(jk, "keyring_uri") != NULL &&
        (keyring_uri == NULL || keyring_uri[0] == '\0' ||
         strlen(keyring_uri) > PGKMS_KEYRING_URI_MAX))
        return bad(st, i, "keyring_uri must be a keyring URI");
    if (!json_is_boolean(def))
        return bad(st, i, "default must be true or false");
    if (!json_is_integer(cur) || json_integer_value(cur) < 1 ||
        json_integer_value(cur) > 0x7FFFFFFF)
        return bad(st, i, "current_version must be an integer from 1");
    /* Only a key without usable material (PendingImport, Destroyed) may have no versions. */
    if (!json_is_array(versions) || (n = json_array_size(versions)) > 100000 ||
        (n == 0 && strcmp(state, "Enabled") == 0))
        return bad(st, i, "versions must be an array, not empty for an Enabled key");
    rec->tenant = strdup(tenant);
    rec->alias = alias ? strdup(alias) : NULL;
    rec->created = created ? strdup(created) : NULL;
    rec->keyring_uri = keyring_uri ? strdup(keyring_uri) : NULL;
    rec->is_default = json_is_true(def);
    rec->current_version = (uint32_t)json_integer_value(cur);
    rec->versions = calloc(n ? n : 1, sizeof(pgkms_key_version));
    if (rec->tenant == NULL || rec->versions == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    if ((rc = pgkms_key_record_set_state(rec, state, st)) != PGKMS_OK)
        return rc;
    for (size_t k = 0; k < n; k++) {
        rec->nversions = k + 1;
        rc = parse_version(json_array_get(versions, k), i, &rec->versions[k], st);
        if (rc != PGKMS_OK)
            return rc;
        for (size_t j = 0; j < k; j++)
            if (rec->versions[j].version == rec->versions[k].version)
                return bad(st, i, "duplicate version");
    }
    if (n > 0 && pgkms_key_record_version(rec, rec->current_version) == NULL)
        return bad(st, i, "current_version is not among the versions");
    return PGKMS_OK;
}

pgkms_code pgkms_keyring_parse(const char *json, size_t len, pgkms_keyring *out, pgkms_status *st)
{
    json_error_t err;
    json_t *root, *keys;
    const char *format;
    size_t n;
    pgkms_code rc = PGKMS_OK;

    memset(out, 0, sizeof(*out));
    if (len > PGKMS_KEYRING_MAX_BYTES)
        return pgkms_fail(st, PGKMS_E_LIMIT, "keyring is larger than %d bytes",
                          PGKMS_KEYRING_MAX_BYTES);
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL)
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT, "keyring is not valid JSON (line %d: %.80s)",
                          err.line, err.text);
    format = opt_string(root, "format");
    keys = json_object_get(root, "keys");
    if (format == NULL || strcmp(format, PGKMS_KEYRING_FORMAT) != 0)
        rc = pgkms_fail(st, PGKMS_E_BAD_FORMAT, "not a pgkms keyring (\"format\" is missing)");
    else if (!json_is_integer(json_object_get(root, "version")) ||
             json_integer_value(json_object_get(root, "version")) != PGKMS_KEYRING_VERSION)
        rc = pgkms_fail(st, PGKMS_E_BAD_FORMAT, "unsupported keyring version");
    else if (!json_is_array(keys))
        rc = pgkms_fail(st, PGKMS_E_BAD_FORMAT, "keyring has no \"keys\" array");
    if (rc != PGKMS_OK) {
        json_decref(root);
        return rc;
    }
    n = json_array_size(keys);
    out->keys = calloc(n ? n : 1, sizeof(pgkms_key_record));
    if (out->keys == NULL) {
        json_decref(root);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n && rc == PGKMS_OK; i++) {
        out->nkeys = i + 1;
        rc = parse_key(json_array_get(keys, i), i, &out->keys[i], st);
        for (size_t j = 0; rc == PGKMS_OK && j < i; j++)
            if (memcmp(out->keys[j].key_id, out->keys[i].key_id, PGKMS_KEY_REF_LEN) == 0)
                rc = bad(st, i, "two keys share the first 8 bytes of their key id");
    }
    json_decref(root);
    if (rc != PGKMS_OK)
        pgkms_keyring_free(out);
    return rc;
}

static json_t *version_json(const pgkms_key_version *v)
{
    char root_id[2 * PGKMS_ROOT_ID_LEN + 1];
    char *b64 = malloc(pgkms_base64_len(v->wrapped_len) + 1);
    json_t *o;

    if (b64 == NULL)
        return NULL;
    pgkms_hex_encode(v->root_id, PGKMS_ROOT_ID_LEN, root_id);
    pgkms_base64_encode(v->wrapped, v->wrapped_len, b64);
    o = json_pack("{s:i, s:s, s:s, s:s, s:s?}", "version", (json_int_t)v->version, "keyring",
                  v->keyring, "root_id", root_id, "wrapped", b64, "created", v->created);
    free(b64);
    return o;
}

pgkms_code pgkms_keyring_serialize(const pgkms_keyring *kr, char **out, pgkms_status *st)
{
    json_t *keys = json_array(), *root;

    *out = NULL;
    for (size_t i = 0; keys != NULL && i < kr->nkeys; i++) {
        const pgkms_key_record *r = &kr->keys[i];
        char kid[PGKMS_UUID_STR_LEN + 1];
        json_t *versions = json_array(), *k;

        pgkms_uuid_format(r->key_id, kid);
        for (size_t j = 0; versions != NULL && j < r->nversions; j++)
            if (json_array_append_new(versions, version_json(&r->versions[j])) != 0) {
                json_decref(versions);
                versions = NULL;
            }
        k = versions == NULL
                ? NULL
                : json_pack("{s:s, s:s, s:s?, s:b, s:s, s:i, s:s?, s:s*, s:o}", "tenant", r->tenant,
                            "key_id", kid, "alias", r->alias, "default", r->is_default, "state",
                            r->state, "current_version", (json_int_t)r->current_version, "created",
                            r->created, "keyring_uri", r->keyring_uri, "versions", versions);
        if (k == NULL || json_array_append_new(keys, k) != 0) {
            json_decref(keys);
            keys = NULL;
        }
    }
    root = keys == NULL ? NULL
                        : json_pack("{s:s, s:i, s:o}", "format", PGKMS_KEYRING_FORMAT, "version",
                                    PGKMS_KEYRING_VERSION, "keys", keys);
    if (root != NULL)
        *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (*out == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory serializing the keyring");
    return PGKMS_OK;
}

pgkms_code pgkms_keyring_load(const char *path, pgkms_keyring *out, pgkms_status *st)
{
    struct stat sb;
    char *buf;
    size_t got = 0;
    int fd;
    pgkms_code rc;

    memset(out, 0, sizeof(*out));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return PGKMS_OK;
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not open keyring \"%s\": %s", path,
                          strerror(errno));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > PGKMS_KEYRING_MAX_BYTES) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_BAD_FORMAT,
                          "keyring \"%s\" is not a regular file of at most %d bytes", path,
                          PGKMS_KEYRING_MAX_BYTES);
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != (size_t)sb.st_size) {
        free(buf);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not read keyring \"%s\"", path);
    }
    rc = pgkms_keyring_parse(buf, got, out, st);
    free(buf);
    if (rc != PGKMS_OK) {
        char detail[PGKMS_DETAIL_MAX];

        snprintf(detail, sizeof(detail), "%s", st ? st->detail : "");
        return pgkms_fail(st, rc, "keyring \"%s\": %s", path, detail);
    }
    return PGKMS_OK;
}

pgkms_code pgkms_keyring_save(const char *path, const pgkms_keyring *kr, pgkms_status *st)
{
    char tmp[4096];
    char *json;
    size_t len;
    int fd, ok;
    pgkms_code rc = pgkms_keyring_serialize(kr, &json, st);

    if (rc != PGKMS_OK)
        return rc;
    if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp)) {
        free(json);
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "keyring path is too long");
    }
    len = strlen(json);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(json);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not create \"%s\": %s", tmp,
                          strerror(errno));
    }
    ok = write(fd, json, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    free(json);
    if (!ok || rename(tmp, path) != 0) {
        rc = pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not write keyring \"%s\": %s", path,
                        strerror(errno));
        unlink(tmp);
    }
    return rc;
}

pgkms_code pgkms_keyring_lock(const char *path, int *fd, pgkms_status *st)
{
    char lock[4096];

    if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock))
        return pgkms_fail(st, PGKMS_E_INVALID_ARGUMENT, "keyring path is too long");
    *fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not open \"%s\": %s", lock,
                          strerror(errno));
    if (flock(*fd, LOCK_EX) != 0) {
        close(*fd);
        return pgkms_fail(st, PGKMS_E_ROOT_UNAVAILABLE, "could not lock \"%s\": %s", lock,
                          strerror(errno));
    }
    return PGKMS_OK;
}

void pgkms_keyring_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

pgkms_code pgkms_keyring_add(pgkms_keyring *kr, pgkms_key_record *rec, pgkms_status *st)
{
    pgkms_key_record *keys = realloc(kr->keys, (kr->nkeys + 1) * sizeof(*keys));

    if (keys == NULL)
        return pgkms_fail(st, PGKMS_E_NO_MEMORY, "out of memory");
    kr->keys = keys;
    kr->keys[kr->nkeys++] = *rec;
    memset(rec, 0, sizeof(*rec));
    return PGKMS_OK;
}

pgkms_key_record *pgkms_keyring_find_default(const pgkms_keyring *kr, const char *tenant)
{
    for (size_t i = 0; i < kr->nkeys; i++)
        if (kr->keys[i].is_default && strcmp(kr->keys[i].tenant, tenant) == 0)
            return &kr->keys[i];
    return NULL;
}

pgkms_key_record *pgkms_keyring_find_key(const pgkms_keyring *kr, const char *tenant,
                                         const char *alias_or_id)
{
    uint8_t id[PGKMS_UUID_LEN];
    int is_id = pgkms_uuid_parse(alias_or_id, id, NULL) == PGKMS_OK;

    for (size_t i = 0; i < kr->nkeys; i++) {
        pgkms_key_record *r = &kr->keys[i];

        if (strcmp(r->tenant, tenant) != 0)
            continue;
        if (is_id ? memcmp(r->key_id, id, PGKMS_UUID_LEN) == 0
                  : (r->alias != NULL && strcmp(r->alias, alias_or_id) == 0))
            return r;
    }
    return NULL;
}

pgkms_key_record *pgkms_keyring_find_ref(const pgkms_keyring *kr,
                                         const uint8_t ref[PGKMS_KEY_REF_LEN])
{
    for (size_t i = 0; i < kr->nkeys; i++)
        if (memcmp(kr->keys[i].key_id, ref, PGKMS_KEY_REF_LEN) == 0)
            return &kr->keys[i];
    return NULL;
}

void pgkms_keyring_free(pgkms_keyring *kr)
{
    for (size_t i = 0; i < kr->nkeys; i++)
        pgkms_key_record_free(&kr->keys[i]);
    free(kr->keys);
    memset(kr, 0, sizeof(*kr));
}
