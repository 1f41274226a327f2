/*
 * t_sip_txn.c: the transaction layer against a fake clock and a fake
 * transport that records every send. Messages are small literal SIP texts
 * run through the real parser. Each test walks one state machine of
 * RFC 3261 section 17 / RFC 6026 and checks what went out and when, and
 * which callbacks the TU saw.
 */
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sip_msg.h"
#include "sip_txn.h"
#include "timer_heap.h"

#define T1 500
#define T2 4000
#define T4 5000

/* ------------------------------------------------------------------ fixture */

#define MAX_SENT 64

struct fx {
	struct timer_heap th;
	struct sip_txn_layer *l;
	uint64_t now;
	enum sip_tp tp;
	/* what the fake transport saw */
	char *sent[MAX_SENT];
	unsigned nsent;      /* total, also beyond MAX_SENT (those are not kept) */
	int send_err;        /* returned by send when not 0 */
	bool record;
	/* what the TU saw */
	unsigned nreq, nreq_null, nresp, nfail, ngone_server, ngone_client;
	struct sip_txn *last_st, *last_ct, *last_gone;
	enum sip_method last_req_method;
	int last_status, last_reason;
	/* what the TU does from its callbacks */
	int respond_status;       /* respond from on_request with this (0: no) */
	bool abandon_in_response; /* abandon ct from on_response */
};

static int fx_send(void *ctx, const struct sip_dest *dst, const char *buf, size_t len)
{
	struct fx *f = ctx;
	assert_non_null(dst);
	if (f->send_err)
		return f->send_err;
	if (f->record && f->nsent < MAX_SENT) {
		char *c = malloc(len + 1);
		assert_non_null(c);
		memcpy(c, buf, len);
		c[len] = '\0';
		f->sent[f->nsent] = c;
	}
	f->nsent++;
	return 0;
}

static const char resp_200_tmpl[] =
	"SIP/2.0 %d Whatever\r\n"
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
	"From: <sip:alice@example.com>;tag=ft1\r\n"
	"To: <sip:bob@example.com>;tag=tt1\r\n"
	"Call-ID: cid1\r\n"
	"CSeq: 1 %s\r\n"
	"Content-Length: 0\r\n\r\n";

static void fx_on_request(void *ctx, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src)
{
	struct fx *f = ctx;
	assert_non_null(src);
	f->nreq++;
	f->last_req_method = req->method_id;
	if (!st) {
		f->nreq_null++;
		assert_int_equal(req->method_id, SIP_ACK);
		return;
	}
	assert_false(sip_txn_is_client(st));
	assert_int_equal(sip_txn_method(st), req->method_id);
	f->last_st = st;
	if (f->respond_status) {
		char buf[512];
		int n = snprintf(buf, sizeof buf, resp_200_tmpl, f->respond_status, "z9hG4bKx", "REGISTER");
		assert_int_equal(sip_txn_respond(st, f->respond_status, buf, (size_t)n), 0);
	}
}

static void fx_on_response(void *ctx, struct sip_txn *ct, const struct sip_msg *resp, const struct sip_dest *src)
{
	struct fx *f = ctx;
	assert_non_null(src);
	assert_true(sip_txn_is_client(ct));
	f->nresp++;
	f->last_ct = ct;
	f->last_status = resp->status;
	if (f->abandon_in_response)
		sip_txn_abandon(ct);
}

static void fx_on_client_fail(void *ctx, struct sip_txn *ct, int reason)
{
	struct fx *f = ctx;
	f->nfail++;
	f->last_ct = ct;
	f->last_reason = reason;
}

static void fx_on_client_gone(void *ctx, struct sip_txn *ct)
{
	struct fx *f = ctx;
	f->ngone_client++;
	f->last_ct = ct;
}

static void fx_on_server_gone(void *ctx, struct sip_txn *st)
{
	struct fx *f = ctx;
	f->ngone_server++;
	f->last_gone = st;
}

static const struct sip_txn_ops fx_ops = {
	.send = fx_send,
	.on_request = fx_on_request,
	.on_response = fx_on_response,
	.on_client_fail = fx_on_client_fail,
	.on_client_gone = fx_on_client_gone,
	.on_server_gone = fx_on_server_gone,
};

static struct fx *fx_new(enum sip_tp tp)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->tp = tp;
	f->record = true;
	f->now = 1000000; /* not 0: catches code that forgets to add "now" */
	timer_heap_init(&f->th);
	assert_int_equal(sip_txn_layer_new(&f->l, &f->th, &fx_ops, f), 0);
	assert_int_equal(sip_txn_set_timers(f->l, T1, T2, T4), 0);
	sip_txn_set_now(f->l, f->now);
	return f;
}

static void fx_free(struct fx *f)
{
	sip_txn_layer_free(f->l);
	assert_int_equal(timer_heap_count(&f->th), 0);
	timer_heap_free(&f->th);
	for (unsigned i = 0; i < f->nsent && i < MAX_SENT; i++)
		free(f->sent[i]);
	free(f);
}

