// SPDX-License-Identifier: Apache-2.0
/*
 * relay.c - a node's relay and destination side of onion paths
 * (veil_route_relay): opens its layer of a SETUP cell, records the path
 * keyed by (previous hop, link id), re-pads and forwards; removes its
 * layer from each DATA cell (a relay's keystream in one pass; the
 * destination's AEAD) with a replay window and enforces the per-path limits
 * (count per previous hop, total bytes, rate, idle retirement) so that no
 * peer can use it as an open proxy. It sees its previous and next hop only;
 * as the destination, it accepts a path only when the source's MAC in its
 * layer proves the named source made it.
 */
#include <sodium.h>
#include <string.h>

#include "route_int.h"

void veil_route_relay_config_default(struct veil_route_relay_config *cfg)
{
    cfg->max_paths = VEIL_ROUTE_RELAY_PATHS_MAX;
    cfg->max_paths_per_prev = 8;
    /* A path's budget and rate: above what one path carries between two
     * rebuilds (15 s in Conflux) at line rate, so that the caps stop abuse
     * without dropping a fast flow's cells (at 64 MiB/s the token bucket
     * was what limited a relayed TCP stream: 0.48 Gbit/s, 13k resends). */
    cfg->cap.max_bytes = 1ull << 36;   /* 64 GiB per path */
    cfg->cap.rate_bytes_s = 1u << 30;  /* 1 GiB/s */
    cfg->cap.idle_ms = 60000;
}

int veil_route_relay_init(struct veil_route_relay *r, const struct veil_route_relay_config *cfg,
                          const uint8_t ed_sk[64], veil_err *err)
{
    memset(r, 0, sizeof *r);
    if (cfg)
        r->cfg = *cfg;
    else
        veil_route_relay_config_default(&r->cfg);
    if (r->cfg.max_paths == 0 || r->cfg.max_paths > VEIL_ROUTE_RELAY_PATHS_MAX ||
        r->cfg.max_paths_per_prev == 0)
        return veil_err_set(err, VEIL_E_INVALID, "relay: inconsistent configuration");
    memcpy(r->ed_pk, ed_sk + 32, sizeof r->ed_pk); /* libsodium: seed || public key */
    if (crypto_sign_ed25519_sk_to_curve25519(r->x_sk, ed_sk) != 0 ||
        crypto_scalarmult_base(r->x_pk, r->x_sk) != 0) {
        veil_route_relay_wipe(r);
        return veil_err_set(err, VEIL_E_CRYPTO, "relay: unusable identity key");
    }
    if (!(r->cipher = route_cipher_new(false))) {
        veil_route_relay_wipe(r);
        return veil_err_set(err, VEIL_E_NOMEM, "relay: no cipher context");
    }
    return 0;
}

void veil_route_relay_wipe(struct veil_route_relay *r)
{
    route_cipher_free(r->cipher);
    sodium_memzero(r, sizeof *r);
}

size_t veil_route_relay_count(const struct veil_route_relay *r)
{
    size_t n = 0;
    for (size_t i = 0; i < VEIL_ROUTE_RELAY_PATHS_MAX; i++)
        n += r->paths[i].used;
    return n;
}

static struct veil_route_relay_entry *lookup(struct veil_route_relay *r, const uint8_t prev[32],
                                             uint64_t id)
{
    for (size_t i = 0; i < VEIL_ROUTE_RELAY_PATHS_MAX; i++) {
        struct veil_route_relay_entry *e = &r->paths[i];
        if (e->used && e->in_id == id && memcmp(e->prev, prev, 32) == 0)
            return e;
    }
    return NULL;
}

static void retire(struct veil_route_relay_entry *e)
{
    sodium_memzero(e, sizeof *e);
}

size_t veil_route_relay_expire(struct veil_route_relay *r, uint64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < VEIL_ROUTE_RELAY_PATHS_MAX; i++) {
        struct veil_route_relay_entry *e = &r->paths[i];
        if (e->used && now_ms >= e->last_ms && now_ms - e->last_ms > e->limits.idle_ms) {
            retire(e);
            n++;
        }
    }
    return n;
}

