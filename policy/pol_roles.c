/* Authorization: per-role model globs with denies, endpoints, streaming and
 * max_tokens. A request is allowed when one of the caller's roles allows all
 * of it; a role's deny list narrows only that role's own allow list, so
 * adding a role never takes a permission away. Unknown roles grant nothing
 * (default deny). Pure functions over the immutable set: thread-safe. */
#include "policy/pol_internal.h"

#include <string.h>

bool pol_glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;

    /* greedy with one backtrack point: O(len(pat) * len(s)) at worst */
    while (*s != '\0') {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == '?' || *pat == *s) {
            pat++;
            s++;
        } else if (star != NULL) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

const pol_role *pol_role_find(const pol_set *p, const char *name)
{
    for (size_t i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i].name, name) == 0)
            return &p->roles[i];
    return NULL;
}

static bool role_allows_model(const pol_role *r, const char *model)
{
    bool is_allowed = false;

    for (size_t i = 0; i < r->nmodels && !is_allowed; i++)
        is_allowed = pol_glob_match(r->models[i], model);
    for (size_t i = 0; i < r->ndeny && is_allowed; i++)
        is_allowed = !pol_glob_match(r->deny[i], model);
    return is_allowed;
}

unsigned pol_endpoint_bit(const char *name)
{
    if (name == NULL)
        return 0;
    if (strcmp(name, "chat") == 0)
        return POL_EP_CHAT;
    if (strcmp(name, "embeddings") == 0)
        return POL_EP_EMBEDDINGS;
    if (strcmp(name, "models") == 0)
        return POL_EP_MODELS;
    return 0;
}

int pol_check(const pol_set *p, const pol_identity *id, const char *endpoint, const char *model,
              bool is_stream, const char **why)
{
    unsigned ep = pol_endpoint_bit(endpoint);
    bool needs_model = ep != POL_EP_MODELS;
    /* how far the best role got: 1 endpoint, 2 endpoint and model; -1 bad model name */
    int reached = 0;

    if (ep != 0 && needs_model && (model == NULL || !pol_is_clean(model)))
        reached = -1;
    for (size_t i = 0; ep != 0 && reached >= 0 && i < id->nroles; i++) {
        const pol_role *r = pol_role_find(p, id->roles[i]);
        if (r == NULL || (r->endpoints & ep) == 0)
            continue;
        reached = reached > 1 ? reached : 1;
        if (needs_model && !role_allows_model(r, model))
            continue;
        reached = 2;
        if (is_stream && !r->is_stream_allowed)
            continue;
        *why = NULL;
        return 0;
    }
    *why = reached == 2   ? "stream_not_allowed"
           : reached == 0 ? "endpoint_not_allowed"
                          : "model_not_allowed";
    return CM_EDENIED;
}

bool pol_model_visible(const pol_set *p, const pol_identity *id, const char *model)
{
    if (model == NULL || !pol_is_clean(model))
        return false;
    for (size_t i = 0; i < id->nroles; i++) {
        const pol_role *r = pol_role_find(p, id->roles[i]);
        if (r != NULL && role_allows_model(r, model))
            return true;
    }
    return false;
}

unsigned pol_max_tokens(const pol_set *p, const pol_identity *id)
{
    unsigned cap = 0;

    /* only roles that allow some model can widen the cap */
    for (size_t i = 0; i < id->nroles; i++) {
        const pol_role *r = pol_role_find(p, id->roles[i]);
        if (r == NULL || r->nmodels == 0)
            continue;
        if (r->max_tokens == 0)
            return 0;
        cap = r->max_tokens > cap ? r->max_tokens : cap;
    }
    return cap;
}
