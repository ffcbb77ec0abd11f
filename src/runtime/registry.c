// SPDX-License-Identifier: Apache-2.0
/*
 * registry.c - the registry client: Docker Registry HTTP API v2 / OCI
 * distribution-spec ("Pulling manifests", "Pulling blobs") over libcurl,
 * with the token flow of the Docker "Token Authentication Specification"
 * (401 + WWW-Authenticate: Bearer realm,service,scope -> GET realm ->
 * {"token"|"access_token"}) and Basic auth from a Docker config.json.
 *
 * Nothing fetched is used or stored before its sha256 matches: manifests
 * against the digest asked for (or Docker-Content-Digest when pulling by
 * tag), blobs against their descriptor, streaming into a temp file that is
 * fsync'ed and renamed into the store only after the check. Interrupted
 * blob downloads resume with an HTTP Range request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "runtime_internal.h"
#include "veil_curl.h"

/* ------------------------------------------------------------------------ */
/* Credentials and WWW-Authenticate                                         */
/* ------------------------------------------------------------------------ */

int veil_registry_auth_lookup(const char *auth_file, const char *host, char **userpass,
                              veil_err *err)
{
    *userpass = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_file_read(auth_file, 1 << 20, &data, &len, err) != 0)
        return veil_err_wrap(err, "registry credentials");
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, len, 0, &jerr);
    veil_memzero(data, len);
    free(data);
    if (!root)
        return veil_err_set(err, VEIL_E_PARSE, "%s: invalid JSON at line %d", auth_file, jerr.line);
    int rc = -1;
    json_t *auths = json_object_get(root, "auths");
    json_t *entry = NULL;
    if (json_is_object(auths)) {
        entry = json_object_get(auths, host);
        if (!entry) { /* keys may be URLs: "https://host/...", Docker Hub's v1 URL */
            const char *key;
            json_t *v;
            json_object_foreach(auths, key, v)
            {
                const char *k = key;
                if (strncmp(k, "https://", 8) == 0)
                    k += 8;
                else if (strncmp(k, "http://", 7) == 0)
                    k += 7;
                size_t hn = strlen(host);
                if (strncmp(k, host, hn) == 0 && (k[hn] == '\0' || k[hn] == '/')) {
                    entry = v;
                    break;
                }
                if (strcmp(host, "registry-1.docker.io") == 0 &&
                    strncmp(k, "index.docker.io", 15) == 0) {
                    entry = v;
                    break;
                }
            }
        }
    }
    if (!json_is_object(entry)) {
        veil_err_set(err, VEIL_E_NOTFOUND, "%s: no credentials for %s", auth_file, host);
        goto out;
    }
    json_t *auth = json_object_get(entry, "auth");
    json_t *user = json_object_get(entry, "username");
    json_t *pass = json_object_get(entry, "password");
    if (json_is_string(auth)) {
        const char *b64 = json_string_value(auth);
        size_t n = strlen(b64);
        if (n == 0 || n % 4 != 0 || n > 4096) {
            veil_err_set(err, VEIL_E_PARSE, "%s: bad base64 in auth for %s", auth_file, host);
            goto out;
        }
        unsigned char *dec = malloc(n);
        int dn = dec ? EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n) : -1;
        if (dn < 0) {
            free(dec);
            veil_err_set(err, VEIL_E_PARSE, "%s: bad base64 in auth for %s", auth_file, host);
            goto out;
        }
        while (n && b64[n - 1] == '=') { /* EVP_DecodeBlock counts padding */
            n--;
            dn--;
        }
        dec[dn] = '\0';
        if (!memchr(dec, ':', (size_t)dn) || strlen((char *)dec) != (size_t)dn) {
            veil_memzero(dec, (size_t)dn);
            free(dec);
            veil_err_set(err, VEIL_E_PARSE, "%s: auth for %s is not user:password", auth_file,
                         host);
            goto out;
        }
        *userpass = (char *)dec;
    } else if (json_is_string(user) && json_is_string(pass)) {
        size_t n = strlen(json_string_value(user)) + strlen(json_string_value(pass)) + 2;
        *userpass = malloc(n);
        if (*userpass)
            snprintf(*userpass, n, "%s:%s", json_string_value(user), json_string_value(pass));
    } else {
        veil_err_set(err, VEIL_E_PARSE, "%s: entry for %s has no auth", auth_file, host);
        goto out;
    }
    rc = *userpass ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
