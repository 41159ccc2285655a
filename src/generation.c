/* generation.c: configuration generations (see generation.h). */
#include "generation.h"

#include <stdlib.h>

#include "log.h"

cc_gen_t *cc_gen_new(cc_config_t *cfg, int id) {
    cc_gen_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->id = id;
    g->cfg = cfg;
    g->router = cc_router_new(cfg);
    if (!g->router) {
        free(g);
        return NULL;
    }
    cc_buf_t perr = CC_BUF_INIT;
    g->prices = cc_prices_load_for(cfg, &perr);
    if (perr.len) cc_warn("%.*s", (int)perr.len - 1, perr.data);
    cc_buf_free(&perr);
    char err[512];
    if (cc_router_share(g->router, err, sizeof err) < 0) /* the routing goes on, unshared */
        cc_warn("cannot share the routing state through Redis (%s): this instance routes on "
                "its own state; check router_settings.redis_* in config.yaml",
                err);
    atomic_init(&g->refs, 1);
    return g;
}

void cc_gen_ref(cc_gen_t *g) {
    atomic_fetch_add(&g->refs, 1);
}

void cc_gen_unref(cc_gen_t *g) {
    if (!g || atomic_fetch_sub(&g->refs, 1) != 1) return;
    cc_scripts_free(&g->scripts);
    cc_router_free(g->router);
    cc_prices_free(g->prices);
    cc_config_free(g->cfg);
    free(g);
}

cc_wgen_t *cc_wgen_new(cc_gen_t *gen, cc_buf_t *err) {
    cc_wgen_t *wg = calloc(1, sizeof *wg);
    if (!wg) return NULL;
    wg->pipeline = cc_pipeline_new_scripts(gen->cfg, &gen->scripts, err);
    if (!wg->pipeline) {
        free(wg);
        return NULL;
    }
    cc_gen_ref(gen);
    wg->gen = gen;
    wg->refs = 1;
    return wg;
}

void cc_wgen_ref(cc_wgen_t *wg) {
    wg->refs++;
}

void cc_wgen_unref(cc_wgen_t *wg) {
    if (!wg || --wg->refs > 0) return;
    cc_pipeline_free(wg->pipeline);
    cc_gen_unref(wg->gen);
    free(wg);
}
