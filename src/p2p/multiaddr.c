// SPDX-License-Identifier: Apache-2.0
/*
 * multiaddr.c (p2p core) - multiaddr text <-> binary for the components Veil
 * uses: ip4, ip6, tcp, dns, dns4, dns6, p2p (multiformats/multiaddr; codes
 * from the multicodec table). Binary form: uvarint code, then a fixed-size
 * value (ip4 4, ip6 16, tcp 2 big-endian) or a uvarint length and the bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <veil/p2p.h>

#define DNS_NAME_MAX 253

/* Length of the value of a component: >0 fixed, 0 variable (uvarint-prefixed),
 * -1 unknown code. */
static int value_size(uint64_t code)
{
    switch (code) {
    case VEIL_MA_IP4:
        return 4;
    case VEIL_MA_IP6:
        return 16;
    case VEIL_MA_TCP:
        return 2;
    case VEIL_MA_DNS:
    case VEIL_MA_DNS4:
    case VEIL_MA_DNS6:
    case VEIL_MA_P2P:
        return 0;
    default:
        return -1;
    }
}

static const char *code_name(uint64_t code)
{
    switch (code) {
    case VEIL_MA_IP4:
        return "ip4";
    case VEIL_MA_IP6:
        return "ip6";
    case VEIL_MA_TCP:
        return "tcp";
    case VEIL_MA_DNS:
        return "dns";
    case VEIL_MA_DNS4:
        return "dns4";
    case VEIL_MA_DNS6:
        return "dns6";
    case VEIL_MA_P2P:
        return "p2p";
    default:
        return NULL;
    }
}

static int name_code(const char *name, size_t n, uint64_t *code)
{
    static const struct {
        const char *name;
        uint64_t code;
    } table[] = {{"ip4", VEIL_MA_IP4}, {"ip6", VEIL_MA_IP6},   {"tcp", VEIL_MA_TCP},
                 {"dns", VEIL_MA_DNS}, {"dns4", VEIL_MA_DNS4}, {"dns6", VEIL_MA_DNS6},
                 {"p2p", VEIL_MA_P2P}, {"ipfs", VEIL_MA_P2P}};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(table); i++)
        if (strlen(table[i].name) == n && memcmp(table[i].name, name, n) == 0) {
            *code = table[i].code;
            return 0;
        }
    return -1;
}