out:
    json_decref(root);
    return rc;
}

/* Copies a parameter value, quoted or bare. */
static const char *auth_param(const char *p, char *out, size_t cap)
{
    size_t o = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"') {
            if (*p == '\\' && p[1])
                p++;
            if (o + 1 < cap)
                out[o++] = *p;
            p++;
        }
        if (*p == '"')
            p++;
    } else {
        while (*p && *p != ',' && *p != ' ') {
            if (o + 1 < cap)
                out[o++] = *p;
            p++;
        }
    }
    if (cap)
        out[o] = '\0';
    return p;
}

int veil_www_authenticate_parse(const char *header, char *scheme, size_t scheme_cap, char *realm,
                                size_t realm_cap, char *service, size_t service_cap, char *scope,
                                size_t scope_cap, veil_err *err)
{
    realm[0] = service[0] = scope[0] = scheme[0] = '\0';
    const char *p = header;
    while (*p == ' ')
        p++;
    size_t sn = strcspn(p, " ");
    if (sn == 0 || sn >= scheme_cap)
        return veil_err_set(err, VEIL_E_PARSE, "WWW-Authenticate: no scheme");
    memcpy(scheme, p, sn);
    scheme[sn] = '\0';
    p += sn;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t kn = strcspn(p, "=");
        if (!p[kn])
            return veil_err_set(err, VEIL_E_PARSE, "WWW-Authenticate: bad parameter");
        char key[32] = "";
        if (kn < sizeof key) {
            memcpy(key, p, kn);
            key[kn] = '\0';
        }
        p += kn + 1;
        char sink[8];
        if (strcasecmp(key, "realm") == 0)
            p = auth_param(p, realm, realm_cap);
        else if (strcasecmp(key, "service") == 0)
            p = auth_param(p, service, service_cap);
        else if (strcasecmp(key, "scope") == 0)
            p = auth_param(p, scope, scope_cap);
        else
            p = auth_param(p, sink, sizeof sink);
    }
    if (strcasecmp(scheme, "Bearer") == 0 && !realm[0])
        return veil_err_set(err, VEIL_E_PARSE, "WWW-Authenticate: Bearer without realm");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                     */
/* ------------------------------------------------------------------------ */

struct http_resp {
    long status;
    char content_type[160];
    char docker_digest[VEIL_DIGEST_BUFLEN + 8];
    char www_auth[1024];
    char content_range[128];
    /* body sinks: memory (mem != NULL) or a file with a running hash */
    veil_buf *mem;
    int fd;
    EVP_MD_CTX *hash;
    uint64_t written;
    uint64_t max_bytes;
    bool overflow;
    bool write_failed;
    bool bad_range;
    uint64_t range_from; /* resumed download: bytes already on disk */
    bool body_started;
    char errbody[512];
    size_t errbody_len;
    CURL *curl;
};

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nn = strlen(name);
    if (n <= nn + 1 || strncasecmp(line, name, nn) != 0 || line[nn] != ':')
        return;
    const char *v = line + nn + 1;
    size_t vn = n - nn - 1;
    while (vn && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
        vn--;
    if (vn >= cap)
        vn = cap - 1;
    memcpy(out, v, vn);
    out[vn] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct http_resp *r = ud;
    size_t n = size * nitems;
    if (n > 5 && strncmp(buf, "HTTP/", 5) == 0) { /* new response (redirect, 401): reset */
        r->content_type[0] = r->docker_digest[0] = r->www_auth[0] = r->content_range[0] = '\0';
        return n;
    }
    header_value(buf, n, "Content-Type", r->content_type, sizeof r->content_type);
    header_value(buf, n, "Docker-Content-Digest", r->docker_digest, sizeof r->docker_digest);
    header_value(buf, n, "WWW-Authenticate", r->www_auth, sizeof r->www_auth);
    header_value(buf, n, "Content-Range", r->content_range, sizeof r->content_range);
    return n;
}

