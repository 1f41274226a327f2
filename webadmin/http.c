/*
 * http.c: libmicrohttpd set-up and the request pipeline of the web admin.
 *
 * A request goes through these steps, in this order, and the first that
 * fails answers it:
 *   1. on the first call (headers read, body not yet): the path is split
 *      and decoded (400 for dot segments or bad escapes, 414 when too long),
 *      matched against the route table (404, 405 with Allow), the session
 *      checked (401), the CSRF token (403), the live interface (503), the
 *      body's type and announced length (415, 413). Failing here answers
 *      before any of the body is read;
 *   2. the body is collected up to the route's cap (413 past it);
 *   3. a JSON body is parsed strictly (400), then the route's handler runs.
 * Every answer gets the same security headers in http_reply.
 *
 * libmicrohttpd does not unescape the path for us (our unescape callback
 * leaves it raw) so that an escaped "/" inside one segment ("%2F", as in a
 * banned IPv6 prefix) stays inside that segment.
 */
#include "http.h"
#include "api.h"
#include "ui_assets.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "db.h"
#include "log.h"

#define HTTP_THREADS 4
#define HTTP_PEM_MAX (1024 * 1024)

static const char csp[] =
	"default-src 'self'; media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/* ---- answering ---------------------------------------------------------------- */

static enum MHD_Result http_reply(struct api_req *r)
{
	struct MHD_Response *resp;
	if (r->stream && r->status == 200) {
		/* The stream belongs to the response from here on: its free
		 * callback runs when libmicrohttpd is done with it, even when
		 * creating the response failed. */
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, api_stream_read, r->stream,
							 api_stream_free);
		if (!resp)
			api_stream_free(r->stream);
		r->stream = NULL;
	} else if (r->own_resp) {
		resp = r->own_resp; /* queued below, then destroyed like the others */
		r->own_resp = NULL;
	} else if (r->resp) {
		resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
		if (resp)
			r->resp = NULL; /* the response owns it now */
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	if (r->resp_type)
		MHD_add_response_header(resp, "Content-Type", r->resp_type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	if (r->location[0])
		MHD_add_response_header(resp, "Location", r->location);
	if (r->allow[0])
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->retry_after[0])
		MHD_add_response_header(resp, "Retry-After", r->retry_after);
	if (r->set_cookie[0])
		MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
	if (r->disposition[0])
		MHD_add_response_header(resp, "Content-Disposition", r->disposition);
	unsigned cls = r->status / 100;
	if (cls < sizeof r->srv->status_count / sizeof r->srv->status_count[0])
		atomic_fetch_add(&r->srv->status_count[cls], 1);
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- step 1: before the body ----------------------------------------------------- */

static void client_ip(struct api_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(r->client_ip, sizeof r->client_ip, "unknown");
	if (!ci || !ci->client_addr)
		return;
	struct sockaddr_storage ss = { 0 };
	if (ci->client_addr->sa_family == AF_INET) {
		memcpy(&ss, ci->client_addr, sizeof(struct sockaddr_in));
	} else if (ci->client_addr->sa_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		memcpy(s6, ci->client_addr, sizeof *s6);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			/* An IPv4 client on a dual-stack socket: its own address,
			 * not the /64 that all of IPv4 shares. */
			struct sockaddr_in s4 = { .sin_family = AF_INET };
			memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
			memset(&ss, 0, sizeof ss);
			memcpy(&ss, &s4, sizeof s4);
		} else {
			/* One IPv6 client owns a /64: throttle the prefix. */
			memset(&s6->sin6_addr.s6_addr[8], 0, 8);
			s6->sin6_port = 0;
		}
	} else {
		return;
	}
	char buf[SIP_ADDRSTR_MAX];
	const char *s = sip_addr_str(&ss, buf, sizeof buf);
	/* Drop the ":port" suffix: the address alone is the key. */
	const char *colon = strrchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	snprintf(r->client_ip, sizeof r->client_ip, "%.*s", (int)n, s);
}

