// SPDX-License-Identifier: Apache-2.0
/*
 * client.c - the CLI side of the local HTTP API: finds the address
 * (api.listen) and bearer token (api.token_file, default <data_dir>/api.token)
 * from the configuration and performs one JSON request with libcurl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include <veil/node.h>

#include "veil_curl.h"

#define CLIENT_RESPONSE_MAX (16u << 20)

int veil_api_token_path(const veil_config *cfg, char *out, size_t cap, veil_err *err)
{
    const char *file = veil_config_str(cfg, "api.token_file", NULL);
    int n;
    if (file && *file)
        n = snprintf(out, cap, "%s", file);
    else
        n = snprintf(out, cap, "%s/api.token", veil_config_str(cfg, "data_dir", "/var/lib/veil"));
    if (n < 0 || (size_t)n >= cap)
        return veil_err_set(err, VEIL_E_RANGE, "token file path too long");
    return 0;
}

int veil_api_client_init(struct veil_api_client *c, const veil_config *cfg, veil_err *err)
{
    memset(c, 0, sizeof *c);
    const char *listen = veil_config_str(cfg, "api.listen", "127.0.0.1:7070");
    if (strncmp(listen, "127.0.0.1:", 10) != 0 && strncmp(listen, "localhost:", 10) != 0)
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "api.listen '%s': the local API is on 127.0.0.1", listen);
    const char *port = strchr(listen, ':') + 1;
    if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
        return veil_err_set(err, VEIL_E_INVALID, "api.listen '%s': bad port", listen);
    snprintf(c->base_url, sizeof c->base_url, "http://127.0.0.1:%s", port);
    char path[4096];
    if (veil_api_token_path(cfg, path, sizeof path, err) != 0)
        return -1;
    uint8_t *data;
    size_t len;
    if (veil_key_file_read(path, 1024, &data, &len, err) != 0)
        return veil_err_wrap(err, "reading the API token (is veild running?)");
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    bool ok = len == 64 && strspn((const char *)data, "0123456789abcdef") >= 64;
    if (ok)
        memcpy(c->token, data, 64);
    veil_memzero(data, len);
    free(data);
    if (!ok)
        return veil_err_set(err, VEIL_E_PARSE, "%s: not an API token", path);
    return 0;
}

void veil_api_client_clear(struct veil_api_client *c)
{
    veil_memzero(c->token, sizeof c->token);
}

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    veil_buf *b = ud;
    if (b->len + size * n > CLIENT_RESPONSE_MAX)
        return 0; /* aborts the transfer */
    veil_buf_put(b, ptr, size * n);
    return size * n;
}

int veil_api_client_call(const struct veil_api_client *c, const char *method, const char *path,
                         const void *body, size_t body_len, long *status, void **json_out,
                         veil_err *err)
{
    if (json_out)
        *json_out = NULL;
    if (veil_curl_global_init(err) != 0)
        return -1;
    CURL *curl = curl_easy_init();
    if (!curl)
        return veil_err_set(err, VEIL_E_NOMEM, "cannot start an HTTP client");
    char url[512], auth[128];
    snprintf(url, sizeof url, "%s%s", c->base_url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Expect:");
    veil_buf resp;
    veil_buf_init(&resp);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(headers);
    veil_memzero(auth, sizeof auth);
    curl_easy_cleanup(curl);
    if (status)
        *status = code;
    if (rc != CURLE_OK) {
        veil_buf_free(&resp);
        return veil_err_set(err, VEIL_E_NETWORK, "local API %s: %s (is veild running?)",
                            c->base_url, curl_easy_strerror(rc));
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)resp.data, resp.len, 0, &jerr);
    veil_buf_free(&resp);
    if (code < 200 || code >= 300) {
        const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
        veil_err_set(err,
                     code == 401   ? VEIL_E_PERMISSION
                     : code == 404 ? VEIL_E_NOTFOUND
                                   : VEIL_E_INVALID,
                     "%s", msg ? msg : "local API error");
        if (!msg)
            veil_err_wrap(err, "HTTP %ld", code);
        json_decref(j);
        return -1;
    }
    if (!j)
        return veil_err_set(err, VEIL_E_PARSE, "local API answered invalid JSON: %s", jerr.text);
    if (json_out)
        *json_out = j;
    else
        json_decref(j);
    return 0;
}