/* Parses "bytes START-END/TOTAL" and checks START. */
static bool range_starts_at(const char *cr, uint64_t from)
{
    unsigned long long start = 0;
    return sscanf(cr, "bytes %llu-", &start) == 1 && start == from;
}

static size_t on_body(char *buf, size_t size, size_t nitems, void *ud)
{
    struct http_resp *r = ud;
    size_t n = size * nitems;
    long status = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 && status != 206) { /* error bodies: keep the start for messages */
        size_t room = sizeof r->errbody - 1 - r->errbody_len;
        size_t c = n < room ? n : room;
        memcpy(r->errbody + r->errbody_len, buf, c);
        r->errbody_len += c;
        r->errbody[r->errbody_len] = '\0';
        return n;
    }
    if (!r->body_started && !r->mem) {
        r->body_started = true;
        if (status == 200 && r->range_from > 0) {
            /* The server ignored Range and sends everything: start over. */
            if (ftruncate(r->fd, 0) != 0 || lseek(r->fd, 0, SEEK_SET) != 0) {
                r->write_failed = true;
                return 0;
            }
            EVP_DigestInit_ex(r->hash, EVP_sha256(), NULL);
            r->written = 0;
        } else if (status == 206 && !range_starts_at(r->content_range, r->written)) {
            r->bad_range = true;
            return 0;
        }
    }
    if (r->written + n > r->max_bytes) {
        r->overflow = true;
        return 0;
    }
    if (r->mem) {
        veil_buf_put(r->mem, buf, n);
        if (!veil_buf_ok(r->mem))
            return 0;
    } else {
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(r->fd, buf + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                r->write_failed = true;
                return 0;
            }
            off += (size_t)w;
        }
        EVP_DigestUpdate(r->hash, buf, n);
    }
    r->written += n;
    return n;
}

struct veil_registry_client {
    CURL *curl;
    char base[VEIL_REF_HOST_MAX + 16]; /* "https://host" */
    char host[VEIL_REF_HOST_MAX];
    char repository[VEIL_REF_NAME_MAX];
    char *authz; /* "Authorization: ..." header line, or NULL */
    char *userpass;
    const struct veil_registry_opts *opts;
};

static bool host_is_insecure(const struct veil_registry_opts *opts, const char *host)
{
    for (size_t i = 0; opts && i < opts->n_insecure; i++)
        if (strcmp(opts->insecure[i], host) == 0)
            return true;
    return false;
}

int veil_registry_open(struct veil_registry_client **out, const struct veil_image_ref *ref,
                       const struct veil_registry_opts *opts, veil_err *err)
{
    if (veil_curl_global_init(err) != 0)
        return -1;
    struct veil_registry_client *c = calloc(1, sizeof *c);
    if (!c)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    c->opts = opts;
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return veil_err_set(err, VEIL_E_NOMEM, "registry: curl_easy_init failed");
    }
    const char *host = veil_image_ref_api_host(ref);
    snprintf(c->host, sizeof c->host, "%s", host);
    snprintf(c->repository, sizeof c->repository, "%s", ref->repository);
    snprintf(c->base, sizeof c->base, "%s://%s",
             host_is_insecure(opts, ref->registry) ? "http" : "https", host);
    if (opts && opts->auth_file) {
        veil_err aerr = {0};
        if (veil_registry_auth_lookup(opts->auth_file, ref->registry, &c->userpass, &aerr) != 0 &&
            aerr.code != VEIL_E_NOTFOUND) {
            veil_registry_close(c);
            *err = aerr;
            return -1;
        }
    }
    *out = c;
    return 0;
}

void veil_registry_close(struct veil_registry_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->authz) {
        veil_memzero(c->authz, strlen(c->authz));
        free(c->authz);
    }
    if (c->userpass) {
        veil_memzero(c->userpass, strlen(c->userpass));
        free(c->userpass);
    }
    free(c);
}