/* Move the clock to start + ms, waking at every timer on the way as the
 * core loop does, and run the timers. */
static void fx_at(struct fx *f, uint64_t start, uint64_t ms)
{
	uint64_t target = start + ms;
	assert_true(target >= f->now);
	for (;;) {
		uint64_t next = timer_heap_next(&f->th);
		f->now = next < f->now ? f->now : next > target ? target : next;
		sip_txn_set_now(f->l, f->now);
		timer_heap_run(&f->th, f->now);
		if (f->now == target && timer_heap_next(&f->th) > target)
			break;
	}
}

static void fx_dest(const struct fx *f, struct sip_dest *d)
{
	memset(d, 0, sizeof *d);
	assert_int_equal(sip_addr_parse("192.0.2.1:5060", 5060, &d->peer), 0);
	assert_int_equal(sip_addr_parse("192.0.2.100:5060", 5060, &d->local), 0);
	d->tp = f->tp;
	d->conn_id = f->tp == SIP_TP_TCP ? 7 : 0;
}

/* Parse text and feed it; returns what sip_txn_input returned. */
static int fx_feed(struct fx *f, const char *text)
{
	struct sip_msg *m = malloc(sizeof *m);
	assert_non_null(m);
	size_t len = strlen(text);
	assert_int_equal(sip_msg_parse(m, text, len, SIP_DGRAM), 0);
	struct sip_dest src;
	fx_dest(f, &src);
	int rc = sip_txn_input(f->l, m, &src);
	free(m);
	return rc;
}

static const char *fx_last(const struct fx *f)
{
	assert_true(f->nsent > 0 && f->nsent <= MAX_SENT);
	return f->sent[f->nsent - 1];
}

/* ------------------------------------------------------------------ messages */

/* A request from 192.0.2.1 with the given method, branch (NULL: none, an
 * RFC 2543 peer), CSeq and To tag (NULL: none). */
static char *req_text(char *buf, size_t cap, const char *method, const char *branch, unsigned cseq,
		      const char *cseq_method, const char *to_tag)
{
	char via_params[128] = "";
	char to_params[64] = "";
	if (branch)
		snprintf(via_params, sizeof via_params, ";branch=%s", branch);
	if (to_tag)
		snprintf(to_params, sizeof to_params, ";tag=%s", to_tag);
	snprintf(buf, cap,
		 "%s sip:bob@example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.1:5060%s\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@example.com>;tag=ft1\r\n"
		 "To: <sip:bob@example.com>%s\r\n"
		 "Call-ID: cid1\r\n"
		 "CSeq: %u %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, via_params, to_params, cseq, cseq_method ? cseq_method : method);
	return buf;
}

/* A response as the TU would build it (status line, the request's Via,
 * To with tag tt1). */
static size_t resp_text(char *buf, size_t cap, int status, const char *branch, const char *method)
{
	char via[128] = "";
	if (branch)
		snprintf(via, sizeof via, ";branch=%s", branch);
	return (size_t)snprintf(buf, cap,
				"SIP/2.0 %d Reason\r\n"
				"Via: SIP/2.0/UDP 192.0.2.1:5060%s\r\n"
				"From: <sip:alice@example.com>;tag=ft1\r\n"
				"To: <sip:bob@example.com>;tag=tt1\r\n"
				"Call-ID: cid1\r\n"
				"CSeq: 1 %s\r\n"
				"Content-Length: 0\r\n\r\n",
				status, via, method);
}

static int respond(struct sip_txn *st, int status, const char *branch, const char *method)
{
	char buf[512];
	size_t n = resp_text(buf, sizeof buf, status, branch, method);
	return sip_txn_respond(st, status, buf, n);
}

/* ------------------------------------------------------------------ server, non-INVITE */

static void test_nist_udp(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	char req[1024];
	uint64_t t0 = f->now;
	req_text(req, sizeof req, "REGISTER", "z9hG4bKr1", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nreq, 1);
	assert_int_equal(f->last_req_method, SIP_REGISTER);
	struct sip_txn *st = f->last_st;
	assert_non_null(st);
	assert_int_equal(sip_txn_count(f->l), 1);
	/* retransmission before any response: absorbed, nothing sent */
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nreq, 1);
	assert_int_equal(f->nsent, 0);
	/* the response goes to where the request came from */
	struct sip_dest d;
	sip_txn_dest(st, &d);
	assert_int_equal(sip_addr_port(&d.peer), 5060);
	assert_int_equal(respond(st, 200, "z9hG4bKr1", "REGISTER"), 0);
	assert_int_equal(f->nsent, 1);
	assert_non_null(strstr(fx_last(f), "SIP/2.0 200"));
	/* a second final is refused */
	assert_int_equal(respond(st, 500, "z9hG4bKr1", "REGISTER"), EPROTO);
	assert_int_equal(f->nsent, 1);
	/* each retransmission of the request gets the response again */
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nsent, 3);
	assert_non_null(strstr(fx_last(f), "SIP/2.0 200"));
	assert_int_equal(f->nreq, 1);
	/* no timer retransmits a non-INVITE response */
	fx_at(f, t0, 64 * T1 - 1);
	assert_int_equal(f->nsent, 3);
	assert_int_equal(sip_txn_count(f->l), 1);
	assert_int_equal(f->ngone_server, 0);
	/* timer J */
	fx_at(f, t0, 64 * T1);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->ngone_server, 1);
	assert_ptr_equal(f->last_gone, st);
	/* the same request now is a new one */
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nreq, 2);
	fx_free(f);
}

