// SPDX-License-Identifier: Apache-2.0
/*
 * test_conflux_e2e.c - the VeilNet control plane end to end on a real
 * Master (2 clusters x 2 nats-server processes joined by gateways, TLS, the
 * full resolver), the Guardian daemon and in-process Conflux agents:
 * enrollment by token (and refusals), a publish and a subscription outside a
 * node's allow-list refused by the server, realm isolation, every admin
 * command round trip, forged/replayed/expired/misaddressed commands refused,
 * an expired credential and a revoked node disconnected by the servers, a
 * Guardian restart mid-run, a server killed and the agents failing over, and
 * a census of every message Master carried in a realm (control messages of
 * the documented kinds only: no data-plane payload).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>
#include <pthread.h>
#include <sodium.h>

#include <veil/guardian_serve.h>

#include "cfx_harness.h"
#include "vtest.h"

static struct cfx_env env;
static veil_conflux *agent_a, *agent_b;

static void cleanup(void)
{
    cfx_env_teardown(&env);
}

/* ---- raw libnats clients with Guardian-issued credentials ---- */

struct raw {
    natsConnection *nc;
    int violations;
    bool closed;
    char last_err[256];
    pthread_mutex_t mu;
    /* captured messages (observer) */
    char subjects[512][128];
    int sizes[512];
    unsigned char *data[512];
    int n_msgs;
};

static void raw_err_cb(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure)
{
    (void)sub;
    struct raw *r = closure;
    const char *txt = NULL;
    natsConnection_GetLastError(nc, &txt);
    pthread_mutex_lock(&r->mu);
    if (s == NATS_NOT_PERMITTED)
        r->violations++;
    snprintf(r->last_err, sizeof r->last_err, "%s", txt ? txt : natsStatus_GetText(s));
    pthread_mutex_unlock(&r->mu);
}

static void raw_closed_cb(natsConnection *nc, void *closure)
{
    struct raw *r = closure;
    const char *txt = NULL;
    natsConnection_GetLastError(nc, &txt);
    pthread_mutex_lock(&r->mu);
    r->closed = true;
    if (txt && *txt)
        snprintf(r->last_err, sizeof r->last_err, "%s", txt);
    pthread_mutex_unlock(&r->mu);
}

static void raw_capture(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    (void)nc;
    (void)sub;
    struct raw *r = closure;
    pthread_mutex_lock(&r->mu);
    if (r->n_msgs < 512) {
        int i = r->n_msgs++;
        snprintf(r->subjects[i], sizeof r->subjects[i], "%s", natsMsg_GetSubject(m));
        r->sizes[i] = natsMsg_GetDataLength(m);
        r->data[i] = malloc((size_t)r->sizes[i] + 1);
        memcpy(r->data[i], natsMsg_GetData(m), (size_t)r->sizes[i]);
        r->data[i][r->sizes[i]] = 0;
    }
    pthread_mutex_unlock(&r->mu);
    natsMsg_Destroy(m);
}

static int raw_open(struct raw *r, const char *path, const char *name);

/* Issues a credential (node perms, or service perms when service) and
 * connects with it. */
static int raw_connect(struct raw *r, const char *realm, const char *name, bool service,
                       int64_t ttl_s)
{
    veil_err err = {0};
    veil_guardian *g = NULL;
    struct veil_guardian_issued iss = {0};
    char path[400];
    if (veil_guardian_open(&g, env.gdir, &err) != 0)
        return -1;
    int rc;
    if (service) {
        veil_jwt perms;
        veil_jwt_init(&perms, VEIL_JWT_USER);
        rc = veil_guardian_service_permissions(&perms, &err);
        if (rc == 0)
            rc = veil_guardian_issue_custom(g, realm, name, &perms, ttl_s, &iss, &err);
        veil_jwt_free(&perms);
    } else {
        struct veil_guardian_issue_req req = {.realm = realm, .name = name, .ttl_s = ttl_s};
        rc = veil_guardian_issue(g, &req, &iss, &err);
    }
    snprintf(path, sizeof path, "%s/%s.creds", env.dir, name);
    if (rc == 0)
        rc = veil_creds_write(path, iss.jwt, &iss.user, &err);
    veil_guardian_issued_free(&iss);
    veil_guardian_close(g);
    if (rc != 0) {
        fprintf(stderr, "raw_connect %s: %s\n", name, err.msg);
        return -1;
    }
    return raw_open(r, path, name);
}

/* Connects with a .creds file (and a client certificate from Guardian's CA:
 * Master may verify clients); no reconnects, so a server-side close is final. */
