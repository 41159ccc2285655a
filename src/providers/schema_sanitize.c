/* schema_sanitize.c: tool input schemas rewritten into the subset a provider accepts (see
 * schema_sanitize.h).
 *
 * The input is copied once and the copy is rewritten in place, one schema object at a time:
 *   1. until nothing changes: inline $ref, merge allOf, oneOf -> anyOf, lift a single
 *      non-null anyOf member (these can bring new $ref or allOf to the surface);
 *   2. type arrays and null enum values -> nullable, const -> enum, non-string enums ->
 *      description, exclusive bounds -> minimum/maximum, formats;
 *   3. keywords dropped (drop list, then allow list);
 *   4. every schema below (properties, items, anyOf, ...) is rewritten the same way;
 *   5. required filtered, empty properties, missing items and type filled in.
 * Work is bounded: at most 64 nested schemas, 1000 inlined references copying 500000 JSON
 * values, and 200000 schema objects per call, so a hostile schema (deep nesting, references
 * that fan out) costs little. */
#include "providers/schema_sanitize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MAX_DEPTH 64
#define MAX_INLINES 1000
#define MAX_NODES 200000  /* schema objects rewritten */
#define MAX_COPIED 500000 /* JSON values copied by inlining */
#define MAX_REF_STACK 64
#define MAX_ROUNDS 32

static const char *const gemini_allow[] = {
    "type",      "format",    "title",      "description", "nullable",      "enum",
    "maxItems",  "minItems",  "properties", "required",    "minProperties", "maxProperties",
    "minLength", "maxLength", "pattern",    "example",     "anyOf",         "propertyOrdering",
    "items",     "minimum",   "maximum",    NULL};

/* clang-format off */
static const char *const gemini_drop[] = {
    "$schema", "$id", "$comment", "$anchor", "$defs", "definitions", "additionalProperties",
    "propertyNames", "patternProperties", "unevaluatedProperties", "const", "default",
    "examples", "exclusiveMinimum", "exclusiveMaximum", NULL};

static const char *const gemini_formats[] = {
    "string:enum", "string:date-time", "number:float", "number:double", "integer:int32",
    "integer:int64", NULL};
/* clang-format on */

const cc_schema_rules_t cc_schema_rules_gemini = {
    .drop = gemini_drop,
    .allow = gemini_allow,
    .formats = gemini_formats,
    .inline_refs = true,
    .merge_all_of = true,
    .one_of_to_any_of = true,
    .nullable = true,
    .const_to_enum = true,
    .string_enums = true,
    .exclusive_bounds = true,
    .tuple_items = true,
    .array_items = true,
    .need_type = true,
    .empty_properties = true,
    .empty_object_properties = false,
    .filter_required = true,
};

static const char *const openai_drop[] = {"$schema", NULL};

const cc_schema_rules_t cc_schema_rules_openai = {
    .drop = openai_drop,
    .empty_object_properties = true,
    .need_type = false,
};

typedef struct {
    const cc_schema_rules_t *r;
    const cJSON *root;         /* the caller's schema: where $ref points */
    char *refs[MAX_REF_STACK]; /* the references being expanded (copies) */
    int nrefs;
    int inlines;
    long nodes;
    long copied;
} ctx_t;

/* Keywords whose value is one schema, an array of schemas, or a map of name -> schema. */
static const char *const one_schema[] = {"items",
                                         "additionalProperties",
                                         "not",
                                         "contains",
                                         "if",
                                         "then",
                                         "else",
                                         "propertyNames",
                                         "unevaluatedItems",
                                         "unevaluatedProperties",
                                         NULL};
static const char *const schema_lists[] = {"anyOf", "oneOf", "allOf", "prefixItems", NULL};
static const char *const schema_maps[] = {"properties",  "patternProperties", "$defs",
                                          "definitions", "dependentSchemas",  NULL};

static bool in_list(const char *const *list, const char *s) {
    if (!list || !s) return false;
    for (; *list; list++)
        if (strcmp(*list, s) == 0) return true;
    return false;
}

static cJSON *get(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static void del(cJSON *o, const char *key) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
}

