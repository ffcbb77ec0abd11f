// SPDX-License-Identifier: Apache-2.0
/*
 * bench_conflux.c - figures of the VeilNet control plane on a real Master
 * (2 clusters x 2 nats-server processes, TLS with client verification) and
 * the Guardian daemon, printed as JSON lines:
 *   conflux_join          agent start to connected (enrollment by token:
 *                         challenge, proof, JWT + certificate, then the mTLS
 *                         connection), sequential, p50/p99
 *   conflux_cmd_rtt       signed command -> verified node-signed reply, the
 *                         sender on the agent's cluster vs across a gateway
 *   conflux_failover      server killed -> every agent on it connected elsewhere
 *   conflux_enroll_burst  simulated agents (fresh identity + token each)
 *                         enrolling: 50 one at a time (the exchange's
 *                         latency), then N through 8 concurrent clients
 * Usage: bench_conflux [--agents N] [--sims N] [--rtts N]
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>
#include <pthread.h>
#include <sodium.h>

#include <veil/guardian_serve.h>

#include "cfx_harness.h"

static struct cfx_env env;

static void cleanup(void)
{
    cfx_env_teardown(&env);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i < 0 ? 0 : i];
}

/* ---- join latency ---- */

static int join(veil_conflux **out, const char *name, const char *const *servers, int n_servers,
                double *ms)
{
    char dir[400], creds[400], tok[128];
    struct veil_conflux_config c;
    veil_err err = {0};
    if (cfx_token(&env, "red", "", tok, sizeof tok) != 0)
        return -1;
    cfx_agent_config(&env, &c, name, dir, sizeof dir, creds, sizeof creds);
    c.token = tok;
    c.beacon_ms = 1000;
    if (servers) {
        c.servers = servers;
        c.n_servers = (size_t)n_servers;
    }
    double t0 = now_ms();
    int rc = veil_conflux_start(out, &c, &err);
    *ms = now_ms() - t0;
    if (rc != 0)
        fprintf(stderr, "join %s: %s\n", name, err.msg);
    return rc;
}

/* ---- command round trips ---- */

static natsConnection *service_conn(int server)
{
    veil_err err = {0};
    veil_guardian *g = NULL;
    struct veil_guardian_issued iss = {0};
    struct veil_ca_leaf leaf = {0};
    struct veil_ca_leaf_req lr = {.common_name = "bench", .client_auth = true, .ttl_s = 3600};
    veil_jwt perms;
    veil_jwt_init(&perms, VEIL_JWT_USER);
    char path[400];
    snprintf(path, sizeof path, "%s/bench-svc-%d.creds", env.dir, server);
    natsConnection *nc = NULL;
    if (veil_guardian_open(&g, env.gdir, &err) == 0 &&
        veil_guardian_service_permissions(&perms, &err) == 0 &&
        veil_guardian_issue_custom(g, "red", "bench", &perms, 3600, &iss, &err) == 0 &&
        veil_creds_write(path, iss.jwt, &iss.user, &err) == 0 &&
        veil_ca_issue(veil_guardian_ca(g), &lr, &leaf, &err) == 0) {
        natsOptions *o = NULL;
        natsStatus s = natsOptions_Create(&o);
        if (s == NATS_OK)
            s = natsOptions_SetURL(o, env.urls[server]);
        if (s == NATS_OK)
            s = natsOptions_LoadCATrustedCertificates(o, env.ca);
        if (s == NATS_OK)
            s = natsOptions_SetCertificatesChain(o, leaf.chain_pem, leaf.key_pem);
        if (s == NATS_OK)
            s = natsOptions_SetUserCredentialsFromFiles(o, path, NULL);
        if (s == NATS_OK)
            s = natsOptions_SetSendAsap(o, true);
        if (s == NATS_OK)
            s = natsConnection_Connect(&nc, o);
        natsOptions_Destroy(o);
    } else {
        fprintf(stderr, "service_conn: %s\n", err.msg);
    }
    veil_ca_leaf_free(&leaf);
    veil_guardian_issued_free(&iss);
    veil_jwt_free(&perms);
    veil_guardian_close(g);
    return nc;
}

