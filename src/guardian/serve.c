// SPDX-License-Identifier: Apache-2.0
/*
 * serve.c - `veil guardian serve`: the Guardian daemon. Connects to Master
 * as Guardian's service user in the enrollment account and in every realm
 * (a fresh user JWT minted on each (re)connect, so the daemon's own
 * credential never expires under it), answers enrollment on
 * veil.enroll.req and renewal on veil.<realm>.renew.<node>
 * (serve_enroll.c), picks up realms created while it runs, and stops on
 * SIGINT/SIGTERM. State lives in the Guardian directory (SQLite), so a
 * restart keeps every credential that is still valid.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <veil/master_conn.h>

#include "serve_int.h"

#define SERVICE_JWT_TTL_S 3600

int serve_split_urls(char *list, const char *urls[SERVE_MAX_URLS], size_t *n, veil_err *err)
{
    char *save = NULL;
    *n = 0;
    for (char *u = strtok_r(list, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
        if (*n == SERVE_MAX_URLS)
            return veil_err_set(err, VEIL_E_INVALID, "bad --nats list");
        urls[(*n)++] = u;
    }
    return *n ? 0 : veil_err_set(err, VEIL_E_INVALID, "bad --nats list");
}

uint64_t serve_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int serve_ed25519_pub_pem(const uint8_t pub[32], char **pem, veil_err *err)
{
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;
    int rc = -1;
    if (key && bio && PEM_write_bio_PUBKEY(bio, key) == 1 &&
        (n = BIO_get_mem_data(bio, &data)) > 0 && (*pem = malloc((size_t)n + 1)) != NULL) {
        memcpy(*pem, data, (size_t)n);
        (*pem)[n] = 0;
        rc = 0;
    } else {
        veil_err_set(err, VEIL_E_CRYPTO, "Ed25519 public key to PEM failed");
    }
    BIO_free(bio);
    EVP_PKEY_free(key);
    return rc;
}

char *serve_master_urls(const char *dir, const char *given, veil_err *err)
{
    if (given)
        return strdup(given);
    char path[4096];
    uint8_t *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/master.servers", dir);
    if (veil_file_read(path, 65536, &data, &len, err) != 0) {
        veil_err_wrap(err, "no --nats and no Master server list");
        return NULL;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
        data[--len] = 0;
    return (char *)data;
}

int serve_nats_err(veil_err *err, natsStatus s, const char *what)
{
    const char *last = nats_GetLastError(NULL);
    return veil_err_set(err, s == NATS_TIMEOUT ? VEIL_E_TIMEOUT : VEIL_E_NETWORK, "%s: %s%s%s",
                        what, natsStatus_GetText(s), last && *last ? ": " : "", last ? last : "");
}

/* ---- service credentials through callbacks ---- */

static natsStatus service_jwt_cb(char **jwt, char **errtxt, void *closure)
{
    struct serve_conn *c = closure;
    veil_jwt perms;
    veil_jwt_init(&perms, VEIL_JWT_USER);
    struct veil_guardian_issued iss = {0};
    veil_err err = {0};
    natsStatus s = NATS_ERR;
    pthread_mutex_lock(&c->sv->mu);
    if (veil_guardian_service_permissions(&perms, &err) == 0 &&
        veil_guardian_issue_custom(c->sv->g, c->account, "guardian", &perms, SERVICE_JWT_TTL_S,
                                   &iss, &err) == 0) {
        veil_nkey_wipe(&c->user);
        c->user = iss.user;
        memset(&iss.user, 0, sizeof iss.user);
        *jwt = iss.jwt;
        iss.jwt = NULL;
        s = NATS_OK;
    } else {
        *errtxt = strdup(err.msg);
    }
    pthread_mutex_unlock(&c->sv->mu);
    veil_guardian_issued_free(&iss);
    veil_jwt_free(&perms);
    return s;
}

static natsStatus service_sig_cb(char **errtxt, unsigned char **sig, int *sig_len,
                                 const char *nonce, void *closure)
{
    struct serve_conn *c = closure;
    (void)errtxt;
    if (!(*sig = malloc(VEIL_NKEY_SIG_LEN)))
        return NATS_NO_MEMORY;
    pthread_mutex_lock(&c->sv->mu);
    int rc = veil_nkey_sign(&c->user, nonce, strlen(nonce), *sig, NULL);
    pthread_mutex_unlock(&c->sv->mu);
    if (rc != 0) {
        free(*sig);
        *sig = NULL;
        return NATS_ERR;
    }
    *sig_len = VEIL_NKEY_SIG_LEN;
    return NATS_OK;
}