static int raw_open(struct raw *r, const char *path, const char *name)
{
    veil_err err = {0};
    veil_guardian *g = NULL;
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    struct veil_ca_leaf leaf = {0};
    struct veil_ca_leaf_req lr = {.common_name = name, .client_auth = true, .ttl_s = 3600};
    if (veil_guardian_open(&g, env.gdir, &err) != 0 ||
        veil_ca_issue(veil_guardian_ca(g), &lr, &leaf, &err) != 0) {
        fprintf(stderr, "raw_connect %s: %s\n", name, err.msg);
        veil_guardian_close(g);
        return -1;
    }
    veil_guardian_close(g);
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetCertificatesChain(o, leaf.chain_pem, leaf.key_pem);
    veil_ca_leaf_free(&leaf);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, env.urls, env.n_urls);
    if (s == NATS_OK)
        s = natsOptions_LoadCATrustedCertificates(o, env.ca);
    if (s == NATS_OK)
        s = natsOptions_SetUserCredentialsFromFiles(o, path, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(o, false);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, raw_err_cb, r);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, raw_closed_cb, r);
    if (s == NATS_OK)
        s = natsConnection_Connect(&r->nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK)
        fprintf(stderr, "raw_connect %s: %s %s\n", name, natsStatus_GetText(s),
                nats_GetLastError(NULL));
    return s == NATS_OK ? 0 : -1;
}

static bool raw_is_closed(void *arg);

/* Closes and waits for the closed callback: libnats calls it from its own
 * thread after Close, and it writes into `r`. */
static void raw_close(struct raw *r)
{
    natsConnection_Close(r->nc);
    cfx_wait(raw_is_closed, r, 5000);
    natsConnection_Destroy(r->nc);
    for (int i = 0; i < r->n_msgs; i++)
        free(r->data[i]);
    r->nc = NULL;
    r->n_msgs = 0;
}

static bool raw_is_closed(void *arg)
{
    struct raw *r = arg;
    pthread_mutex_lock(&r->mu);
    bool c = r->closed;
    pthread_mutex_unlock(&r->mu);
    return c;
}

/* ---- helpers ---- */

static int start_agent(veil_conflux **out, const char *name, const char *token, veil_err *err)
{
    char dir[400], creds[400];
    struct veil_conflux_config c;
    cfx_agent_config(&env, &c, name, dir, sizeof dir, creds, sizeof creds);
    c.token = token;
    return veil_conflux_start(out, &c, err);
}

