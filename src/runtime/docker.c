// SPDX-License-Identifier: Apache-2.0
/*
 * docker.c - the Docker Engine API driver (API v1.41, over the daemon's unix
 * socket via libcurl's CURLOPT_UNIX_SOCKET_PATH): pull (POST
 * /images/create), create (POST /containers/create), start, wait, logs and
 * inspect. Attached runs read the logs endpoint's multiplexed stream: 8-byte
 * frames [stream, 0, 0, 0, size (u32 big-endian)] followed by the payload
 * ("Stream format" in the Engine API's container attach docs), parsed with
 * veil_reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "runtime_internal.h"
#include "veil_curl.h"

#define DOCKER_API "http://localhost/v1.41"

static bool valid_docker_name(const char *name);

int veil_docker_create_body(const struct veil_run_request *req, char **json_text, veil_err *err)
{
    *json_text = NULL;
    if (!req->image || !*req->image)
        return veil_err_set(err, VEIL_E_INVALID, "no image");
    json_t *root = json_pack("{s:s, s:{s:s}}", "Image", req->image, "Labels", "veil", "1");
    if (req->n_args) {
        json_t *cmd = json_array();
        for (size_t i = 0; i < req->n_args; i++)
            json_array_append_new(cmd, json_string(req->args[i]));
        json_object_set_new(root, "Cmd", cmd);
    }
    if (req->n_env) {
        json_t *env = json_array();
        for (size_t i = 0; i < req->n_env; i++)
            json_array_append_new(env, json_string(req->env[i]));
        json_object_set_new(root, "Env", env);
    }
    if (req->user)
        json_object_set_new(root, "User", json_string(req->user));
    if (req->cwd)
        json_object_set_new(root, "WorkingDir", json_string(req->cwd));
    if (req->hostname)
        json_object_set_new(root, "Hostname", json_string(req->hostname));
    json_t *host = json_object();
    if (req->memory_bytes) {
        json_object_set_new(host, "Memory", json_integer((json_int_t)req->memory_bytes));
        json_object_set_new(host, "MemorySwap", json_integer((json_int_t)req->memory_bytes));
    }
    if (req->cpus > 0)
        json_object_set_new(host, "NanoCpus", json_integer((json_int_t)(req->cpus * 1e9)));
    if (req->cpu_shares)
        json_object_set_new(host, "CpuShares", json_integer((json_int_t)req->cpu_shares));
    if (req->pids_limit > 0)
        json_object_set_new(host, "PidsLimit", json_integer((json_int_t)req->pids_limit));
    if (req->readonly_rootfs)
        json_object_set_new(host, "ReadonlyRootfs", json_true());
    json_object_set_new(host, "NetworkMode", json_string(req->host_network ? "host" : "none"));
    if (req->n_mounts) {
        json_t *binds = json_array();
        for (size_t i = 0; i < req->n_mounts; i++) {
            char b[8192];
            snprintf(b, sizeof b, "%s:%s%s", req->mounts[i].source, req->mounts[i].destination,
                     req->mounts[i].readonly ? ":ro" : "");
            json_array_append_new(binds, json_string(b));
        }
        json_object_set_new(host, "Binds", binds);
    }
    static const char *const policy[] = {"no", "on-failure", "always"};
    json_object_set_new(host, "RestartPolicy",
                        json_pack("{s:s, s:i}", "Name", policy[req->restart], "MaximumRetryCount",
                                  req->restart == VEIL_RESTART_ON_FAILURE ? req->max_retries : 0));
    json_object_set_new(root, "HostConfig", host);
    *json_text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return *json_text ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
}

int veil_docker_parse_inspect(const void *data, size_t len, struct veil_container_info *info,
                              veil_err *err)
{
    memset(info, 0, sizeof *info);
    if (len > (8u << 20))
        return veil_err_set(err, VEIL_E_LIMIT, "inspect response too large");
    json_t *root = json_loadb(data, len, 0, NULL);
    json_t *state = json_object_get(root, "State");
    const char *id = json_string_value(json_object_get(root, "Id"));
    if (!json_is_object(state) || !id) {
        json_decref(root);
        return veil_err_set(err, VEIL_E_PARSE, "docker: inspect response lacks Id/State");
    }
    snprintf(info->id, sizeof info->id, "%s", id);
    const char *name = json_string_value(json_object_get(root, "Name"));
    snprintf(info->name, sizeof info->name, "%s", name ? (name[0] == '/' ? name + 1 : name) : "");
    const char *image =
        json_string_value(json_object_get(json_object_get(root, "Config"), "Image"));
    snprintf(info->image, sizeof info->image, "%s", image ? image : "");
    const char *st = json_string_value(json_object_get(state, "Status"));
    info->status = !st                             ? VEIL_CT_EXITED
                   : strcmp(st, "running") == 0    ? VEIL_CT_RUNNING
                   : strcmp(st, "created") == 0    ? VEIL_CT_CREATED
                   : strcmp(st, "restarting") == 0 ? VEIL_CT_RESTARTING
                                                   : VEIL_CT_EXITED;
    info->exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
    info->oom_killed = json_is_true(json_object_get(state, "OOMKilled"));
    info->pid = (int)json_integer_value(json_object_get(state, "Pid"));
    info->restarts = (int)json_integer_value(json_object_get(root, "RestartCount"));
    json_decref(root);
    return 0;
}

size_t veil_docker_demux(const uint8_t *data, size_t len, int out_fd, int err_fd)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    size_t consumed = 0;
    while (veil_reader_remaining(&r) >= 8) {
        uint8_t stream = veil_read_u8(&r);
        veil_reader_skip(&r, 3);
        uint32_t size = veil_read_u32be(&r);
        if (veil_reader_remaining(&r) < size)
            break;
        const uint8_t *payload = veil_read_borrow(&r, size);
        if (!veil_reader_ok(&r))
            break;
        int fd = stream == 2 ? err_fd : out_fd;
        if (fd >= 0 && size)
            (void)!write(fd, payload, size);
        consumed = r.pos;
    }
    return consumed;
}

struct docker_resp {
    veil_buf body;
};

static size_t collect(char *buf, size_t size, size_t n, void *ud)
{
    veil_buf *b = ud;
    veil_buf_put(b, buf, size * n);
    return veil_buf_ok(b) ? size * n : 0;
}

static int docker_call(const char *sock, const char *method, const char *pathq, const char *body,
                       long *status, veil_buf *out, veil_err *err)
{
    if (veil_curl_global_init(err) != 0)
        return -1;
    CURL *h = curl_easy_init();
    if (!h)
        return veil_err_set(err, VEIL_E_NOMEM, "curl init failed");
    char url[4096];
    snprintf(url, sizeof url, "%s%s", DOCKER_API, pathq);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK)
        return veil_err_set(err, VEIL_E_NETWORK, "docker %s %s: %s", method, pathq,
                            curl_easy_strerror(cc));
    return 0;
}

static int api_error(const char *what, long status, const veil_buf *b, veil_err *err)
{
    json_t *root = json_loadb((const char *)b->data, b->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(root, "message"));
    veil_err_set(err, status == 404 ? VEIL_E_NOTFOUND : VEIL_E_PROTOCOL, "docker %s: HTTP %ld %s",
                 what, status, msg ? msg : "");
    json_decref(root);
    return -1;
}

int veil_docker_run(const char *sock, const struct veil_run_request *req, bool attached,
                    struct veil_container_info *info, int *exit_code, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    b.limit = 64u << 20;
    long status = 0;
    char *body = NULL;
    int rc = -1;
    struct veil_image_ref ref;
    if (veil_image_ref_parse(req->image, &ref, err) != 0)
        goto out;
    /* Pull. The response is a stream of JSON progress objects; an "error"
     * member in any of them means failure. */
    {
        char q[2048], from[1024];
        snprintf(from, sizeof from, "%s/%s", ref.registry, ref.repository);
        CURL *esc = curl_easy_init();
        char *ef = curl_easy_escape(esc, from, 0);
        char *et = curl_easy_escape(esc, ref.digest[0] ? ref.digest : ref.tag, 0);
        snprintf(q, sizeof q, "/images/create?fromImage=%s&tag=%s", ef, et);
        curl_free(ef);
        curl_free(et);
        curl_easy_cleanup(esc);
        if (docker_call(sock, "POST", q, NULL, &status, &b, err) != 0)
            goto out;
        if (status != 200) {
            api_error("pull", status, &b, err);
            goto out;
        }
        veil_buf_put_u8(&b, 0);
        if (veil_buf_ok(&b) && strstr((char *)b.data, "\"error\"")) {
            veil_err_set(err, VEIL_E_NETWORK, "docker pull %s failed: %.300s", req->image,
                         (char *)b.data);
            goto out;
        }
    }
    if (req->name && !valid_docker_name(req->name)) {
        veil_err_set(err, VEIL_E_INVALID, "bad container name '%s'", req->name);
        goto out;
    }
    if (veil_docker_create_body(req, &body, err) != 0)
        goto out;
    char q[512];
    if (req->name)
        snprintf(q, sizeof q, "/containers/create?name=%s", req->name);
    else
        snprintf(q, sizeof q, "/containers/create");
    veil_buf_reset(&b);
    if (docker_call(sock, "POST", q, body, &status, &b, err) != 0)
        goto out;
    if (status != 201) {
        api_error("create", status, &b, err);
        goto out;
    }
    json_t *cj = json_loadb((char *)b.data, b.len, 0, NULL);
    const char *id = json_string_value(json_object_get(cj, "Id"));
    char cid[65] = "";
    if (id && strlen(id) < sizeof cid)
        snprintf(cid, sizeof cid, "%s", id);
    json_decref(cj);
    if (!cid[0]) {
        veil_err_set(err, VEIL_E_PROTOCOL, "docker create: no Id in the answer");
        goto out;
    }
    snprintf(q, sizeof q, "/containers/%s/start", cid);
    veil_buf_reset(&b);
    if (docker_call(sock, "POST", q, NULL, &status, &b, err) != 0)
        goto out;
    if (status != 204 && status != 304) {
        api_error("start", status, &b, err);
        goto out;
    }
    if (attached) {
        snprintf(q, sizeof q, "/containers/%s/wait", cid);
        veil_buf_reset(&b);
        if (docker_call(sock, "POST", q, NULL, &status, &b, err) != 0)
            goto out;
        snprintf(q, sizeof q, "/containers/%s/logs?stdout=1&stderr=1", cid);
        veil_buf_reset(&b);
        if (docker_call(sock, "GET", q, NULL, &status, &b, err) != 0)
            goto out;
        if (status == 200)
            veil_docker_demux(b.data, b.len, STDOUT_FILENO, STDERR_FILENO);
    }
    snprintf(q, sizeof q, "/containers/%s/json", cid);
    veil_buf_reset(&b);
    if (docker_call(sock, "GET", q, NULL, &status, &b, err) != 0)
        goto out;
    if (status != 200) {
        api_error("inspect", status, &b, err);
        goto out;
    }
    if (veil_docker_parse_inspect(b.data, b.len, info, err) != 0)
        goto out;
    *exit_code = info->exit_code;
    rc = 0;