/* Sets o[key] = v, replacing an existing member (v is owned by o afterwards). */
static void put(cJSON *o, const char *key, cJSON *v) {
    if (!v) return;
    if (get(o, key))
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else
        cJSON_AddItemToObject(o, key, v);
}

/* Removes members whose key appears again later (the last one wins, as in json_body.c). */
static void dedupe_keys(cJSON *o) {
    cJSON *it = o->child;
    while (it) {
        cJSON *next = it->next;
        for (cJSON *later = next; later; later = later->next) {
            if (it->string && later->string && strcmp(it->string, later->string) == 0) {
                cJSON_Delete(cJSON_DetachItemViaPointer(o, it));
                break;
            }
        }
        it = next;
    }
}

/* Empties an object schema. */
static void clear(cJSON *o) {
    while (o->child)
        cJSON_Delete(cJSON_DetachItemViaPointer(o, o->child));
}

/* Moves every member of `from` that `to` lacks into `to` (so `to`'s members win). */
static void merge_missing(cJSON *to, cJSON *from) {
    cJSON *it = from->child;
    while (it) {
        cJSON *next = it->next;
        if (it->string && !get(to, it->string)) {
            cJSON_DetachItemViaPointer(from, it);
            cJSON_AddItemToObject(to, it->string, it);
        }
        it = next;
    }
}

/* Follows a JSON pointer ("#", "#/$defs/Name", "#/definitions/a~1b/properties/c") from the
 * root; NULL when it leads nowhere or is not local. */
static const cJSON *resolve_pointer(const cJSON *root, const char *ref) {
    if (ref[0] != '#') return NULL;
    const cJSON *cur = root;
    const char *p = ref + 1;
    char tok[256];
    while (*p) {
        if (*p != '/') return NULL;
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1')) c = *p++ == '0' ? '~' : '/';
            if (n + 1 >= sizeof tok) return NULL;
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (cJSON_IsObject(cur)) {
            cur = get(cur, tok);
        } else if (cJSON_IsArray(cur)) {
            char *end;
            long i = strtol(tok, &end, 10);
            if (!n || *end || i < 0) return NULL;
            cur = cJSON_GetArrayItem(cur, (int)i);
        } else {
            return NULL;
        }
        if (!cur) return NULL;
    }
    return cur;
}

/* The number of JSON values in v, counting at most up to `limit`. */
static long count_values(const cJSON *v, long limit) {
    long n = 1;
    for (const cJSON *it = v->child; it && n <= limit; it = it->next)
        n += count_values(it, limit - n);
    return n;
}

static bool ref_active(const ctx_t *c, const char *ref) {
    for (int i = 0; i < c->nrefs; i++)
        if (strcmp(c->refs[i], ref) == 0) return true;
    return false;
}

/* Replaces s's $ref by the definition it names, keeping s's other members. Returns true when
 * s changed. A reference that is unknown, circular or over budget is just removed. */
static bool inline_ref(ctx_t *c, cJSON *s) {
    cJSON *ref = get(s, "$ref");
    if (!ref) return false;
    const cJSON *def = NULL;
    if (cJSON_IsString(ref) && !ref_active(c, ref->valuestring) && c->nrefs < MAX_REF_STACK &&
        c->inlines < MAX_INLINES)
        def = resolve_pointer(c->root, ref->valuestring);
    if (def && cJSON_IsObject(def)) {
        long cost = count_values(def, MAX_COPIED);
        if (c->copied + cost > MAX_COPIED)
            def = NULL;
        else
            c->copied += cost;
    }
    if (def && cJSON_IsObject(def)) {
        cJSON *copy = cJSON_Duplicate(def, 1);
        char *name = strdup(ref->valuestring);
        if (copy && name) {
            c->refs[c->nrefs++] = name; /* popped when s is done */
            c->inlines++;
            del(s, "$ref");
            merge_missing(s, copy);
            cJSON_Delete(copy);
            return true;
        }
        cJSON_Delete(copy);
        free(name);
    }
    del(s, "$ref");
    return true;
}

/* allOf members merged into s: properties and required are united, other keywords of a
 * member fill in only what s lacks. */