/* ---- requests ---- */

/* veil.<realm>.renew.<node> -> node (borrowed from the subject). */
static const char *renew_node(const char *subject)
{
    const char *dot = strrchr(subject, '.');
    return dot ? dot + 1 : subject;
}

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    struct serve_conn *c = closure;
    const char *reply = natsMsg_GetReply(msg);
    bool enroll = strcmp(c->account, VEIL_GUARDIAN_ENROLL_ACCOUNT) == 0;
    veil_buf out;
    veil_buf_init(&out);
    if (reply && *reply) {
        serve_answer(
            c->sv, enroll ? NULL : c->account, enroll ? NULL : renew_node(natsMsg_GetSubject(msg)),
            (const uint8_t *)natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &out);
        natsStatus s = natsConnection_Publish(nc, reply, out.data, (int)out.len);
        if (s != NATS_OK)
            VEIL_LOG_WARNING("guardian", "answer not sent", "status=\"%s\"", natsStatus_GetText(s));
    }
    veil_buf_free(&out);
    /* an enrollment PROVE carries the one-time token: wipe the request */
    if (natsMsg_GetData(msg) != NULL)
        veil_memzero((char *)natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
}

/* Guardian's own client certificate (for Masters that verify clients),
 * issued once per process from the online intermediate, key in memory only.
 * libnats keeps the certificate of its options for every reconnect and
 * cannot swap it, so it must outlive the process: a week-long one locked a
 * daemon running longer out of a verifying Master at its next reconnect.
 * A year (the intermediate's default lifetime) adds no exposure: the same
 * process already holds the intermediate's key. */
#define SERVE_CLIENT_CERT_TTL_S (365 * 86400)

static int client_cert(struct serve *sv, veil_err *err)
{
    if (sv->tls.chain_pem)
        return 0;
    struct veil_ca_leaf_req req = {.common_name = "guardian",
                                   .realm = VEIL_GUARDIAN_ENROLL_ACCOUNT,
                                   .node_id = "guardian",
                                   .client_auth = true,
                                   .ttl_s = SERVE_CLIENT_CERT_TTL_S};
    struct veil_ca_leaf leaf = {0};
    pthread_mutex_lock(&sv->mu);
    int rc = veil_ca_issue(veil_guardian_ca(sv->g), &req, &leaf, err);
    pthread_mutex_unlock(&sv->mu);
    if (rc != 0)
        return veil_err_wrap(err, "Guardian's client certificate");
    sv->tls.chain_pem = leaf.chain_pem;
    sv->tls.key_pem = leaf.key_pem;
    leaf.chain_pem = leaf.key_pem = NULL;
    veil_ca_leaf_free(&leaf);
    return 0;
}

void serve_tls_free(struct serve *sv)
{
    if (sv->tls.key_pem)
        veil_memzero(sv->tls.key_pem, strlen(sv->tls.key_pem));
    free(sv->tls.key_pem);
    free(sv->tls.chain_pem);
    sv->tls.key_pem = sv->tls.chain_pem = NULL;
}

int serve_connect(struct serve *sv, struct serve_conn *c, bool answer, veil_err *err)
{
    natsOptions *o = NULL;
    char subj[VEIL_SUBJECT_MAX];
    bool enroll = strcmp(c->account, VEIL_GUARDIAN_ENROLL_ACCOUNT) == 0;
    c->sv = sv;
    if (enroll)
        snprintf(subj, sizeof subj, "%s", VEIL_SUBJ_ENROLL_REQ);
    else if (veil_subject(subj, VEIL_SUBJ_RENEW, c->account, "*", NULL, err) != 0)
        return -1;
    if (client_cert(sv, err) != 0)
        return -1;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, sv->urls, (int)sv->n_urls);
    if (s == NATS_OK && sv->ca_file)
        s = natsOptions_LoadCATrustedCertificates(o, sv->ca_file);
    if (s == NATS_OK)
        s = natsOptions_SetCertificatesChain(o, sv->tls.chain_pem, sv->tls.key_pem);
    if (s == NATS_OK)
        s = natsOptions_SetUserCredentialsCallbacks(o, service_jwt_cb, c, service_sig_cb, c);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, 100);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, true);
    if (s == NATS_OK)
        s = veil_master_connect(&c->nc, o, VEIL_MASTER_CONNECT_ATTEMPTS);
    if (s == NATS_OK && answer)
        s = natsConnection_QueueSubscribe(&c->sub, c->nc, subj, "guardian", on_request, c);
    if (s == NATS_OK)
        s = natsConnection_Flush(c->nc);
    natsOptions_Destroy(o);
    if (s != NATS_OK)
        return serve_nats_err(err, s, c->account);
    return 0;
}

