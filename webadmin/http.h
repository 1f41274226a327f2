/*
 * http.h: the embedded HTTP server of the web admin (libmicrohttpd with a
 * small pool of its own threads).
 *
 * It serves /healthz (200 once the SIP core is ready, 503 before and while
 * shutting down), /metrics (Prometheus text), the JSON API under /api/v1/
 * (see api.h for the route table it is built from) with its live event
 * stream, and the browser UI. Each HTTP
 * thread opens its own SQLite connection to cfg->db_path when it first
 * needs one; the connection is closed when the thread ends.
 */
#ifndef PBX_HTTP_H
#define PBX_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "live.h"
#include "sip_addr.h"

struct http_server;

struct http_cfg {
	struct sockaddr_storage addr;   /* --http-listen; port 0 picks a free port (tests) */
	atomic_bool *ready;             /* /healthz: 200 when true, else 503 */
	const char *db_path;            /* SQLite file (copied; need not outlive http_start) */
	const char *spool;              /* voicemail folder (copied); NULL: recordings answer 503 */
	const struct live_ops *live;    /* may be NULL (tests): live routes then answer 503; must
					 * outlive the server */
	const char *tls_cert, *tls_key; /* PEM files; both NULL: plain HTTP */
	unsigned events_keepalive_s;    /* seconds between keepalive comments on an idle event
					 * stream; 0: 15 (tests shorten it) */
};

/* Start listening and serving. EINVAL for a bad cfg (or one of the TLS
 * files unreadable), ENOMEM, EADDRINUSE when libmicrohttpd cannot start
 * (address in use, no permission). */
int http_start(struct http_server **out, const struct http_cfg *cfg);
/* Stop serving and wait for the HTTP threads to end. NULL is accepted. */
void http_stop(struct http_server *h);
/* The port actually bound (useful after port 0). */
uint16_t http_port(const struct http_server *h);

#endif
