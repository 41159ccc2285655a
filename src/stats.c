/* stats.c: the process-wide counters (see stats.h). */
#include "stats.h"

cc_stats_t cc_stats;

void cc_stats_add_json(cJSON *obj) {
    cJSON *s = cJSON_AddObjectToObject(obj, "scripts");
    cJSON_AddNumberToObject(s, "rule_errors", (double)atomic_load(&cc_stats.rule_errors));
    cJSON_AddNumberToObject(s, "hook_errors", (double)atomic_load(&cc_stats.hook_errors));
    cJSON_AddNumberToObject(s, "budget_exceeded", (double)atomic_load(&cc_stats.budget_exceeded));
    cJSON_AddNumberToObject(s, "memory_errors", (double)atomic_load(&cc_stats.memory_errors));
    cJSON_AddNumberToObject(s, "memory_bytes", (double)atomic_load(&cc_stats.lua_bytes));
    cJSON_AddNumberToObject(s, "memory_peak_bytes", (double)atomic_load(&cc_stats.lua_peak_bytes));
}
