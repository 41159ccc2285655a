/* test_schema_sanitize.c: JSON Schema rewriting per provider (schema_sanitize.h): each rule of
 * the Gemini preset, rules applied below properties, items and anyOf, references and their
 * limits, the OpenAI preset, and every tool schema Claude Code sends. */
#include <cjson/cJSON.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "check.h"
#include "providers/schema_sanitize.h"

/* Sanitises `in` (JSON text) with `rules` and checks the result equals `want` (JSON text,
 * compared as parsed JSON). Prints both on a mismatch. */
static int same_as(const cc_schema_rules_t *rules, const char *in, const char *want) {
    cJSON *src = cJSON_Parse(in);
    cJSON *exp = cJSON_Parse(want);
    cJSON *got = src ? cc_schema_sanitize(src, rules) : NULL;
    int ok = got && exp && cJSON_Compare(got, exp, 1);
    if (!ok) {
        char *g = got ? cJSON_PrintUnformatted(got) : NULL;
        fprintf(stderr, "  in:   %s\n  want: %s\n  got:  %s\n", in, want, g ? g : "(null)");
        free(g);
    }
    cJSON_Delete(src);
    cJSON_Delete(exp);
    cJSON_Delete(got);
    return ok;
}

#define GEMINI(in, want) CHECK(same_as(&cc_schema_rules_gemini, in, want))
#define OPENAI(in, want) CHECK(same_as(&cc_schema_rules_openai, in, want))

static void test_gemini_drops(void) {
    GEMINI("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
           "\"properties\":{\"a\":{\"type\":\"string\"}},\"additionalProperties\":false}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}");
    GEMINI("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
           "\"propertyNames\":{\"pattern\":\"^[a-z]+$\"},"
           "\"patternProperties\":{\"^x\":{\"type\":\"number\"}}}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}");
    GEMINI("{\"type\":\"number\",\"default\":5,\"examples\":[1,2],\"$comment\":\"c\","
           "\"$id\":\"x\",\"multipleOf\":2,\"uniqueItems\":true}",
           "{\"type\":\"number\"}");
    /* Kept: what Gemini's subset has. */
    GEMINI("{\"type\":\"array\",\"title\":\"T\",\"description\":\"d\",\"minItems\":1,"
           "\"maxItems\":3,\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":9,"
           "\"pattern\":\"^a\",\"example\":\"ab\"}}",
           "{\"type\":\"array\",\"title\":\"T\",\"description\":\"d\",\"minItems\":1,"
           "\"maxItems\":3,\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":9,"
           "\"pattern\":\"^a\",\"example\":\"ab\"}}");
    GEMINI("{\"type\":\"integer\",\"minimum\":-3,\"maximum\":9007199254740991}",
           "{\"type\":\"integer\",\"minimum\":-3,\"maximum\":9007199254740991}");
}

static void test_gemini_const_enum(void) {
    GEMINI("{\"type\":\"string\",\"const\":\"only\"}", "{\"type\":\"string\",\"enum\":[\"only\"]}");
    /* An existing enum wins over const. */
    GEMINI("{\"type\":\"string\",\"const\":\"a\",\"enum\":[\"a\",\"b\"]}",
           "{\"type\":\"string\",\"enum\":[\"a\",\"b\"]}");
    GEMINI("{\"type\":\"string\",\"enum\":[\"x\",\"y\"],\"description\":\"pick\"}",
           "{\"type\":\"string\",\"enum\":[\"x\",\"y\"],\"description\":\"pick\"}");
    /* Gemini enums are strings: others become words in the description. */
    GEMINI("{\"type\":\"integer\",\"enum\":[1,2,3],\"description\":\"level\"}",
           "{\"type\":\"integer\",\"description\":\"level\\nOne of: 1, 2, 3\"}");
    GEMINI("{\"type\":\"boolean\",\"const\":true}",
           "{\"type\":\"boolean\",\"description\":\"Must be: true\"}");
    /* A null among the values means nullable. */
    GEMINI("{\"type\":\"string\",\"enum\":[\"a\",null]}",
           "{\"type\":\"string\",\"enum\":[\"a\"],\"nullable\":true}");
    /* A type is inferred for an enum without one. */
    GEMINI("{\"enum\":[\"a\",\"b\"]}", "{\"type\":\"string\",\"enum\":[\"a\",\"b\"]}");
}

