/*
 * fuzz_sip_msg.c: libFuzzer target for the SIP message parser.
 *
 * Parses the input as a datagram and as a stream, checks that every slice
 * the parser returned lies inside the input and that lengths are
 * consistent, and on success runs every helper of sip_msg.h over the
 * parsed fields (URIs, name-addrs, parameters, comparison, unescaping).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fz_lo, *fz_hi;

static void in_buf(struct slice s)
{
	if (!s.p)
		return;
	if (s.p < fz_lo || s.p > fz_hi || s.len > (size_t)(fz_hi - s.p))
		abort();
}

static void check_uri(const struct sip_uri *u)
{
	in_buf(u->raw);
	in_buf(u->scheme);
	in_buf(u->user);
	in_buf(u->password);
	in_buf(u->host);
	in_buf(u->params);
	in_buf(u->headers);
}

static void check_na(const struct sip_nameaddr *na)
{
	in_buf(na->raw);
	in_buf(na->display);
	in_buf(na->tag);
	in_buf(na->params);
	check_uri(&na->uri);
}

/* Everything a parse left in *m must point into the input. */
static void check_bounds(const struct sip_msg *m)
{
	if (m->nhdrs > SIP_MAX_HEADERS || m->nvia > SIP_MAX_VIA || m->nvia > m->nvia_total ||
	    m->ncontacts > SIP_MAX_CONTACTS)
		abort();
	in_buf(m->method);
	in_buf(m->version);
	in_buf(m->reason);
	in_buf(m->call_id);
	in_buf(m->cseq_method);
	in_buf(m->body);
	check_uri(&m->ruri);
	check_na(&m->from);
	check_na(&m->to);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		in_buf(m->hdrs[i].name);
		in_buf(m->hdrs[i].value);
	}
	for (unsigned i = 0; i < m->nvia; i++) {
		const struct sip_via *v = &m->via[i];
		in_buf(v->raw);
		in_buf(v->proto);
		in_buf(v->transport);
		in_buf(v->host);
		in_buf(v->branch);
		in_buf(v->received);
		in_buf(v->rport_val);
		in_buf(v->params);
	}
	for (unsigned i = 0; i < m->ncontacts; i++) {
		check_na(&m->contacts[i].na);
		in_buf(m->contacts[i].q);
	}
}

static void exercise_uri(const struct sip_uri *u)
{
	char tmp[256];
	struct sip_uri again;
	struct slice v;

	if (!u->raw.p)
		return;
	/* A URI equals itself, and reparsing its text gives an equal URI. */
	if (u->is_sip && !sip_uri_equal(u, u))
		abort();
	if (sip_uri_parse(&again, u->raw) == 0 && u->is_sip && !sip_uri_equal(u, &again))
		abort();
	(void)sip_unescape(tmp, sizeof(tmp), u->user);
	(void)sip_unescape(tmp, 1, u->user);
	(void)sip_unescape(tmp, sizeof(tmp), u->params);
	(void)sip_param_get(u->params, "transport", &v);
	(void)sip_param_get(u->params, "lr", &v);
	(void)sip_param_get(u->params, "user", NULL);
}

static void exercise(const struct sip_msg *m)
{
	struct sip_nameaddr na;
	struct slice v;

	(void)sip_msg_can_reply(m);
	(void)sip_method_name(m->method_id);
	if (sip_method_from(m->method) != m->method_id)
		abort();
	(void)sip_method_name(sip_method_from(m->cseq_method));
	for (int id = 0; id <= SIP_HDR_COUNT; id++)
		(void)sip_msg_hdr(m, (enum sip_hdr_id)id);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = sip_msg_hdr_name(m, m->hdrs[i].name);
		if (!h)
			abort();
		(void)sip_nameaddr_parse(&na, m->hdrs[i].value);
		(void)sip_uri_parse(&na.uri, m->hdrs[i].value);
		(void)sip_param_get(m->hdrs[i].value, "x", &v);
	}
	exercise_uri(&m->ruri);
	exercise_uri(&m->from.uri);
	exercise_uri(&m->to.uri);
	(void)sip_uri_equal(&m->from.uri, &m->to.uri);
	(void)sip_uri_equal(&m->ruri, &m->to.uri);
	if (slice_present(m->from.raw) && sip_nameaddr_parse(&na, m->from.raw) != 0)
		abort();
	(void)sip_param_get(m->from.params, "tag", &v);
	for (unsigned i = 0; i < m->nvia; i++)
		(void)sip_param_get(m->via[i].params, "maddr", &v);
	for (unsigned i = 0; i < m->ncontacts; i++) {
		exercise_uri(&m->contacts[i].na.uri);
		if (i > 0)
			(void)sip_uri_equal(&m->contacts[i].na.uri, &m->contacts[i - 1].na.uri);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m; /* large: keep it off the stack */
	const char *buf = (const char *)data;
	enum sip_transport_kind kinds[2] = { SIP_DGRAM, SIP_STREAM };

	fz_lo = buf;
	fz_hi = buf + size;
	for (int k = 0; k < 2; k++) {
		int rc = sip_msg_parse(&m, buf, size, kinds[k]);
		check_bounds(&m);
		if (rc == 0) {
			if (m.len > size || m.buf != buf)
				abort();
			if (m.body.p && m.body.p + m.body.len != buf + m.len)
				abort();
			exercise(&m);
		} else if (rc != EBADMSG && rc != EPROTONOSUPPORT &&
			   !(rc == EAGAIN && kinds[k] == SIP_STREAM)) {
			abort();
		} else {
			(void)sip_msg_can_reply(&m);
		}
	}
	return 0;
}