/* Runs `veil guardian cmd` in process; stdout (the answer) into out. */
static int admin(char *out, size_t cap, const char *node, const char *verb, const char *arg,
                 bool hard)
{
    const char *argv[12] = {"cmd", "-d", env.gdir, "--nats", env.urls_csv, node, verb};
    int argc = 7;
    if (arg)
        argv[argc++] = arg;
    if (hard)
        argv[argc++] = "--hard";
    char path[400];
    snprintf(path, sizeof path, "%s/admin.out", env.dir);
    fflush(stdout);
    int saved = dup(1), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    close(fd);
    int rc = veil_guardian_admin_main(argc, (char **)argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = 0;
    if (f)
        fclose(f);
    return rc;
}

struct status_cond {
    veil_conflux *a;
    int field; /* 0 renewals>=n, 1 connected to another server, 2 key_epoch>=n */
    uint64_t n;
    char avoid[256];
};

static bool status_ok(void *arg)
{
    struct status_cond *c = arg;
    struct veil_conflux_status st;
    veil_conflux_get_status(c->a, &st);
    if (c->field == 0)
        return st.renewals >= c->n;
    if (c->field == 1) /* reconnected elsewhere (the callback counted it) */
        return st.connected && strcmp(st.server, c->avoid) != 0 && st.reconnects > c->n;
    return st.key_epoch >= c->n;
}

/* ---- tests ---- */

static void test_enroll_by_token(void)
{
    veil_err err = {0};
    char tok_a[128], tok_b[128];
    CHECK(cfx_token(&env, "red", "a", tok_a, sizeof tok_a) == 0);
    CHECK(cfx_token(&env, "blue", "", tok_b, sizeof tok_b) == 0);
    CHECK(start_agent(&agent_a, "edge-a", tok_a, &err) == 0);
    CHECK(start_agent(&agent_b, "edge-b", tok_b, &err) == 0);
    if (!agent_a || !agent_b) {
        fprintf(stderr, "enrollment failed: %s\n", err.msg);
        return;
    }
    struct veil_conflux_status st;
    veil_conflux_get_status(agent_a, &st);
    CHECK_EQ_STR(st.realm, "red");
    CHECK_EQ_STR(st.taints, "a");
    CHECK(st.connected);
    CHECK(st.expires_ms > veil_conflux_now_ms() + 10 * 60 * 1000); /* default 15 min */
    veil_conflux_get_status(agent_b, &st);
    CHECK_EQ_STR(st.realm, "blue");

    /* a used token, and a made-up one, are refused with Guardian's reason */
    veil_conflux *x = NULL;
    CHECK(start_agent(&x, "edge-x", tok_a, &err) == -1);
    CHECK_CONTAINS(err.msg, "Guardian refused");
    CHECK(start_agent(&x, "edge-y", "vgt1.nosuchid.AAAAAAAA", &err) == -1);
    CHECK_CONTAINS(err.msg, "Guardian refused");
    /* a name held by another key */
    char tok[128];
    CHECK(cfx_token(&env, "red", "", tok, sizeof tok) == 0);
    CHECK(start_agent(&x, "edge-a-imposter", tok, &err) == 0); /* a fresh name is fine */
    veil_conflux_stop(x);
    x = NULL;
    char dir[400], creds[400];
    struct veil_conflux_config c;
    cfx_agent_config(&env, &c, "edge-a", dir, sizeof dir, creds, sizeof creds);
    snprintf(dir, sizeof dir, "%s/agent-other-key", env.dir);
    CHECK(cfx_token(&env, "red", "", tok, sizeof tok) == 0);
    c.token = tok;
    CHECK(veil_conflux_start(&x, &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "belongs to another key");
}

static void test_allow_list(void)
{
    struct raw r;
    CHECK(raw_connect(&r, "red", "probe", false, 120) == 0);
    if (!r.nc)
        return;
    CHECK(natsConnection_PublishString(r.nc, "veil.red.live.probe", "{}") == NATS_OK);
    CHECK(natsConnection_Flush(r.nc) == NATS_OK);
    usleep(200000);
    CHECK_EQ_INT(r.violations, 0);
    CHECK(natsConnection_PublishString(r.nc, "veil.red.live.edge-a", "{}") == NATS_OK);
    CHECK(natsConnection_Flush(r.nc) == NATS_OK);
    natsSubscription *sub = NULL;
    CHECK(natsConnection_SubscribeSync(&sub, r.nc, "veil.red.cmd.edge-a") == NATS_OK);
    CHECK(natsConnection_Flush(r.nc) == NATS_OK);
    for (int i = 0; i < 100 && r.violations < 2; i++)
        usleep(20000);
    CHECK_EQ_INT(r.violations, 2);
    CHECK_CONTAINS(r.last_err, "Permissions Violation");
    natsSubscription_Destroy(sub);
    raw_close(&r);
}

/* The enrollment credential reaches Guardian's enrollment subject and its own
 * answer subject, nothing else. */
static void test_enroll_credential_confined(void)
{
    char creds[400];
    struct raw r;
    CHECK(cfx_enroll_creds(&env, creds, sizeof creds) == 0);
    CHECK(raw_open(&r, creds, "enrollee") == 0);
    if (!r.nc)
        return;
    CHECK(natsConnection_PublishString(r.nc, VEIL_SUBJ_ENROLL_REQ, "x") == NATS_OK);
    CHECK(natsConnection_Flush(r.nc) == NATS_OK);
    usleep(200000);
    CHECK_EQ_INT(r.violations, 0);
    natsSubscription *s1 = NULL, *s2 = NULL;
    CHECK(natsConnection_PublishString(r.nc, "veil.enroll.reply.someone-else", "x") == NATS_OK);
    CHECK(natsConnection_SubscribeSync(&s1, r.nc, VEIL_SUBJ_ENROLL_REQ) == NATS_OK);
    CHECK(natsConnection_SubscribeSync(&s2, r.nc, ">") == NATS_OK);
    CHECK(natsConnection_PublishString(r.nc, "veil.red.live.edge-a", "x") == NATS_OK);
    CHECK(natsConnection_Flush(r.nc) == NATS_OK);
    for (int i = 0; i < 100 && r.violations < 4; i++)
        usleep(20000);
    CHECK_EQ_INT(r.violations, 4);
    natsSubscription_Destroy(s1);
    natsSubscription_Destroy(s2);
    raw_close(&r);
}

static void test_commands(void)
{
    char out[8192];
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "query", NULL, false), 0);
    CHECK_CONTAINS(out, "\"realm\":\"red\"");
    CHECK_CONTAINS(out, "\"name\":\"edge-a\"");
    CHECK_CONTAINS(out, "\"interfaces\"");
    CHECK_CONTAINS(out, "\"health\"");
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "taint-add", "gpu", false), 0);
    struct veil_conflux_status st;
    veil_conflux_get_status(agent_a, &st);
    CHECK_EQ_STR(st.taints, "a,gpu");
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "taint-remove", "a", false), 0);
    veil_conflux_get_status(agent_a, &st);
    CHECK_EQ_STR(st.taints, "gpu");
    /* Guardian recorded it for the next credentials */
    veil_guardian *g = NULL;
    veil_err err = {0};
    struct veil_guardian_node n;
    CHECK(veil_guardian_open(&g, env.gdir, &err) == 0);
    CHECK(veil_guardian_node_get(g, "edge-a", &n, &err) == 0);
    CHECK_EQ_INT(n.taints.n, 1);
    CHECK(n.taints.n == 1 && strcmp(n.taints.items[0], "gpu") == 0);
    veil_guardian_node_free(&n);
    /* a refused command exits non-zero with the node's reason */
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "taint-remove", "nope", false), 1);
    CHECK_CONTAINS(out, "not set");
    /* invalidate-keys: new epoch, credentials renewed through the daemon */
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "invalidate-keys", NULL, false), 0);
    CHECK_CONTAINS(out, "\"key_epoch\":1");
    struct status_cond sc = {.a = agent_a, .field = 0, .n = 1};
    CHECK(cfx_wait(status_ok, &sc, 15000));
    /* every command and answer is in the audit log */
    struct veil_guardian_audit_entry *log = NULL;
    size_t n_log = 0;
    CHECK(veil_guardian_audit_list(g, 0, 0, &log, &n_log, &err) == 0);
    int commands = 0, answers = 0;
    for (size_t i = 0; i < n_log; i++) {
        commands += strcmp(log[i].action, "command") == 0;
        answers += strcmp(log[i].action, "answer") == 0;
    }
    CHECK(answers >= 5);
    CHECK(commands >= answers); /* a command may be sent again while unanswered */
    veil_guardian_audit_list_free(log, n_log);
    veil_guardian_close(g);
    /* unknown node, bad verb: clear errors, non-zero exits */
    CHECK_EQ_INT(admin(out, sizeof out, "nobody", "query", NULL, false), 1);
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "reboot", NULL, false), 2);
}