static void test_gemini_bounds_formats(void) {
    GEMINI("{\"type\":\"integer\",\"exclusiveMinimum\":0}", "{\"type\":\"integer\",\"minimum\":1}");
    GEMINI("{\"type\":\"integer\",\"exclusiveMaximum\":10}",
           "{\"type\":\"integer\",\"maximum\":9}");
    /* An existing tighter minimum stays. */
    GEMINI("{\"type\":\"integer\",\"exclusiveMinimum\":0,\"minimum\":5}",
           "{\"type\":\"integer\",\"minimum\":5}");
    GEMINI("{\"type\":\"integer\",\"exclusiveMinimum\":5,\"minimum\":0}",
           "{\"type\":\"integer\",\"minimum\":6}");
    GEMINI("{\"type\":\"number\",\"exclusiveMinimum\":0.5}",
           "{\"type\":\"number\",\"minimum\":0.5}");
    /* Draft 4 booleans. */
    GEMINI("{\"type\":\"integer\",\"minimum\":0,\"exclusiveMinimum\":true}",
           "{\"type\":\"integer\",\"minimum\":1}");
    GEMINI("{\"type\":\"integer\",\"minimum\":0,\"exclusiveMinimum\":false}",
           "{\"type\":\"integer\",\"minimum\":0}");
    GEMINI("{\"type\":\"string\",\"format\":\"date-time\"}",
           "{\"type\":\"string\",\"format\":\"date-time\"}");
    GEMINI("{\"type\":\"string\",\"format\":\"enum\",\"enum\":[\"a\"]}",
           "{\"type\":\"string\",\"format\":\"enum\",\"enum\":[\"a\"]}");
    GEMINI("{\"type\":\"string\",\"format\":\"uri\"}", "{\"type\":\"string\"}");
    GEMINI("{\"type\":\"string\",\"format\":\"email\"}", "{\"type\":\"string\"}");
    GEMINI("{\"type\":\"integer\",\"format\":\"int64\"}",
           "{\"type\":\"integer\",\"format\":\"int64\"}");
    GEMINI("{\"type\":\"number\",\"format\":\"int64\"}", "{\"type\":\"number\"}");
}

static void test_gemini_nullable(void) {
    GEMINI("{\"type\":[\"string\",\"null\"],\"description\":\"d\"}",
           "{\"type\":\"string\",\"nullable\":true,\"description\":\"d\"}");
    GEMINI("{\"type\":[\"null\",\"integer\"]}", "{\"type\":\"integer\",\"nullable\":true}");
    GEMINI("{\"type\":[\"string\"]}", "{\"type\":\"string\"}");
    GEMINI("{\"type\":[\"string\",\"number\"]}",
           "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\"}]}");
    GEMINI("{\"type\":[\"string\",\"number\",\"null\"]}",
           "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\"}],\"nullable\":true}");
    GEMINI("{\"type\":\"null\"}", "{\"type\":\"object\",\"nullable\":true}");
    /* anyOf with null: the other member is lifted, the holder's description wins. */
    GEMINI("{\"description\":\"outer\",\"anyOf\":[{\"type\":\"string\",\"description\":\"inner\","
           "\"maxLength\":4},{\"type\":\"null\"}]}",
           "{\"description\":\"outer\",\"type\":\"string\",\"maxLength\":4,\"nullable\":true}");
    GEMINI("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"},{\"type\":\"null\"}]}",
           "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"nullable\":true}");
    GEMINI("{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}",
           "{\"type\":\"string\",\"nullable\":true}");
    GEMINI("{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"boolean\"}]}",
           "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"boolean\"}]}");
    /* A lifted member that is itself a type array. */
    GEMINI("{\"anyOf\":[{\"type\":[\"string\",\"null\"],\"format\":\"uri\"}]}",
           "{\"type\":\"string\",\"nullable\":true}");
}