static void test_nist_tcp_ends_at_once(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_TCP);
	char req[1024];
	f->respond_status = 200; /* answered from inside on_request */
	req_text(req, sizeof req, "OPTIONS", "z9hG4bKo1", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nreq, 1);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->ngone_server, 1);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(timer_heap_count(&f->th), 0);
	fx_free(f);
}

static void test_nist_provisional_and_guard(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	char req[1024];
	uint64_t t0 = f->now;
	req_text(req, sizeof req, "MESSAGE", "z9hG4bKm1", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	struct sip_txn *st = f->last_st;
	assert_int_equal(respond(st, 180, "z9hG4bKm1", "MESSAGE"), 0);
	assert_int_equal(fx_feed(f, req), 0); /* Proceeding: the 1xx again */
	assert_int_equal(f->nsent, 2);
	assert_non_null(strstr(fx_last(f), "SIP/2.0 180"));
	/* never answered: the guard ends it after 64*T1 + T4 */
	fx_at(f, t0, 64 * T1 + T4 - 1);
	assert_int_equal(sip_txn_count(f->l), 1);
	fx_at(f, t0, 64 * T1 + T4);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->ngone_server, 1);
	fx_free(f);
}

/* A transport error on a response ends the server transaction inside
 * sip_txn_respond, which reports the error. */
static void test_server_send_error(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_TCP);
	char req[1024];
	req_text(req, sizeof req, "BYE", "z9hG4bKe1", 2, NULL, "tt1");
	assert_int_equal(fx_feed(f, req), 0);
	struct sip_txn *st = f->last_st;
	f->send_err = ECONNRESET;
	assert_int_equal(respond(st, 200, "z9hG4bKe1", "BYE"), ECONNRESET);
	assert_int_equal(f->ngone_server, 1);
	assert_ptr_equal(f->last_gone, st);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(timer_heap_count(&f->th), 0);
	fx_free(f);
}

/* ------------------------------------------------------------------ server, INVITE */

static void test_ist_non2xx_ack(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	char req[1024], ack[1024];
	uint64_t t0 = f->now;
	req_text(req, sizeof req, "INVITE", "z9hG4bKi1", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	struct sip_txn *st = f->last_st;
	/* the TU did not answer at once: the layer sent 100 Trying */
	assert_int_equal(f->nsent, 1);
	assert_non_null(strstr(fx_last(f), "SIP/2.0 100 Trying"));
	assert_non_null(strstr(fx_last(f), "branch=z9hG4bKi1"));
	assert_non_null(strstr(fx_last(f), "CSeq: 1 INVITE"));
	assert_int_equal(respond(st, 180, "z9hG4bKi1", "INVITE"), 0);
	assert_int_equal(fx_feed(f, req), 0); /* retransmission: the 180 again */
	assert_int_equal(f->nsent, 3);
	assert_non_null(strstr(fx_last(f), "SIP/2.0 180"));
	assert_int_equal(f->nreq, 1);
	/* no provisional retransmission by timer */
	fx_at(f, t0, 10 * T1);
	assert_int_equal(f->nsent, 3);
	uint64_t t1 = f->now;
	assert_int_equal(respond(st, 486, "z9hG4bKi1", "INVITE"), 0);
	assert_int_equal(f->nsent, 4);
	/* timer G: T1, 2T1, 4T1, then T2, T2 */
	uint64_t at[] = { 500, 1500, 3500, 7500, 11500, 15500 };
	unsigned n = 4;
	for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
		fx_at(f, t1, at[i] - 1);
		assert_int_equal(f->nsent, n);
		fx_at(f, t1, at[i]);
		assert_int_equal(f->nsent, ++n);
		assert_non_null(strstr(fx_last(f), "SIP/2.0 486"));
	}
	/* an INVITE retransmission gets the final again */
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nsent, ++n);
	/* the ACK: absorbed, retransmissions stop, Confirmed */
	req_text(ack, sizeof ack, "ACK", "z9hG4bKi1", 1, NULL, "tt1");
	assert_int_equal(fx_feed(f, ack), 0);
	assert_int_equal(f->nreq, 1);
	uint64_t t2 = f->now;
	fx_at(f, t2, T4 - 1);
	assert_int_equal(f->nsent, n);
	assert_int_equal(sip_txn_count(f->l), 1);
	assert_int_equal(fx_feed(f, ack), 0); /* absorbed in Confirmed too */
	assert_int_equal(fx_feed(f, req), 0); /* and INVITE retransmissions */
	assert_int_equal(f->nreq, 1);
	assert_int_equal(f->nsent, n);
	/* timer I */
	fx_at(f, t2, T4);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->ngone_server, 1);
	fx_free(f);
}