void serve_conn_close(struct serve_conn *c)
{
    if (!c)
        return;
    natsSubscription_Destroy(c->sub);
    natsConnection_Close(c->nc);
    natsConnection_Destroy(c->nc);
    veil_nkey_wipe(&c->user);
    free(c);
}

static bool served(const struct serve *sv, const char *account)
{
    for (size_t i = 0; i < sv->n_conns; i++)
        if (strcmp(sv->conns[i]->account, account) == 0)
            return true;
    return false;
}

static int add_conn(struct serve *sv, const char *account, veil_err *err)
{
    if (served(sv, account))
        return 0;
    if (sv->n_conns == SERVE_MAX_CONNS)
        return veil_err_set(err, VEIL_E_LIMIT, "at most %d realms per Guardian daemon",
                            SERVE_MAX_CONNS - 1);
    struct serve_conn *c = calloc(1, sizeof *c);
    if (!c)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    snprintf(c->account, sizeof c->account, "%s", account);
    if (serve_connect(sv, c, true, err) != 0) {
        serve_conn_close(c);
        return -1;
    }
    sv->conns[sv->n_conns++] = c;
    VEIL_LOG_INF("guardian", "serving", "account=%s", account);
    return 0;
}

/* Pushes a realm's account JWT to the servers' resolvers, so a realm created
 * after Master's configuration was written exists there too. A failure is
 * only logged: servers that already know the account need nothing. */
static void push_account(struct serve *sv, const struct veil_guardian_realm *r)
{
    char urls[SERVE_MAX_URLS * 256] = "";
    char *jwt = NULL;
    veil_err err = {0};
    for (size_t i = 0; i < sv->n_urls; i++) {
        size_t n = strlen(urls);
        snprintf(urls + n, sizeof urls - n, "%s%s", i ? "," : "", sv->urls[i]);
    }
    pthread_mutex_lock(&sv->mu);
    int rc = veil_guardian_account_jwt(sv->g, r->name, &jwt, &err);
    if (rc == 0)
        rc = veil_guardian_push(sv->g, urls, sv->ca_file, r->account, jwt, &err);
    pthread_mutex_unlock(&sv->mu);
    free(jwt);
    if (rc != 0)
        VEIL_LOG_WARNING("guardian", "realm account not pushed", "realm=%s err=\"%s\"", r->name,
                         err.msg);
    else
        VEIL_LOG_INF("guardian", "realm account pushed to Master", "realm=%s", r->name);
}

/* Connects to every realm not served yet. A realm created after Master's
 * configuration was written is unknown to the resolvers: when the first
 * connection fails, its account is pushed and the connection tried again. */
static int sync_realms(struct serve *sv, veil_err *err)
{
    struct veil_guardian_realm *realms = NULL;
    size_t n = 0;
    pthread_mutex_lock(&sv->mu);
    int rc = veil_guardian_realm_list(sv->g, &realms, &n, err);
    pthread_mutex_unlock(&sv->mu);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (served(sv, realms[i].name) || add_conn(sv, realms[i].name, err) == 0)
            continue;
        push_account(sv, &realms[i]);
        rc = add_conn(sv, realms[i].name, err);
    }
    free(realms);
    return rc;
}

/* ---- command line ---- */

struct serve_args {
    const char *dir, *ca_file, *rpc, *contract, *urls_given;
    char *urls_text;
    const char *urls[SERVE_MAX_URLS];
    size_t n_urls;
    int64_t ttl_ms, cert_ttl_ms;
    int64_t max_payload;
};