static void test_gemini_refs(void) {
    GEMINI("{\"type\":\"object\",\"properties\":{\"p\":{\"$ref\":\"#/$defs/Point\","
           "\"description\":\"where\"}},\"$defs\":{\"Point\":{\"type\":\"object\","
           "\"description\":\"a point\",\"properties\":{\"x\":{\"type\":\"number\"}},"
           "\"required\":[\"x\"],\"additionalProperties\":false}}}",
           "{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"object\",\"description\":"
           "\"where\",\"properties\":{\"x\":{\"type\":\"number\"}},\"required\":[\"x\"]}}}");
    GEMINI("{\"type\":\"object\",\"properties\":{\"c\":{\"$ref\":\"#/definitions/Color\"}},"
           "\"definitions\":{\"Color\":{\"type\":\"string\",\"enum\":[\"red\"]}}}",
           "{\"type\":\"object\",\"properties\":{\"c\":{\"type\":\"string\",\"enum\":[\"red\"]}}}");
    /* A reference to a reference. */
    GEMINI("{\"properties\":{\"a\":{\"$ref\":\"#/$defs/A\"}},\"$defs\":{\"A\":{\"$ref\":"
           "\"#/$defs/B\"},\"B\":{\"type\":\"integer\"}}}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}");
    /* Unknown and remote references go; the schema left gets a type. */
    GEMINI("{\"properties\":{\"a\":{\"$ref\":\"#/$defs/Nope\"},\"b\":{\"$ref\":"
           "\"https://example.com/s.json\"}}}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\"},"
           "\"b\":{\"type\":\"object\"}}}");
    /* A recursive definition is expanded once, then cut. */
    GEMINI("{\"$ref\":\"#/$defs/Node\",\"$defs\":{\"Node\":{\"type\":\"object\",\"properties\":"
           "{\"name\":{\"type\":\"string\"},\"next\":{\"$ref\":\"#/$defs/Node\"}}}}}",
           "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
           "\"next\":{\"type\":\"object\"}}}");
    /* "#" is the root, always being expanded. */
    GEMINI("{\"type\":\"object\",\"properties\":{\"self\":{\"$ref\":\"#\"}}}",
           "{\"type\":\"object\",\"properties\":{\"self\":{\"type\":\"object\"}}}");
    /* JSON pointer escapes. */
    GEMINI("{\"properties\":{\"a\":{\"$ref\":\"#/$defs/a~1b~0c\"}},"
           "\"$defs\":{\"a/b~c\":{\"type\":\"boolean\"}}}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\"}}}");
}

static void test_gemini_all_of(void) {
    GEMINI("{\"allOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
           "\"required\":[\"a\"]},{\"properties\":{\"b\":{\"type\":\"integer\"}},"
           "\"required\":[\"b\",\"a\"]}]}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},"
           "\"b\":{\"type\":\"integer\"}},\"required\":[\"a\",\"b\"]}");
    GEMINI("{\"description\":\"mine\",\"allOf\":[{\"$ref\":\"#/$defs/Base\"}],"
           "\"$defs\":{\"Base\":{\"type\":\"object\",\"description\":\"base\",\"properties\":"
           "{\"id\":{\"type\":\"string\",\"format\":\"uuid\"}}}}}",
           "{\"description\":\"mine\",\"type\":\"object\",\"properties\":{\"id\":"
           "{\"type\":\"string\"}}}");
}

static void test_gemini_shapes(void) {
    GEMINI("{}", "{\"type\":\"object\"}");
    GEMINI("{\"description\":\"anything\"}", "{\"description\":\"anything\",\"type\":\"object\"}");
    GEMINI("{\"type\":\"object\",\"properties\":{}}", "{\"type\":\"object\"}");
    GEMINI("{\"properties\":{\"a\":{\"type\":\"string\"}}}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}");
    GEMINI("{\"type\":\"array\"}", "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}");
    GEMINI("{\"items\":{\"type\":\"integer\"}}",
           "{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}");
    GEMINI("{\"type\":\"array\",\"items\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}",
           "{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}");
    GEMINI("{\"type\":\"array\",\"prefixItems\":[{\"type\":\"boolean\"}]}",
           "{\"type\":\"array\",\"items\":{\"type\":\"boolean\"}}");
    GEMINI("{\"type\":\"array\",\"items\":true}",
           "{\"type\":\"array\",\"items\":{\"type\":\"object\"}}");
    GEMINI("{\"minimum\":1}", "{\"type\":\"number\",\"minimum\":1}");
    GEMINI("{\"maxLength\":1}", "{\"type\":\"string\",\"maxLength\":1}");
    /* required keeps only existing properties, once; empty required goes. */
    GEMINI("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
           "\"required\":[\"a\",\"ghost\",\"a\",7]}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
           "\"required\":[\"a\"]}");
    GEMINI("{\"type\":\"object\",\"required\":[\"ghost\"]}", "{\"type\":\"object\"}");
    /* Property NAMES that look like keywords are data, not keywords. */
    GEMINI("{\"type\":\"object\",\"properties\":{\"$schema\":{\"type\":\"string\"},"
           "\"default\":{\"type\":\"boolean\"},\"additionalProperties\":{}},"
           "\"required\":[\"default\"]}",
           "{\"type\":\"object\",\"properties\":{\"$schema\":{\"type\":\"string\"},"
           "\"default\":{\"type\":\"boolean\"},\"additionalProperties\":{\"type\":\"object\"}},"
           "\"required\":[\"default\"]}");
    /* Non-object schemas where a schema belongs. */
    GEMINI("{\"type\":\"object\",\"properties\":{\"a\":true,\"b\":false}}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\"},"
           "\"b\":{\"type\":\"object\"}}}");
    /* A duplicated keyword: the last one counts. */
    GEMINI("{\"type\":[\"string\",\"null\"],\"type\":\"integer\"}", "{\"type\":\"integer\"}");
}