/* A free slot, if the totals and the previous hop's share allow one more. */
static struct veil_route_relay_entry *admit(struct veil_route_relay *r, const uint8_t prev[32],
                                            veil_err *err)
{
    size_t total = 0, from_prev = 0;
    struct veil_route_relay_entry *free_slot = NULL;
    for (size_t i = 0; i < VEIL_ROUTE_RELAY_PATHS_MAX; i++) {
        struct veil_route_relay_entry *e = &r->paths[i];
        if (!e->used) {
            free_slot = free_slot ? free_slot : e;
            continue;
        }
        total++;
        from_prev += memcmp(e->prev, prev, 32) == 0;
    }
    if (total >= r->cfg.max_paths || !free_slot) {
        veil_err_set(err, VEIL_E_LIMIT, "relay: %zu paths already", total);
        return NULL;
    }
    if (from_prev >= r->cfg.max_paths_per_prev) {
        veil_err_set(err, VEIL_E_LIMIT, "relay: previous hop already has %zu paths", from_prev);
        return NULL;
    }
    return free_slot;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Parses an opened layer into the entry; the unused tail must be zero, and
 * so must a relay's MAC field (the destination's is checked by the caller). */
static int parse_layer(struct veil_route_relay *r, struct veil_route_relay_entry *e,
                       const uint8_t pt[ROUTE_LAYER_PLAIN], veil_err *err)
{
    veil_reader rd;
    veil_reader_init(&rd, pt, ROUTE_LAYER_PLAIN);
    uint8_t kind = veil_read_u8(&rd);
    veil_read_bytes(&rd, e->next, 32);
    e->out_id = veil_read_u64be(&rd);
    uint64_t max_bytes = veil_read_u64be(&rd);
    uint32_t rate = veil_read_u32be(&rd);
    uint32_t idle = veil_read_u32be(&rd);
    uint8_t mac[ROUTE_LAYER_MAC], tail[ROUTE_LAYER_PLAIN - ROUTE_LAYER_USED - ROUTE_LAYER_MAC];
    static const uint8_t zero[ROUTE_LAYER_MAC];
    veil_read_bytes(&rd, mac, sizeof mac);
    veil_read_bytes(&rd, tail, sizeof tail);
    if (!veil_reader_ok(&rd) || !veil_reader_at_end(&rd) ||
        (kind != ROUTE_LAYER_FORWARD && kind != ROUTE_LAYER_TERMINAL) ||
        memcmp(tail, zero, sizeof tail) != 0 || rate == 0 || idle == 0 ||
        (kind == ROUTE_LAYER_FORWARD && memcmp(mac, zero, sizeof mac) != 0))
        return veil_err_set(err, VEIL_E_PARSE, "relay: malformed setup layer");
    e->terminal = kind == ROUTE_LAYER_TERMINAL;
    e->limits.max_bytes = min_u64(max_bytes, r->cfg.cap.max_bytes);
    e->limits.rate_bytes_s = (uint32_t)min_u64(rate, r->cfg.cap.rate_bytes_s);
    e->limits.idle_ms = (uint32_t)min_u64(idle, r->cfg.cap.idle_ms);
    e->tokens = e->limits.rate_bytes_s;
    return 0;
}

/* At the destination: the layer names its source (e->next); only that
 * source's static key can have made the MAC, so a member cannot build a
 * path that claims another member as its source. */
static int check_source(struct veil_route_relay *r, const struct veil_route_relay_entry *e,
                        uint64_t in_id, const uint8_t *layer, const uint8_t pt[ROUTE_LAYER_PLAIN],
                        veil_err *err)
{
    uint8_t src_x[32], mac[ROUTE_LAYER_MAC];
    int ok = crypto_sign_ed25519_pk_to_curve25519(src_x, e->next) == 0 &&
             route_src_mac(mac, r->x_sk, src_x, e->next, r->ed_pk, layer, in_id, pt) == 0 &&
             crypto_verify_16(mac, pt + ROUTE_LAYER_USED) == 0;
    sodium_memzero(mac, sizeof mac);
    if (!ok)
        return veil_err_set(err, VEIL_E_CRYPTO, "relay: setup not authenticated by its source");
    return 0;
}

/* Opens this node's layer (the first one) of a SETUP cell. */
static int open_layer(struct veil_route_relay *r, struct veil_route_relay_entry *e, uint64_t in_id,
                      const uint8_t *layer, veil_err *err)
{
    uint8_t dh[32], setup_key[32], pt[ROUTE_LAYER_PLAIN], ad[9];
    static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    int rc = -1;
    if (crypto_scalarmult(dh, r->x_sk, layer) != 0 ||
        route_hop_keys(dh, layer, r->x_pk, setup_key, e->key) != 0) {
        veil_err_set(err, VEIL_E_CRYPTO, "relay: bad ephemeral key in setup");
        goto out;
    }
    route_layer_ad(ad, VEIL_ROUTE_CELL_SETUP, in_id);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, layer + 32,
                                                  VEIL_ROUTE_LAYER_BYTES - 32, ad, sizeof ad,
                                                  zero_nonce, setup_key) != 0) {
        veil_err_set(err, VEIL_E_CRYPTO, "relay: setup layer does not open");
        goto out;
    }
    rc = parse_layer(r, e, pt, err);
    if (rc == 0 && e->terminal)
        rc = check_source(r, e, in_id, layer, pt, err);