static bool dns_name_ok(const uint8_t *s, size_t n)
{
    if (n == 0 || n > DNS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '/' || c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

/* Validates one component's value starting at r; fills value pointer/len. */
static int read_component(veil_reader *r, uint64_t *code, const uint8_t **val, size_t *vlen,
                          veil_err *err)
{
    *code = veil_read_uvarint(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_PARSE, "multiaddr: malformed protocol code");
    int fixed = value_size(*code);
    if (fixed < 0)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "multiaddr: unsupported protocol code %llu",
                            (unsigned long long)*code);
    uint64_t n = (uint64_t)fixed;
    if (fixed == 0) {
        n = veil_read_uvarint(r);
        if (!veil_reader_ok(r) || n > veil_reader_remaining(r))
            return veil_err_set(err, VEIL_E_RANGE, "multiaddr: %s value length out of range",
                                code_name(*code));
    }
    *val = veil_read_borrow(r, (size_t)n);
    if (!*val)
        return veil_err_set(err, VEIL_E_RANGE, "multiaddr: truncated %s value", code_name(*code));
    *vlen = (size_t)n;
    if (*code == VEIL_MA_DNS || *code == VEIL_MA_DNS4 || *code == VEIL_MA_DNS6) {
        if (!dns_name_ok(*val, *vlen))
            return veil_err_set(err, VEIL_E_PARSE, "multiaddr: bad DNS name");
    } else if (*code == VEIL_MA_P2P) {
        veil_p2p_peer_id id;
        if (veil_p2p_peer_id_from_bytes(*val, *vlen, &id, err) != 0)
            return veil_err_wrap(err, "multiaddr /p2p");
    }
    return 0;
}

int veil_p2p_multiaddr_from_bytes(const uint8_t *bytes, size_t len, veil_p2p_multiaddr *out,
                                  veil_err *err)
{
    if (len == 0 || len > VEIL_P2P_MULTIADDR_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "multiaddr of %zu bytes", len);
    veil_reader r;
    veil_reader_init(&r, bytes, len);
    while (!veil_reader_at_end(&r)) {
        uint64_t code;
        const uint8_t *val;
        size_t vlen;
        if (read_component(&r, &code, &val, &vlen, err) != 0)
            return -1;
    }
    memcpy(out->bytes, bytes, len);
    out->len = len;
    return 0;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
    if (n == 0 || n > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535 || (n > 1 && s[0] == '0'))
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int veil_p2p_multiaddr_parse(const char *text, veil_p2p_multiaddr *out, veil_err *err)
{
    if (!text || text[0] != '/')
        return veil_err_set(err, VEIL_E_PARSE, "multiaddr '%s' must start with '/'",
                            text ? text : "");
    veil_buf b;
    veil_buf_init(&b);
    b.limit = VEIL_P2P_MULTIADDR_MAX;
    const char *p = text + 1;
    int rc = -1;
    if (*p == '\0') {
        veil_err_set(err, VEIL_E_PARSE, "multiaddr '%s' is empty", text);
        goto out;
    }
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t nlen = slash ? (size_t)(slash - p) : strlen(p);
        uint64_t code;
        if (name_code(p, nlen, &code) != 0) {
            veil_err_set(err, VEIL_E_UNSUPPORTED, "multiaddr '%s': unknown protocol '%.*s'", text,
                         (int)nlen, p);
            goto out;
        }
        if (!slash || slash[1] == '\0') {
            veil_err_set(err, VEIL_E_PARSE, "multiaddr '%s': /%s needs a value", text,
                         code_name(code));
            goto out;
        }
        const char *v = slash + 1;
        const char *vend = strchr(v, '/');
        size_t vlen = vend ? (size_t)(vend - v) : strlen(v);
        char value[VEIL_P2P_MULTIADDR_TEXT_MAX];
        if (vlen == 0 || vlen >= sizeof value) {
            veil_err_set(err, VEIL_E_RANGE, "multiaddr '%s': bad /%s value", text, code_name(code));
            goto out;
        }
        memcpy(value, v, vlen);
        value[vlen] = '\0';
        veil_buf_put_uvarint(&b, code);
        switch (code) {
        case VEIL_MA_IP4: {
            uint8_t a[4];
            if (inet_pton(AF_INET, value, a) != 1) {
                veil_err_set(err, VEIL_E_PARSE, "multiaddr '%s': bad ip4 '%s'", text, value);
                goto out;
            }
            veil_buf_put(&b, a, 4);
            break;
        }
        case VEIL_MA_IP6: {
            uint8_t a[16];
            if (inet_pton(AF_INET6, value, a) != 1) {
                veil_err_set(err, VEIL_E_PARSE, "multiaddr '%s': bad ip6 '%s'", text, value);
                goto out;
            }
            veil_buf_put(&b, a, 16);
            break;
        }
        case VEIL_MA_TCP: {
            uint16_t port;
            if (parse_port(value, vlen, &port) != 0) {
                veil_err_set(err, VEIL_E_PARSE, "multiaddr '%s': bad tcp port '%s'", text, value);
                goto out;
            }
            veil_buf_put_u16be(&b, port);
            break;
        }
        case VEIL_MA_DNS:
        case VEIL_MA_DNS4:
        case VEIL_MA_DNS6:
            if (!dns_name_ok((const uint8_t *)value, vlen)) {
                veil_err_set(err, VEIL_E_PARSE, "multiaddr '%s': bad DNS name", text);
                goto out;
            }
            veil_buf_put_uvarint(&b, vlen);
            veil_buf_put(&b, value, vlen);
            break;
        case VEIL_MA_P2P: {
            veil_p2p_peer_id id;
            if (veil_p2p_peer_id_parse(value, &id, err) != 0) {
                veil_err_wrap(err, "multiaddr '%s'", text);
                goto out;
            }
            veil_buf_put_uvarint(&b, id.len);
            veil_buf_put(&b, id.bytes, id.len);
            break;
        }
        }
        p = vend ? vend + 1 : v + vlen;
        if (vend && *p == '\0') {
            veil_err_set(err, VEIL_E_PARSE, "multiaddr '%s' has a trailing '/'", text);
            goto out;
        }
    }
    if (!veil_buf_ok(&b)) {
        veil_err_set(err, VEIL_E_RANGE, "multiaddr '%s' is too long", text);
        goto out;
    }
    memcpy(out->bytes, b.data, b.len);
    out->len = b.len;
    rc = 0;
out:
    veil_buf_free(&b);
    return rc;
}

int veil_p2p_multiaddr_to_text(const veil_p2p_multiaddr *ma, char *out, size_t out_cap,
                               veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, ma->bytes, ma->len);
    veil_buf b;
    veil_buf_init(&b);
    int rc = -1;
    while (!veil_reader_at_end(&r)) {
        uint64_t code;
        const uint8_t *val;
        size_t vlen;
        if (read_component(&r, &code, &val, &vlen, err) != 0)
            goto out;
        const char *name = code_name(code);
        veil_buf_printf(&b, "/%s/", name ? name : "?");
        char tmp[VEIL_P2P_MULTIADDR_TEXT_MAX];
        switch (code) {
        case VEIL_MA_IP4:
            inet_ntop(AF_INET, val, tmp, sizeof tmp);
            break;
        case VEIL_MA_IP6:
            inet_ntop(AF_INET6, val, tmp, sizeof tmp);
            break;
        case VEIL_MA_TCP:
            snprintf(tmp, sizeof tmp, "%u", (unsigned)(val[0] << 8 | val[1]));
            break;
        case VEIL_MA_P2P: {
            veil_p2p_peer_id id;
            veil_p2p_peer_id_from_bytes(val, vlen, &id, NULL);
            veil_p2p_peer_id_to_text(&id, tmp, sizeof tmp);
            break;
        }
        default:
            memcpy(tmp, val, vlen);
            tmp[vlen] = '\0';
            break;
        }
        veil_buf_put_str(&b, tmp);
    }
    if (ma->len == 0) {
        veil_err_set(err, VEIL_E_INVALID, "empty multiaddr");
        goto out;
    }
    if (!veil_buf_ok(&b) || b.len + 1 > out_cap) {
        veil_err_set(err, VEIL_E_RANGE, "multiaddr text does not fit %zu bytes", out_cap);
        goto out;
    }
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    rc = 0;
out:
    veil_buf_free(&b);
    return rc;
}