static void test_gemini_nested(void) {
    GEMINI("{\"$schema\":\"x\",\"type\":\"object\",\"additionalProperties\":false,"
           "\"properties\":{\"list\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
           "\"additionalProperties\":false,\"properties\":{\"when\":{\"type\":[\"string\","
           "\"null\"],\"format\":\"date-time\",\"default\":null},\"n\":{\"type\":\"integer\","
           "\"exclusiveMinimum\":0,\"const\":3}},\"required\":[\"when\",\"gone\"]}},"
           "\"choice\":{\"anyOf\":[{\"type\":\"object\",\"properties\":{\"k\":{\"const\":\"v\"}},"
           "\"additionalProperties\":false},{\"type\":\"string\",\"format\":\"uri\"}]}}}",
           "{\"type\":\"object\",\"properties\":{\"list\":{\"type\":\"array\",\"items\":"
           "{\"type\":\"object\",\"properties\":{\"when\":{\"type\":\"string\",\"nullable\":true,"
           "\"format\":\"date-time\"},\"n\":{\"type\":\"integer\",\"minimum\":1,"
           "\"description\":\"Must be: 3\"}},\"required\":[\"when\"]}},"
           "\"choice\":{\"anyOf\":[{\"type\":\"object\",\"properties\":{\"k\":{\"type\":"
           "\"string\",\"enum\":[\"v\"]}}},{\"type\":\"string\"}]}}}");
}

static void test_input_untouched_and_idempotent(void) {
    const char *in = "{\"$schema\":\"x\",\"type\":[\"string\",\"null\"],\"$defs\":{\"A\":{}},"
                     "\"allOf\":[{\"$ref\":\"#/$defs/A\"}]}";
    cJSON *src = cJSON_Parse(in);
    char *before = cJSON_PrintUnformatted(src);
    cJSON *once = cc_schema_sanitize(src, &cc_schema_rules_gemini);
    char *after = cJSON_PrintUnformatted(src);
    CHECK_EQ_STR(after, before);
    cJSON *twice = cc_schema_sanitize(once, &cc_schema_rules_gemini);
    CHECK(cJSON_Compare(once, twice, 1));
    free(before);
    free(after);
    cJSON_Delete(src);
    cJSON_Delete(once);
    cJSON_Delete(twice);
    /* No schema at all, or a boolean schema. */
    cJSON *t = cJSON_CreateTrue();
    cJSON *g = cc_schema_sanitize(t, &cc_schema_rules_gemini);
    cJSON *n = cc_schema_sanitize(NULL, &cc_schema_rules_gemini);
    cJSON *want = cJSON_Parse("{\"type\":\"object\"}");
    CHECK(cJSON_Compare(g, want, 1));
    CHECK(cJSON_Compare(n, want, 1));
    cJSON_Delete(t);
    cJSON_Delete(g);
    cJSON_Delete(n);
    cJSON_Delete(want);
}

static int depth_of(const cJSON *s) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *a = p ? cJSON_GetObjectItemCaseSensitive(p, "a") : NULL;
    return a ? 1 + depth_of(a) : 0;
}

