// SPDX-License-Identifier: Apache-2.0
/*
 * policy.c - who may relay and how two nodes meet: the relay admission rule
 * (willing, same realm, containment with both endpoints) and the NAT
 * traversal plan (direct, coordinated hole punching, or relay through a
 * willing member) from the NAT kinds both sides learned from their peers.
 */
#include <string.h>

#include "veil/route.h"

bool veil_route_relay_allowed(const struct veil_anchor_cred_info *src,
                              const struct veil_anchor_cred_info *relay,
                              const struct veil_anchor_cred_info *dst, bool relay_willing)
{
    if (!relay_willing)
        return false;
    if (strcmp(src->realm, relay->realm) != 0 || strcmp(dst->realm, relay->realm) != 0)
        return false;
    return veil_anchor_may_talk(src, relay) && veil_anchor_may_talk(relay, dst);
}

/* A public side is reached directly; two NATs that keep one mapping per
 * local socket (cone) open to each other when both send at once to the
 * reflexive addresses exchanged over Master; a symmetric NAT gives the
 * other side an address it cannot predict, so that pair needs a relay. */
enum veil_route_nat_plan veil_route_nat_plan(enum veil_route_nat a, enum veil_route_nat b)
{
    if (a == VEIL_ROUTE_NAT_NONE || b == VEIL_ROUTE_NAT_NONE)
        return VEIL_ROUTE_PLAN_DIRECT;
    if (a == VEIL_ROUTE_NAT_CONE && b == VEIL_ROUTE_NAT_CONE)
        return VEIL_ROUTE_PLAN_PUNCH;
    return VEIL_ROUTE_PLAN_RELAY;
}
