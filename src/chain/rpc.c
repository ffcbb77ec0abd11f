// SPDX-License-Identifier: Apache-2.0
/*
 * rpc.c - Ethereum JSON-RPC over HTTP (libcurl + jansson): one request at a
 * time per handle (a mutex makes a handle shareable between threads),
 * retries with exponential backoff on transport failures and HTTP 429/5xx
 * (never on JSON-RPC errors, which are answers), strict parsing of
 * responses and of the quantities, hashes and logs inside them.
 *
 * A handle may name several endpoints ("URL1,URL2,..."): when one fails at
 * the transport level after its retries, the call moves on to the next (a
 * failover), which must report the same chain id as the first one that
 * answered. eth_getLogs over a wide block range is paged
 * (veil_rpc_get_logs_paged), halving a page the provider refuses.
 *
 * A circuit breaker (issue 18) keeps a dead or hanging provider from
 * costing a timeout per call: once a call failed at the transport level on
 * every endpoint (refused, reset, or timed out - an endpoint that accepts
 * and never answers), calls fail at once with VEIL_E_NETWORK and no I/O
 * until the breaker's period ends (breaker_ms, doubling per failed probe up
 * to breaker_max_ms); the first call after it is the probe, and one that
 * gets an answer closes the breaker. A timed-out request is not retried on
 * the same endpoint (it already waited the whole timeout). The breaker has
 * its own lock, so a caller fails fast even while another thread's request
 * is still waiting on the endpoint.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include <veil/chain.h>

#include "chain_internal.h"
#include "veil_curl.h"

#define RPC_MAX_RESPONSE (64u << 20)

#define RPC_MAX_ENDPOINTS 8

struct veil_rpc {
    CURL *curl;
    char *url; /* the endpoint in use: urls[cur] */
    char *urls[RPC_MAX_ENDPOINTS];
    size_t n_urls, cur;
    uint64_t chain_id; /* of the first endpoint that told it; 0 = not yet */
    bool unchecked;    /* chain_id expected, the endpoint's not asked yet */
    uint64_t failovers;
    veil_rpc_options opts;
    uint64_t next_id;
    pthread_mutex_t lock;
    /* the circuit breaker, under state_lock (never held across I/O) */
    pthread_mutex_t state_lock;
    uint64_t open_until_ms; /* monotonic; 0 = closed */
    long open_ms;           /* the period the breaker last opened for */
    uint64_t short_circuits;
    char cause[200]; /* the transport error that opened it */
};

#define BREAKER_DEFAULT_MS     1000
#define BREAKER_DEFAULT_MAX_MS 16000

/* "URL1,URL2 ..." (commas or spaces) into r->urls. */
static int split_urls(veil_rpc *r, const char *list, veil_err *err)
{
    const char *p = list;
    while (*p) {
        p += strspn(p, ", \t");
        size_t n = strcspn(p, ", \t");
        if (n == 0)
            break;
        if (r->n_urls == RPC_MAX_ENDPOINTS)
            return veil_err_set(err, VEIL_E_LIMIT, "rpc: more than %d endpoints",
                                RPC_MAX_ENDPOINTS);
        if ((n < 7 || strncmp(p, "http://", 7) != 0) && (n < 8 || strncmp(p, "https://", 8) != 0))
            return veil_err_set(err, VEIL_E_INVALID,
                                "rpc url '%.*s' must start with http:// or https://", (int)n, p);
        r->urls[r->n_urls] = strndup(p, n);
        if (!r->urls[r->n_urls])
            return veil_err_set(err, VEIL_E_NOMEM, "rpc: out of memory");
        r->n_urls++;
        p += n;
    }
    if (r->n_urls == 0)
        return veil_err_set(err, VEIL_E_INVALID, "rpc url must start with http:// or https://");
    return 0;
}

int veil_rpc_open(veil_rpc **out, const char *url, const veil_rpc_options *opts, veil_err *err)
{
    if (!url)
        return veil_err_set(err, VEIL_E_INVALID, "rpc url must start with http:// or https://");
    if (veil_curl_global_init(err) != 0)
        return -1;
    veil_rpc *r = calloc(1, sizeof *r);
    if (!r)
        return veil_err_set(err, VEIL_E_NOMEM, "rpc: out of memory");
    r->curl = curl_easy_init();
    if (!r->curl) {
        veil_rpc_close(r);
        return veil_err_set(err, VEIL_E_NOMEM, "rpc: cannot create a curl handle");
    }
    if (split_urls(r, url, err) != 0) {
        veil_rpc_close(r);
        return -1;
    }
    r->url = r->urls[0];
    r->opts.timeout_ms = 10000;
    r->opts.retries = 3;
    r->opts.backoff_ms = 100;
    r->opts.breaker_ms = BREAKER_DEFAULT_MS;
    r->opts.breaker_max_ms = BREAKER_DEFAULT_MAX_MS;
    if (opts) {
        if (opts->timeout_ms > 0)
            r->opts.timeout_ms = opts->timeout_ms;
        r->opts.retries = opts->retries;
        if (opts->backoff_ms > 0)
            r->opts.backoff_ms = opts->backoff_ms;
        if (opts->breaker_ms != 0)
            r->opts.breaker_ms = opts->breaker_ms; /* < 0: no breaker */
        if (opts->breaker_max_ms > 0)
            r->opts.breaker_max_ms = opts->breaker_max_ms;
    }
    if (r->opts.breaker_max_ms < r->opts.breaker_ms)
        r->opts.breaker_max_ms = r->opts.breaker_ms;
    r->next_id = 1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->state_lock, NULL);
    *out = r;
    return 0;
}