static bool merge_all_of(ctx_t *c, cJSON *s) {
    cJSON *all = get(s, "allOf");
    if (!all) return false;
    cJSON_DetachItemViaPointer(s, all);
    if (cJSON_IsArray(all)) {
        cJSON *m;
        cJSON_ArrayForEach(m, all) {
            if (!cJSON_IsObject(m)) continue;
            /* A member that is only a reference brings the definition. */
            for (int i = 0; i < 8 && get(m, "$ref"); i++)
                inline_ref(c, m);
            cJSON *mp = get(m, "properties");
            if (cJSON_IsObject(mp)) {
                cJSON *sp = get(s, "properties");
                if (!cJSON_IsObject(sp)) {
                    del(s, "properties");
                    sp = cJSON_AddObjectToObject(s, "properties");
                }
                if (sp) merge_missing(sp, mp);
            }
            cJSON *mr = get(m, "required");
            if (cJSON_IsArray(mr)) {
                cJSON *sr = get(s, "required");
                if (!cJSON_IsArray(sr)) {
                    del(s, "required");
                    sr = cJSON_AddArrayToObject(s, "required");
                }
                cJSON *name;
                cJSON_ArrayForEach(name, mr) {
                    if (!cJSON_IsString(name) || !sr) continue;
                    bool have = false;
                    cJSON *x;
                    cJSON_ArrayForEach(x, sr) {
                        if (cJSON_IsString(x) && strcmp(x->valuestring, name->valuestring) == 0)
                            have = true;
                    }
                    if (!have) cJSON_AddItemToArray(sr, cJSON_CreateString(name->valuestring));
                }
            }
            del(m, "properties");
            del(m, "required");
            merge_missing(s, m);
        }
    }
    cJSON_Delete(all);
    return true;
}

static bool is_null_schema(const cJSON *m) {
    if (!cJSON_IsObject(m)) return false;
    const cJSON *t = get(m, "type");
    if (cJSON_IsString(t)) return strcmp(t->valuestring, "null") == 0;
    if (cJSON_IsArray(t) && cJSON_GetArraySize(t) == 1) {
        const cJSON *x = cJSON_GetArrayItem(t, 0);
        return cJSON_IsString(x) && strcmp(x->valuestring, "null") == 0;
    }
    return false;
}

static void set_nullable(cJSON *s) {
    put(s, "nullable", cJSON_CreateTrue());
}

/* anyOf with null members: the null members become nullable; a single remaining member is
 * lifted into s (s's own keywords win). Returns true when a member was lifted. */
static bool any_of_nulls(cJSON *s) {
    cJSON *any = get(s, "anyOf");
    if (!cJSON_IsArray(any)) return false;
    cJSON *m = any->child;
    while (m) {
        cJSON *next = m->next;
        if (is_null_schema(m)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(any, m));
            set_nullable(s);
        }
        m = next;
    }
    int n = cJSON_GetArraySize(any);
    if (n == 0) {
        del(s, "anyOf");
        return false;
    }
    if (n == 1 && cJSON_IsObject(any->child)) {
        cJSON *only = cJSON_DetachItemViaPointer(any, any->child);
        del(s, "anyOf");
        merge_missing(s, only);
        cJSON_Delete(only);
        return true;
    }
    return false;
}

/* type: ["string", "null"] -> type: "string", nullable: true; several non-null types become
 * an anyOf of one schema per type (when s has no anyOf yet; else the first type stays). */
static void type_arrays(cJSON *s) {
    cJSON *t = get(s, "type");
    if (cJSON_IsString(t) && strcmp(t->valuestring, "null") == 0) {
        del(s, "type");
        set_nullable(s);
        return;
    }
    if (!cJSON_IsArray(t)) return;
    cJSON *kept = cJSON_CreateArray();
    cJSON *x;
    cJSON_ArrayForEach(x, t) {
        if (!cJSON_IsString(x)) continue;
        if (strcmp(x->valuestring, "null") == 0)
            set_nullable(s);
        else
            cJSON_AddItemToArray(kept, cJSON_CreateString(x->valuestring));
    }
    int n = cJSON_GetArraySize(kept);
    if (n == 0) {
        del(s, "type");
    } else if (n == 1 || get(s, "anyOf")) {
        put(s, "type", cJSON_CreateString(kept->child->valuestring));
    } else {
        cJSON *any = cJSON_CreateArray();
        cJSON_ArrayForEach(x, kept) {
            cJSON *one = cJSON_CreateObject();
            cJSON_AddStringToObject(one, "type", x->valuestring);
            cJSON_AddItemToArray(any, one);
        }
        del(s, "type");
        cJSON_AddItemToObject(s, "anyOf", any);
    }
    cJSON_Delete(kept);
}