/* Offset of the last component and its code; -1 if malformed/empty. */
static int last_component(const veil_p2p_multiaddr *ma, size_t *off, uint64_t *code,
                          const uint8_t **val, size_t *vlen)
{
    veil_reader r;
    veil_reader_init(&r, ma->bytes, ma->len);
    bool any = false;
    while (!veil_reader_at_end(&r)) {
        size_t start = r.pos;
        if (read_component(&r, code, val, vlen, NULL) != 0)
            return -1;
        *off = start;
        any = true;
    }
    return any ? 0 : -1;
}

int veil_p2p_multiaddr_peer_id(const veil_p2p_multiaddr *ma, veil_p2p_peer_id *out, veil_err *err)
{
    size_t off;
    uint64_t code;
    const uint8_t *val;
    size_t vlen;
    if (last_component(ma, &off, &code, &val, &vlen) != 0 || code != VEIL_MA_P2P)
        return veil_err_set(err, VEIL_E_NOTFOUND, "multiaddr has no /p2p/ component");
    return veil_p2p_peer_id_from_bytes(val, vlen, out, err);
}

void veil_p2p_multiaddr_strip_peer(const veil_p2p_multiaddr *ma, veil_p2p_multiaddr *out)
{
    size_t off;
    uint64_t code;
    const uint8_t *val;
    size_t vlen;
    veil_p2p_multiaddr tmp = *ma;
    if (last_component(ma, &off, &code, &val, &vlen) == 0 && code == VEIL_MA_P2P)
        tmp.len = off;
    *out = tmp;
}