/* Publishes command bytes to edge-a; the status (-1: none) and body of the
 * reply carrying the command's nonce (a late reply to a probe is skipped). */
static int inject(struct raw *svc, natsSubscription *replies, const veil_buf *wire, char *body,
                  size_t cap)
{
    veil_ctl_cmd sent;
    if (veil_ctl_cmd_decode(wire->data, wire->len, &sent, NULL) != 0)
        return -1;
    natsConnection_Publish(svc->nc, "veil.red.cmd.edge-a", wire->data, (int)wire->len);
    natsConnection_Flush(svc->nc);
    int status = -2;
    while (status == -2) {
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, replies, 3000) != NATS_OK)
            return -1;
        veil_ctl_reply rep;
        if (veil_ctl_reply_decode((const uint8_t *)natsMsg_GetData(m),
                                  (size_t)natsMsg_GetDataLength(m), &rep, NULL) == 0) {
            if (memcmp(rep.nonce, sent.nonce, sizeof rep.nonce) == 0) {
                status = rep.status;
                snprintf(body, cap, "%s", rep.body);
            }
            veil_ctl_reply_free(&rep);
        }
        natsMsg_Destroy(m);
    }
    return status;
}

/* Signs `c` with `sk` (fresh nonce) and sends it. */
static int inject_cmd(struct raw *svc, natsSubscription *replies, veil_ctl_cmd *c,
                      const uint8_t *sk, char *body, size_t cap)
{
    veil_buf b;
    veil_buf_init(&b);
    randombytes_buf(c->nonce, sizeof c->nonce);
    int rc = -1;
    if (veil_ctl_cmd_sign(c, sk, NULL) == 0 && veil_ctl_cmd_encode(c, &b, NULL) == 0)
        rc = inject(svc, replies, &b, body, cap);
    veil_buf_free(&b);
    return rc;
}

