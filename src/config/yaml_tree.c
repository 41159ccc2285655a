/* yaml_tree.c: libyaml documents turned into cc_yaml_node_t trees (positions kept, aliases
 * expanded under a node budget, `<<` merges applied), YAML 1.1 scalar typing, and cJSON
 * conversion. See yaml_tree.h. */
#include "config/yaml_tree.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    yaml_document_t *doc;
    const char *name;
    cc_buf_t *errors;
    size_t count;
    bool failed;
} conv_t;

static void conv_error(conv_t *c, const yaml_node_t *yn, const char *what) {
    if (c->failed) return; /* one structural error is enough: the rest follow from it */
    c->failed = true;
    if (c->errors)
        cc_buf_printf(c->errors, "%s:%d:%d: %s\n", c->name, (int)yn->start_mark.line + 1,
                      (int)yn->start_mark.column + 1, what);
}

static cc_yaml_node_t *node_new(conv_t *c, const yaml_node_t *yn, cc_yaml_kind_t kind) {
    if (++c->count > CC_YAML_MAX_NODES) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the document expands to more than %d nodes through anchors and aliases; "
                 "use fewer aliases",
                 CC_YAML_MAX_NODES);
        conv_error(c, yn, msg);
        return NULL;
    }
    cc_yaml_node_t *n = calloc(1, sizeof *n);
    if (!n) {
        conv_error(c, yn, "out of memory reading the YAML; free some memory and retry");
        return NULL;
    }
    n->kind = kind;
    n->line = (int)yn->start_mark.line + 1;
    n->col = (int)yn->start_mark.column + 1;
    return n;
}

static bool text_eq(const cc_yaml_node_t *n, const char *s, size_t len) {
    return n && n->kind == CC_YAML_SCALAR && n->len == len && memcmp(n->text, s, len) == 0;
}

static bool is_merge_key(const yaml_node_t *k) {
    return k && k->type == YAML_SCALAR_NODE && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           k->data.scalar.length == 2 && memcmp(k->data.scalar.value, "<<", 2) == 0;
}

static int push_pair(cc_yaml_node_t *map, cc_yaml_node_t *k, cc_yaml_node_t *v, size_t *cap) {
    if (map->n_pairs == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        cc_yaml_pair_t *p = realloc(map->pairs, ncap * sizeof *p);
        if (!p) return -1;
        map->pairs = p;
        *cap = ncap;
    }
    map->pairs[map->n_pairs].key = k;
    map->pairs[map->n_pairs].value = v;
    map->n_pairs++;
    return 0;
}

static bool map_has_key(const cc_yaml_node_t *map, const cc_yaml_node_t *key) {
    if (key->kind != CC_YAML_SCALAR) return false;
    for (size_t i = 0; i < map->n_pairs; i++)
        if (text_eq(map->pairs[i].key, key->text, key->len)) return true;
    return false;
}

static cc_yaml_node_t *convert(conv_t *c, int index, int depth);

/* Moves the pairs of the already-converted map `src` whose keys `dst` lacks into `dst`. */
static int merge_from(cc_yaml_node_t *dst, cc_yaml_node_t *src, size_t *cap) {
    int rc = 0;
    for (size_t i = 0; i < src->n_pairs; i++) {
        cc_yaml_pair_t *p = &src->pairs[i];
        if (rc == 0 && !map_has_key(dst, p->key)) {
            if (push_pair(dst, p->key, p->value, cap) == 0) {
                p->key = p->value = NULL;
                continue;
            }
            rc = -1;
        }
    }
    cc_yaml_free(src);
    return rc;
}

static int apply_merge(conv_t *c, cc_yaml_node_t *map, int vindex, int depth, size_t *cap) {
    yaml_node_t *yv = yaml_document_get_node(c->doc, vindex);
    if (!yv) return -1;
    static const char bad[] =
        "a '<<' merge key needs a map or a list of maps; point it at a map (<<: *anchor)";
    if (yv->type == YAML_MAPPING_NODE) {
        cc_yaml_node_t *src = convert(c, vindex, depth + 1);
        if (!src) return -1;
        return merge_from(map, src, cap);
    }
    if (yv->type != YAML_SEQUENCE_NODE) {
        conv_error(c, yv, bad);
        return -1;
    }
    for (yaml_node_item_t *it = yv->data.sequence.items.start; it < yv->data.sequence.items.top;
         it++) {
        yaml_node_t *yi = yaml_document_get_node(c->doc, *it);
        if (!yi || yi->type != YAML_MAPPING_NODE) {
            conv_error(c, yi ? yi : yv, bad);
            return -1;
        }
        cc_yaml_node_t *src = convert(c, *it, depth + 1);
        if (!src || merge_from(map, src, cap) != 0) return -1;
    }
    return 0;
}

