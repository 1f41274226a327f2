/*
 * http.c: libmicrohttpd set-up and the routes that need no session.
 */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct http_server {
	struct MHD_Daemon *d;
	atomic_bool *ready;
};

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct http_server *h = cls;
	(void)version;
	(void)upload_data;
	/* First call for a request: nothing to read yet. */
	if (*req_cls == NULL) {
		*req_cls = h;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* no route here takes a body */
		return MHD_YES;
	}
	if (strcmp(url, "/healthz") == 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
		if (atomic_load(h->ready))
			return send_text(conn, MHD_HTTP_OK, "ok\n");
		return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
	}
	return send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

int http_start(struct http_server **out, const struct sockaddr_storage *addr, atomic_bool *ready)
{
	struct http_server *h = calloc(1, sizeof *h);
	if (!h)
		return ENOMEM;
	h->ready = ready;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	if (addr->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, sip_addr_port(addr), NULL, NULL, on_request, h,
				MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)32,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
				MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return EADDRINUSE;
	}
	char a[SIP_ADDRSTR_MAX];
	log_notice("http: listening on %s", sip_addr_str(addr, a, sizeof a));
	*out = h;
	return 0;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