static void test_forged_replayed_expired(void)
{
    struct raw svc;
    CHECK(raw_connect(&svc, "red", "test-injector", true, 300) == 0);
    if (!svc.nc)
        return;
    natsSubscription *replies = NULL;
    CHECK(natsConnection_SubscribeSync(&replies, svc.nc, "veil.red.reply.edge-a") == NATS_OK);
    veil_guardian *g = NULL;
    veil_err err = {0};
    CHECK(veil_guardian_open(&g, env.gdir, &err) == 0);
    const uint8_t *gsk = veil_guardian_command_key(g)->sk;
    char body[1024];
    veil_ctl_cmd c = {.verb = VEIL_CTL_QUERY};
    snprintf(c.node_id, sizeof c.node_id, "edge-a");

    /* until the reply subscription's interest has reached the agent's
     * server (routes, gateway), a reply may be dropped: probe first */
    int probe = -1;
    for (int i = 0; i < 10 && probe != 0; i++) {
        c.issued_ms = veil_conflux_now_ms();
        probe = inject_cmd(&svc, replies, &c, gsk, body, sizeof body);
    }
    CHECK_EQ_INT(probe, 0);
    /* a valid command, then the same bytes again */
    c.issued_ms = veil_conflux_now_ms();
    randombytes_buf(c.nonce, sizeof c.nonce);
    CHECK(veil_ctl_cmd_sign(&c, gsk, &err) == 0);
    veil_buf wire;
    veil_buf_init(&wire);
    CHECK(veil_ctl_cmd_encode(&c, &wire, &err) == 0);
    CHECK_EQ_INT(inject(&svc, replies, &wire, body, sizeof body), 0);
    CHECK_EQ_INT(inject(&svc, replies, &wire, body, sizeof body), 1);
    CHECK_CONTAINS(body, "replayed");
    veil_buf_free(&wire);
    /* forged: a key that is not Guardian's */
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    CHECK_EQ_INT(inject_cmd(&svc, replies, &c, sk, body, sizeof body), 1);
    CHECK_CONTAINS(body, "bad Guardian signature");
    /* expired */
    c.issued_ms = veil_conflux_now_ms() - 2 * VEIL_CTL_CMD_WINDOW_MS;
    CHECK_EQ_INT(inject_cmd(&svc, replies, &c, gsk, body, sizeof body), 1);
    CHECK_CONTAINS(body, "expired");
    /* addressed to another node, delivered here */
    c.issued_ms = veil_conflux_now_ms();
    snprintf(c.node_id, sizeof c.node_id, "edge-b");
    CHECK_EQ_INT(inject_cmd(&svc, replies, &c, gsk, body, sizeof body), 1);
    CHECK_CONTAINS(body, "another node");
    /* signed, but a taint Guardian could not record (not a name) */
    c.issued_ms = veil_conflux_now_ms();
    snprintf(c.node_id, sizeof c.node_id, "edge-a");
    c.verb = VEIL_CTL_TAINT_ADD;
    snprintf(c.arg, sizeof c.arg, "a.b");
    CHECK_EQ_INT(inject_cmd(&svc, replies, &c, gsk, body, sizeof body), 2); /* failed */
    CHECK_CONTAINS(body, "taint");
    /* the refusals changed nothing */
    struct veil_conflux_status st;
    veil_conflux_get_status(agent_a, &st);
    CHECK(!st.shutdown_requested);
    CHECK(strstr(st.taints, "a.b") == NULL);
    veil_guardian_close(g);
    natsSubscription_Destroy(replies);
    raw_close(&svc);
}

