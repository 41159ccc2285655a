/* yaml_tree.h: YAML text (libyaml) as a small tree of maps, lists and scalars, each node
 * remembering its 1-based line and column, and the conversion of a node to cJSON with
 * YAML 1.1 scalar typing as PyYAML does it (null/~/empty, true/false/yes/no/on/off, ints,
 * floats; quoted and block scalars are always strings).
 *
 * Anchors and aliases are expanded (with a limit on the total node count, so a file of nested
 * aliases cannot blow up), and `<<` merge keys are applied: keys written in the map win over
 * merged ones, and earlier merge sources win over later ones.
 *
 * Ownership: cc_yaml_parse returns a root that owns its whole tree; cc_yaml_free releases it.
 * Every string and array inside belongs to the node that holds it. */
#ifndef CC_YAML_TREE_H
#define CC_YAML_TREE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

typedef enum { CC_YAML_SCALAR, CC_YAML_MAP, CC_YAML_SEQ } cc_yaml_kind_t;

/** What a scalar means under YAML 1.1 typing. */
typedef enum {
    CC_YAML_NULL,
    CC_YAML_BOOL,
    CC_YAML_INT,
    CC_YAML_FLOAT,
    CC_YAML_STR,
} cc_yaml_type_t;

typedef struct cc_yaml_node cc_yaml_node_t;

typedef struct {
    cc_yaml_node_t *key;
    cc_yaml_node_t *value;
} cc_yaml_pair_t;

struct cc_yaml_node {
    cc_yaml_kind_t kind;
    int line; /* 1-based */
    int col;  /* 1-based */
    /* CC_YAML_SCALAR */
    char *text; /* NUL-terminated (it may also hold NULs; len counts all bytes) */
    size_t len;
    bool quoted; /* written quoted or as a block scalar: always a string */
    /* CC_YAML_MAP: in the order written, then keys merged in with `<<` */
    cc_yaml_pair_t *pairs;
    size_t n_pairs;
    /* CC_YAML_SEQ */
    cc_yaml_node_t **items;
    size_t n_items;
};

/** Most nodes one document may expand to (aliases included) and deepest nesting. */
#define CC_YAML_MAX_NODES 100000
#define CC_YAML_MAX_DEPTH 64

/** Parses `len` bytes of YAML. On success returns 0 and sets *root to the document's root, or to
 *  NULL when the text holds no document (empty, or only comments). On a syntax error returns
 *  -1 and appends one line "<name>:<line>:<col>: <problem>; <what to do>" to `errors` (which may
 *  be NULL). A stream of more than one document is an error. */
int cc_yaml_parse(const char *data, size_t len, const char *name, cc_yaml_node_t **root,
                  cc_buf_t *errors);

/** Frees a tree returned by cc_yaml_parse (NULL is fine). */
void cc_yaml_free(cc_yaml_node_t *node);

/** The type a scalar has under YAML 1.1 typing (CC_YAML_STR for maps and lists too). */
cc_yaml_type_t cc_yaml_scalar_type(const cc_yaml_node_t *node);

/** True when `node` is NULL or a null scalar ("", "~", "null"). */
bool cc_yaml_is_null(const cc_yaml_node_t *node);

/** The value of a bool scalar. Returns 0, or -1 when the scalar is not a YAML bool. */
int cc_yaml_get_bool(const cc_yaml_node_t *node, bool *out);

/** The value of an int or float scalar ("1_000", "0x1f", "6e4", ".inf"). Returns 0 or -1. */
int cc_yaml_get_number(const cc_yaml_node_t *node, double *out);

/** The value of key `key` in a map: the last pair with that scalar key (as PyYAML keeps the
 *  last of duplicate keys), or NULL when absent or `map` is not a map. */
cc_yaml_node_t *cc_yaml_map_get(const cc_yaml_node_t *map, const char *key);

/** A short description for messages: "a map", "a list", or the scalar in double quotes
 *  (escaped, shortened past 60 bytes). Writes into `out` (size `size`) and returns it. */
const char *cc_yaml_describe(const cc_yaml_node_t *node, char *out, size_t size);

/** Converts a node to cJSON with YAML 1.1 typing (NULL node gives JSON null). Map keys are the
 *  keys' text; the last of duplicate keys wins. Returns NULL when out of memory. */
cJSON *cc_yaml_to_json(const cc_yaml_node_t *node);

#endif