static void test_limits(void) {
    /* 200 nested objects are cut at 64 levels. */
    cc_buf_t b = CC_BUF_INIT;
    for (int i = 0; i < 200; i++)
        cc_buf_puts(&b, "{\"properties\":{\"a\":");
    cc_buf_puts(&b, "{}");
    for (int i = 0; i < 200; i++)
        cc_buf_puts(&b, "}}");
    cJSON *deep = cJSON_Parse(b.data);
    CHECK(deep != NULL);
    cJSON *out = cc_schema_sanitize(deep, &cc_schema_rules_gemini);
    CHECK(out != NULL);
    int d = depth_of(out);
    CHECK(d >= 60 && d <= 65);
    cJSON_Delete(deep);
    cJSON_Delete(out);
    cc_buf_free(&b);

    /* References that fan out (each definition uses the next one twice) would expand to
     * 2^40 schemas; the budget keeps it small and fast. */
    cc_buf_puts(&b, "{\"$ref\":\"#/$defs/d0\",\"$defs\":{");
    for (int i = 0; i < 40; i++)
        cc_buf_printf(&b,
                      "%s\"d%d\":{\"type\":\"object\",\"properties\":{\"l\":{\"$ref\":"
                      "\"#/$defs/d%d\"},\"r\":{\"$ref\":\"#/$defs/d%d\"}}}",
                      i ? "," : "", i, i + 1, i + 1);
    cc_buf_puts(&b, ",\"d40\":{\"type\":\"string\"}}}");
    cJSON *bomb = cJSON_Parse(b.data);
    CHECK(bomb != NULL);
    clock_t t0 = clock();
    out = cc_schema_sanitize(bomb, &cc_schema_rules_gemini);
    double ms = (double)(clock() - t0) * 1000.0 / CLOCKS_PER_SEC;
    CHECK(out != NULL);
    char *s = cJSON_PrintUnformatted(out);
    CHECK(s && strlen(s) < 1000000);
    CHECK(ms < 2000);
    fprintf(stderr, "  reference fan-out: %zu bytes out in %.1f ms\n", s ? strlen(s) : 0, ms);
    free(s);
    cJSON_Delete(bomb);
    cJSON_Delete(out);
    cc_buf_free(&b);
}

