/* schema_sanitize.h: rewriting a tool's JSON Schema (Claude Code sends JSON Schema 2020-12)
 * into the subset a provider accepts. Gemini takes an OpenAPI 3.0 subset and rejects unknown
 * keywords ($schema, additionalProperties, const, exclusiveMinimum, most formats, type arrays,
 * $ref); OpenAI-style providers take most of JSON Schema. A set of rules says what to rewrite;
 * cc_schema_rules_gemini and cc_schema_rules_openai are the presets, and an adapter may copy
 * one and change a field.
 * Ownership: cc_schema_sanitize never touches its input and returns a new tree the caller
 * frees with cJSON_Delete. */
#ifndef CC_SCHEMA_SANITIZE_H
#define CC_SCHEMA_SANITIZE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

typedef struct {
    /* Keywords removed wherever a schema appears (NULL-terminated list, or NULL). */
    const char *const *drop;
    /* When set, only these keywords survive (NULL-terminated); applied after every rewrite. */
    const char *const *allow;
    /* Formats kept: "type:format" pairs such as "string:date-time" (NULL-terminated), or NULL
     * to keep every format. */
    const char *const *formats;
    bool inline_refs;      /* $ref to #/$defs/X or #/definitions/X is replaced by the
                              definition (sibling keywords win); cycles and unknown refs are
                              dropped; $defs and definitions go */
    bool merge_all_of;     /* allOf members are merged into the schema that holds them */
    bool one_of_to_any_of; /* oneOf becomes anyOf */
    bool nullable;         /* "null" in a type array, a {type: null} member of anyOf and a null
                              enum value become `nullable: true` on what remains; several other
                              types become an anyOf of one schema per type */
    bool const_to_enum;    /* const: v becomes enum: [v] */
    bool string_enums;     /* an enum with a non-string value is dropped and its values are
                              listed in the description instead */
    bool exclusive_bounds; /* exclusiveMinimum/Maximum become minimum/maximum: the next
                              integer inside the bound on integers (n + 1, n - 1), the bound
                              itself on numbers (then allowed, the closest the subset says) */
    bool tuple_items;      /* items given as an array (or prefixItems) becomes its first item */
    bool array_items;      /* an array schema without items gets items {type: string} */
    bool need_type;        /* a schema without type gets one: object (properties, or nothing
                              else to go by), array (items), string (enum, pattern, lengths),
                              number (minimum, maximum); not when anyOf carries the types */
    bool empty_properties; /* properties: {} is removed */
    bool empty_object_properties; /* an object schema without properties gets properties: {}
                                     (OpenAI wants them on function parameters) */
    bool filter_required;         /* required keeps only names that are in properties */
} cc_schema_rules_t;

/** Gemini (generateContent FunctionDeclaration.parameters): the OpenAPI subset it documents
 *  (type, format, title, description, nullable, enum, items, properties, required, anyOf,
 *  minItems, maxItems, minProperties, maxProperties, minLength, maxLength, pattern, minimum,
 *  maximum, example, propertyOrdering), with every rewrite above switched on. */
extern const cc_schema_rules_t cc_schema_rules_gemini;
/** OpenAI chat completions (non-strict function parameters): $schema removed, every other
 *  keyword kept; an empty schema becomes {type: object, properties: {}}. */
extern const cc_schema_rules_t cc_schema_rules_openai;

/** A sanitised copy of `schema` under `rules`. A missing or non-object schema (true, false,
 *  null) counts as {}. Nesting deeper than 64 schemas is cut: the schema at the cut becomes
 *  empty, then gets what the rules give an empty schema ({type: object} for Gemini).
 *  Returns NULL only when memory runs out. */
cJSON *cc_schema_sanitize(const cJSON *schema, const cc_schema_rules_t *rules);

#endif