/* Appends text to s's description (creating it). */
static void describe(cJSON *s, const char *text) {
    cJSON *d = get(s, "description");
    cc_buf_t b = CC_BUF_INIT;
    if (cJSON_IsString(d) && d->valuestring[0]) {
        cc_buf_puts(&b, d->valuestring);
        cc_buf_puts(&b, "\n");
    }
    cc_buf_puts(&b, text);
    if (b.data) put(s, "description", cJSON_CreateString(b.data));
    cc_buf_free(&b);
}

static void enums(const ctx_t *c, cJSON *s) {
    const cc_schema_rules_t *r = c->r;
    if (r->const_to_enum) {
        cJSON *k = get(s, "const");
        if (k) {
            cJSON_DetachItemViaPointer(s, k);
            if (!get(s, "enum")) {
                cJSON *e = cJSON_CreateArray();
                cJSON_AddItemToArray(e, k);
                cJSON_AddItemToObject(s, "enum", e);
            } else {
                cJSON_Delete(k);
            }
        }
    }
    cJSON *e = get(s, "enum");
    if (!e) return;
    if (!cJSON_IsArray(e)) {
        if (r->string_enums) del(s, "enum");
        return;
    }
    if (r->nullable) {
        cJSON *x = e->child;
        while (x) {
            cJSON *next = x->next;
            if (cJSON_IsNull(x)) {
                cJSON_Delete(cJSON_DetachItemViaPointer(e, x));
                set_nullable(s);
            }
            x = next;
        }
    }
    if (!r->string_enums) return;
    bool all_strings = true;
    cJSON *x;
    cJSON_ArrayForEach(x, e) {
        if (!cJSON_IsString(x)) all_strings = false;
    }
    if (all_strings && cJSON_GetArraySize(e) > 0) return;
    if (cJSON_GetArraySize(e) > 0) {
        cc_buf_t b = CC_BUF_INIT;
        cc_buf_puts(&b, cJSON_GetArraySize(e) == 1 ? "Must be: " : "One of: ");
        int i = 0;
        cJSON_ArrayForEach(x, e) {
            char *v = cJSON_PrintUnformatted(x);
            if (i++) cc_buf_puts(&b, ", ");
            if (v) cc_buf_puts(&b, v);
            free(v);
        }
        if (b.data) describe(s, b.data);
        cc_buf_free(&b);
    }
    del(s, "enum");
}

static bool type_is(const cJSON *s, const char *name) {
    const cJSON *t = get(s, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, name) == 0;
}

/* exclusiveMinimum/exclusiveMaximum as numbers (2020-12) or booleans beside minimum/maximum
 * (draft 4): integers get the next integer inside the bound, numbers the bound itself. */
static void exclusive_bound(cJSON *s, const char *ex_key, const char *key, bool lower) {
    cJSON *ex = get(s, ex_key);
    if (!ex) return;
    cJSON *cur = get(s, key);
    bool integer = type_is(s, "integer");
    double v = 0;
    bool have = false;
    if (cJSON_IsNumber(ex)) {
        v = ex->valuedouble;
        have = true;
    } else if (cJSON_IsTrue(ex) && cJSON_IsNumber(cur)) {
        v = cur->valuedouble;
        have = true;
    }
    del(s, ex_key);
    if (!have || !isfinite(v)) return;
    if (integer) v = lower ? floor(v) + 1 : ceil(v) - 1;
    cur = get(s, key);
    if (cJSON_IsNumber(cur) && (lower ? cur->valuedouble >= v : cur->valuedouble <= v)) return;
    put(s, key, cJSON_CreateNumber(v));
}

