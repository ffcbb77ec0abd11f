// SPDX-License-Identifier: Apache-2.0
/*
 * ref.c - image references and sha256 digests.
 *
 * Grammar from distribution/reference (the one Docker and the OCI
 * distribution spec use): a path component is [a-z0-9]+ joined by one of
 * ".", "_", "__" or "-"+; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; the
 * first component is a registry host only if it contains "." or ":" or is
 * "localhost". Docker Hub conventions: no host = docker.io, served by
 * registry-1.docker.io, and official images live under "library/".
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include <veil/runtime.h>

int veil_digest_check(const char *digest, veil_err *err)
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "digest '%s': only sha256 is supported",
                            digest ? digest : "");
    const char *hex = digest + 7;
    size_t n = strlen(hex);
    if (n != 64)
        return veil_err_set(err, VEIL_E_PARSE, "digest '%.80s': want 64 hex digits, got %zu",
                            digest, n);
    for (size_t i = 0; i < n; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return veil_err_set(err, VEIL_E_PARSE, "digest '%.80s': not lowercase hex", digest);
    return 0;
}

void veil_digest_of(const void *data, size_t len, char out[VEIL_DIGEST_BUFLEN])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
    memcpy(out, "sha256:", 7);
    veil_hex_encode(out + 7, VEIL_DIGEST_BUFLEN - 7, md, sizeof md);
}

int veil_digest_verify(const char *digest, const void *data, size_t len, veil_err *err)
{
    if (veil_digest_check(digest, err) != 0)
        return -1;
    char got[VEIL_DIGEST_BUFLEN];
    veil_digest_of(data, len, got);
    if (!veil_memeq_ct(got, digest, VEIL_DIGEST_STRLEN))
        return veil_err_set(err, VEIL_E_MISMATCH, "content digest %s does not match expected %s",
                            got, digest);
    return 0;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: alnum runs separated by ".", "_", "__" or "-"+. */
static bool valid_component(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n;) {
        if (is_lower_alnum(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_lower_alnum(s[j]))
            j++;
        size_t run = j - i;
        const char *sep = s + i;
        bool ok = (run == 1 && (*sep == '.' || *sep == '_' || *sep == '-')) ||
                  (run == 2 && sep[0] == '_' && sep[1] == '_');
        if (!ok) {
            ok = true;
            for (size_t k = 0; k < run; k++)
                ok &= sep[k] == '-';
        }
        if (!ok)
            return false;
        i = j;
    }
    return true;
}

static bool valid_host(const char *s, size_t n)
{
    if (n == 0 || n >= VEIL_REF_HOST_MAX)
        return false;
    size_t colon = n;
    if (s[0] == '[') { /* [ipv6]:port */
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        for (const char *p = s + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':')
                return false;
        size_t after = (size_t)(close - s) + 1;
        if (after == n)
            return true;
        if (s[after] != ':')
            return false;
        colon = after;
    } else {
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':') {
                colon = i;
                break;
            }
        if (colon == 0)
            return false;
        for (size_t i = 0; i < colon; i++) {
            char c = s[i];
            if (!(isalnum((unsigned char)c) || c == '.' || c == '-'))
                return false;
        }
        if (s[0] == '-' || s[0] == '.' || s[colon - 1] == '-' || s[colon - 1] == '.')
            return false;
    }
    if (colon < n) {
        size_t digits = n - colon - 1;
        if (digits == 0 || digits > 5)
            return false;
        unsigned port = 0;
        for (size_t i = colon + 1; i < n; i++) {
            if (!isdigit((unsigned char)s[i]))
                return false;
            port = port * 10 + (unsigned)(s[i] - '0');
        }
        if (port == 0 || port > 65535)
            return false;
    }
    return true;
}

static bool valid_tag(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool word = isalnum((unsigned char)c) || c == '_';
        if (i == 0 ? !word : !(word || c == '.' || c == '-'))
            return false;
    }
    return true;
}

