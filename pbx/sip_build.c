/*
 * sip_build.c: response building and the reason phrase table.
 */
#include "sip_build.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

const char *sip_server_name = "pbxd";

void sip_buf_init(struct sip_buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->len = 0;
	b->cap = cap;
	b->overflow = false;
}

void sip_buf_add(struct sip_buf *b, const char *s, size_t n)
{
	if (b->overflow)
		return;
	if (n > b->cap - b->len) {
		b->overflow = true;
		return;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
}

void sip_buf_str(struct sip_buf *b, const char *s) { sip_buf_add(b, s, strlen(s)); }

void sip_buf_slice(struct sip_buf *b, struct slice s)
{
	if (s.p)
		sip_buf_add(b, s.p, s.len);
}

void sip_buf_printf(struct sip_buf *b, const char *fmt, ...)
{
	if (b->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->overflow = true;
		return;
	}
	b->len += (size_t)n;
}

const char *sip_reason(int code)
{
	switch (code) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 202: return "Accepted";
	case 302: return "Moved Temporarily";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 413: return "Request Entity Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Unsupported URI Scheme";
	case 420: return "Bad Extension";
	case 423: return "Interval Too Brief";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 482: return "Loop Detected";
	case 483: return "Too Many Hops";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 489: return "Bad Event";
	case 491: return "Request Pending";
	case 500: return "Server Internal Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "Version Not Supported";
	case 513: return "Message Too Large";
	case 603: return "Decline";
	default: return "Unknown";
	}
}

void sip_random_token(char out[17])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[8];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		memset(r, 0x5a, sizeof r); /* never happens on Linux >= 3.17 after boot */
	for (int i = 0; i < 8; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[16] = '\0';
}

/* Write the top Via value with received/rport set from the source. */
static void build_top_via(struct sip_buf *b, const struct sip_via *v, const struct sip_dest *src)
{
	char host[64];
	sip_addr_host(&src->peer, host, sizeof host);
	sip_buf_slice(b, v->proto);
	sip_buf_str(b, "/");
	sip_buf_slice(b, v->transport);
	sip_buf_str(b, " ");
	sip_buf_slice(b, v->host);
	if (v->port)
		sip_buf_printf(b, ":%u", v->port);
	/* Copy the parameters except received and rport, which we set. */
	const char *p = v->params.p, *end = p ? p + v->params.len : NULL;
	while (p && p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *pe = semi ? semi : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		struct slice name = slice_make(p, (size_t)((eq ? eq : pe) - p));
		while (name.len && (name.p[0] == ' ' || name.p[0] == '\t')) {
			name.p++;
			name.len--;
		}
		while (name.len && (name.p[name.len - 1] == ' ' || name.p[name.len - 1] == '\t'))
			name.len--;
		if (!slice_ieq_cstr(name, "received") && !slice_ieq_cstr(name, "rport") && pe > p) {
			sip_buf_str(b, ";");
			sip_buf_add(b, p, (size_t)(pe - p));
		}
		p = semi ? semi + 1 : end;
	}
	/* RFC 3261 18.2.1: received when sent-by is not the source address;
	 * RFC 3581: with rport, always (the NAT may have kept the address). */
	if (v->rport || !slice_eq_cstr(v->host, host)) {
		if (src->peer.ss_family == AF_INET6)
			sip_buf_printf(b, ";received=[%s]", host);
		else
			sip_buf_printf(b, ";received=%s", host);
	}
	if (v->rport)
		sip_buf_printf(b, ";rport=%u", sip_addr_port(&src->peer));
}

void sip_build_response(struct sip_buf *b, const struct sip_msg *req, const struct sip_dest *src,
			int code, const char *reason, const char *to_tag)
{
	sip_buf_printf(b, "SIP/2.0 %d %s\r\n", code, reason ? reason : sip_reason(code));
	bool top_done = false;
	for (unsigned i = 0; i < req->nhdrs; i++) {
		const struct sip_hdr *h = &req->hdrs[i];
		if (h->id != SIP_HDR_VIA)
			continue;
		sip_buf_str(b, "Via: ");
		if (!top_done && req->nvia > 0 && req->via[0].raw.p >= h->value.p &&
		    req->via[0].raw.p < h->value.p + h->value.len) {
			/* The top Via value starts this line; the rest of the line follows it. */
			const struct sip_via *v = &req->via[0];
			build_top_via(b, v, src);
			const char *after = v->raw.p + v->raw.len;
			sip_buf_add(b, after, (size_t)(h->value.p + h->value.len - after));
			top_done = true;
		} else {
			sip_buf_slice(b, h->value);
		}
		sip_buf_str(b, "\r\n");
	}
	sip_buf_str(b, "From: ");
	sip_buf_slice(b, req->from.raw);
	sip_buf_str(b, "\r\nTo: ");
	sip_buf_slice(b, req->to.raw);
	if (to_tag && !slice_present(req->to.tag) && code > 100)
		sip_buf_printf(b, ";tag=%s", to_tag);
	sip_buf_str(b, "\r\nCall-ID: ");
	sip_buf_slice(b, req->call_id);
	sip_buf_printf(b, "\r\nCSeq: %u ", req->cseq);
	sip_buf_slice(b, req->cseq_method);
	sip_buf_str(b, "\r\n");
}

void sip_build_end(struct sip_buf *b, const char *body, size_t body_len)
{
	sip_buf_printf(b, "Server: %s\r\nContent-Length: %zu\r\n\r\n", sip_server_name, body_len);
	if (body_len)
		sip_buf_add(b, body, body_len);
}

void sip_response_dest(const struct sip_msg *req, const struct sip_dest *src, struct sip_dest *out)
{
	*out = *src;
	if (src->tp != SIP_TP_UDP || req->nvia == 0)
		return;
	const struct sip_via *v = &req->via[0];
	if (v->rport)
		return; /* the source port, as received */
	uint16_t port = v->port ? v->port : 5060;
	sip_addr_set_port(&out->peer, port);
}