out:
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(setup_key, sizeof setup_key);
    sodium_memzero(pt, sizeof pt);
    return rc;
}

static int handle_setup(struct veil_route_relay *r, const uint8_t prev[32], veil_reader *rd,
                        uint64_t now_ms, uint8_t *out, size_t out_cap,
                        struct veil_route_action *act, veil_err *err)
{
    uint64_t in_id = veil_read_u64be(rd);
    const uint8_t *layers = veil_read_borrow(rd, VEIL_ROUTE_HOPS_MAX * VEIL_ROUTE_LAYER_BYTES);
    if (!layers || !veil_reader_at_end(rd))
        return veil_err_set(err, VEIL_E_PARSE, "relay: setup cell of the wrong size");
    if (lookup(r, prev, in_id))
        return veil_err_set(err, VEIL_E_EXISTS, "relay: path id already in use");
    struct veil_route_relay_entry *e = admit(r, prev, err);
    if (!e)
        return -1;
    struct veil_route_relay_entry fresh = {0};
    if (open_layer(r, &fresh, in_id, layers, err) != 0) {
        sodium_memzero(&fresh, sizeof fresh);
        return -1;
    }
    if (!fresh.terminal && out_cap < VEIL_ROUTE_SETUP_BYTES) {
        sodium_memzero(&fresh, sizeof fresh);
        return veil_err_set(err, VEIL_E_RANGE, "relay: output buffer too small");
    }
    fresh.used = true;
    memcpy(fresh.prev, prev, 32);
    fresh.in_id = in_id;
    fresh.last_ms = now_ms;
    *e = fresh;
    sodium_memzero(&fresh, sizeof fresh);
    memcpy(act->peer, e->next, 32);
    act->deliver = e->terminal;
    act->out_len = 0;
    if (e->terminal)
        return 0;
    /* Shift the remaining layers up and re-pad with random bytes, so the
     * cell keeps its size and says nothing about the hops left. */
    size_t rest = (VEIL_ROUTE_HOPS_MAX - 1) * VEIL_ROUTE_LAYER_BYTES;
    out[0] = VEIL_ROUTE_CELL_SETUP;
    route_put_u64(out + 1, e->out_id);
    memcpy(out + 9, layers + VEIL_ROUTE_LAYER_BYTES, rest);
    randombytes_buf(out + 9 + rest, VEIL_ROUTE_LAYER_BYTES);
    act->out_len = VEIL_ROUTE_SETUP_BYTES;
    return 0;
}

/* Replay window over the data counter, a ring of bits as WireGuard's: a
 * counter within the last (words - 1) * 64 of the highest seen is fresh
 * unless its bit is set; the ring's words are cleared as the highest
 * counter moves past them. A window of 64 refused ~7% of a relayed TCP
 * stream's cells: the source's two overlay threads send batches of 64
 * that can overtake each other. */
#define REPLAY_BITS   (VEIL_ROUTE_REPLAY_WORDS * 64)
#define REPLAY_WINDOW (REPLAY_BITS - 64)

static bool replay_fresh(const struct veil_route_relay_entry *e, uint64_t ctr)
{
    if (ctr == 0)
        return false;
    if (ctr > e->max_counter)
        return true;
    if (e->max_counter - ctr >= REPLAY_WINDOW)
        return false;
    uint64_t bit = ctr % REPLAY_BITS;
    return !((e->window[bit / 64] >> (bit % 64)) & 1);
}

static void replay_mark(struct veil_route_relay_entry *e, uint64_t ctr)
{
    if (ctr > e->max_counter) {
        uint64_t from = e->max_counter / 64, to = ctr / 64;
        uint64_t clear = to - from < VEIL_ROUTE_REPLAY_WORDS ? to - from : VEIL_ROUTE_REPLAY_WORDS;
        for (uint64_t k = 1; k <= clear; k++)
            e->window[(from + k) % VEIL_ROUTE_REPLAY_WORDS] = 0;
        e->max_counter = ctr;
    }
    uint64_t bit = ctr % REPLAY_BITS;
    e->window[bit / 64] |= 1ull << (bit % 64);
}