static void formats(const ctx_t *c, cJSON *s) {
    cJSON *f = get(s, "format");
    if (!f || !c->r->formats) return;
    const cJSON *t = get(s, "type");
    if (cJSON_IsString(f) && cJSON_IsString(t)) {
        char pair[128];
        int n = snprintf(pair, sizeof pair, "%s:%s", t->valuestring, f->valuestring);
        if (n > 0 && (size_t)n < sizeof pair && in_list(c->r->formats, pair)) return;
    }
    del(s, "format");
}

/* Drop list, then allow list. */
static void drop_keywords(const ctx_t *c, cJSON *s) {
    cJSON *it = s->child;
    while (it) {
        cJSON *next = it->next;
        const char *k = it->string ? it->string : "";
        if (in_list(c->r->drop, k) || (c->r->allow && !in_list(c->r->allow, k)))
            cJSON_Delete(cJSON_DetachItemViaPointer(s, it));
        it = next;
    }
}

static void fix(ctx_t *c, cJSON *s, int depth);

/* items given as a list (draft 4 tuples) or prefixItems (2020-12): the first item. */
static void tuple_items(cJSON *s) {
    cJSON *items = get(s, "items");
    cJSON *prefix = get(s, "prefixItems");
    if (cJSON_IsArray(items)) {
        cJSON *first = items->child ? cJSON_DetachItemViaPointer(items, items->child) : NULL;
        del(s, "items");
        if (first) cJSON_AddItemToObject(s, "items", first);
    }
    if (prefix) {
        cJSON_DetachItemViaPointer(s, prefix);
        if (!get(s, "items") && cJSON_IsArray(prefix) && prefix->child)
            cJSON_AddItemToObject(s, "items", cJSON_DetachItemViaPointer(prefix, prefix->child));
        cJSON_Delete(prefix);
    }
}

/* Makes the member `item` of `parent` an object schema (true/false/other -> {}) and fixes
 * it. */
static void fix_member(ctx_t *c, cJSON *parent, cJSON *item, int depth) {
    if (!cJSON_IsObject(item)) {
        cJSON *empty = cJSON_CreateObject();
        if (empty && item->string) { /* the replacement takes over the member's key */
            size_t n = strlen(item->string) + 1;
            empty->string = cJSON_malloc(n);
            if (empty->string) memcpy(empty->string, item->string, n);
        }
        if (!empty || (item->string && !empty->string) ||
            !cJSON_ReplaceItemViaPointer(parent, item, empty)) {
            cJSON_Delete(empty);
            return;
        }
        item = empty;
    }
    fix(c, item, depth);
}

static void fix_children(ctx_t *c, cJSON *s, int depth) {
    for (cJSON *it = s->child, *after; it; it = after) {
        after = it->next; /* fix_member may replace `it` */
        const char *k = it->string ? it->string : "";
        if (in_list(one_schema, k)) {
            if (cJSON_IsObject(it) || (strcmp(k, "items") == 0 && !cJSON_IsArray(it)))
                fix_member(c, s, it, depth + 1);
            else if (strcmp(k, "items") == 0 && cJSON_IsArray(it))
                for (cJSON *m = it->child; m;) {
                    cJSON *next = m->next;
                    fix_member(c, it, m, depth + 1);
                    m = next;
                }
        } else if (in_list(schema_lists, k) || in_list(schema_maps, k)) {
            if (!cJSON_IsArray(it) && !cJSON_IsObject(it)) continue;
            for (cJSON *m = it->child; m;) {
                cJSON *next = m->next;
                fix_member(c, it, m, depth + 1);
                m = next;
            }
        }
    }
}