static int perform(struct veil_registry_client *c, const char *url, const char *accept,
                   uint64_t range_from, struct http_resp *r, const char *authz_override,
                   veil_err *err)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    r->curl = h;
    r->status = 0;
    r->errbody_len = 0;
    r->errbody[0] = '\0';
    r->body_started = false;
    r->range_from = range_from;
    struct curl_slist *hdrs = NULL;
    char line[1024];
    if (accept) {
        snprintf(line, sizeof line, "Accept: %s", accept);
        hdrs = curl_slist_append(hdrs, line);
    }
    const char *authz = authz_override ? authz_override : c->authz;
    if (authz)
        hdrs = curl_slist_append(hdrs, authz);
    if (range_from) {
        snprintf(line, sizeof line, "Range: bytes=%llu-", (unsigned long long)range_from);
        hdrs = curl_slist_append(hdrs, line);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "veil/" VEIL_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    if (r->overflow)
        return veil_err_set(err, VEIL_E_LIMIT, "%s: response larger than expected (%llu bytes)",
                            url, (unsigned long long)r->max_bytes);
    if (r->write_failed)
        return veil_err_set(err, VEIL_E_IO, "%s: writing to disk failed", url);
    if (r->bad_range)
        return veil_err_set(err, VEIL_E_PROTOCOL, "%s: bad Content-Range '%s'", url,
                            r->content_range);
    if (cc != CURLE_OK)
        return veil_err_set(err, VEIL_E_NETWORK, "%s: %s", url, curl_easy_strerror(cc));
    return 0;
}

/* Gets a bearer token as the WWW-Authenticate challenge says. */
static int fetch_token(struct veil_registry_client *c, const char *challenge, veil_err *err)
{
    char scheme[16], realm[512], service[256], scope[512];
    if (veil_www_authenticate_parse(challenge, scheme, sizeof scheme, realm, sizeof realm, service,
                                    sizeof service, scope, sizeof scope, err) != 0)
        return -1;
    free(c->authz);
    c->authz = NULL;
    if (strcasecmp(scheme, "Basic") == 0) {
        if (!c->userpass)
            return veil_err_set(err, VEIL_E_PERMISSION,
                                "registry %s wants a password (set registry.auth_file)", c->host);
        size_t n = strlen(c->userpass);
        size_t cap = 4 * ((n + 2) / 3) + 32;
        c->authz = malloc(cap);
        if (!c->authz)
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        int w = snprintf(c->authz, cap, "Authorization: Basic ");
        EVP_EncodeBlock((unsigned char *)c->authz + w, (const unsigned char *)c->userpass, (int)n);
        return 0;
    }
    if (strcasecmp(scheme, "Bearer") != 0)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "registry auth scheme '%s'", scheme);
    if (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)
        return veil_err_set(err, VEIL_E_PROTOCOL, "token realm '%s' is not an http(s) URL", realm);
    char default_scope[VEIL_REF_NAME_MAX + 32];
    snprintf(default_scope, sizeof default_scope, "repository:%s:pull", c->repository);
    char *es = curl_easy_escape(c->curl, service, 0);
    char *esc = curl_easy_escape(c->curl, scope[0] ? scope : default_scope, 0);
    char url[2048];
    snprintf(url, sizeof url, "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
             es ? es : "", esc ? esc : "");
    curl_free(es);
    curl_free(esc);
    veil_buf body;
    veil_buf_init(&body);
    body.limit = 1 << 20;
    struct http_resp r = {.mem = &body, .max_bytes = 1 << 20, .fd = -1};
    char *basic = NULL;
    /* The realm comes from the registry's answer: never send a password to
     * it in clear text unless the user marked the registry as plain HTTP. */
    if (c->userpass && strncmp(realm, "https://", 8) != 0 && strncmp(c->base, "http://", 7) != 0)
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "token realm '%s' is not https: refusing to send credentials", realm);
    if (c->userpass) {
        size_t n = strlen(c->userpass);
        size_t cap = 4 * ((n + 2) / 3) + 32;
        basic = malloc(cap);
        if (basic) {
            int w = snprintf(basic, cap, "Authorization: Basic ");
            EVP_EncodeBlock((unsigned char *)basic + w, (const unsigned char *)c->userpass, (int)n);
        }
    }
    int rc = perform(c, url, "application/json", 0, &r, basic ? basic : "Authorization:", err);
    if (basic) {
        veil_memzero(basic, strlen(basic));
        free(basic);
    }
    if (rc == 0 && r.status != 200)
        rc = veil_err_set(err, VEIL_E_PERMISSION, "token server %s answered %ld", realm, r.status);
    json_t *root = NULL;
    if (rc == 0) {
        root = json_loadb((const char *)body.data, body.len, 0, NULL);
        json_t *tok = json_object_get(root, "token");
        if (!json_is_string(tok))
            tok = json_object_get(root, "access_token");
        const char *t = json_string_value(tok);
        if (!t || !*t || strlen(t) > 16384 || strpbrk(t, "\r\n"))
            rc = veil_err_set(err, VEIL_E_PROTOCOL, "token server %s sent no usable token", realm);
        else {
            size_t cap = strlen(t) + 32;
            c->authz = malloc(cap);
            if (c->authz)
                snprintf(c->authz, cap, "Authorization: Bearer %s", t);
        }
    }
    json_decref(root);
    veil_buf_free_secure(&body);
    return rc;
}