static void test_realm_isolation_and_census(void)
{
    struct raw red, blue;
    CHECK(raw_connect(&red, "red", "observer-red", true, 300) == 0);
    CHECK(raw_connect(&blue, "blue", "observer-blue", true, 300) == 0);
    if (!red.nc || !blue.nc)
        return;
    natsSubscription *s1 = NULL, *s2 = NULL;
    CHECK(natsConnection_Subscribe(&s1, red.nc, ">", raw_capture, &red) == NATS_OK);
    CHECK(natsConnection_Subscribe(&s2, blue.nc, ">", raw_capture, &blue) == NATS_OK);
    natsConnection_Flush(red.nc);
    natsConnection_Flush(blue.nc);
    char out[8192];
    /* traffic in red: beacons, a command round trip, a renewal */
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "query", NULL, false), 0);
    struct veil_conflux_status st;
    veil_conflux_get_status(agent_a, &st);
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "invalidate-keys", NULL, false), 0);
    struct status_cond sc = {.a = agent_a, .field = 0, .n = st.renewals + 1};
    CHECK(cfx_wait(status_ok, &sc, 15000));
    usleep(600000);
    natsSubscription_Destroy(s1);
    natsSubscription_Destroy(s2);

    int red_seen = 0, blue_seen = 0, kinds[6] = {0};
    for (int i = 0; i < blue.n_msgs; i++) {
        CHECK(strncmp(blue.subjects[i], "veil.blue.", 10) == 0);
        blue_seen += strncmp(blue.subjects[i], "veil.blue.live.edge-b", 21) == 0;
    }
    CHECK(blue_seen > 0);
    /* census: every message is a control message of its subject's kind */
    for (int i = 0; i < red.n_msgs; i++) {
        const char *s = red.subjects[i];
        const uint8_t *d = red.data[i];
        size_t n = (size_t)red.sizes[i];
        veil_ctl_cmd c;
        veil_ctl_reply rep;
        veil_ctl_result res;
        veil_ctl_challenge ch;
        veil_ctl_prove p;
        uint8_t pub[32];
        bool ok = false;
        CHECK(strncmp(s, "veil.red.", 9) == 0);
        if (strncmp(s, "veil.red.live.", 14) == 0) {
            ok = n < 128 && d[0] == '{';
            kinds[0]++;
        } else if (strncmp(s, "veil.red.health.", 16) == 0) {
            ok = n < 1024 && d[0] == '{';
            kinds[1]++;
        } else if (strncmp(s, "veil.red.cmd.", 13) == 0) {
            ok = veil_ctl_cmd_decode(d, n, &c, NULL) == 0;
            kinds[2]++;
        } else if (strncmp(s, "veil.red.reply.", 15) == 0) {
            ok = veil_ctl_reply_decode(d, n, &rep, NULL) == 0;
            if (ok)
                veil_ctl_reply_free(&rep);
            kinds[3]++;
        } else if (strncmp(s, "veil.red.renew.", 15) == 0) {
            ok = veil_ctl_hello_decode(d, n, pub, NULL) == 0 ||
                 veil_ctl_prove_decode(d, n, &p, NULL) == 0;
            kinds[4]++;
        } else if (strncmp(s, "veil.red.revoked.", 17) == 0) {
            /* Guardian's notice about a node revoked earlier in the run */
            ok = veil_ctl_cmd_decode(d, n, &c, NULL) == 0 && c.verb == VEIL_CTL_PEER_REVOKED;
        } else if (strncmp(s, "veil.red.inbox.", 15) == 0) {
            ok = veil_ctl_challenge_decode(d, n, &ch, NULL) == 0;
            if (!ok && veil_ctl_result_decode(d, n, &res, NULL) == 0) {
                ok = true;
                veil_ctl_result_free(&res);
            }
            kinds[5]++;
        }
        if (!ok)
            fprintf(stderr, "census: unexpected message on %s (%zu bytes)\n", s, n);
        CHECK(ok);
        red_seen++;
    }
    for (int k = 0; k < 6; k++)
        CHECK(kinds[k] > 0);
    CHECK(red_seen > 0);
    raw_close(&red);
    raw_close(&blue);
}

static void test_expired_credential_disconnected(void)
{
    struct raw r;
    CHECK(raw_connect(&r, "red", "short-lived", false, 2) == 0);
    if (!r.nc)
        return;
    CHECK(cfx_wait(raw_is_closed, &r, 20000));
    raw_close(&r);
}

static void test_revoked_disconnected(void)
{
    struct raw r;
    CHECK(raw_connect(&r, "red", "revokee", false, 600) == 0);
    if (!r.nc)
        return;
    veil_guardian *g = NULL;
    veil_err err = {0};
    char *jwt = NULL, account[VEIL_NKEY_PUBLIC_LEN + 1];
    CHECK(veil_guardian_open(&g, env.gdir, &err) == 0);
    CHECK(veil_guardian_revoke(g, "revokee", &jwt, account, &err) == 0);
    CHECK(veil_guardian_push(g, env.urls_csv, env.ca, account, jwt, &err) == 0);
    free(jwt);
    veil_guardian_close(g);
    CHECK(cfx_wait(raw_is_closed, &r, 10000));
    raw_close(&r);

    /* shutdown --hard on an agent: it stops, and its identity cannot come back */
    char tok[128], out[4096];
    veil_conflux *d = NULL;
    CHECK(cfx_token(&env, "red", "", tok, sizeof tok) == 0);
    CHECK(start_agent(&d, "edge-d", tok, &err) == 0);
    if (!d)
        return;
    CHECK_EQ_INT(admin(out, sizeof out, "edge-d", "shutdown", NULL, true), 0);
    CHECK_CONTAINS(out, "hard");
    CHECK(veil_conflux_wait_shutdown(d, 10000));
    veil_conflux_stop(d);
    d = NULL;
    CHECK(start_agent(&d, "edge-d", NULL, &err) == -1);
    CHECK_CONTAINS(err.msg, "revoked");
}