out:
    free(body);
    veil_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* ps, stop, rm, logs                                                       */
/* ------------------------------------------------------------------------ */

int veil_docker_parse_list(const void *data, size_t len, struct veil_container_info **out,
                           size_t *n, veil_err *err)
{
    *out = NULL;
    *n = 0;
    if (len > (64u << 20))
        return veil_err_set(err, VEIL_E_LIMIT, "docker: container list too large");
    json_t *root = json_loadb(data, len, 0, NULL);
    if (!json_is_array(root)) {
        json_decref(root);
        return veil_err_set(err, VEIL_E_PARSE, "docker: container list is not an array");
    }
    size_t count = json_array_size(root);
    struct veil_container_info *list = calloc(count + 1, sizeof *list);
    if (!list) {
        json_decref(root);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    size_t k = 0, i;
    json_t *c;
    json_array_foreach(root, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "Id"));
        if (!id)
            continue;
        struct veil_container_info *ci = &list[k++];
        snprintf(ci->id, sizeof ci->id, "%s", id);
        const char *name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
        snprintf(ci->name, sizeof ci->name, "%s", name ? (name[0] == '/' ? name + 1 : name) : "");
        const char *image = json_string_value(json_object_get(c, "Image"));
        snprintf(ci->image, sizeof ci->image, "%s", image ? image : "");
        const char *cmd = json_string_value(json_object_get(c, "Command"));
        snprintf(ci->command, sizeof ci->command, "%s", cmd ? cmd : "");
        const char *st = json_string_value(json_object_get(c, "State"));
        ci->status = !st                             ? VEIL_CT_EXITED
                     : strcmp(st, "running") == 0    ? VEIL_CT_RUNNING
                     : strcmp(st, "created") == 0    ? VEIL_CT_CREATED
                     : strcmp(st, "restarting") == 0 ? VEIL_CT_RESTARTING
                                                     : VEIL_CT_EXITED;
        ci->created = json_integer_value(json_object_get(c, "Created"));
    }
    json_decref(root);
    *out = list;
    *n = k;
    return 0;
}