static void test_ist_no_ack_timer_h(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	char req[1024];
	sip_txn_set_auto_trying(f->l, false);
	req_text(req, sizeof req, "INVITE", "z9hG4bKi2", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nsent, 0); /* no 100 when switched off */
	uint64_t t0 = f->now;
	assert_int_equal(respond(f->last_st, 404, "z9hG4bKi2", "INVITE"), 0);
	fx_at(f, t0, 64 * T1 - 1);
	assert_int_equal(f->ngone_server, 0);
	/* sends at 0, 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s: 1 + 3 + 7 */
	assert_int_equal(f->nsent, 11);
	fx_at(f, t0, 64 * T1);
	assert_int_equal(f->ngone_server, 1);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->nsent, 11);
	fx_free(f);
}

static void test_ist_2xx_accepted(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	char req[1024], ack[1024];
	req_text(req, sizeof req, "INVITE", "z9hG4bKi3", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	struct sip_txn *st = f->last_st;
	unsigned n = f->nsent; /* the 100 */
	uint64_t t0 = f->now;
	assert_int_equal(respond(st, 200, "z9hG4bKi3", "INVITE"), 0);
	assert_int_equal(f->nsent, ++n);
	/* RFC 6026: a retransmitted INVITE is absorbed without a resend */
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nsent, n);
	assert_int_equal(f->nreq, 1);
	/* nor does a timer resend the 2xx */
	fx_at(f, t0, 10 * T1);
	assert_int_equal(f->nsent, n);
	/* the TU resends its 2xx through the transaction; a non-2xx is refused */
	assert_int_equal(respond(st, 200, "z9hG4bKi3", "INVITE"), 0);
	assert_int_equal(f->nsent, ++n);
	assert_int_equal(respond(st, 486, "z9hG4bKi3", "INVITE"), EPROTO);
	/* the ACK of a 2xx (its own branch) reaches the TU, without a transaction */
	req_text(ack, sizeof ack, "ACK", "z9hG4bKack3", 1, NULL, "tt1");
	assert_int_equal(fx_feed(f, ack), 0);
	assert_int_equal(f->nreq_null, 1);
	/* so does an ACK that matches the transaction in Accepted */
	req_text(ack, sizeof ack, "ACK", "z9hG4bKi3", 1, NULL, "tt1");
	assert_int_equal(fx_feed(f, ack), 0);
	assert_int_equal(f->nreq_null, 2);
	assert_int_equal(sip_txn_count(f->l), 1);
	/* timer L */
	fx_at(f, t0, 64 * T1 - 1);
	assert_int_equal(sip_txn_count(f->l), 1);
	fx_at(f, t0, 64 * T1);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->ngone_server, 1);
	fx_free(f);
}

static void test_ist_tcp(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_TCP);
	char req[1024], ack[1024];
	req_text(req, sizeof req, "INVITE", "z9hG4bKi4", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	uint64_t t0 = f->now;
	assert_int_equal(respond(f->last_st, 603, "z9hG4bKi4", "INVITE"), 0);
	unsigned n = f->nsent;
	fx_at(f, t0, 20 * T1);
	assert_int_equal(f->nsent, n); /* no timer G on TCP */
	req_text(ack, sizeof ack, "ACK", "z9hG4bKi4", 1, NULL, "tt1");
	assert_int_equal(fx_feed(f, ack), 0);
	/* timer I is 0 on TCP */
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->ngone_server, 1);
	fx_free(f);
}

/* ------------------------------------------------------------------ CANCEL, RFC 2543 */