static void count_shutdown(void *arg)
{
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

static bool shutdown_seen(void *arg)
{
    return __atomic_load_n((int *)arg, __ATOMIC_SEQ_CST) > 0;
}

static void test_graceful_shutdown(void)
{
    char tok[128], out[4096], dir[400], creds[400];
    veil_conflux *c = NULL;
    veil_err err = {0};
    int called = 0;
    struct veil_conflux_config cfg;
    CHECK(cfx_token(&env, "red", "", tok, sizeof tok) == 0);
    cfx_agent_config(&env, &cfg, "edge-c", dir, sizeof dir, creds, sizeof creds);
    cfg.token = tok;
    cfg.on_shutdown = count_shutdown; /* what an embedding host hooks */
    cfg.on_shutdown_arg = &called;
    CHECK(veil_conflux_start(&c, &cfg, &err) == 0);
    if (!c)
        return;
    CHECK_EQ_INT(admin(out, sizeof out, "edge-c", "shutdown", NULL, false), 0);
    CHECK_CONTAINS(out, "graceful");
    CHECK(veil_conflux_wait_shutdown(c, 10000));
    CHECK(cfx_wait(shutdown_seen, &called, 5000));
    CHECK_EQ_INT(__atomic_load_n(&called, __ATOMIC_SEQ_CST), 1);
    veil_conflux_stop(c);
    /* graceful: not revoked, the identity comes back without a token */
    CHECK(start_agent(&c, "edge-c", NULL, &err) == 0);
    if (c)
        veil_conflux_stop(c);
}

static void test_guardian_restart(void)
{
    cfx_guardian_stop(&env);
    struct veil_conflux_status st;
    veil_conflux_get_status(agent_a, &st);
    CHECK(st.connected); /* credentials outlive the daemon */
    CHECK(cfx_guardian_start(&env, NULL) == 0);
    char out[4096];
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "invalidate-keys", NULL, false), 0);
    struct status_cond sc = {.a = agent_a, .field = 0, .n = st.renewals + 1};
    CHECK(cfx_wait(status_ok, &sc, 15000)); /* renewed by the restarted daemon */
    char tok[128];
    veil_conflux *e = NULL;
    veil_err err = {0};
    CHECK(cfx_token(&env, "blue", "", tok, sizeof tok) == 0);
    CHECK(start_agent(&e, "edge-e", tok, &err) == 0);
    if (e)
        veil_conflux_stop(e);
}

/* A realm created while everything runs: Guardian serves it within its 2 s
 * sync and pushes its account to the resolvers; a node then joins it. */
static void test_realm_created_while_running(void)
{
    veil_guardian *g = NULL;
    veil_err err = {0};
    struct veil_guardian_realm r;
    CHECK(veil_guardian_open(&g, env.gdir, &err) == 0);
    CHECK(veil_guardian_realm_create(g, "green", &r, &err) == 0);
    veil_guardian_close(g);
    char tok[128];
    CHECK(cfx_token(&env, "green", "", tok, sizeof tok) == 0);
    veil_conflux *a = NULL;
    for (int i = 0; i < 40 && !a; i++) {
        if (start_agent(&a, "edge-g", tok, &err) != 0)
            usleep(250000); /* the token was used on the first try: later ones renew */
    }
    CHECK(a != NULL);
    if (!a)
        return;
    struct veil_conflux_status st;
    veil_conflux_get_status(a, &st);
    CHECK_EQ_STR(st.realm, "green");
    char out[4096];
    CHECK_EQ_INT(admin(out, sizeof out, "edge-g", "query", NULL, false), 0);
    CHECK_CONTAINS(out, "\"realm\":\"green\"");
    veil_conflux_stop(a);
}

static bool agent_down(void *arg)
{
    struct veil_conflux_status st;
    veil_conflux_get_status(arg, &st);
    return !st.connected;
}

static bool agent_up(void *arg)
{
    return !agent_down(arg);
}

/* With 4 s credentials the agent renews at two thirds of each lifetime, on a
 * new connection, before the servers would close the old one at expiry.
 * With Guardian away the servers disconnect it when the credential expires;
 * once Guardian is back it enrolls again by its key and reconnects. */