static int usage(const char *msg)
{
    fprintf(stderr,
            "veil: guardian serve: %s\n"
            "Usage: veil guardian serve -d DIR [--nats URL[,URL...]] [--ca FILE] [--ttl 15m]\n"
            "                           [--cert-ttl D] [--max-payload 64k|none]\n"
            "                           [--chain-rpc URL --contract ADDR]\n",
            msg);
    return 2;
}

/* --max-payload: a size (64k) or "none" (-1: no limit in the user JWTs). */
static int parse_payload(const char *text, int64_t *out)
{
    uint64_t v = 0;
    veil_err err = {0};
    if (strcmp(text, "none") == 0) {
        *out = -1;
        return 0;
    }
    if (veil_parse_size(text, &v, &err) != 0 || v < 1 || v > VEIL_GUARDIAN_MAX_PAYLOAD_LIMIT)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct serve_args *a)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},      {"nats", required_argument, NULL, 'n'},
        {"ca", required_argument, NULL, 'c'},       {"ttl", required_argument, NULL, 't'},
        {"cert-ttl", required_argument, NULL, 'T'}, {"chain-rpc", required_argument, NULL, 'r'},
        {"contract", required_argument, NULL, 'k'}, {"max-payload", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    veil_err err = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:n:c:t:T:r:k:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->dir = optarg;
            break;
        case 'n':
            a->urls_given = optarg;
            break;
        case 'c':
            a->ca_file = optarg;
            break;
        case 't':
        case 'T':
            if (veil_parse_duration_ms(optarg, c == 't' ? &a->ttl_ms : &a->cert_ttl_ms, &err) !=
                    0 ||
                (c == 't' ? a->ttl_ms : a->cert_ttl_ms) < 1000)
                return usage("--ttl/--cert-ttl want a duration of at least 1s (15m, 1h)");
            break;
        case 'r':
            a->rpc = optarg;
            break;
        case 'k':
            a->contract = optarg;
            break;
        case 'p':
            if (parse_payload(optarg, &a->max_payload) != 0)
                return usage("--max-payload wants a size of 1 .. 64m (64k), or \"none\"");
            break;
        default:
            return usage("bad option");
        }
    }
    if (optind != argc)
        return usage("unexpected argument");
    if (!a->dir)
        return usage("-d DIR is required");
    if (!a->rpc != !a->contract)
        return usage("--chain-rpc and --contract go together");
    return 0;
}

static int open_chain(struct serve *sv, const struct serve_args *a, veil_err *err)
{
    if (!a->rpc)
        return 0;
    veil_chain_options co = {.rpc_url = a->rpc, .has_contract = true};
    if (veil_eth_address_parse(a->contract, &co.contract, err) != 0)
        return veil_err_wrap(err, "--contract");
    return veil_chain_client_open(&sv->chain, &co, err);
}

static int serve_open(struct serve *sv, struct serve_args *a, char *ca_default, size_t cap,
                      veil_err *err)
{
    uint8_t *pem = NULL;
    size_t len = 0;
    sv->ttl_s = a->ttl_ms ? a->ttl_ms / 1000 : VEIL_GUARDIAN_DEFAULT_TTL_S;
    sv->cert_ttl_s = a->cert_ttl_ms ? a->cert_ttl_ms / 1000 : sv->ttl_s;
    sv->max_payload = a->max_payload;
    memcpy(sv->urls, a->urls, sizeof a->urls);
    sv->n_urls = a->n_urls;
    snprintf(ca_default, cap, "%s/ca/root.crt", a->dir);
    sv->ca_file = a->ca_file ? a->ca_file : ca_default;
    veil_random_bytes(sv->challenge_key, sizeof sv->challenge_key);
    if (veil_crypto_init(err) != 0 || veil_guardian_open(&sv->g, a->dir, err) != 0)
        return -1;
    if (veil_file_read(ca_default, 1 << 20, &pem, &len, err) != 0)
        return veil_err_wrap(err, "the CA root");
    sv->ca_pem = (char *)pem;
    if (open_chain(sv, a, err) != 0)
        return -1;
    if (add_conn(sv, VEIL_GUARDIAN_ENROLL_ACCOUNT, err) != 0 || sync_realms(sv, err) != 0)
        return -1;
    return 0;
}

