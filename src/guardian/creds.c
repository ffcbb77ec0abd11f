// SPDX-License-Identifier: Apache-2.0
/*
 * creds.c - NATS .creds files: the user JWT and its nkey seed between the
 * armour lines nsc, libnats and @nats-io/jwt use. Parsing is as lenient as
 * theirs about the armour text (any line of >= 3 dashes ... >= 3 dashes)
 * and strict about the content: the JWT must verify, the seed must be a
 * user seed and match the JWT's subject.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/guardian.h>

#define CREDS_MAX (80 * 1024)

int veil_creds_format(const char *jwt, const veil_nkey *user, char **out, veil_err *err)
{
    char seed[VEIL_NKEY_SEED_LEN + 1];
    *out = NULL;
    if (veil_nkey_seed_text(user, seed, err) != 0)
        return -1;
    static const char fmt[] =
        "-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n\n"
        "*************************************************************\n";
    size_t cap = sizeof(fmt) + strlen(jwt) + sizeof(seed);
    char *text = malloc(cap);
    if (text == NULL) {
        veil_memzero(seed, sizeof(seed));
        return veil_err_set(err, VEIL_E_NOMEM, "creds: out of memory");
    }
    snprintf(text, cap, fmt, jwt, seed);
    veil_memzero(seed, sizeof(seed));
    *out = text;
    return 0;
}

void veil_creds_free_text(char *text)
{
    if (text != NULL) {
        veil_memzero(text, strlen(text));
        free(text);
    }
}

int veil_creds_write(const char *path, const char *jwt, const veil_nkey *user, veil_err *err)
{
    char *text = NULL;
    if (veil_creds_format(jwt, user, &text, err) != 0)
        return -1;
    int rc = veil_key_file_write(path, text, strlen(text), err);
    veil_creds_free_text(text);
    return rc;
}

/* Next line (without CR/LF) from the reader; false at the end. */
static bool next_line(veil_reader *r, const char **line, size_t *len)
{
    size_t rem = veil_reader_remaining(r);
    if (rem == 0 || !veil_reader_ok(r))
        return false;
    const uint8_t *start = r->data + r->pos;
    const uint8_t *nl = memchr(start, '\n', rem);
    size_t n = nl ? (size_t)(nl - start) : rem;
    *line = (const char *)veil_read_borrow(r, n);
    veil_reader_skip(r, nl ? 1 : 0);
    *len = n;
    while (*len > 0 && ((*line)[*len - 1] == '\r' || (*line)[*len - 1] == ' '))
        (*len)--;
    while (*len > 0 && (**line == ' ' || **line == '\t')) {
        (*line)++;
        (*len)--;
    }
    return *line != NULL;
}

static bool is_armour(const char *line, size_t len)
{
    return len >= 6 && strncmp(line, "---", 3) == 0 && strncmp(line + len - 3, "---", 3) == 0;
}

/* Finds the next armoured block: an armour line, one content line, an
 * armour line. */
static int next_block(veil_reader *r, const char **content, size_t *clen, const char *what,
                      veil_err *err)
{
    const char *line;
    size_t len;
    while (next_line(r, &line, &len)) {
        if (!is_armour(line, len))
            continue;
        if (!next_line(r, content, clen) || *clen == 0)
            break;
        if (!next_line(r, &line, &len) || !is_armour(line, len))
            break;
        return 0;
    }
    return veil_err_set(err, VEIL_E_PARSE, "creds: no armoured %s block", what);
}

static int check_pair(const char *jwt, size_t jlen, veil_nkey *user, veil_err *err)
{
    veil_jwt claims;
    if (veil_jwt_decode(jwt, jlen, &claims, err) != 0)
        return veil_err_wrap(err, "creds");
    char pub[VEIL_NKEY_PUBLIC_LEN + 1];
    veil_nkey_public_text(user, pub);
    int rc = 0;
    if (claims.kind != VEIL_JWT_USER)
        rc = veil_err_set(err, VEIL_E_PARSE, "creds: the JWT is not a user JWT");
    else if (user->type != VEIL_NKEY_USER)
        rc = veil_err_set(err, VEIL_E_PARSE, "creds: the seed is not a user seed");
    else if (strcmp(pub, claims.sub) != 0)
        rc = veil_err_set(err, VEIL_E_MISMATCH, "creds: the seed does not match the JWT subject");
    veil_jwt_free(&claims);
    return rc;
}

int veil_creds_parse(const char *text, size_t len, char **jwt, veil_nkey *user, veil_err *err)
{
    veil_reader r;
    const char *j, *s;
    size_t jlen, slen;
    *jwt = NULL;
    memset(user, 0, sizeof(*user));
    if (len > CREDS_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "creds: %zu bytes is too large", len);
    veil_reader_init(&r, text, len);
    if (next_block(&r, &j, &jlen, "JWT", err) != 0 || next_block(&r, &s, &slen, "seed", err) != 0)
        return -1;
    if (veil_nkey_from_seed(user, s, slen, err) != 0)
        return veil_err_wrap(err, "creds");
    if (check_pair(j, jlen, user, err) != 0) {
        veil_nkey_wipe(user);
        return -1;
    }
    *jwt = strndup(j, jlen);
    if (*jwt == NULL) {
        veil_nkey_wipe(user);
        return veil_err_set(err, VEIL_E_NOMEM, "creds: out of memory");
    }
    return 0;
}

int veil_creds_read(const char *path, char **jwt, veil_nkey *user, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_key_file_read(path, CREDS_MAX, &data, &len, err) != 0)
        return veil_err_wrap(err, "creds %s", path);
    int rc = veil_creds_parse((const char *)data, len, jwt, user, err);
    veil_memzero(data, len);
    free(data);
    return rc == 0 ? 0 : veil_err_wrap(err, "creds %s", path);
}