static void test_renewal_before_expiry(void)
{
    cfx_guardian_stop(&env);
    const char *short_ttl[] = {"--ttl", "4s", NULL};
    CHECK(cfx_guardian_start(&env, short_ttl) == 0);
    char tok[128], dir[400], creds[400];
    veil_conflux *r = NULL;
    veil_err err = {0};
    struct veil_conflux_config cfg;
    CHECK(cfx_token(&env, "red", "", tok, sizeof tok) == 0);
    cfx_agent_config(&env, &cfg, "edge-r", dir, sizeof dir, creds, sizeof creds);
    cfg.token = tok;
    cfg.timeout_ms = 1500; /* retries come sooner while Guardian is away */
    CHECK(veil_conflux_start(&r, &cfg, &err) == 0);
    if (r) {
        struct veil_conflux_status st;
        veil_conflux_get_status(r, &st);
        CHECK(st.expires_ms <= veil_conflux_now_ms() + 5000);
        struct status_cond sc = {.a = r, .field = 0, .n = 2}; /* past the first expiry */
        CHECK(cfx_wait(status_ok, &sc, 30000));
        veil_conflux_get_status(r, &st);
        CHECK(st.connected);
        CHECK_EQ_U64(st.reconnects, 0); /* never cut off by an expired JWT */
        CHECK(st.expires_ms > veil_conflux_now_ms());

        /* Guardian away: no renewal, the servers drop the agent at expiry */
        cfx_guardian_stop(&env);
        CHECK(cfx_wait(agent_down, r, 15000));
        /* Guardian back: the agent enrolls again by its key and reconnects */
        veil_conflux_get_status(r, &st);
        CHECK(cfx_guardian_start(&env, short_ttl) == 0);
        struct status_cond back = {.a = r, .field = 0, .n = st.renewals + 1};
        CHECK(cfx_wait(status_ok, &back, 30000));
        CHECK(cfx_wait(agent_up, r, 10000));
        veil_conflux_stop(r);
    }
    cfx_guardian_stop(&env);
    CHECK(cfx_guardian_start(&env, NULL) == 0);
}

static void test_server_killed_failover(void)
{
    struct veil_conflux_status st;
    veil_conflux_get_status(agent_a, &st);
    int victim = cfx_server_of(&env, st.server);
    CHECK(victim >= 0);
    if (victim < 0)
        return;
    struct status_cond sc = {.a = agent_a, .field = 1, .n = st.reconnects};
    snprintf(sc.avoid, sizeof sc.avoid, "%s", st.server);
    cfx_server_kill(&env, victim);
    CHECK(cfx_wait(status_ok, &sc, 20000));
    struct veil_conflux_status after;
    veil_conflux_get_status(agent_a, &after);
    CHECK(after.connected);
    CHECK(after.reconnects > st.reconnects);
    char out[4096];
    CHECK_EQ_INT(admin(out, sizeof out, "edge-a", "query", NULL, false), 0);
    CHECK_EQ_INT(admin(out, sizeof out, "edge-b", "query", NULL, false), 0);
    CHECK(cfx_server_start(&env, victim) == 0);
}

int main(int argc, char **argv)
{
    const char *realms[] = {"red", "blue"};
    veil_err err = {0};
    if (veil_crypto_init(&err) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN); /* TLS writes to a killed server */
    atexit(cleanup);
    if (cfx_env_start(&env, realms, 2, 2, 2, getenv("CFX_VERIFY") != NULL) != 0) {
        fprintf(stderr, "setup failed (logs in %s)\n", env.dir);
        return 1;
    }
    static const struct vtest_case cases[] = {
        VTEST(test_enroll_by_token),
        VTEST(test_allow_list),
        VTEST(test_enroll_credential_confined),
        VTEST(test_commands),
        VTEST(test_forged_replayed_expired),
        VTEST(test_realm_isolation_and_census),
        VTEST(test_expired_credential_disconnected),
        VTEST(test_revoked_disconnected),
        VTEST(test_graceful_shutdown),
        VTEST(test_guardian_restart),
        VTEST(test_renewal_before_expiry),
        VTEST(test_realm_created_while_running),
        VTEST(test_server_killed_failover),
    };
    /* enrollment first, whatever the command line names: the rest needs it */
    char *first[] = {argv[0], (char *)cases[0].name};
    int rc = vtest_run(cases, 1, 2, first);
    if (!agent_a || !agent_b)
        return 1; /* nothing else can run */
    rc |= vtest_run(cases + 1, VEIL_ARRAY_LEN(cases) - 1, argc, argv);
    veil_conflux_stop(agent_a);
    veil_conflux_stop(agent_b);
    return rc;
}