static void test_openai(void) {
    OPENAI("{\"$schema\":\"x\",\"type\":\"object\",\"properties\":{\"a\":{\"type\":[\"string\","
           "\"null\"],\"format\":\"uri\",\"const\":\"k\"}},\"additionalProperties\":false}",
           "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":[\"string\",\"null\"],"
           "\"format\":\"uri\",\"const\":\"k\"}},\"additionalProperties\":false}");
    OPENAI("{}", "{\"type\":\"object\",\"properties\":{}}");
    OPENAI("{\"type\":\"object\"}", "{\"type\":\"object\",\"properties\":{}}");
    OPENAI("{\"type\":\"object\",\"properties\":{\"x\":{\"$schema\":\"y\",\"type\":\"string\"}}}",
           "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\"}}}");
}

static const char *const gemini_keywords[] = {
    "type",      "format",    "title",      "description", "nullable",      "enum",
    "maxItems",  "minItems",  "properties", "required",    "minProperties", "maxProperties",
    "minLength", "maxLength", "pattern",    "example",     "anyOf",         "propertyOrdering",
    "items",     "minimum",   "maximum",    NULL};

static int is_gemini_keyword(const char *k) {
    for (int i = 0; gemini_keywords[i]; i++)
        if (strcmp(gemini_keywords[i], k) == 0) return 1;
    return 0;
}

/* Walks a sanitised schema (`out`) beside its source (`in`, NULL below a rewrite) and checks
 * Gemini's rules hold everywhere; counts schemas seen. */
static void check_gemini_schema(const cJSON *out, const cJSON *in, const char *where, int *n) {
    (*n)++;
    CHECK(cJSON_IsObject(out));
    const cJSON *it;
    cJSON_ArrayForEach(it, out) {
        if (!is_gemini_keyword(it->string)) {
            fprintf(stderr, "  %s: keyword %s left\n", where, it->string);
            CHECK(0);
        }
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(out, "type");
    CHECK(cJSON_IsString(type) || cJSON_GetObjectItemCaseSensitive(out, "anyOf"));
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(out, "format");
    CHECK(!fmt ||
          (cJSON_IsString(fmt) &&
           (strcmp(fmt->valuestring, "date-time") == 0 || strcmp(fmt->valuestring, "enum") == 0 ||
            strncmp(fmt->valuestring, "int", 3) == 0 || strcmp(fmt->valuestring, "float") == 0 ||
            strcmp(fmt->valuestring, "double") == 0)));
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(out, "enum");
    if (en) cJSON_ArrayForEach(it, en) CHECK(cJSON_IsString(it));
    /* Descriptions survive. */
    const cJSON *din = in ? cJSON_GetObjectItemCaseSensitive(in, "description") : NULL;
    const cJSON *dout = cJSON_GetObjectItemCaseSensitive(out, "description");
    if (cJSON_IsString(din))
        CHECK(cJSON_IsString(dout) &&
              strncmp(dout->valuestring, din->valuestring, strlen(din->valuestring)) == 0);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(out, "properties");
    const cJSON *pin = in ? cJSON_GetObjectItemCaseSensitive(in, "properties") : NULL;
    if (props) {
        CHECK(cJSON_IsObject(props) && props->child);
        /* No property lost. */
        if (cJSON_IsObject(pin)) CHECK_EQ_INT(cJSON_GetArraySize(props), cJSON_GetArraySize(pin));
        cJSON_ArrayForEach(it, props) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s.%s", where, it->string);
            check_gemini_schema(it, pin ? cJSON_GetObjectItemCaseSensitive(pin, it->string) : NULL,
                                sub, n);
        }
    }
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(out, "required");
    if (req) {
        CHECK(cJSON_GetArraySize(req) > 0);
        cJSON_ArrayForEach(it, req) {
            CHECK(cJSON_IsString(it) && props &&
                  cJSON_GetObjectItemCaseSensitive(props, it->valuestring));
        }
    }
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(out, "items");
    if (items)
        check_gemini_schema(items, in ? cJSON_GetObjectItemCaseSensitive(in, "items") : NULL, where,
                            n);
    if (type && cJSON_IsString(type) && strcmp(type->valuestring, "array") == 0)
        CHECK(items != NULL);
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(out, "anyOf");
    if (any) cJSON_ArrayForEach(it, any) check_gemini_schema(it, NULL, where, n);
}

static void test_claude_code_tools(void) {
    glob_t g;
    CHECK_EQ_INT(glob(CC_FIXTURES_DIR "/claude-code/*/*-messages.body.json", 0, NULL, &g), 0);
    int tools = 0, schemas = 0, forbidden_in = 0;
    double ms = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t len = 0;
        char *raw = read_file(g.gl_pathv[i], &len);
        cJSON *body = raw ? cJSON_Parse(raw) : NULL;
        CHECK(body != NULL);
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(body, "tools")) {
            const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
            if (!schema) continue;
            char *src = cJSON_PrintUnformatted(schema);
            if (src && (strstr(src, "\"$schema\"") || strstr(src, "additionalProperties") ||
                        strstr(src, "exclusiveMinimum")))
                forbidden_in++;
            free(src);
            clock_t t0 = clock();
            cJSON *out = cc_schema_sanitize(schema, &cc_schema_rules_gemini);
            ms += (double)(clock() - t0) * 1000.0 / CLOCKS_PER_SEC;
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
            check_gemini_schema(out, schema, cJSON_IsString(name) ? name->valuestring : "?",
                                &schemas);
            /* Same again through the OpenAI rules: only $schema goes. */
            cJSON *o = cc_schema_sanitize(schema, &cc_schema_rules_openai);
            cJSON *expect = cJSON_Duplicate(schema, 1);
            cJSON_DeleteItemFromObjectCaseSensitive(expect, "$schema");
            if (!cJSON_GetObjectItemCaseSensitive(expect, "properties"))
                cJSON_AddObjectToObject(expect, "properties");
            CHECK(cJSON_Compare(o, expect, 1));
            cJSON_Delete(o);
            cJSON_Delete(expect);
            cJSON_Delete(out);
            tools++;
        }
        cJSON_Delete(body);
        free(raw);
    }
    globfree(&g);
    fprintf(stderr,
            "  %d Claude Code tool schemas (%d with forbidden keywords), %d schemas "
            "checked, %.2f ms\n",
            tools, forbidden_in, schemas, ms);
    CHECK(tools >= 12 * 8);
    CHECK(forbidden_in >= tools * 9 / 10); /* all but the empty placeholder use them */
}

int main(void) {
    CC_RUN(test_gemini_drops);
    CC_RUN(test_gemini_const_enum);
    CC_RUN(test_gemini_bounds_formats);
    CC_RUN(test_gemini_nullable);
    CC_RUN(test_gemini_refs);
    CC_RUN(test_gemini_all_of);
    CC_RUN(test_gemini_shapes);
    CC_RUN(test_gemini_nested);
    CC_RUN(test_input_untouched_and_idempotent);
    CC_RUN(test_limits);
    CC_RUN(test_openai);
    CC_RUN(test_claude_code_tools);
    return CC_DONE();
}