/* Split the raw path into decoded segments. 0, or the reply is set. */
static int split_path(struct api_req *r, const char *url)
{
	if (url[0] != '/')
		return api_error(r, 400, "path", "path: must start with /"), EINVAL;
	const char *p = url + 1;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (r->nseg == API_SEGS_MAX)
			return api_error(r, 404, NULL, "no such resource"), ENOENT;
		char *seg = malloc(len + 1);
		if (!seg)
			return api_error(r, 500, NULL, "out of memory"), ENOMEM;
		r->segs[r->nseg++] = seg;
		if (api_pct_decode(p, len, false, seg, len + 1) != 0)
			return api_error(r, 400, "path", "path: bad %%-escape"), EINVAL;
		if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return api_error(r, 400, "path", "path: . and .. segments are not allowed"), EINVAL;
		if (strlen(seg) > API_PARAM_MAX)
			return api_error(r, 404, NULL, "no such resource"), ENOENT;
		if (!end)
			return 0;
		p = end + 1;
	}
}

/* Does the Content-Type header name this media type (parameters ignored)? */
static bool media_type_is(const char *ct, const char *want)
{
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

static void req_begin(struct api_req *r, const char *url)
{
	client_ip(r);
	if (strlen(url) > API_URL_MAX) {
		api_error(r, 414, NULL, "the URL is longer than %d bytes", API_URL_MAX);
		return;
	}
	if (split_path(r, url) != 0)
		return;
	int rc = api_route_match(r->method, r->segs, r->nseg, &r->route, r->params, r->allow, sizeof r->allow);
	if (rc == ENOENT) {
		api_error(r, 404, NULL, "no such resource");
		return;
	}
	if (rc != 0) {
		api_error(r, 405, NULL, "method not allowed; use %s", r->allow);
		return;
	}
	unsigned fl = r->route->flags;
	if (fl & API_SESSION) {
		const char *id = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, API_COOKIE);
		if (!id || api_session_find(r->srv->sessions, id, api_now(), &r->sess) != 0) {
			api_error(r, 401, NULL, "sign in first");
			return;
		}
		r->have_session = true;
	}
	if (fl & API_CSRF) {
		const char *tok = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
		if (!api_csrf_ok(&r->sess, tok)) {
			api_error(r, 403, NULL, "missing or wrong X-CSRF-Token header");
			return;
		}
	}
	if ((fl & API_LIVE) && !r->srv->live) {
		api_error(r, 503, NULL, "the phone system is not running");
		return;
	}
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding");
	unsigned long long len = 0;
	if (cl) {
		char *end;
		errno = 0;
		len = strtoull(cl, &end, 10);
		if (errno || *end || end == cl)
			len = ULLONG_MAX; /* libmicrohttpd refuses these before us; be safe */
	}
	bool has_body = len > 0 || te != NULL;
	if (!(fl & (API_JSON | API_CSV))) {
		if (has_body)
			api_error(r, 400, "body", "this request takes no body");
		return;
	}
	const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
	const char *want = (fl & API_JSON) ? "application/json" : "text/csv";
	if (!media_type_is(ct, want)) {
		api_error(r, 415, NULL, "the body must be %s", want);
		return;
	}
	r->body_max = (fl & API_CSV) ? API_CSV_MAX : API_BODY_MAX;
	if (len > r->body_max)
		api_error(r, 413, NULL, "the body is larger than %zu bytes", r->body_max);
}

/* ---- step 2: the body -------------------------------------------------------------- */

