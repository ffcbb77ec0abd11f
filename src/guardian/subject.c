// SPDX-License-Identifier: Apache-2.0
/*
 * subject.c - the control channel's subject layout (documented in
 * include/veil/guardian.h) and the NATS permissions Guardian derives from it:
 * a node publishes only subjects that carry its own name and subscribes only
 * to what is addressed to it plus its realm's shared summaries.
 */
#include <stdio.h>
#include <string.h>

#include <veil/guardian.h>

bool veil_guardian_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > VEIL_GUARDIAN_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static const char *kind_token(enum veil_subj_kind kind)
{
    switch (kind) {
    case VEIL_SUBJ_LIVE:
        return "live";
    case VEIL_SUBJ_HEALTH:
        return "health";
    case VEIL_SUBJ_TOPO:
        return "topo";
    case VEIL_SUBJ_PATH:
        return "path";
    case VEIL_SUBJ_CMD:
        return "cmd";
    case VEIL_SUBJ_REPLY:
        return "reply";
    case VEIL_SUBJ_RENEW:
        return "renew";
    case VEIL_SUBJ_INBOX:
        return "inbox";
    case VEIL_SUBJ_REVOKED:
        return "revoked";
    }
    return NULL;
}

static bool token_ok(const char *t)
{
    return t != NULL && (strcmp(t, "*") == 0 || veil_guardian_name_valid(t));
}

int veil_subject(char out[VEIL_SUBJECT_MAX], enum veil_subj_kind kind, const char *realm,
                 const char *node, const char *peer, veil_err *err)
{
    const char *k = kind_token(kind);
    if (k == NULL)
        return veil_err_set(err, VEIL_E_INVALID, "subject: unknown kind %d", (int)kind);
    if (!veil_guardian_name_valid(realm))
        return veil_err_set(err, VEIL_E_INVALID, "subject: bad realm name");
    if (!token_ok(node) || (kind == VEIL_SUBJ_PATH && !token_ok(peer)))
        return veil_err_set(err, VEIL_E_INVALID, "subject: bad node name");
    int n = kind == VEIL_SUBJ_PATH
                ? snprintf(out, VEIL_SUBJECT_MAX, "%s.%s.%s.%s.%s", VEIL_SUBJ_ROOT, realm, k, node,
                           peer)
                : snprintf(out, VEIL_SUBJECT_MAX, "%s.%s.%s.%s", VEIL_SUBJ_ROOT, realm, k, node);
    if (n < 0 || n >= VEIL_SUBJECT_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "subject: too long");
    return 0;
}

/* Length of the token starting at s (up to '.' or the end). */
static size_t token_len(const char *s)
{
    const char *dot = strchr(s, '.');
    return dot ? (size_t)(dot - s) : strlen(s);
}

bool veil_subject_matches(const char *pattern, const char *subject)
{
    const char *p = pattern, *s = subject;
    for (;;) {
        size_t pl = token_len(p), sl = token_len(s);
        if (pl == 1 && p[0] == '>')
            return sl > 0;
        if (sl == 0 || pl == 0)
            return false;
        if (!(pl == 1 && p[0] == '*') && (pl != sl || memcmp(p, s, pl) != 0))
            return false;
        bool p_end = p[pl] == '\0', s_end = s[sl] == '\0';
        if (p_end || s_end)
            return p_end && s_end;
        p += pl + 1;
        s += sl + 1;
    }
}

/* Adds veil.<realm>.<kind>.<node>[.<peer>] to a list. */
static int add_subj(veil_strlist *l, enum veil_subj_kind kind, const char *realm, const char *node,
                    const char *peer, veil_err *err)
{
    char s[VEIL_SUBJECT_MAX];
    if (veil_subject(s, kind, realm, node, peer, err) != 0)
        return -1;
    return veil_strlist_add(l, s, err);
}

int veil_guardian_node_permissions(veil_jwt *u, const char *realm, const char *node, veil_err *err)
{
    if (!veil_guardian_name_valid(realm) || !veil_guardian_name_valid(node))
        return veil_err_set(err, VEIL_E_INVALID, "permissions: bad realm or node name");
    char inbox[VEIL_SUBJECT_MAX + 2];
    if (add_subj(&u->pub_allow, VEIL_SUBJ_LIVE, realm, node, NULL, err) != 0 ||
        add_subj(&u->pub_allow, VEIL_SUBJ_HEALTH, realm, node, NULL, err) != 0 ||
        add_subj(&u->pub_allow, VEIL_SUBJ_TOPO, realm, node, NULL, err) != 0 ||
        add_subj(&u->pub_allow, VEIL_SUBJ_PATH, realm, "*", node, err) != 0 ||
        add_subj(&u->pub_allow, VEIL_SUBJ_REPLY, realm, node, NULL, err) != 0 ||
        add_subj(&u->pub_allow, VEIL_SUBJ_RENEW, realm, node, NULL, err) != 0 ||
        add_subj(&u->sub_allow, VEIL_SUBJ_LIVE, realm, "*", NULL, err) != 0 ||
        add_subj(&u->sub_allow, VEIL_SUBJ_HEALTH, realm, "*", NULL, err) != 0 ||
        add_subj(&u->sub_allow, VEIL_SUBJ_TOPO, realm, "*", NULL, err) != 0 ||
        add_subj(&u->sub_allow, VEIL_SUBJ_PATH, realm, node, "*", err) != 0 ||
        add_subj(&u->sub_allow, VEIL_SUBJ_CMD, realm, node, NULL, err) != 0 ||
        add_subj(&u->sub_allow, VEIL_SUBJ_REVOKED, realm, "*", NULL, err) != 0)
        return -1;
    snprintf(inbox, sizeof(inbox), "%s.%s.inbox.%s.>", VEIL_SUBJ_ROOT, realm, node);
    return veil_strlist_add(&u->sub_allow, inbox, err);
}

int veil_guardian_service_permissions(veil_jwt *u, veil_err *err)
{
    if (veil_strlist_add(&u->pub_allow, ">", err) != 0 ||
        veil_strlist_add(&u->sub_allow, ">", err) != 0)
        return -1;
    return 0;
}

int veil_guardian_enroll_permissions(veil_jwt *u, const char *reply_id, veil_err *err)
{
    char sub[VEIL_SUBJECT_MAX];
    if (!veil_guardian_name_valid(reply_id))
        return veil_err_set(err, VEIL_E_INVALID, "permissions: bad enrollment reply id");
    snprintf(sub, sizeof(sub), "%s.%s", VEIL_SUBJ_ENROLL_REPLY_PREFIX, reply_id);
    if (veil_strlist_add(&u->pub_allow, VEIL_SUBJ_ENROLL_REQ, err) != 0 ||
        veil_strlist_add(&u->sub_allow, sub, err) != 0)
        return -1;
    return 0;
}
