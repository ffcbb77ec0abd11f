// SPDX-License-Identifier: Apache-2.0
/*
 * cfx_harness.c - test harness of the Conflux integration tests and
 * benchmarks (see cfx_harness.h): real nats-server processes, the Guardian
 * daemon forked from this process, temp directories removed at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <veil/guardian_serve.h>

#include "cfx_harness.h"

static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int pick_base_port(int n_servers)
{
    srand((unsigned)(time(NULL) ^ getpid()));
    for (int attempt = 0; attempt < 200; attempt++) {
        int base = 20000 + (rand() % 3500) * 10;
        bool ok = true;
        for (int i = 0; ok && i < n_servers * 10; i++)
            ok = port_free(base + i);
        if (ok)
            return base;
    }
    return -1;
}

static int fail(const char *what, const veil_err *err)
{
    fprintf(stderr, "harness: %s: %s\n", what, err ? err->msg : strerror(errno));
    return -1;
}

static int make_guardian(struct cfx_env *e, const char *const *realms, int n_realms,
                         bool client_verify)
{
    veil_err err = {0};
    veil_guardian *g = NULL;
    struct veil_guardian_init_opts io = {0};
    if (veil_guardian_init(e->gdir, &io, &err) != 0 || veil_guardian_open(&g, e->gdir, &err) != 0)
        return fail("guardian init", &err);
    struct veil_guardian_realm r;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n_realms; i++)
        rc = veil_guardian_realm_create(g, realms[i], &r, &err);
    struct veil_master_opts mo = {.clusters = e->clusters,
                                  .servers = e->per_cluster,
                                  .base_port = e->base_port,
                                  .client_verify = client_verify};
    if (rc == 0)
        rc = veil_master_config(g, &mo, e->confdir, &err);
    veil_guardian_close(g);
    return rc == 0 ? 0 : fail("guardian realms/master config", &err);
}

int cfx_env_setup(struct cfx_env *e, const char *const *realms, int n_realms, int clusters,
                  int per_cluster, bool client_verify)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/veil-conflux.XXXXXX");
    if (!mkdtemp(e->dir))
        return fail("mkdtemp", NULL);
    snprintf(e->gdir, sizeof e->gdir, "%s/guardian", e->dir);
    snprintf(e->confdir, sizeof e->confdir, "%s/master", e->dir);
    snprintf(e->ca, sizeof e->ca, "%s/ca/root.crt", e->gdir);
    e->clusters = clusters;
    e->per_cluster = per_cluster;
    e->n_urls = clusters * per_cluster;
    if (e->n_urls > CFX_MAX_SRV || (e->base_port = pick_base_port(e->n_urls)) < 0)
        return fail("no free ports", NULL);
    if (make_guardian(e, realms, n_realms, client_verify) != 0)
        return -1;
    size_t off = 0;
    for (int i = 0; i < e->n_urls; i++) {
        snprintf(e->url_buf[i], sizeof e->url_buf[i], "tls://127.0.0.1:%d", e->base_port + 10 * i);
        e->urls[i] = e->url_buf[i];
        off += (size_t)snprintf(e->urls_csv + off, sizeof e->urls_csv - off, "%s%s", i ? "," : "",
                                e->url_buf[i]);
    }
    return 0;
}

int cfx_env_bind(struct cfx_env *e, const char *realm, uint64_t cluster_id)
{
    veil_err err = {0};
    veil_guardian *g = NULL;
    if (veil_guardian_open(&g, e->gdir, &err) != 0)
        return fail("guardian open", &err);
    int rc = veil_guardian_realm_bind_cluster(g, realm, cluster_id, &err);
    veil_guardian_close(g);
    return rc == 0 ? 0 : fail("bind cluster", &err);
}

static pid_t spawn(const char *log, char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int cfx_server_start(struct cfx_env *e, int i)
{
    char conf[400], log[400];
    int c = i / e->per_cluster, s = i % e->per_cluster;
    snprintf(conf, sizeof conf, "%s/c%d-s%d.conf", e->confdir, c, s);
    snprintf(log, sizeof log, "%s/c%d-s%d.log", e->dir, c, s);
    char *argv[] = {"nats-server", "-c", conf, NULL};
    e->servers[i] = spawn(log, argv);
    int port = e->base_port + 10 * i;
    for (int t = 0; t < 1000; t++) { /* up to 20 s on a loaded machine */
        if (port_open(port))
            return 0;
        if (waitpid(e->servers[i], NULL, WNOHANG) == e->servers[i]) {
            e->servers[i] = 0;
            fprintf(stderr, "harness: nats-server %d exited, see %s\n", i, log);
            return -1;
        }
        usleep(20000);
    }
    return fail("nats-server did not listen", NULL);
}