static void req_body(struct api_req *r, const char *data, size_t n)
{
	if (r->too_large)
		return;
	if (n > r->body_max - r->body_len) {
		r->too_large = true;
		if (r->body)
			explicit_bzero(r->body, r->body_len);
		free(r->body);
		r->body = NULL;
		r->body_len = r->body_cap = 0;
		return;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 4096;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		char *b = malloc(cap);
		if (!b) {
			r->too_large = true; /* answered as 413: we cannot hold it */
			return;
		}
		if (r->body) {
			memcpy(b, r->body, r->body_len);
			explicit_bzero(r->body, r->body_len);
			free(r->body);
		}
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

/* ---- step 3: the handler ------------------------------------------------------------ */

static void req_run(struct api_req *r)
{
	if (r->too_large) {
		api_error(r, 413, NULL, "the body is larger than %zu bytes", r->body_max);
		return;
	}
	unsigned fl = r->route->flags;
	if (fl & API_JSON) {
		if (r->body_len == 0) {
			api_error(r, 400, NULL, "a JSON object is required");
			return;
		}
		json_error_t e;
		r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e);
		if (!r->json) {
			api_error(r, 400, NULL, "invalid JSON at line %d column %d: %s", e.line, e.column, e.text);
			return;
		}
		if (!json_is_object(r->json)) {
			api_error(r, 400, NULL, "the body must be a JSON object");
			return;
		}
	}
	int rc = r->route->fn(r);
	if (rc != 0 || r->status == 0) {
		if (r->status == 0 || r->status < 400)
			api_error(r, 500, NULL, "internal error (%s)", strerror(rc ? rc : EIO));
	}
	const struct live_ops *live = r->srv->live;
	if (r->changed && r->status < 300 && live && live->config_changed)
		live->config_changed(live->ctx);
	if (fl & API_CSRF)
		log_info("http: %s %s by %s from %s: %u", r->route->method, r->route->path, r->sess.user,
			 r->client_ip, r->status);
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct http_server *h = cls;
	struct api_req *r = *req_cls;
	(void)version;
	if (!r && ui_assets_match(url)) /* the browser UI: static, no session */
		return ui_assets_serve(conn, method, url);
	if (!r) {
		if (!(r = calloc(1, sizeof *r)))
			return MHD_NO;
		*req_cls = r;
		r->srv = h;
		r->conn = conn;
		r->method = method;
		req_begin(r, url);
		if (r->status) {
			/* Answered before the body: libmicrohttpd then closes the
			 * connection instead of reading what was sent. */
			r->early = true;
			return http_reply(r);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->early)
			return MHD_YES;
		req_body(r, upload_data, n);
		if (r->too_large) {
			/* libmicrohttpd lets a handler answer only before the body
			 * or after all of it, so a body past the cap is read and
			 * dropped to give the client its 413; but not without end:
			 * past API_DRAIN_MAX the connection is closed unanswered. */
			if (n > API_DRAIN_MAX - r->dropped)
				return MHD_NO;
			r->dropped += n;
		}
		return MHD_YES;
	}
	if (r->early)
		return MHD_YES;
	req_run(r);
	return http_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct api_req *r = *req_cls;
	if (!r)
		return;
	if (r->stream)
		api_stream_free(r->stream); /* never handed to a response */
	if (r->own_resp)
		MHD_destroy_response(r->own_resp); /* closes its file */
	for (size_t i = 0; i < r->nseg; i++)
		free(r->segs[i]);
	if (r->body) {
		explicit_bzero(r->body, r->body_len); /* may hold passwords */
		free(r->body);
	}
	json_decref(r->json);
	free(r->resp);
	explicit_bzero(&r->sess, sizeof r->sess);
	free(r);
	*req_cls = NULL;
}

/* Leave escapes in place: split_path decodes each segment and api_query
 * each argument. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* ---- routes without a resource file ----------------------------------------------- */

int api_healthz(struct api_req *r)
{
	bool up = atomic_load(r->srv->ready);
	char *t = strdup(up ? "ok\n" : "starting\n");
	if (!t)
		return ENOMEM;
	return api_reply_text(r, up ? 200 : 503, "text/plain; charset=utf-8", t, strlen(t));
}

/* One metric with its HELP and TYPE lines (Prometheus text format 0.0.4). */
static void metric(FILE *f, const char *name, const char *type, const char *help, unsigned long long v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

/* The core's counters; left out when it does not answer: Prometheus then
 * shows the gap instead of a made-up value. */
static void metrics_core(FILE *f, const struct live_ops *live)
{
	struct live_stats st = { 0 };
	if (!live)
		return;
	if (!live->stats || live->stats(live->ctx, &st) != 0) {
		if (!live->registrations)
			return;
		/* Without the counters, the registrations alone. Only the count
		 * is wanted; a one-element buffer keeps the core's copy well
		 * defined. */
		struct live_binding *one = calloc(1, sizeof *one);
		size_t n = 0, total = 0;
		if (one && live->registrations(live->ctx, one, 0, &n, &total) == 0)
			metric(f, "pbx_registrations", "gauge", "Contact bindings registered now.", total);
		free(one);
		return;
	}
	metric(f, "pbx_registrations", "gauge", "Contact bindings registered now.", st.registrations);
	metric(f, "pbx_calls_active", "gauge", "Calls in progress.", st.calls_active);
	metric(f, "pbx_call_setups_total", "counter", "INVITEs that became calls.", st.call_setups);
	metric(f, "pbx_calls_answered_total", "counter", "Calls answered.", st.calls_answered);
	metric(f, "pbx_messages_total", "counter", "SIP MESSAGEs relayed.", st.messages);
	metric(f, "pbx_sip_received_total", "counter", "SIP messages received.", st.sip_rx);
	metric(f, "pbx_sip_bad_total", "counter", "SIP messages received that could not be parsed.", st.sip_rx_bad);
	metric(f, "pbx_auth_failures_total", "counter", "Failed digest authentications.", st.auth_failures);
	metric(f, "pbx_rtp_received_packets_total", "counter", "RTP packets received.", st.rtp_rx_packets);
	metric(f, "pbx_rtp_sent_packets_total", "counter", "RTP packets sent.", st.rtp_tx_packets);
	metric(f, "pbx_rtp_lost_packets_total", "counter", "RTP packets lost on the way to us.", st.rtp_lost_packets);
	metric(f, "pbx_media_legs", "gauge", "Media legs open now.", st.media_legs);
	fprintf(f, "# HELP pbx_media_tick_max_seconds Longest media thread tick since start.\n"
		   "# TYPE pbx_media_tick_max_seconds gauge\npbx_media_tick_max_seconds %llu.%06llu\n",
		(unsigned long long)(st.media_tick_max_us / 1000000), (unsigned long long)(st.media_tick_max_us % 1000000));
}

int api_metrics(struct api_req *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return ENOMEM;
	metrics_core(f, r->srv->live);
	metric(f, "pbx_http_sessions", "gauge", "Web admin sessions signed in now.",
	       api_session_count(r->srv->sessions, api_now()));
	metric(f, "pbx_http_event_streams", "gauge", "Web admin event streams open now.",
	       r->srv->events ? api_events_count(r->srv->events) : 0);
	metric(f, "pbx_http_signin_failures_total", "counter", "Failed web admin sign-ins.",
	       (unsigned long long)atomic_load(&r->srv->signin_failures));
	fprintf(f, "# HELP pbx_http_responses_total HTTP responses by status class.\n"
		   "# TYPE pbx_http_responses_total counter\n");
	for (unsigned c = 1; c <= 5; c++)
		fprintf(f, "pbx_http_responses_total{code=\"%uxx\"} %llu\n", c,
			(unsigned long long)atomic_load(&r->srv->status_count[c]));
	if (fclose(f) != 0) {
		free(text);
		return ENOMEM;
	}
	return api_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

int api_openapi_get(struct api_req *r)
{
	return api_reply_json(r, 200, api_openapi());
}

/* ---- start and stop ------------------------------------------------------------------ */

static void db_key_close(void *v)
{
	db_close(v);
}

static int read_pem(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		log_err("http: cannot open %s: %s", path, strerror(errno));
		return EINVAL;
	}
	char *buf = malloc(HTTP_PEM_MAX + 1);
	size_t n = buf ? fread(buf, 1, HTTP_PEM_MAX + 1, f) : 0;
	fclose(f);
	if (!buf)
		return ENOMEM;
	if (n == 0 || n > HTTP_PEM_MAX) {
		log_err("http: %s is empty or larger than %d bytes", path, HTTP_PEM_MAX);
		free(buf);
		return EINVAL;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static void server_free(struct http_server *h)
{
	/* Streams are suspended connections most of the time, and
	 * libmicrohttpd must not be stopped with one: end them first. */
	api_events_stop(h->events);
	if (h->d)
		MHD_stop_daemon(h->d); /* joins the threads: their connections close */
	api_events_free(h->events);
	if (h->db_key_ok)
		pthread_key_delete(h->db_key);
	api_sessions_free(h->sessions);
	if (h->tls_key) {
		explicit_bzero(h->tls_key, strlen(h->tls_key));
		free(h->tls_key);
	}
	free(h->tls_cert);
	free(h->db_path);
	free(h->spool);
	free(h);
}

int http_start(struct http_server **out, const struct http_cfg *cfg)
{
	*out = NULL;
	if (!cfg || !cfg->ready || !cfg->db_path || !cfg->tls_cert != !cfg->tls_key)
		return EINVAL;
	const struct live_ops *live = cfg->live;
	if (live && (!live->registrations || !live->bans || !live->ban_lift || !live->config_changed))
		return EINVAL;
	if (api_routes_check() != 0)
		return EINVAL;
	struct http_server *h = calloc(1, sizeof *h);
	if (!h)
		return ENOMEM;
	h->ready = cfg->ready;
	h->live = live;
	int rc = ENOMEM;
	if (!(h->db_path = strdup(cfg->db_path)))
		goto fail;
	if (cfg->spool && !(h->spool = strdup(cfg->spool)))
		goto fail;
	if (pthread_key_create(&h->db_key, db_key_close) != 0)
		goto fail;
	h->db_key_ok = true;
	if ((rc = api_sessions_new(&h->sessions)) != 0)
		goto fail;

	if (live && (rc = api_events_start(h, cfg->events_keepalive_s, &h->events)) != 0)
		goto fail;

	/* Suspend and resume: an event stream with nothing to send waits
	 * suspended instead of being polled. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	if (cfg->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_OptionItem opts[16];
	size_t k = 0;
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, (void *)&cfg->addr };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, HTTP_THREADS, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, 256, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT, 32, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_none, NULL };
	if (cfg->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			log_err("http: this libmicrohttpd has no TLS");
			rc = EINVAL;
			goto fail;
		}
		if ((rc = read_pem(cfg->tls_cert, &h->tls_cert)) != 0 || (rc = read_pem(cfg->tls_key, &h->tls_key)) != 0)
			goto fail;
		flags |= MHD_USE_TLS;
		h->tls = true;
		opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert };
		opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key };
	}
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

	h->d = MHD_start_daemon(flags, sip_addr_port(&cfg->addr), NULL, NULL, on_request, h, MHD_OPTION_ARRAY,
				opts, MHD_OPTION_END);
	if (!h->d) {
		rc = EADDRINUSE;
		goto fail;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : sip_addr_port(&cfg->addr);
	char a[SIP_ADDRSTR_MAX];
	log_notice("http: listening on %s (port %u%s)", sip_addr_str(&cfg->addr, a, sizeof a), h->port,
		   h->tls ? ", HTTPS" : "");
	*out = h;
	return 0;
fail:
	server_free(h);
	return rc;
}

void http_stop(struct http_server *h)
{
	if (h)
		server_free(h);
}

uint16_t http_port(const struct http_server *h)
{
	return h->port;
}