static void test_cancel_matches_invite(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	char req[1024];
	req_text(req, sizeof req, "INVITE", "z9hG4bKc1", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	struct sip_txn *inv = f->last_st;
	req_text(req, sizeof req, "CANCEL", "z9hG4bKc1", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nreq, 2);
	struct sip_txn *can = f->last_st;
	assert_ptr_not_equal(can, inv);
	assert_int_equal(sip_txn_method(can), SIP_CANCEL);
	assert_ptr_equal(sip_txn_cancel_target(can), inv);
	assert_null(sip_txn_cancel_target(inv));
	/* a CANCEL for an INVITE we never saw */
	req_text(req, sizeof req, "CANCEL", "z9hG4bKnone", 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	assert_null(sip_txn_cancel_target(f->last_st));
	assert_int_equal(respond(f->last_st, 481, "z9hG4bKnone", "CANCEL"), 0);
	assert_int_equal(respond(can, 200, "z9hG4bKc1", "CANCEL"), 0);
	assert_int_equal(respond(inv, 487, "z9hG4bKc1", "INVITE"), 0);
	assert_int_equal(sip_txn_count(f->l), 3);
	fx_free(f); /* with live transactions: must not leak */
}

static void test_rfc2543_matching(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	char req[1024];
	uint64_t t0 = f->now;
	req_text(req, sizeof req, "INVITE", NULL, 5, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	struct sip_txn *inv = f->last_st;
	assert_int_equal(f->nsent, 1); /* 100 */
	/* the retransmission matches on R-URI, tags, Call-ID, CSeq and Via */
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nreq, 1);
	assert_int_equal(f->nsent, 2);
	/* another CSeq is another transaction */
	char req2[1024];
	req_text(req2, sizeof req2, "INVITE", NULL, 6, NULL, NULL);
	assert_int_equal(fx_feed(f, req2), 0);
	assert_int_equal(f->nreq, 2);
	struct sip_txn *inv2 = f->last_st;
	assert_ptr_not_equal(inv2, inv);
	/* CANCEL finds its INVITE by the same fields */
	char can[1024];
	req_text(can, sizeof can, "CANCEL", NULL, 5, NULL, NULL);
	assert_int_equal(fx_feed(f, can), 0);
	assert_int_equal(f->nreq, 3);
	assert_ptr_equal(sip_txn_cancel_target(f->last_st), inv);
	/* final with To tag tt1; the ACK carries that tag */
	assert_int_equal(respond(inv, 486, NULL, "INVITE"), 0);
	char ack[1024];
	req_text(ack, sizeof ack, "ACK", NULL, 5, "ACK", "other");
	assert_int_equal(fx_feed(f, ack), 0); /* wrong tag: not ours, goes up */
	assert_int_equal(f->nreq_null, 1);
	req_text(ack, sizeof ack, "ACK", NULL, 5, "ACK", "tt1");
	assert_int_equal(fx_feed(f, ack), 0); /* ours: absorbed */
	assert_int_equal(f->nreq_null, 1);
	unsigned n = f->nsent;
	fx_at(f, t0, T1 * 8); /* Confirmed: no timer G */
	assert_int_equal(f->nsent, n);
	fx_free(f);
}

/* ------------------------------------------------------------------ client, non-INVITE */

static const char creq_tmpl[] =
	"%s sip:registrar.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.100:5060;branch=%s;rport\r\n"
	"Route: <sip:proxy1.example.com;lr>\r\n"
	"Route: <sip:proxy2.example.com;lr>\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:pbx@example.com>;tag=pbx1\r\n"
	"To: <sip:bob@example.com>\r\n"
	"Call-ID: ccid1\r\n"
	"CSeq: 7 %s\r\n"
	"Content-Length: 0\r\n\r\n";

static int client_start(struct fx *f, const char *method, const char *branch, struct sip_txn **out)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, creq_tmpl, method, branch, method);
	struct sip_dest d;
	fx_dest(f, &d);
	return sip_txn_request(f->l, buf, (size_t)n, &d, f, out);
}

static void cresp(char *buf, size_t cap, int status, const char *branch, const char *method, const char *to_tag)
{
	snprintf(buf, cap,
		 "SIP/2.0 %d Reason\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.100:5060;branch=%s;rport=5060\r\n"
		 "From: <sip:pbx@example.com>;tag=pbx1\r\n"
		 "To: <sip:bob@example.com>;tag=%s\r\n"
		 "Call-ID: ccid1\r\n"
		 "CSeq: 7 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 status, branch, to_tag, method);
}

static void test_nict_udp(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	struct sip_txn *ct;
	uint64_t t0 = f->now;
	assert_int_equal(client_start(f, "OPTIONS", "z9hG4bKn1", &ct), 0);
	assert_non_null(ct);
	assert_ptr_equal(sip_txn_user(ct), f);
	assert_int_equal(sip_txn_method(ct), SIP_OPTIONS);
	assert_int_equal(f->nsent, 1);
	assert_non_null(strstr(fx_last(f), "OPTIONS sip:registrar.example.com"));
	/* the same branch and method again is refused */
	assert_int_equal(client_start(f, "OPTIONS", "z9hG4bKn1", NULL), EEXIST);
	/* timer E: T1, 2T1, 4T1, T2, T2 */
	uint64_t at[] = { 500, 1500, 3500, 7500, 11500 };
	unsigned n = 1;
	for (unsigned i = 0; i < 5; i++) {
		fx_at(f, t0, at[i] - 1);
		assert_int_equal(f->nsent, n);
		fx_at(f, t0, at[i]);
		assert_int_equal(f->nsent, ++n);
	}
	char resp[1024];
	cresp(resp, sizeof resp, 100, "z9hG4bKn1", "OPTIONS", "x");
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 1);
	assert_int_equal(f->last_status, 100);
	/* Proceeding: every T2 */
	fx_at(f, t0, 15500);
	assert_int_equal(f->nsent, ++n);
	cresp(resp, sizeof resp, 200, "z9hG4bKn1", "OPTIONS", "x");
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 2);
	assert_int_equal(f->last_status, 200);
	assert_ptr_equal(f->last_ct, ct);
	uint64_t t1 = f->now;
	/* retransmissions stop; a retransmitted final is absorbed */
	fx_at(f, t1, T4 - 1);
	assert_int_equal(f->nsent, n);
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 2);
	/* timer K */
	assert_int_equal(f->ngone_client, 0);
	fx_at(f, t1, T4);
	assert_int_equal(f->ngone_client, 1);
	assert_int_equal(f->nfail, 0);
	assert_int_equal(sip_txn_count(f->l), 0);
	/* now the response matches nothing */
	assert_int_equal(fx_feed(f, resp), ENOENT);
	fx_free(f);
}

