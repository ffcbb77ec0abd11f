// SPDX-License-Identifier: Apache-2.0
/*
 * master.c - Master's configuration: one stock nats-server config per
 * server of a super cluster. Clusters are joined by gateways, servers of a
 * cluster by routes; operator mode with Guardian's operator JWT, the system
 * account and a `full` resolver preloaded with every account JWT; TLS on the
 * client, route and gateway listeners with server certificates from
 * Guardian's CA (routes and gateways verify their peers). Port layout and
 * file names are documented in include/veil/guardian.h.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian_int.h"

struct master_ctx {
    veil_guardian *g;
    const struct veil_master_opts *o;
    const char *confdir; /* absolute */
    char **pubs, **jwts; /* accounts to preload */
    size_t n_accounts;
};

int veil_master_client_port(const struct veil_master_opts *o, int cluster, int server)
{
    return o->base_port + 10 * (cluster * o->servers + server);
}

/* The address of server (c, s): its own entry of `hosts`, else `host`. */
static const char *host_of(const struct master_ctx *m, int c, int s)
{
    return m->o->hosts ? m->o->hosts[c * m->o->servers + s] : m->o->host;
}

static bool is_ip(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static int port_of(const struct master_ctx *m, int c, int s, int off)
{
    return veil_master_client_port(m->o, c, s) + off;
}

static int write_text(const char *dir, const char *name, const char *text, unsigned mode,
                      veil_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return mode == 0600 ? veil_key_file_write(path, text, strlen(text), err)
                        : veil_file_write_atomic(path, text, strlen(text), mode, err);
}

static int server_cert(struct master_ctx *m, int c, int s, veil_err *err)
{
    char name[64], file[96];
    const char *h = host_of(m, c, s);
    const char *dns[] = {"localhost", h};
    const char *ips[] = {h};
    snprintf(name, sizeof(name), "c%d-s%d", c, s);
    struct veil_ca_leaf_req req = {.common_name = name,
                                   .dns = dns,
                                   .n_dns = is_ip(h) ? 1 : 2,
                                   .ips = ips,
                                   .n_ips = is_ip(h) ? 1 : 0,
                                   .server_auth = true,
                                   .client_auth = true,
                                   .ttl_s = m->o->cert_ttl_s};
    struct veil_ca_leaf leaf;
    if (veil_ca_issue(veil_guardian_ca(m->g), &req, &leaf, err) != 0)
        return veil_err_wrap(err, "certificate for %s", name);
    snprintf(file, sizeof(file), "tls/%s.crt", name);
    int rc = write_text(m->confdir, file, leaf.chain_pem, 0644, err);
    snprintf(file, sizeof(file), "tls/%s.key", name);
    if (rc == 0)
        rc = write_text(m->confdir, file, leaf.key_pem, 0600, err);
    veil_ca_leaf_free(&leaf);
    return rc;
}

static void put_tls(veil_buf *b, const struct master_ctx *m, const char *name, bool verify,
                    const char *indent)
{
    veil_buf_printf(b, "%stls {\n", indent);
    veil_buf_printf(b, "%s  cert_file: \"%s/tls/%s.crt\"\n", indent, m->confdir, name);
    veil_buf_printf(b, "%s  key_file: \"%s/tls/%s.key\"\n", indent, m->confdir, name);
    veil_buf_printf(b, "%s  ca_file: \"%s/tls/ca.pem\"\n", indent, m->confdir);
    veil_buf_printf(b, "%s  verify: %s\n%s  timeout: 2\n%s}\n", indent, verify ? "true" : "false",
                    indent, indent);
}

static void put_cluster(veil_buf *b, const struct master_ctx *m, int c, int s, const char *name)
{
    veil_buf_printf(b, "cluster {\n  name: c%d\n  listen: \"%s:%d\"\n", c, host_of(m, c, s),
                    port_of(m, c, s, 1));
    put_tls(b, m, name, true, "  ");
    veil_buf_printf(b, "  routes: [\n");
    for (int t = 0; t < m->o->servers; t++)
        if (t != s)
            veil_buf_printf(b, "    \"nats-route://%s:%d\"\n", host_of(m, c, t),
                            port_of(m, c, t, 1));
    veil_buf_printf(b, "  ]\n}\n");
}

static void put_gateway(veil_buf *b, const struct master_ctx *m, int c, int s, const char *name)
{
    veil_buf_printf(b, "gateway {\n  name: c%d\n  listen: \"%s:%d\"\n", c, host_of(m, c, s),
                    port_of(m, c, s, 2));
    put_tls(b, m, name, true, "  ");
    veil_buf_printf(b, "  gateways: [\n");
    for (int d = 0; d < m->o->clusters; d++) {
        veil_buf_printf(b, "    { name: c%d, urls: [", d);
        for (int t = 0; t < m->o->servers; t++)
            veil_buf_printf(b, "%s\"nats://%s:%d\"", t ? ", " : "", host_of(m, d, t),
                            port_of(m, d, t, 2));
        veil_buf_printf(b, "] }\n");
    }
    veil_buf_printf(b, "  ]\n}\n");
}

static void put_resolver(veil_buf *b, const struct master_ctx *m, const char *name)
{
    veil_buf_printf(b, "operator: \"%s/operator.jwt\"\n", m->confdir);
    veil_buf_printf(b, "system_account: %s\n", veil_guardian_system_account(m->g));
    veil_buf_printf(b, "resolver {\n  type: full\n  dir: \"%s/jwt/%s\"\n", m->confdir, name);
    veil_buf_printf(b, "  allow_delete: false\n  interval: \"2m\"\n  timeout: \"3s\"\n}\n");
    veil_buf_printf(b, "resolver_preload {\n");
    for (size_t i = 0; i < m->n_accounts; i++)
        veil_buf_printf(b, "  %s: \"%s\"\n", m->pubs[i], m->jwts[i]);
    veil_buf_printf(b, "}\n");
}

static int server_config(struct master_ctx *m, int c, int s, veil_err *err)
{
    char name[64], file[96], dir[PATH_MAX];
    snprintf(name, sizeof(name), "c%d-s%d", c, s);
    snprintf(dir, sizeof(dir), "%s/jwt/%s", m->confdir, name);
    if (veil_mkdir_p(dir, 0700, err) != 0 || server_cert(m, c, s, err) != 0)
        return -1;
    veil_buf b;
    veil_buf_init(&b);
    veil_buf_printf(&b, "# Master server %s - written by `veil master config`\n", name);
    veil_buf_printf(&b, "server_name: %s\nlisten: \"%s:%d\"\n", name, host_of(m, c, s),
                    port_of(m, c, s, 0));
    veil_buf_printf(&b, "http: \"127.0.0.1:%d\"\n", port_of(m, c, s, 3));
    put_tls(&b, m, name, m->o->client_verify, "");
    put_resolver(&b, m, name);
    put_cluster(&b, m, c, s, name);
    put_gateway(&b, m, c, s, name);
    veil_buf_put_u8(&b, 0);
    int rc = veil_buf_ok(&b) ? 0 : veil_err_set(err, VEIL_E_NOMEM, "master: out of memory");
    snprintf(file, sizeof(file), "%s.conf", name);
    if (rc == 0)
        rc = write_text(m->confdir, file, (const char *)b.data, 0644, err);
    veil_buf_free(&b);
    return rc;
}

static int check_opts(const struct veil_master_opts *o, veil_err *err)
{
    if (o->clusters < 1 || o->clusters > 16 || o->servers < 1 || o->servers > 16)
        return veil_err_set(err, VEIL_E_RANGE, "master: 1-16 clusters of 1-16 servers");
    if (o->base_port < 1024 || o->base_port + 10 * o->clusters * o->servers > 65535)
        return veil_err_set(err, VEIL_E_RANGE, "master: base port %d leaves no room for %d servers",
                            o->base_port, o->clusters * o->servers);
    for (int i = 0; i < (o->hosts ? o->clusters * o->servers : 1); i++) {
        const char *h = o->hosts ? o->hosts[i] : o->host;
        if (h == NULL || h[0] == '\0' || strlen(h) > 253 || strpbrk(h, "\" \t\n,:/{}") != NULL)
            return veil_err_set(err, VEIL_E_INVALID, "master: bad host address \"%s\"", h ? h : "");
    }
    if (o->cert_ttl_s <= 0)
        return veil_err_set(err, VEIL_E_RANGE, "master: certificate lifetime must be positive");
    return 0;
}

static int common_files(struct master_ctx *m, veil_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/tls", m->confdir);
    if (veil_mkdir_p(path, 0700, err) != 0 ||
        write_text(m->confdir, "operator.jwt", veil_guardian_operator_jwt(m->g), 0644, err) != 0 ||
        write_text(m->confdir, "tls/ca.pem", veil_ca_chain(veil_guardian_ca(m->g)), 0644, err) != 0)
        return -1;
    veil_buf b;
    veil_buf_init(&b);
    for (int c = 0; c < m->o->clusters; c++)
        for (int s = 0; s < m->o->servers; s++)
            veil_buf_printf(&b, "%stls://%s:%d", (c || s) ? "," : "", host_of(m, c, s),
                            veil_master_client_port(m->o, c, s));
    veil_buf_put_str(&b, "\n");
    veil_buf_put_u8(&b, 0);
    int rc = veil_buf_ok(&b) ? 0 : veil_err_set(err, VEIL_E_NOMEM, "master: out of memory");
    if (rc == 0)
        rc = write_text(m->confdir, "servers.txt", (const char *)b.data, 0644, err);
    if (rc == 0)
        rc = write_text(veil_guardian_dir(m->g), "master.servers", (const char *)b.data, 0644, err);
    veil_buf_free(&b);
    return rc;
}

int veil_master_config(veil_guardian *g, const struct veil_master_opts *opts, const char *confdir,
                       veil_err *err)
{
    struct veil_master_opts o = *opts;
    char abs[PATH_MAX];
    if (o.base_port == 0)
        o.base_port = 14222;
    if (o.host == NULL)
        o.host = "127.0.0.1";
    if (o.cert_ttl_s == 0)
        o.cert_ttl_s = 30LL * 86400;
    if (check_opts(&o, err) != 0 || veil_mkdir_p(confdir, 0755, err) != 0)
        return -1;
    if (realpath(confdir, abs) == NULL)
        return veil_err_set(err, VEIL_E_IO, "master: cannot resolve %s", confdir);
    struct master_ctx m = {.g = g, .o = &o, .confdir = abs};
    if (veil_guardian_accounts(g, &m.pubs, &m.jwts, &m.n_accounts, err) != 0)
        return -1;
    int rc = common_files(&m, err);
    for (int c = 0; rc == 0 && c < o.clusters; c++)
        for (int s = 0; rc == 0 && s < o.servers; s++)
            rc = server_config(&m, c, s, err);
    veil_guardian_accounts_free(m.pubs, m.jwts, m.n_accounts);
    return rc == 0 ? 0 : veil_err_wrap(err, "master config");
}
