// SPDX-License-Identifier: Apache-2.0
/*
 * strlist.c - veil_strlist, the owned list of strings used for JWT
 * permission lists, signing keys, tags and taints.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/guardian.h>

int veil_strlist_add(veil_strlist *l, const char *s, veil_err *err)
{
    if (l->n >= 4096)
        return veil_err_set(err, VEIL_E_LIMIT, "list: more than 4096 items");
    char *copy = strdup(s);
    char **items = copy ? realloc(l->items, (l->n + 1) * sizeof(*items)) : NULL;
    if (items == NULL) {
        free(copy);
        return veil_err_set(err, VEIL_E_NOMEM, "list: out of memory");
    }
    items[l->n++] = copy;
    l->items = items;
    return 0;
}

bool veil_strlist_contains(const veil_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return true;
    return false;
}

int veil_strlist_split(veil_strlist *l, const char *csv, veil_err *err)
{
    const char *p = csv;
    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0) {
            char *item = strndup(p, n);
            if (item == NULL)
                return veil_err_set(err, VEIL_E_NOMEM, "list: out of memory");
            int rc = veil_strlist_add(l, item, err);
            free(item);
            if (rc != 0)
                return -1;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

void veil_strlist_free(veil_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}
