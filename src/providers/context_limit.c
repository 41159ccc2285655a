/* context_limit.c: reading providers' context-length errors and writing Anthropic's (see
 * context_limit.h). */
#include "providers/context_limit.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "tokens.h"

/* Where `needle` starts in text, ignoring case, or NULL. */
static const char *find(const char *text, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (strncasecmp(text + i, needle, n) == 0) return text + i;
    return NULL;
}

/* The first whole number within 24 bytes after `needle`, or 0. */
static long number_after(const char *text, size_t len, const char *needle) {
    const char *p = find(text, len, needle);
    if (!p) return 0;
    const char *end = text + len;
    p += strlen(needle);
    for (int skipped = 0; p < end && !isdigit((unsigned char)*p); p++)
        if (++skipped > 24) return 0;
    long v = 0;
    for (; p < end && isdigit((unsigned char)*p) && v < 1000000000L; p++) v = v * 10 + (*p - '0');
    return v;
}

/* The first of `needles` that gives a number after it. */
static long first_number(const char *text, size_t len, const char *const *needles) {
    for (; *needles; needles++) {
        long v = number_after(text, len, *needles);
        if (v > 0) return v;
    }
    return 0;
}

static const char *const complaints[] = {
    "prompt is too long",                   /* Anthropic */
    "exceed context limit",                 /* Anthropic: input and max_tokens together */
    "context_length_exceeded",              /* OpenAI's code */
    "maximum context length",               /* OpenAI and compatibles, vLLM, DeepSeek, Mistral */
    "context window",                       /* "exceeds the context window" */
    "available context size",               /* llama.cpp */
    "input is too long",                    /* Bedrock */
    "exceeds the maximum number of tokens", /* Gemini */
    "too many tokens",
    NULL};

/* What the request needs, as providers say it. */
static const char *const needs[] = {
    "prompt is too long:",       /* Anthropic: "prompt is too long: 210000 tokens > ..." */
    "resulted in",               /* OpenAI: "your messages resulted in 150000 tokens" */
    "you requested about",       /* OpenRouter */
    "you requested",             /* vLLM, DeepSeek: "you requested 40000 tokens (...)" */
    "prompt contains",           /* Mistral: "Prompt contains 40000 tokens" */
    "input token count",         /* Gemini: "The input token count (1200000) exceeds ..." */
    "request (",                 /* llama.cpp: "request (40000 tokens) exceeds ..." */
    NULL};

/* The window, as providers say it. */
static const char *const windows[] = {
    "tokens >",                  /* Anthropic: "... tokens > 200000 maximum" */
    "maximum context length is", /* OpenAI, vLLM, DeepSeek, OpenRouter */
    "too large for model with",  /* Mistral: "too large for model with 32768 maximum ..." */
    "tokens allowed",            /* Gemini: "maximum number of tokens allowed (1048576)" */
    "available context size",    /* llama.cpp: "the available context size (32768 tokens)" */
    NULL};

bool cc_context_limit_read(const char *text, size_t len, long *tokens, long *maximum) {
    *tokens = *maximum = 0;
    if (!text) return false;
    bool yes = false;
    for (const char *const *c = complaints; *c && !yes; c++) yes = find(text, len, *c) != NULL;
    if (!yes) return false;
    *tokens = first_number(text, len, needs);
    *maximum = first_number(text, len, windows);
    return true;
}

void cc_context_limit_message(cc_buf_t *out, long tokens, long maximum, const char *said) {
    if (tokens > 0 && maximum > 0 && tokens > maximum) {
        cc_buf_printf(out, "prompt is too long: %ld tokens > %ld maximum", tokens, maximum);
        return;
    }
    cc_buf_puts(out, "prompt is too long");
    if (said && *said) cc_buf_printf(out, " (%s)", said);
}

void cc_context_limit_note(const cc_xlate_ctx_t *ctx, long *estimate, long *max_input) {
    *estimate = ctx->body ? cc_tokens_estimate(ctx->body, ctx->body_len) : 0;
    if (*estimate < 0) *estimate = 0;
    *max_input = 0;
    const cJSON *mi = ctx->deployment ? ctx->deployment->model_info : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(mi, "max_input_tokens");
    if (cJSON_IsNumber(v) && v->valuedouble > 0) *max_input = (long)v->valuedouble;
}

bool cc_context_limit_rewrite(const char *raw, size_t len, long estimate, long max_input,
                              cc_buf_t *msg) {
    long tokens, maximum;
    if (!cc_context_limit_read(raw, len, &tokens, &maximum)) return false;
    if (!tokens) tokens = estimate;
    if (!maximum) maximum = max_input;
    cc_buf_t said = *msg;
    *msg = (cc_buf_t)CC_BUF_INIT;
    cc_context_limit_message(msg, tokens, maximum, said.data);
    cc_buf_free(&said);
    return true;
}
