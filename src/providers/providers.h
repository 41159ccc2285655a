/* providers.h: the provider adapters cc_provider_for (translate.h) hands out, one per family.
 * Each is defined in its own file: provider_openai.c, provider_gemini.c. */
#ifndef CC_PROVIDERS_H
#define CC_PROVIDERS_H

#include "providers/translate.h"

/** Chat Completions: OpenAI, Azure OpenAI, OpenRouter, DeepSeek, Groq, Mistral, xAI,
 *  Together, Perplexity, Ollama, LM Studio, vLLM and other OpenAI-compatible servers. */
extern const cc_provider_t cc_provider_openai;
/** Google Gemini (Generative Language API). */
extern const cc_provider_t cc_provider_gemini;

#endif