int veil_image_ref_parse(const char *text, struct veil_image_ref *ref, veil_err *err)
{
    memset(ref, 0, sizeof *ref);
    if (!text || !*text)
        return veil_err_set(err, VEIL_E_PARSE, "empty image reference");
    size_t len = strlen(text);
    if (len > 1024)
        return veil_err_set(err, VEIL_E_RANGE, "image reference too long (%zu bytes)", len);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f)
            return veil_err_set(err, VEIL_E_PARSE, "image reference has a bad character");

    /* name-and-tag @ digest */
    size_t name_end = len;
    const char *at = strchr(text, '@');
    if (at) {
        if (strchr(at + 1, '@'))
            return veil_err_set(err, VEIL_E_PARSE, "'%s': more than one '@'", text);
        if (strlen(at + 1) >= sizeof ref->digest || veil_digest_check(at + 1, err) != 0)
            return veil_err_set(err, VEIL_E_PARSE, "'%s': bad digest after '@'", text);
        strcpy(ref->digest, at + 1);
        name_end = (size_t)(at - text);
    }
    /* The tag is after the last ':' that follows the last '/'. */
    const char *last_slash = NULL;
    for (size_t i = 0; i < name_end; i++)
        if (text[i] == '/')
            last_slash = text + i;
    const char *tag_colon = NULL;
    for (const char *p = last_slash ? last_slash + 1 : text; p < text + name_end; p++)
        if (*p == ':')
            tag_colon = p;
    if (tag_colon) {
        size_t tn = (size_t)(text + name_end - tag_colon - 1);
        if (!valid_tag(tag_colon + 1, tn))
            return veil_err_set(err, VEIL_E_PARSE, "'%s': bad tag", text);
        memcpy(ref->tag, tag_colon + 1, tn);
        ref->tag[tn] = '\0';
        name_end = (size_t)(tag_colon - text);
    }
    if (name_end == 0)
        return veil_err_set(err, VEIL_E_PARSE, "'%s': empty name", text);

    /* Registry host? */
    const char *name = text;
    size_t name_len = name_end;
    const char *slash = memchr(text, '/', name_end);
    if (slash) {
        size_t hn = (size_t)(slash - text);
        bool is_host = memchr(text, '.', hn) || memchr(text, ':', hn) ||
                       (hn == 9 && memcmp(text, "localhost", 9) == 0) || text[0] == '[';
        if (is_host) {
            if (!valid_host(text, hn))
                return veil_err_set(err, VEIL_E_PARSE, "'%s': bad registry host", text);
            memcpy(ref->registry, text, hn);
            ref->registry[hn] = '\0';
            name = slash + 1;
            name_len = name_end - hn - 1;
        }
    }
    if (!ref->registry[0])
        strcpy(ref->registry, "docker.io");
    if (strcmp(ref->registry, "index.docker.io") == 0 ||
        strcmp(ref->registry, "registry-1.docker.io") == 0)
        strcpy(ref->registry, "docker.io");

    /* Path components. */
    if (name_len == 0)
        return veil_err_set(err, VEIL_E_PARSE, "'%s': empty repository name", text);
    size_t components = 0;
    for (size_t i = 0; i <= name_len;) {
        const char *end = memchr(name + i, '/', name_len - i);
        size_t cn = end ? (size_t)(end - (name + i)) : name_len - i;
        if (!valid_component(name + i, cn))
            return veil_err_set(err, VEIL_E_PARSE,
                                "'%s': bad repository name (lowercase letters, digits and "
                                "separators . _ __ -)",
                                text);
        components++;
        i += cn + 1;
        if (!end)
            break;
    }
    bool hub = strcmp(ref->registry, "docker.io") == 0;
    const char *prefix = hub && components == 1 ? "library/" : "";
    if (strlen(prefix) + name_len >= sizeof ref->repository)
        return veil_err_set(err, VEIL_E_RANGE, "'%s': repository name too long", text);
    snprintf(ref->repository, sizeof ref->repository, "%s%.*s", prefix, (int)name_len, name);
    if (!ref->tag[0] && !ref->digest[0])
        strcpy(ref->tag, "latest");
    return 0;
}

void veil_image_ref_format(const struct veil_image_ref *ref, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s%s%s%s%s", ref->registry, ref->repository, ref->tag[0] ? ":" : "",
             ref->tag, ref->digest[0] ? "@" : "", ref->digest);
}

const char *veil_image_ref_api_host(const struct veil_image_ref *ref)
{
    return strcmp(ref->registry, "docker.io") == 0 ? "registry-1.docker.io" : ref->registry;
}