static cc_yaml_node_t *convert_map(conv_t *c, yaml_node_t *yn, int depth) {
    cc_yaml_node_t *n = node_new(c, yn, CC_YAML_MAP);
    if (!n) return NULL;
    size_t cap = 0;
    yaml_node_pair_t *p;
    /* Keys written in the map first, then the merged ones (which never replace them). */
    for (p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
        if (is_merge_key(yaml_document_get_node(c->doc, p->key))) continue;
        cc_yaml_node_t *k = convert(c, p->key, depth + 1);
        cc_yaml_node_t *v = k ? convert(c, p->value, depth + 1) : NULL;
        if (!v || push_pair(n, k, v, &cap) != 0) {
            cc_yaml_free(k);
            cc_yaml_free(v);
            goto fail;
        }
    }
    for (p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
        if (!is_merge_key(yaml_document_get_node(c->doc, p->key))) continue;
        if (apply_merge(c, n, p->value, depth, &cap) != 0) goto fail;
    }
    return n;
fail:
    cc_yaml_free(n);
    return NULL;
}

static cc_yaml_node_t *convert_seq(conv_t *c, yaml_node_t *yn, int depth) {
    cc_yaml_node_t *n = node_new(c, yn, CC_YAML_SEQ);
    if (!n) return NULL;
    size_t count = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
    if (count) {
        n->items = calloc(count, sizeof *n->items);
        if (!n->items) goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        n->items[i] = convert(c, yn->data.sequence.items.start[i], depth + 1);
        if (!n->items[i]) goto fail;
        n->n_items++;
    }
    return n;
fail:
    cc_yaml_free(n);
    return NULL;
}

static cc_yaml_node_t *convert(conv_t *c, int index, int depth) {
    yaml_node_t *yn = yaml_document_get_node(c->doc, index);
    if (!yn) return NULL;
    if (depth > CC_YAML_MAX_DEPTH) {
        char msg[128];
        snprintf(msg, sizeof msg, "nesting deeper than %d levels; flatten this part of the file",
                 CC_YAML_MAX_DEPTH);
        conv_error(c, yn, msg);
        return NULL;
    }
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        cc_yaml_node_t *n = node_new(c, yn, CC_YAML_SCALAR);
        if (!n) return NULL;
        n->len = yn->data.scalar.length;
        n->text = malloc(n->len + 1);
        if (!n->text) {
            free(n);
            return NULL;
        }
        memcpy(n->text, yn->data.scalar.value, n->len);
        n->text[n->len] = '\0';
        n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
                    yn->data.scalar.style != YAML_ANY_SCALAR_STYLE;
        return n;
    }
    case YAML_MAPPING_NODE:
        return convert_map(c, yn, depth);
    case YAML_SEQUENCE_NODE:
        return convert_seq(c, yn, depth);
    default:
        return NULL;
    }
}