/* Token bucket (burst one second of rate) and the byte budget. */
static int charge(struct veil_route_relay_entry *e, size_t len, uint64_t now_ms, veil_err *err)
{
    uint64_t elapsed = now_ms > e->last_ms ? now_ms - e->last_ms : 0;
    uint64_t refill =
        elapsed >= 1000 ? e->limits.rate_bytes_s : elapsed * e->limits.rate_bytes_s / 1000;
    e->tokens = min_u64(e->tokens + refill, e->limits.rate_bytes_s);
    if (len > e->tokens)
        return veil_err_set(err, VEIL_E_LIMIT, "relay: path over its rate");
    if (e->bytes + len > e->limits.max_bytes)
        return veil_err_set(err, VEIL_E_LIMIT, "relay: path over its byte budget");
    e->tokens -= len;
    e->bytes += len;
    if (now_ms > e->last_ms)
        e->last_ms = now_ms;
    return 0;
}

/* Removes this hop's layer from the cell body c into out (hdr bytes in):
 * a relay's keystream in one pass, or the destination's AEAD. */
static int peel(struct veil_route_relay *r, const struct veil_route_relay_entry *e, uint64_t ctr,
                const uint8_t *c, size_t clen, uint8_t *out, veil_err *err)
{
    if (e->terminal) {
        if (route_cipher_open(r->cipher, e->key, ctr, out, c, clen) != 0)
            return veil_err_set(err, VEIL_E_CRYPTO, "relay: data layer does not open");
        return 0;
    }
    if (route_cipher_xor(r->cipher, e->key, ctr, out, c, clen) != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "relay: data layer failed");
    return 0;
}

static int handle_data(struct veil_route_relay *r, const uint8_t prev[32], veil_reader *rd,
                       uint64_t now_ms, uint8_t *out, size_t out_cap, struct veil_route_action *act,
                       veil_err *err)
{
    uint64_t in_id = veil_read_u64be(rd);
    uint64_t ctr = veil_read_u64be(rd);
    size_t clen = veil_reader_remaining(rd);
    const uint8_t *c = veil_read_borrow(rd, clen);
    if (!veil_reader_ok(rd) || !c || clen < VEIL_ROUTE_LAYER_TAG)
        return veil_err_set(err, VEIL_E_PARSE, "relay: short data cell");
    struct veil_route_relay_entry *e = lookup(r, prev, in_id);
    if (!e)
        return veil_err_set(err, VEIL_E_NOTFOUND, "relay: no such path");
    if (!replay_fresh(e, ctr))
        return veil_err_set(err, VEIL_E_PROTOCOL, "relay: replayed or stale data cell");
    /* a relay's cell keeps its size (its layer adds no tag); the
     * destination's sheds the tag */
    size_t plen = e->terminal ? clen - VEIL_ROUTE_LAYER_TAG : clen;
    size_t hdr = e->terminal ? 0 : VEIL_ROUTE_DATA_HEADER;
    if (out_cap < hdr + plen)
        return veil_err_set(err, VEIL_E_RANGE, "relay: output buffer too small");
    if (peel(r, e, ctr, c, clen, out + hdr, err) != 0)
        return -1;
    if (charge(e, clen, now_ms, err) != 0) {
        sodium_memzero(out + hdr, plen);
        return -1;
    }
    replay_mark(e, ctr);
    if (!e->terminal) {
        out[0] = VEIL_ROUTE_CELL_DATA;
        route_put_u64(out + 1, e->out_id);
        route_put_u64(out + 9, ctr);
    }
    memcpy(act->peer, e->next, 32);
    act->deliver = e->terminal;
    act->out_len = hdr + plen;
    return 0;
}

int veil_route_relay_handle(struct veil_route_relay *r, const uint8_t prev[VEIL_ANCHOR_KEY_BYTES],
                            const uint8_t *cell, size_t len, uint64_t now_ms, uint8_t *out,
                            size_t out_cap, struct veil_route_action *act, veil_err *err)
{
    memset(act, 0, sizeof *act);
    if (len > VEIL_ROUTE_CELL_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "relay: %zu-byte cell", len);
    veil_reader rd;
    veil_reader_init(&rd, cell, len);
    uint8_t type = veil_read_u8(&rd);
    if (!veil_reader_ok(&rd))
        return veil_err_set(err, VEIL_E_PARSE, "relay: empty cell");
    if (type == VEIL_ROUTE_CELL_SETUP)
        return handle_setup(r, prev, &rd, now_ms, out, out_cap, act, err);
    if (type == VEIL_ROUTE_CELL_DATA)
        return handle_data(r, prev, &rd, now_ms, out, out_cap, act, err);
    return veil_err_set(err, VEIL_E_PARSE, "relay: unknown cell type %u", type);
}