/* GET with one retry after authenticating if the registry says 401. */
static int get_authed(struct veil_registry_client *c, const char *url, const char *accept,
                      uint64_t range_from, struct http_resp *r, veil_err *err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (perform(c, url, accept, range_from, r, NULL, err) != 0)
            return -1;
        if (r->status != 401 || attempt == 1)
            break;
        if (!r->www_auth[0])
            return veil_err_set(err, VEIL_E_PERMISSION, "%s: 401 without a challenge", url);
        if (fetch_token(c, r->www_auth, err) != 0)
            return -1;
        if (r->mem) {
            veil_buf_reset(r->mem);
            r->written = 0;
        }
    }
    return 0;
}

static int status_error(const char *what, const struct http_resp *r, veil_err *err)
{
    enum veil_err_code code = VEIL_E_NETWORK;
    if (r->status == 404)
        code = VEIL_E_NOTFOUND;
    else if (r->status == 401 || r->status == 403)
        code = VEIL_E_PERMISSION;
    return veil_err_set(err, code, "%s: HTTP %ld %.200s", what, r->status, r->errbody);
}

static int get_manifest_once(struct veil_registry_client *c, const char *reference,
                             const char *expected_digest, veil_buf *body, char *content_type,
                             size_t ct_cap, char digest[VEIL_DIGEST_BUFLEN], veil_err *err)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/v2/%s/manifests/%s", c->base, c->repository, reference);
    static const char accept[] = VEIL_MT_OCI_INDEX
        ", " VEIL_MT_OCI_MANIFEST ", " VEIL_MT_DOCKER_LIST ", " VEIL_MT_DOCKER_MANIFEST;
    veil_buf_reset(body);
    body->limit = VEIL_MANIFEST_MAX_BYTES;
    struct http_resp r = {.mem = body, .max_bytes = VEIL_MANIFEST_MAX_BYTES, .fd = -1};
    if (get_authed(c, url, accept, 0, &r, err) != 0)
        return -1;
    if (r.status != 200)
        return status_error(url, &r, err);
    veil_digest_of(body->data, body->len, digest);
    /* The digest we asked for, else the one the registry vouches for. */
    const char *want = expected_digest && *expected_digest ? expected_digest
                       : r.docker_digest[0]                ? r.docker_digest
                                                           : NULL;
    if (want && veil_digest_verify(want, body->data, body->len, err) != 0)
        return veil_err_wrap(err, "manifest %s", url);
    snprintf(content_type, ct_cap, "%s", r.content_type);
    return 0;
}

static int get_blob_mem_once(struct veil_registry_client *c, const struct veil_descriptor *d,
                             veil_buf *body, veil_err *err)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", c->base, c->repository, d->digest);
    veil_buf_reset(body);
    body->limit = (size_t)d->size + 1;
    struct http_resp r = {.mem = body, .max_bytes = (uint64_t)d->size, .fd = -1};
    if (get_authed(c, url, NULL, 0, &r, err) != 0)
        return -1;
    if (r.status != 200)
        return status_error(url, &r, err);
    if (body->len != (size_t)d->size)
        return veil_err_set(err, VEIL_E_MISMATCH, "blob %s: %zu bytes, descriptor says %lld",
                            d->digest, body->len, (long long)d->size);
    if (veil_digest_verify(d->digest, body->data, body->len, err) != 0)
        return veil_err_wrap(err, "blob %s", url);
    return 0;
}