void veil_rpc_close(veil_rpc *rpc)
{
    if (!rpc)
        return;
    if (rpc->curl)
        curl_easy_cleanup(rpc->curl);
    for (size_t i = 0; i < rpc->n_urls; i++)
        free(rpc->urls[i]);
    pthread_mutex_destroy(&rpc->lock);
    pthread_mutex_destroy(&rpc->state_lock);
    free(rpc);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
    veil_buf *b = user;
    size_t n = size * nmemb;
    veil_buf_put(b, ptr, n);
    return veil_buf_ok(b) ? n : 0;
}

void veil_chain_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One HTTP POST; returns 0 with the body, or -1 (retryable when *transient;
 * a timeout also sets *hung when hung is not NULL). */
static int post_once(veil_rpc *rpc, const char *body, veil_buf *resp, bool *transient, bool *hung,
                     veil_err *err)
{
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = rpc->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, rpc->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rpc->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, rpc->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    resp->limit = RPC_MAX_RESPONSE;
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    *transient = false;
    if (hung)
        *hung = cc == CURLE_OPERATION_TIMEDOUT;
    if (cc != CURLE_OK) {
        *transient = cc != CURLE_WRITE_ERROR;
        return veil_err_set(err, VEIL_E_NETWORK, "rpc %s: %s", rpc->url,
                            cc == CURLE_WRITE_ERROR ? "response too large"
                                                    : curl_easy_strerror(cc));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 429 || status >= 500) {
        *transient = true;
        return veil_err_set(err, VEIL_E_NETWORK, "rpc %s: HTTP %ld", rpc->url, status);
    }
    if (status != 200)
        return veil_err_set(err, VEIL_E_PROTOCOL, "rpc %s: HTTP %ld", rpc->url, status);
    return 0;
}