static void finish(const ctx_t *c, cJSON *s) {
    const cc_schema_rules_t *r = c->r;
    cJSON *props = get(s, "properties");
    if (props && !cJSON_IsObject(props) && r->allow) {
        del(s, "properties");
        props = NULL;
    }
    if (r->filter_required) {
        cJSON *req = get(s, "required");
        if (req) {
            if (cJSON_IsArray(req)) {
                cJSON *x = req->child;
                while (x) {
                    cJSON *next = x->next;
                    bool keep = cJSON_IsString(x) && cJSON_IsObject(props) &&
                                get(props, x->valuestring) != NULL;
                    /* a name listed twice is kept once */
                    for (cJSON *y = req->child; keep && y != x; y = y->next)
                        if (cJSON_IsString(y) && strcmp(y->valuestring, x->valuestring) == 0)
                            keep = false;
                    if (!keep) cJSON_Delete(cJSON_DetachItemViaPointer(req, x));
                    x = next;
                }
            }
            if (!cJSON_IsArray(req) || cJSON_GetArraySize(req) == 0) del(s, "required");
        }
    }
    if (r->empty_properties && cJSON_IsObject(props) && !props->child) {
        del(s, "properties");
        props = NULL;
    }
    if (r->need_type && !get(s, "type") && !get(s, "anyOf")) {
        const char *t = "object";
        if (get(s, "properties"))
            t = "object";
        else if (get(s, "items") || get(s, "minItems") || get(s, "maxItems"))
            t = "array";
        else if (get(s, "enum") || get(s, "pattern") || get(s, "minLength") || get(s, "maxLength"))
            t = "string";
        else if (get(s, "minimum") || get(s, "maximum"))
            t = "number";
        cJSON_AddStringToObject(s, "type", t);
    }
    if (r->array_items && type_is(s, "array") && !cJSON_IsObject(get(s, "items"))) {
        cJSON *items = cJSON_CreateObject();
        cJSON_AddStringToObject(items, "type", "string");
        put(s, "items", items);
    }
    if (r->empty_object_properties && type_is(s, "object") && !get(s, "properties"))
        cJSON_AddObjectToObject(s, "properties");
    if (!r->need_type && r->empty_object_properties && !s->child) {
        cJSON_AddStringToObject(s, "type", "object");
        cJSON_AddObjectToObject(s, "properties");
    }
}

static void fix(ctx_t *c, cJSON *s, int depth) {
    const cc_schema_rules_t *r = c->r;
    int refs_before = c->nrefs;
    if (depth > MAX_DEPTH || ++c->nodes > MAX_NODES) {
        clear(s);
        finish(c, s);
        return;
    }
    dedupe_keys(s);
    for (int round = 0; round < MAX_ROUNDS; round++) {
        bool changed = false;
        if (r->inline_refs && inline_ref(c, s)) changed = true;
        if (r->merge_all_of && merge_all_of(c, s)) changed = true;
        if (r->one_of_to_any_of) {
            cJSON *one = get(s, "oneOf");
            if (one) {
                if (get(s, "anyOf")) {
                    del(s, "oneOf");
                } else {
                    cJSON_DetachItemViaPointer(s, one);
                    cJSON_AddItemToObject(s, "anyOf", one);
                }
                changed = true;
            }
        }
        if (r->nullable && any_of_nulls(s)) changed = true;
        if (!changed) break;
        dedupe_keys(s);
    }
    if (r->inline_refs) {
        del(s, "$ref");
        del(s, "$defs");
        del(s, "definitions");
    }
    if (r->nullable) type_arrays(s);
    enums(c, s);
    if (r->exclusive_bounds) {
        exclusive_bound(s, "exclusiveMinimum", "minimum", true);
        exclusive_bound(s, "exclusiveMaximum", "maximum", false);
    }
    formats(c, s);
    if (r->tuple_items) tuple_items(s);
    drop_keywords(c, s);
    fix_children(c, s, depth);
    finish(c, s);
    /* The references inlined into s are in scope for its children only. */
    while (c->nrefs > refs_before)
        free(c->refs[--c->nrefs]);
}

cJSON *cc_schema_sanitize(const cJSON *schema, const cc_schema_rules_t *rules) {
    cJSON *copy = cJSON_IsObject(schema) ? cJSON_Duplicate(schema, 1) : cJSON_CreateObject();
    if (!copy) return NULL;
    ctx_t c = {.r = rules, .root = cJSON_IsObject(schema) ? schema : copy};
    c.refs[c.nrefs] = strdup("#"); /* the root is always being expanded */
    if (!c.refs[c.nrefs]) {
        cJSON_Delete(copy);
        return NULL;
    }
    c.nrefs++;
    fix(&c, copy, 0);
    free(c.refs[0]);
    return copy;
}