/* GET http://127.0.0.1:port/path as JSON (the monitoring endpoint). */
static json_t *monitor_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char req[256], buf[65536];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    size_t got = 0;
    if (write(fd, req, (size_t)n) == n) {
        ssize_t r;
        while (got < sizeof buf - 1 && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    return body ? json_loads(body + 4, 0, NULL) : NULL;
}

/* Routes to every peer of its cluster and a gateway to every other cluster
 * (inbound gateways land on any one server of a cluster). */
static bool server_meshed(const struct cfx_env *e, int i)
{
    int mon = e->base_port + 10 * i + 3;
    json_t *r = monitor_get(mon, "/routez"), *g = monitor_get(mon, "/gatewayz");
    bool ok = r && g &&
              json_integer_value(json_object_get(r, "num_routes")) >= e->per_cluster - 1 &&
              (int)json_object_size(json_object_get(g, "outbound_gateways")) >= e->clusters - 1;
    json_decref(r);
    json_decref(g);
    return ok;
}

int cfx_wait_meshed(struct cfx_env *e)
{
    for (int t = 0; t < 1500; t++) { /* up to 30 s */
        bool all = true;
        for (int i = 0; all && i < e->n_urls; i++)
            all = e->servers[i] <= 0 || server_meshed(e, i);
        if (all)
            return 0;
        usleep(20000);
    }
    return fail("routes/gateways did not form", NULL);
}

int cfx_servers_start(struct cfx_env *e)
{
    for (int i = 0; i < e->n_urls; i++)
        if (cfx_server_start(e, i) != 0)
            return -1;
    return cfx_wait_meshed(e);
}

static void stop_child(pid_t *pid, int sig)
{
    if (*pid > 0) {
        kill(*pid, sig);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

void cfx_server_kill(struct cfx_env *e, int i)
{
    stop_child(&e->servers[i], SIGKILL);
}

static bool file_has(const char *path, const char *needle)
{
    char buf[4096] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strstr(buf, needle) != NULL;
}

int cfx_guardian_start(struct cfx_env *e, const char *const *extra)
{
    char log[400];
    snprintf(log, sizeof log, "%s/guardian.log", e->dir);
    unlink(log);
    const char *argv[32] = {"serve", "-d", e->gdir, "--nats", e->urls_csv};
    int argc = 5;
    for (int i = 0; extra && extra[i] && argc < 31; i++)
        argv[argc++] = extra[i];
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        _exit(veil_guardian_serve_main(argc, (char **)argv));
    }
    e->guardian = pid;
    for (int t = 0; t < 1000; t++) {
        if (file_has(log, "guardian: serving"))
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            e->guardian = 0;
            fprintf(stderr, "harness: guardian exited, see %s\n", log);
            return -1;
        }
        usleep(20000);
    }
    return fail("guardian did not start", NULL);
}

void cfx_guardian_stop(struct cfx_env *e)
{
    stop_child(&e->guardian, SIGTERM);
}

int cfx_enroll_creds(struct cfx_env *e, char *out, size_t cap)
{
    snprintf(out, cap, "%s/enroll-%d.creds", e->dir, e->creds_seq++);
    const char *argv[] = {"cmd", "-d", e->gdir, "--enroll-creds", out, NULL};
    int saved = dup(1);
    int devnull = open("/dev/null", O_WRONLY);
    fflush(stdout);
    dup2(devnull, 1);
    int rc = veil_guardian_admin_main(5, (char **)argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(devnull);
    return rc == 0 ? 0 : -1;
}

int cfx_token(struct cfx_env *e, const char *realm, const char *taints, char *out, size_t cap)
{
    veil_err err = {0};
    veil_guardian *g = NULL;
    veil_strlist t = {0};
    char tok[VEIL_GUARDIAN_TOKEN_MAX];
    if (veil_guardian_open(&g, e->gdir, &err) != 0)
        return fail("guardian open", &err);
    int rc = veil_strlist_split(&t, taints, &err);
    if (rc == 0)
        rc = veil_guardian_token_create(g, realm, &t, 3600, tok, &err);
    veil_strlist_free(&t);
    veil_guardian_close(g);
    if (rc != 0)
        return fail("token", &err);
    snprintf(out, cap, "%s", tok);
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void cfx_env_teardown(struct cfx_env *e)
{
    cfx_guardian_stop(e);
    for (int i = 0; i < CFX_MAX_SRV; i++)
        stop_child(&e->servers[i], SIGTERM);
    if (e->dir[0] && !getenv("CFX_KEEP"))
        nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    e->dir[0] = 0;
}

int cfx_server_of(const struct cfx_env *e, const char *url)
{
    const char *colon = strrchr(url, ':');
    int port = colon ? atoi(colon + 1) : -1;
    for (int i = 0; i < e->n_urls; i++)
        if (port == e->base_port + 10 * i)
            return i;
    return -1;
}

bool cfx_wait(bool (*cond)(void *), void *arg, int timeout_ms)
{
    for (int t = 0; t <= timeout_ms; t += 20) {
        if (cond(arg))
            return true;
        usleep(20000);
    }
    return false;
}

void cfx_agent_config(struct cfx_env *e, struct veil_conflux_config *c, const char *name, char *dir,
                      size_t dir_cap, char *creds, size_t creds_cap)
{
    memset(c, 0, sizeof *c);
    snprintf(dir, dir_cap, "%s/agent-%s", e->dir, name);
    if (cfx_enroll_creds(e, creds, creds_cap) != 0)
        creds[0] = 0;
    c->name = name;
    c->dir = dir;
    c->servers = e->urls;
    c->n_servers = (size_t)e->n_urls;
    c->ca_file = e->ca;
    c->enroll_creds = creds;
    c->beacon_ms = 200;
    c->timeout_ms = 5000;
}

int cfx_env_start(struct cfx_env *e, const char *const *realms, int n_realms, int clusters,
                  int per_cluster, bool client_verify)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        if (cfx_env_setup(e, realms, n_realms, clusters, per_cluster, client_verify) == 0 &&
            cfx_servers_start(e) == 0 && cfx_guardian_start(e, NULL) == 0)
            return 0;
        /* a port taken between the check and the bind: again, elsewhere */
        cfx_env_teardown(e);
    }
    return -1;
}