static void serve_close(struct serve *sv)
{
    for (size_t i = 0; i < sv->n_conns; i++)
        serve_conn_close(sv->conns[i]);
    if (sv->chain)
        veil_chain_client_close(sv->chain);
    veil_guardian_close(sv->g);
    free(sv->ca_pem);
    serve_tls_free(sv);
    veil_memzero(sv->challenge_key, sizeof sv->challenge_key);
    pthread_mutex_destroy(&sv->mu);
}

int veil_guardian_serve_main(int argc, char **argv)
{
    struct serve_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    struct serve sv = {0};
    char ca_default[4096];
    veil_err err = {0};
    a.urls_text = serve_master_urls(a.dir, a.urls_given, &err);
    if (!a.urls_text || serve_split_urls(a.urls_text, a.urls, &a.n_urls, &err) != 0) {
        fprintf(stderr, "veil: guardian serve: %s\n", err.msg);
        free(a.urls_text);
        return a.urls_text ? 2 : 1;
    }
    pthread_mutex_init(&sv.mu, NULL);
    /* SIGINT/SIGTERM blocked before libnats starts threads, taken below */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN); /* a TLS write to a server that died */
    if (serve_open(&sv, &a, ca_default, sizeof ca_default, &err) != 0) {
        fprintf(stderr, "veil: guardian serve: %s\n", err.msg);
        serve_close(&sv);
        free(a.urls_text);
        return 1;
    }
    fprintf(stdout, "guardian: serving %zu account(s)\n", sv.n_conns);
    fflush(stdout);
    /* every second: revocation notices; every 2 s: realms created meanwhile */
    struct timespec period = {1, 0};
    for (unsigned tick = 1; sigtimedwait(&stop, NULL, &period) < 0; tick++) {
        serve_announce_revoked(&sv);
        if (tick % 2 == 0 && sync_realms(&sv, &err) != 0)
            VEIL_LOG_WARNING("guardian", "realm sync failed", "err=\"%s\"", err.msg);
    }
    serve_close(&sv);
    free(a.urls_text);
    return 0;
}

/* ---- enrollment-account credentials for nodes ---- */

/* FILE.tls next to the .creds (0600): a client certificate chain and its
 * key, for Masters that require client certificates before a node has its
 * own (SAN veil://enroll/<id>). */
static int write_enroll_tls(veil_guardian *g, const char *creds_path, const char *id, int64_t ttl_s,
                            veil_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s.tls", creds_path) >= (int)sizeof path)
        return veil_err_set(err, VEIL_E_RANGE, "path too long");
    struct veil_ca_leaf_req req = {.common_name = id,
                                   .realm = VEIL_GUARDIAN_ENROLL_ACCOUNT,
                                   .node_id = id,
                                   .client_auth = true,
                                   .ttl_s = ttl_s};
    struct veil_ca_leaf leaf = {0};
    if (veil_ca_issue(veil_guardian_ca(g), &req, &leaf, err) != 0)
        return -1;
    veil_buf b;
    veil_buf_init(&b);
    veil_buf_put_str(&b, leaf.chain_pem);
    veil_buf_put_str(&b, leaf.key_pem);
    int rc = veil_buf_ok(&b) ? veil_key_file_write(path, b.data, b.len, err)
                             : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    veil_buf_free_secure(&b);
    veil_ca_leaf_free(&leaf);
    return rc;
}

int serve_write_enroll_creds(veil_guardian *g, const char *path, int64_t ttl_s, veil_err *err)
{
    uint8_t rnd[10];
    char id[24];
    veil_random_bytes(rnd, sizeof rnd);
    (void)veil_hex_encode(id, sizeof id, rnd, sizeof rnd);
    veil_jwt perms;
    veil_jwt_init(&perms, VEIL_JWT_USER);
    struct veil_guardian_issued iss = {0};
    int rc = -1;
    perms.limits.payload = VEIL_CTL_MAX_MSG;
    if (veil_guardian_enroll_permissions(&perms, id, err) == 0 &&
        veil_guardian_issue_custom(g, VEIL_GUARDIAN_ENROLL_ACCOUNT, id, &perms, ttl_s, &iss, err) ==
            0 &&
        veil_creds_write(path, iss.jwt, &iss.user, err) == 0 &&
        write_enroll_tls(g, path, id, ttl_s, err) == 0)
        rc = 0;
    veil_guardian_issued_free(&iss);
    veil_jwt_free(&perms);
    return rc;
}