int veil_docker_list(const char *sock, bool all, struct veil_container_info **out, size_t *n,
                     veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    b.limit = 64u << 20;
    long status = 0;
    /* filters={"label":["veil=1"]}, URL-encoded */
    char q[256];
    snprintf(q, sizeof q,
             "/containers/json?all=%d&filters=%%7B%%22label%%22%%3A%%5B%%22veil%%3D1%%22%%5D%%7D",
             all ? 1 : 0);
    int rc = docker_call(sock, "GET", q, NULL, &status, &b, err);
    if (rc == 0 && status != 200)
        rc = api_error("list", status, &b, err);
    if (rc == 0)
        rc = veil_docker_parse_list(b.data, b.len, out, n, err);
    veil_buf_free(&b);
    return rc;
}

static bool valid_docker_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

int veil_docker_stop(const char *sock, const char *name, int64_t timeout_ms, veil_err *err)
{
    if (!valid_docker_name(name))
        return veil_err_set(err, VEIL_E_INVALID, "bad container name '%s'", name);
    char q[256];
    snprintf(q, sizeof q, "/containers/%s/stop?t=%lld", name,
             (long long)((timeout_ms + 999) / 1000));
    veil_buf b;
    veil_buf_init(&b);
    long status = 0;
    int rc = docker_call(sock, "POST", q, NULL, &status, &b, err);
    if (rc == 0 && status != 204 && status != 304)
        rc = api_error("stop", status, &b, err);
    veil_buf_free(&b);
    return rc;
}