/* n signed query commands to `node` from a connection on `server`. */
static int rtt_run(int server, const char *node, int n, double *out)
{
    natsConnection *nc = service_conn(server);
    if (!nc)
        return -1;
    veil_err err = {0};
    veil_guardian *g = NULL;
    if (veil_guardian_open(&g, env.gdir, &err) != 0)
        return -1;
    const uint8_t *sk = veil_guardian_command_key(g)->sk;
    char cmd_subj[128], reply_subj[128];
    snprintf(cmd_subj, sizeof cmd_subj, "veil.red.cmd.%s", node);
    snprintf(reply_subj, sizeof reply_subj, "veil.red.reply.%s", node);
    natsSubscription *sub = NULL;
    natsConnection_SubscribeSync(&sub, nc, reply_subj);
    natsConnection_Flush(nc);
    usleep(200000); /* the reply interest crosses the gateway */
    int got = 0;
    for (int i = -20; i < n; i++) { /* 20 warm-up round trips */
        veil_ctl_cmd c = {.verb = VEIL_CTL_QUERY};
        snprintf(c.node_id, sizeof c.node_id, "%s", node);
        veil_buf b;
        veil_buf_init(&b);
        double t0 = now_ms();
        c.issued_ms = veil_conflux_now_ms();
        randombytes_buf(c.nonce, sizeof c.nonce);
        if (veil_ctl_cmd_sign(&c, sk, NULL) != 0 || veil_ctl_cmd_encode(&c, &b, NULL) != 0)
            break;
        natsConnection_Publish(nc, cmd_subj, b.data, (int)b.len);
        veil_buf_free(&b);
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, sub, 5000) != NATS_OK)
            continue;
        veil_ctl_reply rep;
        if (veil_ctl_reply_decode((const uint8_t *)natsMsg_GetData(m),
                                  (size_t)natsMsg_GetDataLength(m), &rep, NULL) == 0) {
            veil_ctl_reply_free(&rep);
            if (i >= 0)
                out[got++] = now_ms() - t0;
        }
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    veil_guardian_close(g);
    return got;
}

/* ---- failover ---- */

static int failover(veil_conflux **agents, int n, double *out)
{
    struct veil_conflux_status st;
    int counts[CFX_MAX_SRV] = {0}, victim = 0;
    char before[64][256];
    for (int i = 0; i < n; i++) {
        veil_conflux_get_status(agents[i], &st);
        snprintf(before[i], sizeof before[i], "%s", st.server);
        int s = cfx_server_of(&env, st.server);
        if (s >= 0 && ++counts[s] > counts[victim])
            victim = s;
    }
    double t0 = now_ms();
    cfx_server_kill(&env, victim);
    int moved = 0;
    bool done[64] = {false};
    while (moved < counts[victim] && now_ms() - t0 < 30000) {
        for (int i = 0; i < n; i++) {
            if (done[i] || cfx_server_of(&env, before[i]) != victim)
                continue;
            veil_conflux_get_status(agents[i], &st);
            if (st.connected && strcmp(st.server, before[i]) != 0) {
                done[i] = true;
                out[moved++] = now_ms() - t0;
            }
        }
        usleep(2000);
    }
    (void)cfx_server_start(&env, victim);
    return moved;
}

/* ---- simulated agents enrolling ---- */

struct sim_worker {
    char creds[400]; /* written before the threads start */
    int run, first, count;
    char (*tokens)[128];
    double *lat;
    int ok;
};

