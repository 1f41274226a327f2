/*
 * http.h: the embedded HTTP server (libmicrohttpd, its own polling thread).
 *
 * For now it serves GET /healthz: 200 once the SIP core is listening, 503
 * before and while shutting down. The web admin builds its API on this.
 */
#ifndef PBX_HTTP_H
#define PBX_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "sip_addr.h"

struct http_server;

int http_start(struct http_server **out, const struct sockaddr_storage *addr, atomic_bool *ready);
void http_stop(struct http_server *h);

#endif