int veil_rpc_parse_response(const char *body, size_t len, char **result_json, uint8_t **revert_data,
                            size_t *revert_len, veil_err *err)
{
    if (revert_data)
        *revert_data = NULL;
    if (revert_len)
        *revert_len = 0;
    *result_json = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return veil_err_set(err, VEIL_E_PARSE, "rpc: response is not JSON: %s", jerr.text);
    int rc = -1;
    if (!json_is_object(root)) {
        veil_err_set(err, VEIL_E_PROTOCOL, "rpc: response is not a JSON object");
        goto out;
    }
    json_t *error = json_object_get(root, "error");
    if (error && !json_is_null(error)) {
        const char *msg = json_string_value(json_object_get(error, "message"));
        json_t *code = json_object_get(error, "code");
        const char *data = json_string_value(json_object_get(error, "data"));
        if (data && revert_data && strncmp(data, "0x", 2) == 0) {
            size_t hl = strlen(data) - 2;
            if (hl % 2 == 0 && hl / 2 <= RPC_MAX_RESPONSE) {
                uint8_t *d = malloc(hl / 2 + 1);
                if (d &&
                    veil_hex_decode(d, hl / 2 + 1, data + 2, hl, false, NULL) == (long)(hl / 2)) {
                    *revert_data = d;
                    *revert_len = hl / 2;
                } else {
                    free(d);
                }
            }
        }
        veil_err_set(err, VEIL_E_PROTOCOL, "rpc error %lld: %s",
                     json_is_integer(code) ? (long long)json_integer_value(code) : 0LL,
                     msg ? msg : "(no message)");
        goto out;
    }
    json_t *result = json_object_get(root, "result");
    if (!result) {
        veil_err_set(err, VEIL_E_PROTOCOL, "rpc: response has neither result nor error");
        goto out;
    }
    *result_json = json_dumps(result, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!*result_json) {
        veil_err_set(err, VEIL_E_NOMEM, "rpc: out of memory");
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* Retries on the current endpoint with backoff; 0, or -1 with *transient
 * when the endpoint is unreachable or overloaded rather than refusing. */
static int post_retrying(veil_rpc *rpc, const char *method, const char *body, veil_buf *resp,
                         bool *transient, veil_err *err)
{
    long backoff = rpc->opts.backoff_ms;
    for (unsigned attempt = 0;; attempt++) {
        veil_buf_reset(resp);
        resp->failed = false;
        bool hung = false;
        if (post_once(rpc, body, resp, transient, &hung, err) == 0)
            return 0;
        if (!*transient || hung || attempt >= rpc->opts.retries)
            return -1; /* a timeout is not retried here: it waited long enough */
        VEIL_LOG_DBG("chain", "rpc retry", "method=%s attempt=%u backoff_ms=%ld", method,
                     attempt + 1, backoff);
        veil_chain_sleep_ms(backoff);
        backoff *= 2;
    }
}

/* A failover target must serve the chain the handle started on. */
static int endpoint_chain_ok(veil_rpc *rpc, veil_err *err)
{
    if (!rpc->chain_id)
        return 0;
    static const char q[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"eth_chainId\",\"params\":[]}";
    veil_buf resp;
    veil_buf_init(&resp);
    bool transient;
    char *res = NULL;
    uint64_t id = 0;
    int rc = post_once(rpc, q, &resp, &transient, NULL, err);
    if (rc == 0)
        rc = veil_rpc_parse_response((const char *)resp.data, resp.len, &res, NULL, NULL, err);
    if (rc == 0) {
        json_t *j = json_loads(res, JSON_DECODE_ANY, NULL);
        rc = veil_chain_parse_quantity(json_string_value(j), &id, err);
        json_decref(j);
    }
    free(res);
    veil_buf_free(&resp);
    if (rc == 0 && id != rpc->chain_id)
        rc = veil_err_set(err, VEIL_E_MISMATCH, "rpc %s serves chain %llu, not %llu", rpc->url,
                          (unsigned long long)id, (unsigned long long)rpc->chain_id);
    return rc;
}

/* Tries each endpoint in turn, starting with the current one, moving on
 * when one is unreachable (the handle then stays on the one that answered);
 * *down when every endpoint failed at the transport level. */
static int post_with_failover(veil_rpc *rpc, const char *method, const char *body, veil_buf *resp,
                              bool *down, veil_err *err)
{
    *down = false;
    for (size_t k = 0; k < rpc->n_urls; k++) {
        if (k > 0) {
            const char *from = rpc->url;
            rpc->cur = (rpc->cur + 1) % rpc->n_urls;
            rpc->url = rpc->urls[rpc->cur];
            rpc->failovers++;
            veil_log(VEIL_LOG_WARN, "chain", "rpc endpoint failed, trying the next",
                     "from=%s to=%s error=\"%s\"", from, rpc->url, err ? err->msg : "");
            if (endpoint_chain_ok(rpc, err) != 0)
                continue;
        }
        bool transient = false;
        if (k == 0 && rpc->unchecked) { /* opened while unreachable: check first */
            if (endpoint_chain_ok(rpc, err) != 0) {
                if (err && err->code == VEIL_E_NETWORK)
                    continue;
                return -1;
            }
            rpc->unchecked = false;
        }
        if (post_retrying(rpc, method, body, resp, &transient, err) == 0)
            return 0;
        if (!transient)
            return -1;
    }
    *down = true;
    return -1;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* True (err set, no I/O) while the breaker is open; the call that finds
 * its period over goes ahead as the probe. */
static bool breaker_refuses(veil_rpc *rpc, const char *method, veil_err *err)
{
    if (rpc->opts.breaker_ms < 0)
        return false;
    pthread_mutex_lock(&rpc->state_lock);
    uint64_t now = mono_ms();
    bool open = rpc->open_until_ms != 0 && now < rpc->open_until_ms;
    if (open) {
        rpc->short_circuits++;
        veil_err_set(err, VEIL_E_NETWORK,
                     "%s: rpc %s not answering (circuit open for another %llu ms after: %s)",
                     method, rpc->url, (unsigned long long)(rpc->open_until_ms - now), rpc->cause);
    }
    pthread_mutex_unlock(&rpc->state_lock);
    return open;
}

/* After a call: an answer closes the breaker, a transport failure on every
 * endpoint opens it (again, for twice as long). */
static void breaker_note(veil_rpc *rpc, bool down, const veil_err *err)
{
    if (rpc->opts.breaker_ms < 0)
        return;
    pthread_mutex_lock(&rpc->state_lock);
    if (!down) {
        if (rpc->open_until_ms)
            veil_log(VEIL_LOG_INFO, "chain", "rpc answering again: circuit closed", "url=%s",
                     rpc->url);
        rpc->open_until_ms = 0;
        rpc->open_ms = 0;
    } else {
        long ms = rpc->open_ms ? rpc->open_ms * 2 : rpc->opts.breaker_ms;
        rpc->open_ms = ms > rpc->opts.breaker_max_ms ? rpc->opts.breaker_max_ms : ms;
        rpc->open_until_ms = mono_ms() + (uint64_t)rpc->open_ms;
        snprintf(rpc->cause, sizeof rpc->cause, "%.199s", err ? err->msg : "transport failure");
        veil_log(VEIL_LOG_WARN, "chain", "rpc not answering: circuit open",
                 "url=%s ms=%ld error=\"%s\"", rpc->url, rpc->open_ms, rpc->cause);
    }
    pthread_mutex_unlock(&rpc->state_lock);
}

uint64_t veil_rpc_short_circuits(veil_rpc *rpc)
{
    pthread_mutex_lock(&rpc->state_lock);
    uint64_t n = rpc->short_circuits;
    pthread_mutex_unlock(&rpc->state_lock);
    return n;
}

const char *veil_rpc_endpoint(const veil_rpc *rpc)
{
    return rpc->url;
}

uint64_t veil_rpc_failovers(const veil_rpc *rpc)
{
    return rpc->failovers;
}

int veil_rpc_call(veil_rpc *rpc, const char *method, const char *params_json, char **result_json,
                  uint8_t **revert_data, size_t *revert_len, veil_err *err)
{
    if (breaker_refuses(rpc, method, err))
        return -1;
    pthread_mutex_lock(&rpc->lock);
    /* a request that waited on the lock finds the breaker its holder opened */
    if (breaker_refuses(rpc, method, err)) {
        pthread_mutex_unlock(&rpc->lock);
        return -1;
    }
    uint64_t id = rpc->next_id++;
    veil_buf body, resp;
    veil_buf_init(&body);
    veil_buf_init(&resp);
    veil_buf_printf(&body, "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"%s\",\"params\":%s}",
                    (unsigned long long)id, method, params_json ? params_json : "[]");
    veil_buf_put_u8(&body, 0);
    int rc = -1;
    if (!veil_buf_ok(&body)) {
        veil_err_set(err, VEIL_E_NOMEM, "rpc: out of memory");
        goto out;
    }
    veil_err local = {0};
    veil_err *e = err ? err : &local;
    bool down = false;
    int prc = post_with_failover(rpc, method, (const char *)body.data, &resp, &down, e);
    breaker_note(rpc, down, e);
    if (prc != 0)
        goto out;
    rc = veil_rpc_parse_response((const char *)resp.data, resp.len, result_json, revert_data,
                                 revert_len, err);
    if (rc != 0)
        veil_err_wrap(err, "%s", method);
out:
    pthread_mutex_unlock(&rpc->lock);
    veil_buf_free(&body);
    veil_buf_free(&resp);
    return rc;
}

/* ------------------------------------------------------------------ helpers */

int veil_chain_parse_quantity(const char *s, uint64_t *out, veil_err *err)
{
    if (!s || strncmp(s, "0x", 2) != 0 || s[2] == '\0')
        return veil_err_set(err, VEIL_E_PARSE, "rpc: bad quantity '%s'", s ? s : "(null)");
    size_t n = strlen(s + 2);
    if (n > 16)
        return veil_err_set(err, VEIL_E_RANGE, "rpc: quantity '%s' exceeds 64 bits", s);
    uint64_t v = 0;
    for (const char *p = s + 2; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            return veil_err_set(err, VEIL_E_PARSE, "rpc: bad quantity '%s'", s);
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 0;
}

int veil_chain_parse_hex_fixed(const char *s, uint8_t *out, size_t n, veil_err *err)
{
    if (!s || strncmp(s, "0x", 2) != 0 || strlen(s) != 2 + 2 * n ||
        veil_hex_decode(out, n, s + 2, 2 * n, false, NULL) != (long)n)
        return veil_err_set(err, VEIL_E_PARSE, "rpc: expected %zu hex bytes, got '%.80s'", n,
                            s ? s : "(null)");
    return 0;
}

int veil_chain_parse_hex_data(const char *s, uint8_t **out, size_t *len, veil_err *err)
{
    if (!s || strncmp(s, "0x", 2) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "rpc: expected 0x hex data");
    size_t hl = strlen(s + 2);
    if (hl % 2 != 0)
        return veil_err_set(err, VEIL_E_PARSE, "rpc: odd-length hex data");
    uint8_t *d = malloc(hl / 2 + 1);
    if (!d)
        return veil_err_set(err, VEIL_E_NOMEM, "rpc: out of memory");
    if (hl > 0 && veil_hex_decode(d, hl / 2 + 1, s + 2, hl, false, err) != (long)(hl / 2)) {
        free(d);
        return veil_err_set(err, VEIL_E_PARSE, "rpc: bad hex data");
    }
    *out = d;
    *len = hl / 2;
    return 0;
}

void veil_chain_hex(veil_buf *b, const uint8_t *p, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    veil_buf_put_str(b, "0x");
    for (size_t i = 0; i < n; i++) {
        veil_buf_put_u8(b, (uint8_t)hexd[p[i] >> 4]);
        veil_buf_put_u8(b, (uint8_t)hexd[p[i] & 15]);
    }
}

/* Calls a method whose result is one JSON string, returned malloc'd. */
static int call_string(veil_rpc *rpc, const char *method, const char *params, char **out,
                       veil_err *err)
{
    char *res;
    if (veil_rpc_call(rpc, method, params, &res, NULL, NULL, err) != 0)
        return -1;
    json_t *j = json_loads(res, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    free(res);
    if (!json_is_string(j)) {
        json_decref(j);
        return veil_err_set(err, VEIL_E_PROTOCOL, "%s: result is not a string", method);
    }
    *out = strdup(json_string_value(j));
    json_decref(j);
    return *out ? 0 : veil_err_set(err, VEIL_E_NOMEM, "rpc: out of memory");
}

static int call_quantity(veil_rpc *rpc, const char *method, const char *params, uint64_t *out,
                         veil_err *err)
{
    char *s;
    if (call_string(rpc, method, params, &s, err) != 0)
        return -1;
    int rc = veil_chain_parse_quantity(s, out, err);
    free(s);
    return rc == 0 ? 0 : veil_err_wrap(err, "%s", method);
}

void veil_rpc_expect_chain_id(veil_rpc *rpc, uint64_t chain_id)
{
    pthread_mutex_lock(&rpc->lock);
    rpc->chain_id = chain_id;
    rpc->unchecked = true;
    pthread_mutex_unlock(&rpc->lock);
}

int veil_rpc_chain_id(veil_rpc *rpc, uint64_t *out, veil_err *err)
{
    if (call_quantity(rpc, "eth_chainId", "[]", out, err) != 0)
        return -1;
    pthread_mutex_lock(&rpc->lock);
    if (!rpc->chain_id)
        rpc->chain_id = *out; /* failover targets must serve this chain */
    pthread_mutex_unlock(&rpc->lock);
    return 0;
}

int veil_rpc_block_number(veil_rpc *rpc, uint64_t *out, veil_err *err)
{
    return call_quantity(rpc, "eth_blockNumber", "[]", out, err);
}

static void addr_hex(char out[43], const veil_eth_address *a)
{
    out[0] = '0';
    out[1] = 'x';
    veil_hex_encode(out + 2, 41, a->b, 20);
}

int veil_rpc_get_transaction_count(veil_rpc *rpc, const veil_eth_address *a, const char *block,
                                   uint64_t *out, veil_err *err)
{
    char params[128], ah[43];
    addr_hex(ah, a);
    snprintf(params, sizeof params, "[\"%s\",\"%s\"]", ah, block ? block : "pending");
    return call_quantity(rpc, "eth_getTransactionCount", params, out, err);
}

int veil_rpc_get_balance(veil_rpc *rpc, const veil_eth_address *a, uint8_t out[32], veil_err *err)
{
    char params[128], ah[43], *s;
    addr_hex(ah, a);
    snprintf(params, sizeof params, "[\"%s\",\"latest\"]", ah);
    if (call_string(rpc, "eth_getBalance", params, &s, err) != 0)
        return -1;
    memset(out, 0, 32);
    size_t n = strlen(s);
    int rc = 0;
    if (n < 3 || n > 66 || strncmp(s, "0x", 2) != 0) {
        rc = veil_err_set(err, VEIL_E_PARSE, "eth_getBalance: bad quantity");
    } else {
        char padded[65];
        memset(padded, '0', 64);
        memcpy(padded + 64 - (n - 2), s + 2, n - 2);
        padded[64] = '\0';
        if (veil_hex_decode(out, 32, padded, 64, false, err) != 32)
            rc = veil_err_set(err, VEIL_E_PARSE, "eth_getBalance: bad quantity");
    }
    free(s);
    return rc;
}

int veil_rpc_get_code(veil_rpc *rpc, const veil_eth_address *a, uint8_t **code, size_t *len,
                      veil_err *err)
{
    char params[128], ah[43], *s;
    addr_hex(ah, a);
    snprintf(params, sizeof params, "[\"%s\",\"latest\"]", ah);
    if (call_string(rpc, "eth_getCode", params, &s, err) != 0)
        return -1;
    int rc = veil_chain_parse_hex_data(s, code, len, err);
    free(s);
    return rc;
}

static void call_object(veil_buf *b, const veil_eth_address *from, const veil_eth_address *to,
                        const uint8_t *data, size_t len)
{
    char ah[43];
    veil_buf_put_str(b, "{");
    if (from) {
        addr_hex(ah, from);
        veil_buf_printf(b, "\"from\":\"%s\",", ah);
    }
    if (to) {
        addr_hex(ah, to);
        veil_buf_printf(b, "\"to\":\"%s\",", ah);
    }
    veil_buf_put_str(b, "\"input\":\"");
    veil_chain_hex(b, data, len);
    veil_buf_put_str(b, "\"}");
}

/* Turns a JSON-RPC error that carries revert data into a decoded reason. */
static int revert_error(int rc, uint8_t *rd, size_t rl, veil_err *err)
{
    if (rc != 0 && err && err->code == VEIL_E_PROTOCOL && (rd || strstr(err->msg, "revert"))) {
        char reason[400];
        veil_abi_decode_revert(rd, rl, veil_contract_errors, veil_contract_errors_len, reason,
                               sizeof reason);
        veil_err_set(err, VEIL_E_STATE, "execution reverted: %s", reason);
    }
    free(rd);
    return rc;
}

int veil_rpc_eth_call(veil_rpc *rpc, const veil_eth_address *from, const veil_eth_address *to,
                      const uint8_t *data, size_t len, uint8_t **ret, size_t *ret_len,
                      veil_err *err)
{
    veil_buf p;
    veil_buf_init(&p);
    veil_buf_put_str(&p, "[");
    call_object(&p, from, to, data, len);
    veil_buf_put_str(&p, ",\"latest\"]");
    veil_buf_put_u8(&p, 0);
    if (!veil_buf_ok(&p)) {
        veil_buf_free(&p);
        return veil_err_set(err, VEIL_E_NOMEM, "rpc: out of memory");
    }
    char *res;
    uint8_t *rd = NULL;
    size_t rl = 0;
    int rc = veil_rpc_call(rpc, "eth_call", (const char *)p.data, &res, &rd, &rl, err);
    veil_buf_free(&p);
    if (rc != 0)
        return revert_error(rc, rd, rl, err);
    json_t *j = json_loads(res, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    free(res);
    rc = json_is_string(j) ? veil_chain_parse_hex_data(json_string_value(j), ret, ret_len, err)
                           : veil_err_set(err, VEIL_E_PROTOCOL, "eth_call: result not a string");
    json_decref(j);
    return rc;
}

int veil_rpc_estimate_gas(veil_rpc *rpc, const veil_eth_address *from, const veil_eth_address *to,
                          const uint8_t *data, size_t len, uint64_t *gas, veil_err *err)
{
    veil_buf p;
    veil_buf_init(&p);
    veil_buf_put_str(&p, "[");
    call_object(&p, from, to, data, len);
    veil_buf_put_str(&p, "]");
    veil_buf_put_u8(&p, 0);
    if (!veil_buf_ok(&p)) {
        veil_buf_free(&p);
        return veil_err_set(err, VEIL_E_NOMEM, "rpc: out of memory");
    }
    char *res;
    uint8_t *rd = NULL;
    size_t rl = 0;
    int rc = veil_rpc_call(rpc, "eth_estimateGas", (const char *)p.data, &res, &rd, &rl, err);
    veil_buf_free(&p);
    if (rc != 0)
        return revert_error(rc, rd, rl, err);
    json_t *j = json_loads(res, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    free(res);
    rc = veil_chain_parse_quantity(json_string_value(j), gas, err);
    json_decref(j);
    return rc;
}

int veil_rpc_max_priority_fee(veil_rpc *rpc, uint64_t *out, veil_err *err)
{
    return call_quantity(rpc, "eth_maxPriorityFeePerGas", "[]", out, err);
}

int veil_rpc_next_base_fee(veil_rpc *rpc, uint64_t *out, veil_err *err)
{
    char *res;
    if (veil_rpc_call(rpc, "eth_feeHistory", "[\"0x1\",\"latest\",[]]", &res, NULL, NULL, err) != 0)
        return -1;
    json_t *j = json_loads(res, JSON_ALLOW_NUL, NULL);
    free(res);
    json_t *fees = json_object_get(j, "baseFeePerGas");
    int rc;
    if (!json_is_array(fees) || json_array_size(fees) == 0)
        rc = veil_err_set(err, VEIL_E_PROTOCOL, "eth_feeHistory: no baseFeePerGas");
    else
        rc = veil_chain_parse_quantity(
            json_string_value(json_array_get(fees, json_array_size(fees) - 1)), out, err);
    json_decref(j);
    return rc;
}

int veil_rpc_send_raw(veil_rpc *rpc, const uint8_t *raw, size_t len, uint8_t tx_hash[32],
                      veil_err *err)
{
    veil_buf p;
    veil_buf_init(&p);
    veil_buf_put_str(&p, "[\"");
    veil_chain_hex(&p, raw, len);
    veil_buf_put_str(&p, "\"]");
    veil_buf_put_u8(&p, 0);
    if (!veil_buf_ok(&p)) {
        veil_buf_free(&p);
        return veil_err_set(err, VEIL_E_NOMEM, "rpc: out of memory");
    }
    char *s;
    int rc = call_string(rpc, "eth_sendRawTransaction", (const char *)p.data, &s, err);
    veil_buf_free(&p);
    if (rc != 0)
        return -1;
    rc = veil_chain_parse_hex_fixed(s, tx_hash, 32, err);
    free(s);
    return rc;
}

/* ------------------------------------------------------------------ logs, receipts */

void veil_eth_logs_free(veil_eth_log *logs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(logs[i].data);
    free(logs);
}

void veil_eth_receipt_clear(veil_eth_receipt *r)
{
    veil_eth_logs_free(r->logs, r->n_logs);
    memset(r, 0, sizeof *r);
}

static int log_from_json(json_t *o, veil_eth_log *l, veil_err *err)
{
    memset(l, 0, sizeof *l);
    if (!json_is_object(o))
        return veil_err_set(err, VEIL_E_PARSE, "log is not an object");
    json_t *topics = json_object_get(o, "topics");
    if (veil_chain_parse_hex_fixed(json_string_value(json_object_get(o, "address")), l->address.b,
                                   20, err) != 0 ||
        !json_is_array(topics))
        return veil_err_set(err, VEIL_E_PARSE, "log: bad address or topics");
    if (json_array_size(topics) > 4)
        return veil_err_set(err, VEIL_E_PARSE, "log: more than 4 topics");
    l->n_topics = json_array_size(topics);
    for (size_t i = 0; i < l->n_topics; i++)
        if (veil_chain_parse_hex_fixed(json_string_value(json_array_get(topics, i)), l->topics[i],
                                       32, err) != 0)
            return -1;
    json_t *removed = json_object_get(o, "removed");
    l->removed = json_is_true(removed);
    const char *bn = json_string_value(json_object_get(o, "blockNumber"));
    const char *bh = json_string_value(json_object_get(o, "blockHash"));
    const char *th = json_string_value(json_object_get(o, "transactionHash"));
    const char *li = json_string_value(json_object_get(o, "logIndex"));
    if ((bn && veil_chain_parse_quantity(bn, &l->block_number, err) != 0) ||
        (bh && veil_chain_parse_hex_fixed(bh, l->block_hash, 32, err) != 0) ||
        (th && veil_chain_parse_hex_fixed(th, l->tx_hash, 32, err) != 0) ||
        (li && veil_chain_parse_quantity(li, &l->log_index, err) != 0))
        return -1;
    return veil_chain_parse_hex_data(json_string_value(json_object_get(o, "data")), &l->data,
                                     &l->data_len, err);
}

static int logs_from_array(json_t *arr, veil_eth_log **logs, size_t *n_logs, veil_err *err)
{
    *logs = NULL;
    *n_logs = 0;
    if (!json_is_array(arr))
        return veil_err_set(err, VEIL_E_PARSE, "logs: not an array");
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    veil_eth_log *l = calloc(n, sizeof *l);
    if (!l)
        return veil_err_set(err, VEIL_E_NOMEM, "logs: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (log_from_json(json_array_get(arr, i), &l[i], err) != 0) {
            veil_eth_logs_free(l, i + 1);
            return -1;
        }
    }
    *logs = l;
    *n_logs = n;
    return 0;
}

int veil_eth_logs_from_json(const char *json, veil_eth_log **logs, size_t *n_logs, veil_err *err)
{
    json_t *j = json_loads(json, JSON_ALLOW_NUL, NULL);
    if (!j)
        return veil_err_set(err, VEIL_E_PARSE, "logs: not JSON");
    int rc = logs_from_array(j, logs, n_logs, err);
    json_decref(j);
    return rc;
}

int veil_rpc_get_receipt(veil_rpc *rpc, const uint8_t tx_hash[32], veil_eth_receipt *out,
                         veil_err *err)
{
    memset(out, 0, sizeof *out);
    veil_buf p;
    veil_buf_init(&p);
    veil_buf_put_str(&p, "[\"");
    veil_chain_hex(&p, tx_hash, 32);
    veil_buf_put_str(&p, "\"]");
    veil_buf_put_u8(&p, 0);
    char *res;
    int rc = veil_rpc_call(rpc, "eth_getTransactionReceipt", (const char *)p.data, &res, NULL, NULL,
                           err);
    veil_buf_free(&p);
    if (rc != 0)
        return -1;
    json_t *j = json_loads(res, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    free(res);
    if (json_is_null(j)) {
        json_decref(j);
        return 0; /* not mined yet */
    }
    rc = -1;
    uint64_t status = 0;
    if (!json_is_object(j) ||
        veil_chain_parse_quantity(json_string_value(json_object_get(j, "status")), &status, err) ||
        veil_chain_parse_quantity(json_string_value(json_object_get(j, "blockNumber")),
                                  &out->block_number, err) ||
        veil_chain_parse_quantity(json_string_value(json_object_get(j, "gasUsed")), &out->gas_used,
                                  err)) {
        veil_err_wrap(err, "eth_getTransactionReceipt");
        goto done;
    }
    const char *egp = json_string_value(json_object_get(j, "effectiveGasPrice"));
    if (egp && veil_chain_parse_quantity(egp, &out->effective_gas_price, err) != 0)
        goto done;
    const char *ca = json_string_value(json_object_get(j, "contractAddress"));
    if (ca) {
        if (veil_chain_parse_hex_fixed(ca, out->contract_address.b, 20, err) != 0)
            goto done;
        out->has_contract = true;
    }
    if (logs_from_array(json_object_get(j, "logs"), &out->logs, &out->n_logs, err) != 0)
        goto done;
    out->status = status == 1;
    out->found = true;
    rc = 0;
done:
    json_decref(j);
    if (rc != 0)
        veil_eth_receipt_clear(out);
    return rc;
}

int veil_rpc_get_logs(veil_rpc *rpc, const veil_eth_address *address, uint64_t from_block,
                      uint64_t to_block, const uint8_t *const *topics, size_t n_topics,
                      veil_eth_log **logs, size_t *n_logs, veil_err *err)
{
    if (n_topics > 4)
        return veil_err_set(err, VEIL_E_INVALID, "getLogs: at most 4 topics");
    char ah[43];
    addr_hex(ah, address);
    veil_buf p;
    veil_buf_init(&p);
    veil_buf_printf(&p, "[{\"address\":\"%s\",\"fromBlock\":\"0x%llx\",\"toBlock\":\"0x%llx\"", ah,
                    (unsigned long long)from_block, (unsigned long long)to_block);
    if (n_topics > 0) {
        veil_buf_put_str(&p, ",\"topics\":[");
        for (size_t i = 0; i < n_topics; i++) {
            if (i)
                veil_buf_put_u8(&p, ',');
            if (!topics[i]) {
                veil_buf_put_str(&p, "null");
            } else {
                veil_buf_put_u8(&p, '"');
                veil_chain_hex(&p, topics[i], 32);
                veil_buf_put_u8(&p, '"');
            }
        }
        veil_buf_put_str(&p, "]");
    }
    veil_buf_put_str(&p, "}]");
    veil_buf_put_u8(&p, 0);
    char *res;
    int rc = veil_rpc_call(rpc, "eth_getLogs", (const char *)p.data, &res, NULL, NULL, err);
    veil_buf_free(&p);
    if (rc != 0)
        return -1;
    rc = veil_eth_logs_from_json(res, logs, n_logs, err);
    free(res);
    return rc;
}

/* Appends src (moved) to *dst. */
static int logs_append(veil_eth_log **dst, size_t *n, veil_eth_log *src, size_t m, veil_err *err)
{
    veil_eth_log *all = realloc(*dst, (*n + m + 1) * sizeof *all);
    if (!all) {
        veil_eth_logs_free(src, m);
        return veil_err_set(err, VEIL_E_NOMEM, "getLogs: out of memory");
    }
    if (m)
        memcpy(all + *n, src, m * sizeof *src);
    free(src); /* the entries moved: only the array goes */
    *dst = all;
    *n += m;
    return 0;
}

int veil_rpc_get_logs_paged(veil_rpc *rpc, const veil_eth_address *address, uint64_t from_block,
                            uint64_t to_block, const uint8_t *const *topics, size_t n_topics,
                            uint64_t page, veil_eth_log **logs, size_t *n_logs, veil_err *err)
{
    *logs = NULL;
    *n_logs = 0;
    if (page == 0)
        page = VEIL_RPC_LOGS_PAGE_DEFAULT;
    for (uint64_t lo = from_block; lo <= to_block;) {
        uint64_t hi = to_block - lo >= page ? lo + page - 1 : to_block;
        veil_eth_log *part = NULL;
        size_t np = 0;
        veil_err e2 = {0};
        if (veil_rpc_get_logs(rpc, address, lo, hi, topics, n_topics, &part, &np, &e2) != 0) {
            /* providers refuse wide ranges (or too many results) with a
             * JSON-RPC error: halve the page; anything else is a failure */
            if (e2.code != VEIL_E_PROTOCOL || hi == lo) {
                veil_eth_logs_free(*logs, *n_logs);
                *logs = NULL;
                *n_logs = 0;
                if (err)
                    *err = e2;
                return veil_err_wrap(err, "getLogs blocks %llu..%llu", (unsigned long long)lo,
                                     (unsigned long long)hi);
            }
            page = (hi - lo + 1) / 2;
            VEIL_LOG_DBG("chain", "getLogs range refused, halving", "from=%llu page=%llu",
                         (unsigned long long)lo, (unsigned long long)page);
            continue;
        }
        if (logs_append(logs, n_logs, part, np, err) != 0) {
            veil_eth_logs_free(*logs, *n_logs);
            *logs = NULL;
            *n_logs = 0;
            return -1;
        }
        if (hi == to_block)
            break;
        lo = hi + 1;
    }
    return 0;
}

int veil_rpc_block_hash(veil_rpc *rpc, uint64_t number, uint8_t hash[32], veil_err *err)
{
    char params[64], *res;
    snprintf(params, sizeof params, "[\"0x%llx\",false]", (unsigned long long)number);
    if (veil_rpc_call(rpc, "eth_getBlockByNumber", params, &res, NULL, NULL, err) != 0)
        return -1;
    json_t *j = json_loads(res, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    free(res);
    int rc;
    if (!json_is_object(j))
        rc = veil_err_set(err, VEIL_E_NOTFOUND, "block %llu not found", (unsigned long long)number);
    else
        rc = veil_chain_parse_hex_fixed(json_string_value(json_object_get(j, "hash")), hash, 32,
                                        err);
    json_decref(j);
    return rc;
}
