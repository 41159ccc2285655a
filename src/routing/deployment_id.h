/* deployment_id.h: the name a deployment goes by in the state instances share (Redis keys):
 * the same on every instance that runs the same config.yaml, different for every deployment,
 * and telling nothing of its key. */
#ifndef CC_DEPLOYMENT_ID_H
#define CC_DEPLOYMENT_ID_H

#include <stddef.h>

#include "config/config.h"

/** The id of cfg->models[i], malloc'd (NULL when out of memory): model_info.id when it is set
 *  (1 to 200 printable characters without spaces), else 16 hex digits of a SHA-256 over the
 *  entry's model_name, model, api_base, a SHA-256 of its api_key, and how many identical
 *  entries come before it. */
char *cc_deployment_id(const cc_config_t *cfg, size_t i);

#endif