int veil_docker_remove(const char *sock, const char *name, bool force, veil_err *err)
{
    if (!valid_docker_name(name))
        return veil_err_set(err, VEIL_E_INVALID, "bad container name '%s'", name);
    char q[256];
    snprintf(q, sizeof q, "/containers/%s?force=%d", name, force ? 1 : 0);
    veil_buf b;
    veil_buf_init(&b);
    long status = 0;
    int rc = docker_call(sock, "DELETE", q, NULL, &status, &b, err);
    if (rc == 0 && status != 204 && status != 200)
        rc = api_error("rm", status, &b, err);
    veil_buf_free(&b);
    return rc;
}

/* Streaming demultiplexer state for the logs endpoint. */
struct demux_stream {
    veil_buf pending;
    long status;
    CURL *curl;
};

static size_t on_log_bytes(char *buf, size_t size, size_t n, void *ud)
{
    struct demux_stream *d = ud;
    size_t len = size * n;
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &d->status);
    veil_buf_put(&d->pending, buf, len);
    if (!veil_buf_ok(&d->pending))
        return 0;
    if (d->status == 200) {
        size_t used =
            veil_docker_demux(d->pending.data, d->pending.len, STDOUT_FILENO, STDERR_FILENO);
        veil_buf_consume(&d->pending, used);
    }
    return len;
}

int veil_docker_logs(const char *sock, const char *name, bool follow, veil_err *err)
{
    if (!valid_docker_name(name))
        return veil_err_set(err, VEIL_E_INVALID, "bad container name '%s'", name);
    char url[512];
    snprintf(url, sizeof url, "%s/containers/%s/logs?stdout=1&stderr=1&follow=%d", DOCKER_API, name,
             follow ? 1 : 0);
    if (veil_curl_global_init(err) != 0)
        return -1;
    CURL *h = curl_easy_init();
    if (!h)
        return veil_err_set(err, VEIL_E_NOMEM, "curl init failed");
    struct demux_stream d = {.curl = h};
    veil_buf_init(&d.pending);
    d.pending.limit = 16u << 20; /* one frame at most this large */
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_log_bytes);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &d.status);
    curl_easy_cleanup(h);
    int rc = 0;
    if (cc != CURLE_OK)
        rc = veil_err_set(err, VEIL_E_NETWORK, "docker logs %s: %s", name, curl_easy_strerror(cc));
    else if (d.status != 200)
        rc = api_error("logs", d.status, &d.pending, err);
    veil_buf_free(&d.pending);
    return rc;
}
