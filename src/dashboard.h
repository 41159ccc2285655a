/* dashboard.h: the read-only dashboard under /ui/ (dashboard.c): the page and its two assets,
 * read once from <data dir>/config/ui/, and /ui/api/summary, the JSON it draws from (the
 * process's recent-requests memory, record/recent.h, with /health's cooldowns and reload
 * status). GET only; answered only while the proxy listens on loopback and only to a Host
 * that names loopback (no DNS rebinding); otherwise 403 with the reason. */
#ifndef CC_DASHBOARD_H
#define CC_DASHBOARD_H

#include <stdbool.h>

#include "http/conn.h"

/** True for the paths the dashboard answers: /ui and everything under /ui/. */
bool cc_dashboard_path(const char *path);

/** Answers one request for such a path (completely, on this call). */
void cc_dashboard_serve(cc_conn_t *c, cc_request_t *req);

/** True when `host` (a listen address: an IP literal or "localhost") is a loopback address. */
bool cc_dashboard_loopback(const char *host);

#endif