/* Timer E in Proceeding is T2 at once, not the doubling that was under way. */
static void test_nict_proceeding_uses_t2(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	uint64_t t0 = f->now;
	assert_int_equal(client_start(f, "OPTIONS", "z9hG4bKn6", NULL), 0);
	fx_at(f, t0, 600);
	assert_int_equal(f->nsent, 2); /* 0 and 0.5 s; next due at 1.5 s */
	char resp[1024];
	cresp(resp, sizeof resp, 180, "z9hG4bKn6", "OPTIONS", "x");
	assert_int_equal(fx_feed(f, resp), 0);
	fx_at(f, t0, 1500);
	assert_int_equal(f->nsent, 3);
	fx_at(f, t0, 1500 + T2 - 1);
	assert_int_equal(f->nsent, 3); /* not at 3.5 s */
	fx_at(f, t0, 1500 + T2);
	assert_int_equal(f->nsent, 4);
	fx_free(f);
}

static void test_nict_timeout(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	uint64_t t0 = f->now;
	assert_int_equal(client_start(f, "REGISTER", "z9hG4bKn2", NULL), 0);
	fx_at(f, t0, 64 * T1 - 1);
	assert_int_equal(f->nfail, 0);
	/* 0, 0.5, 1.5, 3.5, 7.5, 11.5, ..., 31.5 */
	assert_int_equal(f->nsent, 11);
	fx_at(f, t0, 64 * T1);
	assert_int_equal(f->nfail, 1);
	assert_int_equal(f->last_reason, ETIMEDOUT);
	assert_int_equal(f->ngone_client, 0);
	assert_int_equal(sip_txn_count(f->l), 0);
	fx_free(f);
}

static void test_nict_tcp_and_errors(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_TCP);
	struct sip_txn *ct;
	uint64_t t0 = f->now;
	assert_int_equal(client_start(f, "MESSAGE", "z9hG4bKn3", &ct), 0);
	fx_at(f, t0, 10 * T1);
	assert_int_equal(f->nsent, 1); /* no timer E on TCP */
	char resp[1024];
	cresp(resp, sizeof resp, 202, "z9hG4bKn3", "MESSAGE", "x");
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 1);
	assert_int_equal(f->ngone_client, 1); /* timer K is 0 */
	assert_int_equal(sip_txn_count(f->l), 0);
	/* a send error on the first send: nothing is created */
	f->send_err = ECONNREFUSED;
	assert_int_equal(client_start(f, "MESSAGE", "z9hG4bKn4", NULL), ECONNREFUSED);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(timer_heap_count(&f->th), 0);
	/* not a request / no branch */
	f->send_err = 0;
	struct sip_dest d;
	fx_dest(f, &d);
	const char bad[] = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(sip_txn_request(f->l, bad, sizeof bad - 1, &d, NULL, NULL), EINVAL);
	fx_free(f);
}

static void test_nict_udp_send_error_fails(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	uint64_t t0 = f->now;
	assert_int_equal(client_start(f, "OPTIONS", "z9hG4bKn5", NULL), 0);
	f->send_err = ENOBUFS; /* a lost datagram, not a failure */
	fx_at(f, t0, T1);
	assert_int_equal(f->nfail, 0);
	f->send_err = EHOSTUNREACH;
	fx_at(f, t0, 3 * T1);
	assert_int_equal(f->nfail, 1);
	assert_int_equal(f->last_reason, EHOSTUNREACH);
	assert_int_equal(sip_txn_count(f->l), 0);
	fx_free(f);
}

/* ------------------------------------------------------------------ client, INVITE */