int veil_registry_get_blob_file(struct veil_registry_client *c, const struct veil_descriptor *d,
                                int fd, veil_err *err)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", c->base, c->repository, d->digest);
    int retries = c->opts && c->opts->retries > 0 ? c->opts->retries : 5;
    EVP_MD_CTX *hash = EVP_MD_CTX_new();
    EVP_DigestInit_ex(hash, EVP_sha256(), NULL);
    struct http_resp r = {.fd = fd, .hash = hash, .max_bytes = (uint64_t)d->size};
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        veil_err aerr = {0};
        int prc = get_authed(c, url, NULL, r.written, &r, &aerr);
        if (prc == 0 && r.status != 200 && r.status != 206) {
            if (r.status == 404 || r.status == 401 || r.status == 403 || attempt >= retries) {
                status_error(url, &r, err);
                goto out;
            }
            veil_err_set(&aerr, VEIL_E_NETWORK, "HTTP %ld", r.status);
            prc = -1;
        }
        if (prc == 0 && r.written == (uint64_t)d->size)
            break;
        if (prc == 0)
            veil_err_set(&aerr, VEIL_E_NETWORK, "short body (%llu of %lld bytes)",
                         (unsigned long long)r.written, (long long)d->size);
        if (aerr.code == VEIL_E_LIMIT || aerr.code == VEIL_E_IO || aerr.code == VEIL_E_PROTOCOL ||
            aerr.code == VEIL_E_PERMISSION || attempt >= retries) {
            if (err) {
                *err = aerr;
                veil_err_wrap(err, "blob %s (%d attempts)", d->digest, attempt + 1);
            }
            goto out;
        }
        veil_log(VEIL_LOG_WARN, "runtime", "blob download interrupted, resuming",
                 "digest=%s have=%llu attempt=%d reason=\"%s\"", d->digest,
                 (unsigned long long)r.written, attempt + 1, aerr.msg);
        usleep((useconds_t)(100000u << (attempt < 5 ? attempt : 5)));
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(hash, md, &mdlen);
    char got[VEIL_DIGEST_BUFLEN];
    memcpy(got, "sha256:", 7);
    veil_hex_encode(got + 7, sizeof got - 7, md, sizeof md);
    if (!veil_memeq_ct(got, d->digest, VEIL_DIGEST_STRLEN)) {
        veil_err_set(err, VEIL_E_MISMATCH, "blob %s: content digest is %s; refused", d->digest,
                     got);
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(hash);
    return rc;
}

/* Small documents are fetched again from the start when the transfer
 * fails; only network failures are retried (never a digest mismatch). */
static int retry_pause(struct veil_registry_client *c, int attempt, const veil_err *e)
{
    int retries = c->opts && c->opts->retries > 0 ? c->opts->retries : 5;
    if (e->code != VEIL_E_NETWORK || attempt >= retries)
        return -1;
    veil_log(VEIL_LOG_WARN, "runtime", "registry request failed, retrying",
             "attempt=%d reason=\"%s\"", attempt + 1, e->msg);
    usleep((useconds_t)(100000u << (attempt < 5 ? attempt : 5)));
    return 0;
}

int veil_registry_get_manifest(struct veil_registry_client *c, const char *reference,
                               const char *expected_digest, veil_buf *body, char *content_type,
                               size_t ct_cap, char digest[VEIL_DIGEST_BUFLEN], veil_err *err)
{
    for (int attempt = 0;; attempt++) {
        veil_err e = {0};
        if (get_manifest_once(c, reference, expected_digest, body, content_type, ct_cap, digest,
                              &e) == 0)
            return 0;
        if (retry_pause(c, attempt, &e) != 0) {
            if (err)
                *err = e;
            return -1;
        }
    }
}

int veil_registry_get_blob_mem(struct veil_registry_client *c, const struct veil_descriptor *d,
                               veil_buf *body, veil_err *err)
{
    for (int attempt = 0;; attempt++) {
        veil_err e = {0};
        if (get_blob_mem_once(c, d, body, &e) == 0)
            return 0;
        if (retry_pause(c, attempt, &e) != 0) {
            if (err)
                *err = e;
            return -1;
        }
    }
}