static int sim_exchange(natsConnection *nc, natsSubscription *sub, const char *reply,
                        const char *name, const char *token)
{
    uint8_t pub[32], sk[64];
    crypto_sign_keypair(pub, sk);
    veil_buf b;
    veil_buf_init(&b);
    natsMsg *m = NULL;
    veil_ctl_prove p = {.method = VEIL_CTL_BY_TOKEN};
    veil_ctl_result res;
    int rc = -1;
    if (veil_ctl_hello_encode(pub, &b, NULL) != 0 ||
        natsConnection_PublishRequest(nc, VEIL_SUBJ_ENROLL_REQ, reply, b.data, (int)b.len) !=
            NATS_OK ||
        natsSubscription_NextMsg(&m, sub, 10000) != NATS_OK ||
        veil_ctl_challenge_decode((const uint8_t *)natsMsg_GetData(m),
                                  (size_t)natsMsg_GetDataLength(m), &p.challenge, NULL) != 0)
        goto out;
    natsMsg_Destroy(m);
    m = NULL;
    snprintf(p.name, sizeof p.name, "%s", name);
    snprintf(p.token, sizeof p.token, "%s", token);
    veil_buf_reset(&b);
    if (veil_ctl_prove_sign(&p, sk, NULL) != 0 || veil_ctl_prove_encode(&p, &b, NULL) != 0 ||
        natsConnection_PublishRequest(nc, VEIL_SUBJ_ENROLL_REQ, reply, b.data, (int)b.len) !=
            NATS_OK ||
        natsSubscription_NextMsg(&m, sub, 10000) != NATS_OK ||
        veil_ctl_result_decode((const uint8_t *)natsMsg_GetData(m),
                               (size_t)natsMsg_GetDataLength(m), &res, NULL) != 0)
        goto out;
    rc = res.ok ? 0 : -1;
    if (!res.ok)
        fprintf(stderr, "sim %s refused: %s\n", name, res.error);
    veil_ctl_result_free(&res);
out:
    natsMsg_Destroy(m);
    veil_buf_free(&b);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

static void *sim_thread(void *arg)
{
    struct sim_worker *w = arg;
    char reply[128];
    const char *creds = w->creds;
    veil_err err = {0};
    char *jwt = NULL;
    veil_nkey key;
    if (veil_creds_read(creds, &jwt, &key, &err) != 0)
        return NULL;
    veil_jwt claims;
    if (veil_jwt_decode(jwt, strlen(jwt), &claims, &err) != 0)
        return NULL;
    snprintf(reply, sizeof reply, "%s", claims.sub_allow.items[0]);
    veil_jwt_free(&claims);
    free(jwt);
    veil_nkey_wipe(&key);
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    char tls[420];
    snprintf(tls, sizeof tls, "%s.tls", creds);
    natsOptions_Create(&o);
    natsOptions_SetServers(o, env.urls, env.n_urls);
    natsOptions_LoadCATrustedCertificates(o, env.ca);
    natsOptions_LoadCertificatesChain(o, tls, tls);
    natsOptions_SetUserCredentialsFromFiles(o, creds, NULL);
    if (natsConnection_Connect(&nc, o) == NATS_OK &&
        natsConnection_SubscribeSync(&sub, nc, reply) == NATS_OK) {
        natsConnection_Flush(nc);
        for (int i = 0; i < w->count; i++) {
            char name[32];
            snprintf(name, sizeof name, "sim%d-%d", w->run, w->first + i);
            double t0 = now_ms();
            if (sim_exchange(nc, sub, reply, name, w->tokens[w->first + i]) == 0)
                w->lat[w->ok++] = now_ms() - t0;
        }
    }
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    return NULL;
}

static void enroll_burst(int sims, int workers, int run)
{
    char(*tokens)[128] = calloc((size_t)sims, 128);
    double *lat = calloc((size_t)sims, sizeof *lat);
    struct sim_worker w[16];
    pthread_t th[16];
    for (int i = 0; i < sims; i++)
        if (cfx_token(&env, "red", "", tokens[i], 128) != 0)
            return;
    int per = sims / workers;
    for (int k = 0; k < workers; k++) {
        w[k] = (struct sim_worker){.run = run,
                                   .first = k * per,
                                   .count = k == workers - 1 ? sims - k * per : per,
                                   .tokens = tokens,
                                   .lat = lat + k * per};
        if (cfx_enroll_creds(&env, w[k].creds, sizeof w[k].creds) != 0)
            return;
    }
    double t0 = now_ms();
    for (int k = 0; k < workers; k++)
        pthread_create(&th[k], NULL, sim_thread, &w[k]);
    int ok = 0;
    for (int k = 0; k < workers; k++) {
        pthread_join(th[k], NULL);
        if (k > 0)
            memmove(lat + ok, w[k].lat, (size_t)w[k].ok * sizeof *lat);
        ok += w[k].ok;
    }
    double total = now_ms() - t0;
    double b50 = ok ? pct(lat, ok, 0.5) : 0, b99 = ok ? pct(lat, ok, 0.99) : 0;
    printf("{\"bench\":\"conflux_enroll_burst\",\"agents\":%d,\"clients\":%d,\"enrolled\":%d,"
           "\"seconds\":%.2f,\"per_s\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f}\n",
           sims, workers, ok, total / 1e3, ok / (total / 1e3), b50, b99);
    free(tokens);
    free(lat);
}

int main(int argc, char **argv)
{
    int n_agents = 16, sims = 1000, rtts = 300;
    static const struct option opts[] = {{"agents", required_argument, NULL, 'a'},
                                         {"sims", required_argument, NULL, 's'},
                                         {"rtts", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a')
            n_agents = atoi(optarg);
        else if (c == 's')
            sims = atoi(optarg);
        else if (c == 'r')
            rtts = atoi(optarg);
        else
            return 2;
    }
    if (n_agents < 2 || n_agents > 64 || sims < 1 || rtts < 1)
        return 2;
    const char *realms[] = {"red"};
    veil_err err = {0};
    signal(SIGPIPE, SIG_IGN);
    veil_log_set_level(VEIL_LOG_ERROR);
    if (veil_log_init_from_env(&err) != 0 || veil_crypto_init(&err) != 0)
        return 1;
    atexit(cleanup);
    if (cfx_env_start(&env, realms, 1, 2, 2, true) != 0)
        return 1;

    veil_conflux *agents[64] = {0};
    double lat[64];
    char name[32];
    for (int i = 0; i < n_agents; i++) {
        snprintf(name, sizeof name, "bench-%d", i);
        if (join(&agents[i], name, NULL, 0, &lat[i]) != 0)
            return 1;
    }
    double p50 = pct(lat, n_agents, 0.5), p99 = pct(lat, n_agents, 0.99);
    printf("{\"bench\":\"conflux_join\",\"agents\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
           "\"max_ms\":%.2f}\n",
           n_agents, p50, p99, lat[n_agents - 1]);

    /* one agent pinned to c0-s0; senders on c0-s1 (route) and c1-s0 (gateway) */
    veil_conflux *pinned = NULL;
    const char *s0[] = {env.urls[0]};
    double dummy;
    if (join(&pinned, "bench-pinned", s0, 1, &dummy) != 0)
        return 1;
    double *r = calloc((size_t)rtts, sizeof *r);
    const char *where[] = {"same_server", "same_cluster", "across_gateway"};
    int srv[] = {0, 1, env.per_cluster};
    for (int k = 0; k < 3; k++) {
        int got = rtt_run(srv[k], "bench-pinned", rtts, r);
        if (got > 0)
            printf("{\"bench\":\"conflux_cmd_rtt\",\"path\":\"%s\",\"n\":%d,\"p50_ms\":%.3f,"
                   "\"p99_ms\":%.3f}\n",
                   where[k], got, pct(r, got, 0.5), pct(r, got, 0.99));
    }
    free(r);
    veil_conflux_stop(pinned);

    double fo[64];
    int moved = failover(agents, n_agents, fo);
    if (moved > 0) {
        double f50 = pct(fo, moved, 0.5);
        printf("{\"bench\":\"conflux_failover\",\"agents_moved\":%d,\"p50_ms\":%.1f,"
               "\"max_ms\":%.1f}\n",
               moved, f50, fo[moved - 1]);
    }
    for (int i = 0; i < n_agents; i++)
        veil_conflux_stop(agents[i]);
    fflush(stdout);
    enroll_burst(sims < 50 ? sims : 50, 1, 0); /* one at a time: the exchange's latency */
    enroll_burst(sims, 8, 1);
    return 0;
}
