/* sink.c: what every chain of sinks shares (see sink.h). */
#include "sink.h"

void cc_sink_chain_free(cc_sink_t *first) {
    while (first) {
        cc_sink_t *next = first->next;
        first->ops->free(first);
        first = next;
    }
}