static void test_ict_non2xx_ack(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	struct sip_txn *ct;
	uint64_t t0 = f->now;
	assert_int_equal(client_start(f, "INVITE", "z9hG4bKv1", &ct), 0);
	/* timer A: doubles: 0.5, 1.5, 3.5 */
	uint64_t at[] = { 500, 1500, 3500 };
	unsigned n = 1;
	for (unsigned i = 0; i < 3; i++) {
		fx_at(f, t0, at[i] - 1);
		assert_int_equal(f->nsent, n);
		fx_at(f, t0, at[i]);
		assert_int_equal(f->nsent, ++n);
		assert_non_null(strstr(fx_last(f), "INVITE sip:"));
	}
	char resp[1024];
	cresp(resp, sizeof resp, 180, "z9hG4bKv1", "INVITE", "callee1");
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 1);
	assert_int_equal(f->last_status, 180);
	/* Proceeding: no more retransmissions, and timer B is off */
	fx_at(f, t0, 100 * T1);
	assert_int_equal(f->nsent, n);
	assert_int_equal(f->nfail, 0);
	cresp(resp, sizeof resp, 486, "z9hG4bKv1", "INVITE", "callee1");
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 2);
	assert_int_equal(f->last_status, 486);
	assert_int_equal(f->nsent, ++n);
	/* the ACK, per 17.1.1.3 */
	const char *ack = fx_last(f);
	assert_memory_equal(ack, "ACK sip:registrar.example.com SIP/2.0\r\n", 39);
	assert_non_null(strstr(ack, "\r\nVia: SIP/2.0/UDP 192.0.2.100:5060;branch=z9hG4bKv1;rport\r\n"));
	assert_non_null(strstr(ack, "\r\nRoute: <sip:proxy1.example.com;lr>\r\nRoute: <sip:proxy2.example.com;lr>\r\n"));
	assert_non_null(strstr(ack, "\r\nFrom: <sip:pbx@example.com>;tag=pbx1\r\n"));
	assert_non_null(strstr(ack, "\r\nTo: <sip:bob@example.com>;tag=callee1\r\n"));
	assert_non_null(strstr(ack, "\r\nCall-ID: ccid1\r\n"));
	assert_non_null(strstr(ack, "\r\nCSeq: 7 ACK\r\n"));
	assert_non_null(strstr(ack, "\r\nContent-Length: 0\r\n\r\n"));
	struct sip_msg *pm = malloc(sizeof *pm);
	assert_non_null(pm);
	assert_int_equal(sip_msg_parse(pm, ack, strlen(ack), SIP_STREAM), 0);
	assert_int_equal(pm->method_id, SIP_ACK);
	assert_int_equal(pm->cseq_method_id, SIP_ACK);
	free(pm);
	/* a retransmitted final: the ACK again, the TU hears nothing */
	uint64_t t1 = f->now;
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nsent, ++n);
	assert_memory_equal(fx_last(f), "ACK ", 4);
	assert_int_equal(f->nresp, 2);
	/* timer D */
	fx_at(f, t1, 64 * T1 - 1);
	assert_int_equal(f->ngone_client, 0);
	fx_at(f, t1, 64 * T1);
	assert_int_equal(f->ngone_client, 1);
	assert_int_equal(sip_txn_count(f->l), 0);
	fx_free(f);
}

static void test_ict_timer_b(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	uint64_t t0 = f->now;
	assert_int_equal(client_start(f, "INVITE", "z9hG4bKv2", NULL), 0);
	fx_at(f, t0, 64 * T1 - 1);
	/* 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5: A is not capped at T2 */
	assert_int_equal(f->nsent, 7);
	assert_int_equal(f->nfail, 0);
	fx_at(f, t0, 64 * T1);
	assert_int_equal(f->nfail, 1);
	assert_int_equal(f->last_reason, ETIMEDOUT);
	assert_int_equal(sip_txn_count(f->l), 0);
	fx_free(f);
}

static void test_ict_2xx_accepted(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	struct sip_txn *ct;
	assert_int_equal(client_start(f, "INVITE", "z9hG4bKv3", &ct), 0);
	char resp[1024];
	cresp(resp, sizeof resp, 200, "z9hG4bKv3", "INVITE", "fork1");
	uint64_t t0 = f->now;
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 1);
	assert_int_equal(f->nsent, 1); /* the layer does not ACK a 2xx */
	/* another 2xx (a retransmission or another fork) goes up too */
	cresp(resp, sizeof resp, 200, "z9hG4bKv3", "INVITE", "fork2");
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 2);
	assert_ptr_equal(f->last_ct, ct);
	/* anything else is absorbed */
	cresp(resp, sizeof resp, 180, "z9hG4bKv3", "INVITE", "fork3");
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 2);
	fx_at(f, t0, 10 * T1);
	assert_int_equal(f->nsent, 1); /* no retransmissions after the 2xx */
	/* timer M */
	fx_at(f, t0, 64 * T1 - 1);
	assert_int_equal(sip_txn_count(f->l), 1);
	fx_at(f, t0, 64 * T1);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->ngone_client, 1);
	fx_free(f);
}