/* Line and column (1-based) of byte `offset`, for reader errors that only carry an offset. */
static void offset_pos(const char *data, size_t len, size_t offset, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (data[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)data[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static void syntax_error(const yaml_parser_t *p, const char *data, size_t len, const char *name,
                         cc_buf_t *errors) {
    if (!errors) return;
    int line, col;
    if (p->error == YAML_MEMORY_ERROR) {
        cc_buf_printf(errors, "%s: out of memory reading the YAML; free some memory and retry\n",
                      name);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        offset_pos(data, len, p->problem_offset, &line, &col);
        cc_buf_printf(errors, "%s:%d:%d: YAML error: %s", name, line, col,
                      p->problem ? p->problem : "unreadable text");
        if (p->problem_value != -1) cc_buf_printf(errors, " (byte 0x%02x)", p->problem_value);
        cc_buf_puts(errors, "; save the file as UTF-8 text without control characters\n");
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    cc_buf_printf(errors, "%s:%d:%d: YAML syntax error: %s", name, line, col,
                  p->problem ? p->problem : "invalid YAML");
    if (p->context)
        cc_buf_printf(errors, " (%s at line %d column %d)", p->context,
                      (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    cc_buf_puts(errors, "; fix the YAML here (indentation, a missing ':', a tab, or an unclosed "
                        "quote or bracket)\n");
}

int cc_yaml_parse(const char *data, size_t len, const char *name, cc_yaml_node_t **root,
                  cc_buf_t *errors) {
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    bool have_doc = false;
    int rc = -1;
    *root = NULL;
    if (!yaml_parser_initialize(&parser)) {
        if (errors) cc_buf_printf(errors, "%s: out of memory starting the YAML parser\n", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(&parser, data, len, name, errors);
        goto done;
    }
    have_doc = true;
    if (!yaml_document_get_root_node(&doc)) {
        rc = 0; /* no document at all: an empty file */
        goto done;
    }
    /* A second document would be silently ignored by most loaders; say so instead. */
    if (!yaml_parser_load(&parser, &extra)) {
        syntax_error(&parser, data, len, name, errors);
        goto done;
    }
    if (yaml_document_get_root_node(&extra)) {
        if (errors)
            cc_buf_printf(errors,
                          "%s:%d:%d: a second YAML document starts here; keep one document per "
                          "file (remove the extra '---')\n",
                          name, (int)extra.start_mark.line + 1, (int)extra.start_mark.column + 1);
        yaml_document_delete(&extra);
        goto done;
    }
    yaml_document_delete(&extra);
    conv_t c = {.doc = &doc, .name = name, .errors = errors};
    *root = convert(&c, 1, 0); /* libyaml numbers nodes from 1; the root is the first */
    if (!*root) {
        if (!c.failed && errors)
            cc_buf_printf(errors, "%s: out of memory reading the YAML; free some memory\n", name);
        goto done;
    }
    rc = 0;
done:
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

void cc_yaml_free(cc_yaml_node_t *node) {
    if (!node) return;
    free(node->text);
    for (size_t i = 0; i < node->n_pairs; i++) {
        cc_yaml_free(node->pairs[i].key);
        cc_yaml_free(node->pairs[i].value);
    }
    free(node->pairs);
    for (size_t i = 0; i < node->n_items; i++)
        cc_yaml_free(node->items[i]);
    free(node->items);
    free(node);
}

/* ---- scalar typing ---------------------------------------------------------------------- */

static bool word_in(const char *s, size_t n, const char *const *words) {
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(s, *words, n) == 0) return true;
    return false;
}

static const char *const null_words[] = {"~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", "yes", "Yes",
                                         "YES",  "on",   "On",   "ON",  NULL};
static const char *const false_words[] = {"false", "False", "FALSE", "no",  "No",
                                          "NO",    "off",   "Off",   "OFF", NULL};

static bool is_digit_in(char ch, int base) {
    if (base == 16)
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
    return ch >= '0' && ch < (char)('0' + base);
}

/* Parses a plain scalar as a YAML 1.1 number. Returns CC_YAML_INT, CC_YAML_FLOAT, or
 * CC_YAML_STR when it is not a number. Underscores between digits are allowed. */
static cc_yaml_type_t parse_number(const char *s, size_t n, double *out) {
    char buf[128];
    size_t i = 0, j = 0;
    bool neg = false;
    if (n == 0 || n >= sizeof buf) return CC_YAML_STR;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    const char *rest = s + i;
    size_t rn = n - i;
    static const char *const inf_words[] = {".inf", ".Inf", ".INF", NULL};
    static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};
    if (word_in(rest, rn, inf_words)) {
        if (out) *out = neg ? -INFINITY : INFINITY;
        return CC_YAML_FLOAT;
    }
    if (i == 0 && word_in(rest, rn, nan_words)) {
        if (out) *out = NAN;
        return CC_YAML_FLOAT;
    }
    if (rn > 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'o' || rest[1] == 'b')) {
        int base = rest[1] == 'x' ? 16 : rest[1] == 'o' ? 8 : 2;
        for (size_t k = 2; k < rn; k++) {
            if (rest[k] == '_' && k > 2) continue;
            if (!is_digit_in(rest[k], base)) return CC_YAML_STR;
            buf[j++] = rest[k];
        }
        buf[j] = '\0';
        double v = (double)strtoull(buf, NULL, base);
        if (out) *out = neg ? -v : v;
        return CC_YAML_INT;
    }
    bool digits = false, dot = false, exp = false, exp_digits = false;
    if (neg) buf[j++] = '-';
    for (size_t k = 0; k < rn; k++) {
        char ch = rest[k];
        if (ch >= '0' && ch <= '9') {
            if (exp)
                exp_digits = true;
            else
                digits = true;
        } else if (ch == '_' && digits && !exp) {
            continue;
        } else if (ch == '.' && !dot && !exp) {
            dot = true;
        } else if ((ch == 'e' || ch == 'E') && digits && !exp) {
            exp = true;
            if (k + 1 < rn && (rest[k + 1] == '+' || rest[k + 1] == '-')) {
                buf[j++] = ch;
                ch = rest[++k];
            }
        } else {
            return CC_YAML_STR;
        }
        buf[j++] = ch;
    }
    buf[j] = '\0';
    if (!digits || (exp && !exp_digits)) return CC_YAML_STR;
    if (out) *out = strtod(buf, NULL);
    return dot || exp ? CC_YAML_FLOAT : CC_YAML_INT;
}

cc_yaml_type_t cc_yaml_scalar_type(const cc_yaml_node_t *node) {
    if (!node) return CC_YAML_NULL;
    if (node->kind != CC_YAML_SCALAR || node->quoted) return CC_YAML_STR;
    if (node->len == 0 || word_in(node->text, node->len, null_words)) return CC_YAML_NULL;
    if (word_in(node->text, node->len, true_words) || word_in(node->text, node->len, false_words))
        return CC_YAML_BOOL;
    return parse_number(node->text, node->len, NULL);
}

bool cc_yaml_is_null(const cc_yaml_node_t *node) {
    return cc_yaml_scalar_type(node) == CC_YAML_NULL;
}

int cc_yaml_get_bool(const cc_yaml_node_t *node, bool *out) {
    if (cc_yaml_scalar_type(node) != CC_YAML_BOOL) return -1;
    *out = word_in(node->text, node->len, true_words);
    return 0;
}

int cc_yaml_get_number(const cc_yaml_node_t *node, double *out) {
    cc_yaml_type_t t = cc_yaml_scalar_type(node);
    if (t != CC_YAML_INT && t != CC_YAML_FLOAT) return -1;
    parse_number(node->text, node->len, out);
    return 0;
}

cc_yaml_node_t *cc_yaml_map_get(const cc_yaml_node_t *map, const char *key) {
    if (!map || map->kind != CC_YAML_MAP) return NULL;
    size_t klen = strlen(key);
    for (size_t i = map->n_pairs; i-- > 0;)
        if (text_eq(map->pairs[i].key, key, klen)) return map->pairs[i].value;
    return NULL;
}

const char *cc_yaml_describe(const cc_yaml_node_t *node, char *out, size_t size) {
    if (size == 0) return out;
    if (!node) {
        snprintf(out, size, "nothing");
        return out;
    }
    if (node->kind == CC_YAML_MAP) {
        snprintf(out, size, "a map");
        return out;
    }
    if (node->kind == CC_YAML_SEQ) {
        snprintf(out, size, "a list");
        return out;
    }
    size_t j = 0;
    out[j++] = '"';
    for (size_t i = 0; i < node->len && j + 8 < size; i++) {
        unsigned char ch = (unsigned char)node->text[i];
        if (i >= 60) {
            memcpy(out + j, "...", 3);
            j += 3;
            break;
        }
        if (ch == '"' || ch == '\\') {
            out[j++] = '\\';
            out[j++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            j += (size_t)snprintf(out + j, size - j, "\\x%02x", ch);
        } else {
            out[j++] = (char)ch;
        }
    }
    if (j + 1 < size) out[j++] = '"';
    out[j] = '\0';
    return out;
}

cJSON *cc_yaml_to_json(const cc_yaml_node_t *node) {
    if (!node) return cJSON_CreateNull();
    if (node->kind == CC_YAML_SCALAR) {
        double d;
        bool b;
        switch (cc_yaml_scalar_type(node)) {
        case CC_YAML_NULL:
            return cJSON_CreateNull();
        case CC_YAML_BOOL:
            cc_yaml_get_bool(node, &b);
            return cJSON_CreateBool(b);
        case CC_YAML_INT:
        case CC_YAML_FLOAT:
            cc_yaml_get_number(node, &d);
            return cJSON_CreateNumber(d);
        default:
            return cJSON_CreateString(node->text);
        }
    }
    if (node->kind == CC_YAML_SEQ) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < node->n_items; i++) {
            cJSON *item = cc_yaml_to_json(node->items[i]);
            if (!item || !cJSON_AddItemToArray(arr, item)) {
                cJSON_Delete(item);
                cJSON_Delete(arr);
                return NULL;
            }
        }
        return arr;
    }
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; obj && i < node->n_pairs; i++) {
        const cc_yaml_node_t *k = node->pairs[i].key;
        if (k->kind != CC_YAML_SCALAR) continue; /* complex keys have no JSON form */
        cJSON *val = cc_yaml_to_json(node->pairs[i].value);
        bool ok = val != NULL;
        if (ok && cJSON_GetObjectItemCaseSensitive(obj, k->text))
            ok = cJSON_ReplaceItemInObjectCaseSensitive(obj, k->text, val);
        else if (ok)
            ok = cJSON_AddItemToObject(obj, k->text, val);
        if (!ok) {
            cJSON_Delete(val);
            cJSON_Delete(obj);
            return NULL;
        }
    }
    return obj;
}
