/* lua_req_body.c: the end of the request stage for the body: a decoded req.body is compared
 * with the original member by member, and only the members that changed are re-encoded and
 * spliced into the original bytes (key order, white space and numbers as written are kept);
 * without a decoded body, a model set through req.model is spliced alone. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_body.h"
#include "lua/lua_json.h"
#include "lua/lua_req_internal.h"

static const char *body_data(const cc_preq_t *r, size_t *len) {
    *len = r->client->body.len;
    return r->client->body.data ? r->client->body.data : "";
}

static void push_ref(lua_State *L, int ref) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}

/* t[key] without metamethods: this runs after the script's budget, on tables it built. */
static void get_member(lua_State *L, int t, const char *key) {
    lua_pushstring(L, key);
    lua_rawget(L, t);
}

typedef struct {
    cc_json_edit_t *edits;
    size_t n, cap;
    cc_buf_t text; /* all new values, back to back; edits point into it by offset */
    size_t *offsets;
} edits_t;

static void edits_add(edits_t *e, const char *key, size_t off, size_t len, bool remove) {
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->edits = realloc(e->edits, e->cap * sizeof *e->edits);
        e->offsets = realloc(e->offsets, e->cap * sizeof *e->offsets);
    }
    e->edits[e->n].key = strdup(key);
    e->edits[e->n].value = remove ? NULL : "";
    e->edits[e->n].value_len = len;
    e->offsets[e->n] = off;
    e->n++;
}

typedef struct {
    lua_State *L;
    int body_idx;
    edits_t *e;
    const char *body;
    int failed;
    cc_buf_t *err;
} diff_ctx_t;

static int diff_member(const char *body, const cc_json_member_t *m, void *arg) {
    diff_ctx_t *d = arg;
    cc_buf_t key = CC_BUF_INIT;
    cc_json_string_decode(body + m->key.start, m->key.len, &key);
    lua_State *L = d->L;
    get_member(L, d->body_idx, key.data ? key.data : "");
    if (lua_isnil(L, -1)) {
        edits_add(d->e, key.data ? key.data : "", 0, 0, true);
    } else {
        cJSON *orig = cJSON_ParseWithLength(body + m->value.start, m->value.len);
        if (!orig || !cc_lua_json_equal(L, -1, orig)) {
            size_t off = d->e->text.len;
            if (cc_lua_to_json(L, -1, orig, &d->e->text, d->err) < 0) {
                d->failed = 1;
            } else {
                edits_add(d->e, key.data, off, d->e->text.len - off, false);
            }
        }
        cJSON_Delete(orig);
    }
    lua_pop(L, 1);
    cc_buf_free(&key);
    return d->failed;
}

static int cmp_key(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int apply_body_edits(lua_State *L, cc_preq_t *r, cc_buf_t *err) {
    size_t len;
    const char *body = body_data(r, &len);
    edits_t e = {0};
    push_ref(L, r->ref_body);
    int bidx = lua_gettop(L);
    int rc = 0;
    if (!lua_istable(L, bidx)) {
        cc_buf_puts(err, "req.body must stay a table");
        lua_pop(L, 1);
        return -1;
    }
    /* The body's model is the last one written (req.model and routing keep it in step), so a
     * hook that edits req.body.model after routing is obeyed. */
    get_member(L, bidx, "model");
    if (lua_type(L, -1) == LUA_TSTRING) {
        const char *cur = cc_preq_model(r);
        const char *m = lua_tostring(L, -1);
        if (!cur || strcmp(cur, m) != 0) cc_preq_set_model(r, m);
    }
    lua_pop(L, 1);
    diff_ctx_t d = {L, bidx, &e, body, 0, err};
    cc_json_each_member(body, len, diff_member, &d);
    if (d.failed) {
        rc = -1;
        goto done;
    }
    /* Members the script added, in key order so that the same edits give the same bytes. */
    size_t n_added = 0, cap_added = 0;
    char **added = NULL;
    lua_pushnil(L);
    while (lua_next(L, bidx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) continue;
        const char *k = lua_tostring(L, -1);
        cc_json_member_t m;
        if (cc_preq_member(r, k, &m) == 0) continue;
        char *copy = NULL;
        if (n_added == cap_added) {
            size_t cap = cap_added ? cap_added * 2 : 8;
            char **grown = realloc(added, cap * sizeof *added);
            if (grown) added = grown, cap_added = cap;
        }
        if (n_added < cap_added) copy = strdup(k);
        if (!copy) {
            lua_pop(L, 1);                        /* the key: lua_next is done */
            cc_buf_puts(err, "out of memory while applying the body edits");
            rc = -1;
            break;
        }
        added[n_added++] = copy;
    }
    if (n_added) qsort(added, n_added, sizeof *added, cmp_key);
    for (size_t i = 0; i < n_added && rc == 0; i++) {
        get_member(L, bidx, added[i]);
        size_t off = e.text.len;
        if (cc_lua_to_json(L, -1, NULL, &e.text, err) < 0)
            rc = -1;
        else
            edits_add(&e, added[i], off, e.text.len - off, false);
        lua_pop(L, 1);
    }
    for (size_t i = 0; i < n_added; i++) free(added[i]);
    free(added);
    if (rc < 0) goto done;
    if (e.n) {
        for (size_t i = 0; i < e.n; i++)
            if (e.edits[i].value) e.edits[i].value = e.text.data + e.offsets[i];
        cc_buf_reset(&r->body_out);
        if (cc_json_apply_edits(body, len, e.edits, e.n, &r->body_out) == 0) {
            r->body_changed = true;
        } else {
            /* Too many members changed to splice: write the whole body, in the client's key
             * order as far as it goes. */
            cJSON *order = cJSON_ParseWithLength(body, len);
            cc_buf_reset(&r->body_out);
            rc = cc_lua_to_json(L, bidx, order, &r->body_out, err);
            cJSON_Delete(order);
            if (rc == 0 && cc_json_validate(r->body_out.data, r->body_out.len, NULL) < 0) {
                cc_buf_puts(err, "the edited body is not valid JSON: a string in req.body is "
                                 "not UTF-8, or it nests deeper than 512");
                rc = -1;
            }
            if (rc == 0) r->body_changed = true;
        }
    }
done:
    lua_pop(L, 1);
    for (size_t i = 0; i < e.n; i++) free((char *)e.edits[i].key);
    free(e.edits);
    free(e.offsets);
    cc_buf_free(&e.text);
    return rc;
}

/* The model set through req.model or routing, spliced into the original bytes. */
static int apply_model(cc_preq_t *r) {
    if (!r->model_set || (r->model && strcmp(r->model, r->model_set) == 0)) return 0;
    size_t len;
    const char *body = body_data(r, &len);
    cc_buf_t val = CC_BUF_INIT;
    cc_buf_puts(&val, "\"");
    cc_buf_json_escape(&val, r->model_set, strlen(r->model_set));
    cc_buf_puts(&val, "\"");
    cc_json_edit_t ed = {"model", val.data, val.len};
    cc_buf_reset(&r->body_out);
    int rc = cc_json_apply_edits(body, len, &ed, 1, &r->body_out);
    cc_buf_free(&val);
    if (rc == 0) r->body_changed = true;
    return rc;
}

int cc__lua_req_apply_body(lua_State *L, cc_preq_t *r, cc_buf_t *err) {
    return r->ref_body != LUA_NOREF ? apply_body_edits(L, r, err) : apply_model(r);
}