static void test_abandon_in_callback(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	struct sip_txn *ct;
	assert_int_equal(client_start(f, "INVITE", "z9hG4bKv4", &ct), 0);
	f->abandon_in_response = true;
	char resp[1024];
	cresp(resp, sizeof resp, 183, "z9hG4bKv4", "INVITE", "t");
	uint64_t t0 = f->now;
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 1);
	/* abandoned: still ACKs a late non-2xx, but the TU hears nothing */
	cresp(resp, sizeof resp, 487, "z9hG4bKv4", "INVITE", "t");
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 1);
	assert_memory_equal(fx_last(f), "ACK ", 4);
	fx_at(f, t0, 200 * T1);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->ngone_client, 0);
	assert_int_equal(f->nfail, 0);
	/* abandoned before any answer: gone after 64*T1 without a word */
	f->abandon_in_response = false;
	assert_int_equal(client_start(f, "INVITE", "z9hG4bKv5", &ct), 0);
	sip_txn_abandon(ct);
	fx_at(f, f->now, 64 * T1);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->nfail, 0);
	fx_free(f);
}

/* ------------------------------------------------------------------ matching, scale */

static void test_unmatched_responses(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	char resp[1024];
	cresp(resp, sizeof resp, 200, "z9hG4bKnobody", "OPTIONS", "x");
	assert_int_equal(fx_feed(f, resp), ENOENT);
	assert_int_equal(client_start(f, "INVITE", "z9hG4bKu1", NULL), 0);
	/* same branch, other method: the CANCEL's response is not the INVITE's */
	cresp(resp, sizeof resp, 200, "z9hG4bKu1", "CANCEL", "x");
	assert_int_equal(fx_feed(f, resp), ENOENT);
	/* branches compare exactly apart from case */
	cresp(resp, sizeof resp, 200, "z9hG4bKu12", "INVITE", "x");
	assert_int_equal(fx_feed(f, resp), ENOENT);
	assert_int_equal(f->nresp, 0);
	/* a CANCEL client transaction with the INVITE's branch is its own */
	assert_int_equal(client_start(f, "CANCEL", "z9hG4bKu1", NULL), 0);
	cresp(resp, sizeof resp, 200, "z9hG4bKu1", "CANCEL", "x");
	assert_int_equal(fx_feed(f, resp), 0);
	assert_int_equal(f->nresp, 1);
	assert_int_equal(sip_txn_count(f->l), 2);
	fx_free(f);
}

static void test_many_server_transactions(void **state)
{
	(void)state;
	struct fx *f = fx_new(SIP_TP_UDP);
	f->record = false;
	f->respond_status = 200;
	char req[1024], branch[64];
	uint64_t t0 = f->now;
	enum { N = 100000 };
	for (unsigned i = 0; i < N; i++) {
		snprintf(branch, sizeof branch, "z9hG4bK%08x", i * 2654435761u);
		req_text(req, sizeof req, "REGISTER", branch, 1, NULL, NULL);
		assert_int_equal(fx_feed(f, req), 0);
		if (i % 1000 == 999)
			fx_at(f, t0, i / 1000); /* the clock moves on a little */
	}
	assert_int_equal(f->nreq, N);
	assert_int_equal(f->nsent, N);
	assert_int_equal(sip_txn_count(f->l), N);
	/* a retransmission among them is still found */
	snprintf(branch, sizeof branch, "z9hG4bK%08x", 777u * 2654435761u);
	req_text(req, sizeof req, "REGISTER", branch, 1, NULL, NULL);
	assert_int_equal(fx_feed(f, req), 0);
	assert_int_equal(f->nreq, N);
	assert_int_equal(f->nsent, N + 1);
	fx_at(f, t0, 64 * T1 + 200);
	assert_int_equal(sip_txn_count(f->l), 0);
	assert_int_equal(f->ngone_server, N);
	assert_int_equal(timer_heap_count(&f->th), 0);
	fx_free(f);
}

int main(int argc, char **argv)
{
	/* unit.h counts bytes in use with mallinfo2, which also counts chunks
	 * parked in glibc's per-thread cache after free(); without the cache the
	 * count is exact. Re-run ourselves once with the cache off (not under
	 * valgrind, whose own allocator needs none of this). */
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_nist_udp),
		UNIT_TEST(test_nist_tcp_ends_at_once),
		UNIT_TEST(test_nist_provisional_and_guard),
		UNIT_TEST(test_server_send_error),
		UNIT_TEST(test_ist_non2xx_ack),
		UNIT_TEST(test_ist_no_ack_timer_h),
		UNIT_TEST(test_ist_2xx_accepted),
		UNIT_TEST(test_ist_tcp),
		UNIT_TEST(test_cancel_matches_invite),
		UNIT_TEST(test_rfc2543_matching),
		UNIT_TEST(test_nict_udp),
		UNIT_TEST(test_nict_proceeding_uses_t2),
		UNIT_TEST(test_nict_timeout),
		UNIT_TEST(test_nict_tcp_and_errors),
		UNIT_TEST(test_nict_udp_send_error_fails),
		UNIT_TEST(test_ict_non2xx_ack),
		UNIT_TEST(test_ict_timer_b),
		UNIT_TEST(test_ict_2xx_accepted),
		UNIT_TEST(test_abandon_in_callback),
		UNIT_TEST(test_unmatched_responses),
		UNIT_TEST(test_many_server_transactions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