int veil_p2p_multiaddr_with_peer(const veil_p2p_multiaddr *ma, const veil_p2p_peer_id *id,
                                 veil_p2p_multiaddr *out, veil_err *err)
{
    veil_p2p_multiaddr tmp;
    veil_p2p_multiaddr_strip_peer(ma, &tmp);
    uint8_t hdr[20];
    size_t h = veil_uvarint_encode(hdr, VEIL_MA_P2P);
    h += veil_uvarint_encode(hdr + h, id->len);
    if (tmp.len + h + id->len > VEIL_P2P_MULTIADDR_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "multiaddr too long for /p2p/");
    memcpy(tmp.bytes + tmp.len, hdr, h);
    memcpy(tmp.bytes + tmp.len + h, id->bytes, id->len);
    tmp.len += h + id->len;
    *out = tmp;
    return 0;
}

int veil_p2p_multiaddr_tcp_target(const veil_p2p_multiaddr *ma, char *host, size_t host_cap,
                                  uint16_t *port, int *family, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, ma->bytes, ma->len);
    uint64_t code;
    const uint8_t *val;
    size_t vlen;
    if (read_component(&r, &code, &val, &vlen, err) != 0)
        return -1;
    char tmp[DNS_NAME_MAX + 1];
    switch (code) {
    case VEIL_MA_IP4:
        inet_ntop(AF_INET, val, tmp, sizeof tmp);
        *family = AF_INET;
        break;
    case VEIL_MA_IP6:
        inet_ntop(AF_INET6, val, tmp, sizeof tmp);
        *family = AF_INET6;
        break;
    case VEIL_MA_DNS:
    case VEIL_MA_DNS4:
    case VEIL_MA_DNS6:
        memcpy(tmp, val, vlen);
        tmp[vlen] = '\0';
        *family = code == VEIL_MA_DNS4 ? AF_INET : code == VEIL_MA_DNS6 ? AF_INET6 : AF_UNSPEC;
        break;
    default:
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "multiaddr does not start with ip4/ip6/dns");
    }
    if (veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "multiaddr has no /tcp/ component");
    if (read_component(&r, &code, &val, &vlen, err) != 0)
        return -1;
    if (code != VEIL_MA_TCP)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "multiaddr is not a TCP address");
    *port = (uint16_t)(val[0] << 8 | val[1]);
    if (!veil_reader_at_end(&r)) {
        if (read_component(&r, &code, &val, &vlen, err) != 0)
            return -1;
        if (code != VEIL_MA_P2P || !veil_reader_at_end(&r))
            return veil_err_set(err, VEIL_E_UNSUPPORTED,
                                "multiaddr has components after /tcp/ other than /p2p/");
    }
    if (strlen(tmp) + 1 > host_cap)
        return veil_err_set(err, VEIL_E_RANGE, "host name too long");
    memcpy(host, tmp, strlen(tmp) + 1);
    return 0;
}

int veil_p2p_multiaddr_from_sockaddr(const struct sockaddr *sa, veil_p2p_multiaddr *out,
                                     veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        veil_buf_put_uvarint(&b, VEIL_MA_IP4);
        veil_buf_put(&b, &in->sin_addr, 4);
        veil_buf_put_uvarint(&b, VEIL_MA_TCP);
        veil_buf_put_u16be(&b, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        veil_buf_put_uvarint(&b, VEIL_MA_IP6);
        veil_buf_put(&b, &in6->sin6_addr, 16);
        veil_buf_put_uvarint(&b, VEIL_MA_TCP);
        veil_buf_put_u16be(&b, ntohs(in6->sin6_port));
    } else {
        veil_buf_free(&b);
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "address family %d", sa->sa_family);
    }
    int rc = 0;
    if (!veil_buf_ok(&b)) {
        rc = veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    } else {
        memcpy(out->bytes, b.data, b.len);
        out->len = b.len;
    }
    veil_buf_free(&b);
    return rc;
}

bool veil_p2p_multiaddr_equal(const veil_p2p_multiaddr *a, const veil_p2p_multiaddr *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}
