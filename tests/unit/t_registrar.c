/*
 * t_registrar.c: the location service against RFC 3261 section 10.3.
 *
 * Each REGISTER is a small literal text run through sip_msg_parse, applied
 * with a fixed wall clock; the timer heap is driven by hand with
 * loop_now_ms() plus an offset (the registrar arms its timers on that
 * clock), so expiry and keepalives need no sleeping. The hooks record every
 * change so the tests can check exactly what the owner would persist.
 */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "registrar.h"
#include "sip_addr.h"
#include "sip_msg.h"
#include "timer_heap.h"

#define NOW 1700000000 /* wall clock seconds handed to the registrar */
#define SRC "192.0.2.10:5060"
#define EV_MAX 64

/* ---- fixture: a registrar, a timer heap and a record of hook calls ---- */

struct ev {
	enum reg_change what;
	char aor[REG_AOR_MAX];
	char contact[REG_CONTACT_MAX];
	int64_t expires_at;
	uint32_t cseq;
	bool natted;
	bool still_listed; /* the binding was still in its AOR when reported */
};

struct fx {
	struct timer_heap th;
	struct registrar *r;
	struct sip_dest src;
	struct ev ev[EV_MAX];
	int nev;                         /* hook calls, also beyond EV_MAX */
	int nka;                         /* keepalive hook calls */
	char ka_contact[REG_CONTACT_MAX]; /* contact of the last one */
	bool ka_remove;                  /* the keepalive hook removes the binding */
};

static void on_changed(void *ctx, const struct reg_binding *b, enum reg_change what)
{
	struct fx *f = ctx;
	/* Every call is counted; the first EV_MAX are kept for inspection. */
	if (f->nev++ >= EV_MAX)
		return;
	struct ev *e = &f->ev[f->nev - 1];
	e->what = what;
	snprintf(e->aor, sizeof e->aor, "%s", b->aor->aor);
	snprintf(e->contact, sizeof e->contact, "%s", b->contact);
	e->expires_at = b->expires_at;
	e->cseq = b->cseq;
	e->natted = b->natted;
	e->still_listed = false;
	struct reg_aor *a = registrar_find(f->r, b->aor->aor);
	for (struct reg_binding *x = a ? a->bindings : NULL; x; x = x->next)
		if (x == b)
			e->still_listed = true;
}

static void on_keepalive(void *ctx, struct reg_binding *b)
{
	struct fx *f = ctx;
	f->nka++;
	snprintf(f->ka_contact, sizeof f->ka_contact, "%s", b->contact);
	if (f->ka_remove)
		registrar_remove(f->r, b);
}

static const struct reg_limits test_limits = {
	.min_expires = 60,
	.max_expires = 7200,
	.default_expires = 1800,
	.max_contacts = 3,
	.keepalive_s = 30,
};

static void fx_init(struct fx *f)
{
	static const struct registrar_hooks hooks = { .changed = on_changed, .keepalive = on_keepalive };
	memset(f, 0, sizeof *f);
	assert_int_equal(timer_heap_init(&f->th), 0);
	assert_int_equal(registrar_new(&f->r, &f->th, &hooks, f), 0);
	registrar_set_limits(f->r, &test_limits);
	f->src.tp = SIP_TP_UDP;
	assert_int_equal(sip_addr_parse(SRC, 5060, &f->src.peer), 0);
	assert_int_equal(sip_addr_parse("192.0.2.1:5060", 5060, &f->src.local), 0);
}

static void fx_done(struct fx *f)
{
	registrar_free(f->r);
	assert_int_equal(timer_heap_count(&f->th), 0); /* every binding timer was stopped */
	timer_heap_free(&f->th);
}

/* Run the heap as if secs seconds had passed since the bindings were armed. */
static unsigned fx_advance(struct fx *f, unsigned secs)
{
	return timer_heap_run(&f->th, loop_now_ms() + (uint64_t)secs * 1000u);
}

/* The Via sent-by of the next REGISTERs: where the phone thinks it sends from. */
static const char *via_sent_by = SRC;

/* Parse a REGISTER for extension 100 with the given Call-ID, CSeq and extra
 * header lines (Contact, Expires, ...). */
static void build(char *buf, size_t cap, struct sip_msg *m, const char *callid, unsigned cseq,
		  const char *hdrs)
{
	int n = snprintf(buf, cap,
			 "REGISTER sip:pbx.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s;branch=z9hG4bK%u\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:100@pbx.test>;tag=t1\r\n"
			 "To: <sip:100@pbx.test>\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %u REGISTER\r\n"
			 "User-Agent: TestPhone 1.0\r\n"
			 "%s"
			 "Content-Length: 0\r\n\r\n",
			 via_sent_by, cseq, callid, cseq, hdrs);
	assert_true(n > 0 && (size_t)n < cap);
	assert_int_equal(sip_msg_parse(m, buf, (size_t)n, SIP_DGRAM), 0);
}

static int reg_aor(struct fx *f, const char *aor, const char *callid, unsigned cseq, const char *hdrs,
		   long *min_expires)
{
	static char buf[4096];
	static struct sip_msg m;
	long dummy = 0;
	build(buf, sizeof buf, &m, callid, cseq, hdrs);
	return registrar_apply(f->r, aor, &m, &f->src, NOW, min_expires ? min_expires : &dummy);
}

static int reg(struct fx *f, const char *callid, unsigned cseq, const char *hdrs)
{
	return reg_aor(f, "100", callid, cseq, hdrs, NULL);
}

static unsigned aor_count(struct fx *f, const char *aor)
{
	struct reg_aor *a = registrar_find(f->r, aor);
	unsigned n = 0;
	for (struct reg_binding *b = a ? a->bindings : NULL; b; b = b->next)
		n++;
	if (a)
		assert_int_equal(a->count, n);
	return n;
}

static struct reg_binding *find_contact(struct fx *f, const char *aor, const char *contact)
{
	struct reg_aor *a = registrar_find(f->r, aor);
	for (struct reg_binding *b = a ? a->bindings : NULL; b; b = b->next)
		if (strcmp(b->contact, contact) == 0)
			return b;
	return NULL;
}

/* ---- tests ---- */

static void test_add_one(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "c1@x", 1, "Contact: <sip:100@192.0.2.10:5060>;q=0.5\r\nExpires: 600\r\n"),
			 200);
	assert_int_equal(registrar_count(f.r), 1);
	assert_int_equal(aor_count(&f, "100"), 1);
	struct reg_binding *b = find_contact(&f, "100", "sip:100@192.0.2.10:5060");
	assert_non_null(b);
	assert_string_equal(b->aor->aor, "100");
	assert_string_equal(b->call_id, "c1@x");
	assert_int_equal(b->cseq, 1);
	assert_int_equal(b->expires_at, NOW + 600);
	assert_true(b->q > 0.49 && b->q < 0.51);
	assert_string_equal(b->user_agent, "TestPhone 1.0");
	assert_string_equal(b->instance, "");
	assert_false(b->natted);
	assert_true(sip_addr_equal(&b->reach.peer, &f.src.peer));
	assert_int_equal(f.nev, 1);
	assert_int_equal(f.ev[0].what, REG_ADDED);
	assert_string_equal(f.ev[0].contact, "sip:100@192.0.2.10:5060");
	assert_true(f.ev[0].still_listed);
	/* Another AOR is untouched. */
	assert_null(registrar_find(f.r, "101"));
	fx_done(&f);
}

static void test_two_devices(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "desk@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\n"), 200);
	assert_int_equal(reg(&f, "soft@x", 1, "Contact: <sip:100@192.0.2.10:5070>\r\n"), 200);
	assert_int_equal(aor_count(&f, "100"), 2);
	assert_int_equal(registrar_count(f.r), 2);
	assert_non_null(find_contact(&f, "100", "sip:100@192.0.2.10:5060"));
	assert_non_null(find_contact(&f, "100", "sip:100@192.0.2.10:5070"));
	assert_int_equal(f.nev, 2);
	assert_int_equal(f.ev[0].what, REG_ADDED);
	assert_int_equal(f.ev[1].what, REG_ADDED);
	/* A request with no Contact is a query: nothing changes. */
	assert_int_equal(reg(&f, "q@x", 1, ""), 200);
	assert_int_equal(registrar_count(f.r), 2);
	assert_int_equal(f.nev, 2);
	fx_done(&f);
}

static void test_refresh_same_contact(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "c1@x", 1,
			     "Contact: <sip:100@Phone.Example:5060;ob;transport=udp>\r\nExpires: 600\r\n"),
			 200);
	/* The same URI by RFC 3261 19.1.4: host case and parameter order differ. */
	assert_int_equal(reg(&f, "c1@x", 2,
			     "Contact: <sip:100@phone.example:5060;transport=UDP;ob>\r\nExpires: 900\r\n"),
			 200);
	assert_int_equal(registrar_count(f.r), 1);
	/* The text changed: the old text is announced (so its stored row goes), then the update. */
	assert_int_equal(f.nev, 3);
	assert_int_equal(f.ev[0].what, REG_ADDED);
	assert_int_equal(f.ev[1].what, REG_RENAMING);
	assert_string_equal(f.ev[1].contact, "sip:100@Phone.Example:5060;ob;transport=udp");
	assert_true(f.ev[1].still_listed);
	assert_int_equal(f.ev[2].what, REG_UPDATED);
	struct reg_binding *b = registrar_find(f.r, "100")->bindings;
	assert_int_equal(b->cseq, 2);
	assert_int_equal(b->expires_at, NOW + 900);
	assert_string_equal(b->contact, "sip:100@phone.example:5060;transport=UDP;ob"); /* newest text */
	/* A different port is a different contact. */
	assert_int_equal(reg(&f, "c1@x", 3, "Contact: <sip:100@phone.example:5061;transport=udp;ob>\r\n"),
			 200);
	assert_int_equal(registrar_count(f.r), 2);
	assert_int_equal(f.ev[3].what, REG_ADDED);
	fx_done(&f);
}

static void test_expires_precedence(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	/* The contact's expires parameter wins over the header; the header
	 * applies to the contact without one. */
	assert_int_equal(reg(&f, "c1@x", 1,
			     "Contact: <sip:100@192.0.2.10:5060>;expires=120, <sip:100@192.0.2.10:5062>\r\n"
			     "Expires: 300\r\n"),
			 200);
	assert_int_equal(find_contact(&f, "100", "sip:100@192.0.2.10:5060")->expires_at, NOW + 120);
	assert_int_equal(find_contact(&f, "100", "sip:100@192.0.2.10:5062")->expires_at, NOW + 300);
	/* Only the parameter. */
	assert_int_equal(reg(&f, "c2@x", 1, "Contact: <sip:100@192.0.2.10:5064>;expires=240\r\n"), 200);
	assert_int_equal(find_contact(&f, "100", "sip:100@192.0.2.10:5064")->expires_at, NOW + 240);
	fx_done(&f);
}

static void test_default_expires(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "c1@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\n"), 200);
	assert_int_equal(find_contact(&f, "100", "sip:100@192.0.2.10:5060")->expires_at,
			 NOW + test_limits.default_expires);
	fx_done(&f);
}

static void test_interval_too_brief(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "c1@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 600\r\n"), 200);
	int nev = f.nev;
	long min = 0;
	/* Header below the minimum: nothing changes, not even the valid contact. */
	assert_int_equal(reg_aor(&f, "100", "c1@x", 2,
				 "Contact: <sip:100@192.0.2.10:5060>, <sip:100@192.0.2.10:5066>\r\n"
				 "Expires: 30\r\n",
				 &min),
			 423);
	assert_int_equal(min, test_limits.min_expires);
	/* Parameter below the minimum, header fine. */
	min = 0;
	assert_int_equal(reg_aor(&f, "100", "c1@x", 3,
				 "Contact: <sip:100@192.0.2.10:5068>, <sip:100@192.0.2.10:5060>;expires=59\r\n"
				 "Expires: 3600\r\n",
				 &min),
			 423);
	assert_int_equal(min, test_limits.min_expires);
	assert_int_equal(f.nev, nev);
	assert_int_equal(registrar_count(f.r), 1);
	struct reg_binding *b = find_contact(&f, "100", "sip:100@192.0.2.10:5060");
	assert_int_equal(b->cseq, 1);
	assert_int_equal(b->expires_at, NOW + 600);
	/* Exactly the minimum is fine. */
	assert_int_equal(reg(&f, "c1@x", 4, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 60\r\n"), 200);
	assert_int_equal(b->expires_at, NOW + 60);
	fx_done(&f);
}

static void test_expires_clamped(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "c1@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 100000\r\n"),
			 200);
	assert_int_equal(find_contact(&f, "100", "sip:100@192.0.2.10:5060")->expires_at,
			 NOW + test_limits.max_expires);
	assert_int_equal(reg(&f, "c2@x", 1, "Contact: <sip:100@192.0.2.10:5062>;expires=4294967295\r\n"),
			 200);
	assert_int_equal(find_contact(&f, "100", "sip:100@192.0.2.10:5062")->expires_at,
			 NOW + test_limits.max_expires);
	/* The timer follows the clamped value. */
	fx_advance(&f, 7198);
	assert_int_equal(registrar_count(f.r), 2);
	fx_advance(&f, 7201);
	assert_int_equal(registrar_count(f.r), 0);
	fx_done(&f);
}

static void test_expires_zero_one(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "a@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\n"), 200);
	assert_int_equal(reg(&f, "b@x", 1, "Contact: <sip:100@192.0.2.10:5062>\r\n"), 200);
	f.nev = 0;
	assert_int_equal(reg(&f, "a@x", 2, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 0\r\n"), 200);
	assert_int_equal(registrar_count(f.r), 1);
	assert_null(find_contact(&f, "100", "sip:100@192.0.2.10:5060"));
	assert_non_null(find_contact(&f, "100", "sip:100@192.0.2.10:5062"));
	assert_int_equal(f.nev, 1);
	assert_int_equal(f.ev[0].what, REG_REMOVED);
	assert_string_equal(f.ev[0].contact, "sip:100@192.0.2.10:5060");
	assert_true(f.ev[0].still_listed); /* reported before it goes */
	/* The parameter form removes the last one and with it the AOR. */
	assert_int_equal(reg(&f, "b@x", 2, "Contact: <sip:100@192.0.2.10:5062>;expires=0\r\n"), 200);
	assert_int_equal(registrar_count(f.r), 0);
	assert_null(registrar_find(f.r, "100"));
	assert_int_equal(f.nev, 2);
	/* Removing what is not there is fine and reports nothing. */
	assert_int_equal(reg(&f, "c@x", 1, "Contact: <sip:100@192.0.2.10:5064>\r\nExpires: 0\r\n"), 200);
	assert_int_equal(f.nev, 2);
	assert_null(registrar_find(f.r, "100"));
	fx_done(&f);
}

static void test_star_removes_all(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "a@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\n"), 200);
	assert_int_equal(reg(&f, "b@x", 1, "Contact: <sip:100@192.0.2.10:5062>\r\n"), 200);
	assert_int_equal(reg_aor(&f, "101", "c@x", 1, "Contact: <sip:101@192.0.2.10:5064>\r\n", NULL), 200);
	f.nev = 0;
	assert_int_equal(reg(&f, "z@x", 1, "Contact: *\r\nExpires: 0\r\n"), 200);
	assert_null(registrar_find(f.r, "100"));
	assert_int_equal(registrar_count(f.r), 1); /* 101 is another AOR */
	assert_int_equal(aor_count(&f, "101"), 1);
	assert_int_equal(f.nev, 2);
	assert_int_equal(f.ev[0].what, REG_REMOVED);
	assert_int_equal(f.ev[1].what, REG_REMOVED);
	assert_string_equal(f.ev[0].aor, "100");
	assert_string_equal(f.ev[1].aor, "100");
	assert_string_not_equal(f.ev[0].contact, f.ev[1].contact);
	/* '*' for an AOR with no bindings is fine. */
	assert_int_equal(reg(&f, "z@x", 2, "Contact: *\r\nExpires: 0\r\n"), 200);
	assert_int_equal(f.nev, 2);
	fx_done(&f);
}

static void test_star_misuse(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "a@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\n"), 200);
	f.nev = 0;
	assert_int_equal(reg(&f, "z@x", 1, "Contact: *\r\nExpires: 3600\r\n"), 400);
	assert_int_equal(reg(&f, "z@x", 2, "Contact: *\r\n"), 400); /* no Expires at all */
	assert_int_equal(reg(&f, "z@x", 3, "Contact: *\r\nExpires: 1\r\n"), 400);

	/* The parser already refuses '*' next to other contacts ... */
	char buf[1024];
	struct sip_msg m;
	const char *txt = "REGISTER sip:pbx.test SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKs\r\n"
			  "From: <sip:100@pbx.test>;tag=t1\r\nTo: <sip:100@pbx.test>\r\n"
			  "Call-ID: z@x\r\nCSeq: 4 REGISTER\r\n"
			  "Contact: *\r\nContact: <sip:100@192.0.2.10:5060>\r\nExpires: 0\r\n"
			  "Content-Length: 0\r\n\r\n";
	assert_int_equal(sip_msg_parse(&m, txt, strlen(txt), SIP_DGRAM), EBADMSG);
	/* ... and the registrar does too, whatever hands it such a message. */
	build(buf, sizeof buf, &m, "z@x", 5, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 0\r\n");
	m.contact_star = true;
	long min = 0;
	assert_int_equal(registrar_apply(f.r, "100", &m, &f.src, NOW, &min), 400);

	assert_int_equal(f.nev, 0);
	assert_int_equal(registrar_count(f.r), 1);
	assert_non_null(find_contact(&f, "100", "sip:100@192.0.2.10:5060"));
	fx_done(&f);
}

static void test_cseq_order(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "c1@x", 10, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 600\r\n"), 200);
	f.nev = 0;
	/* Same Call-ID, CSeq lower or equal: out of order, nothing changes. */
	assert_int_equal(reg(&f, "c1@x", 9, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 900\r\n"), 500);
	assert_int_equal(reg(&f, "c1@x", 10, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 900\r\n"), 500);
	assert_int_equal(reg(&f, "c1@x", 10, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 0\r\n"), 500);
	assert_int_equal(reg(&f, "c1@x", 9, "Contact: *\r\nExpires: 0\r\n"), 500);
	/* A valid new contact in the same request is not added either. */
	assert_int_equal(reg(&f, "c1@x", 5,
			     "Contact: <sip:100@192.0.2.10:5070>, <sip:100@192.0.2.10:5060>\r\n"), 500);
	assert_int_equal(f.nev, 0);
	assert_int_equal(registrar_count(f.r), 1);
	struct reg_binding *b = find_contact(&f, "100", "sip:100@192.0.2.10:5060");
	assert_int_equal(b->cseq, 10);
	assert_int_equal(b->expires_at, NOW + 600);
	/* A higher CSeq is a refresh. */
	assert_int_equal(reg(&f, "c1@x", 11, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 900\r\n"), 200);
	assert_int_equal(b->cseq, 11);
	assert_int_equal(b->expires_at, NOW + 900);
	/* A different Call-ID (the phone rebooted) is accepted with any CSeq. */
	assert_int_equal(reg(&f, "c2@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 700\r\n"), 200);
	assert_int_equal(registrar_count(f.r), 1);
	b = find_contact(&f, "100", "sip:100@192.0.2.10:5060");
	assert_string_equal(b->call_id, "c2@x");
	assert_int_equal(b->cseq, 1);
	assert_int_equal(b->expires_at, NOW + 700);
	assert_int_equal(f.nev, 2);
	assert_int_equal(f.ev[1].what, REG_UPDATED);
	fx_done(&f);
}

static void test_max_contacts(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "a@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 600\r\n"), 200);
	assert_int_equal(reg(&f, "b@x", 1, "Contact: <sip:100@192.0.2.10:5062>\r\nExpires: 300\r\n"), 200);
	assert_int_equal(reg(&f, "c@x", 1, "Contact: <sip:100@192.0.2.10:5064>\r\nExpires: 900\r\n"), 200);
	f.nev = 0;
	assert_int_equal(reg(&f, "d@x", 1, "Contact: <sip:100@192.0.2.10:5066>\r\nExpires: 120\r\n"), 200);
	assert_int_equal(aor_count(&f, "100"), test_limits.max_contacts);
	assert_int_equal(f.nev, 2);
	assert_int_equal(f.ev[0].what, REG_REMOVED);
	assert_string_equal(f.ev[0].contact, "sip:100@192.0.2.10:5062"); /* closest to expiry */
	assert_int_equal(f.ev[1].what, REG_ADDED);
	assert_string_equal(f.ev[1].contact, "sip:100@192.0.2.10:5066");
	assert_null(find_contact(&f, "100", "sip:100@192.0.2.10:5062"));
	/* A refresh of one that is there drops nothing. */
	assert_int_equal(reg(&f, "a@x", 2, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 600\r\n"), 200);
	assert_int_equal(f.nev, 3);
	assert_int_equal(f.ev[2].what, REG_UPDATED);
	/* Another AOR has its own allowance. */
	assert_int_equal(reg_aor(&f, "101", "e@x", 1, "Contact: <sip:101@192.0.2.10:5060>\r\n", NULL), 200);
	assert_int_equal(f.nev, 4);
	assert_int_equal(registrar_count(f.r), 4);

	/* A lowered limit is enforced on the next new binding. */
	struct reg_limits lim = test_limits;
	lim.max_contacts = 1;
	registrar_set_limits(f.r, &lim);
	f.nev = 0;
	assert_int_equal(reg(&f, "f@x", 1, "Contact: <sip:100@192.0.2.10:5068>\r\n"), 200);
	assert_int_equal(aor_count(&f, "100"), 1);
	assert_non_null(find_contact(&f, "100", "sip:100@192.0.2.10:5068"));
	assert_int_equal(f.nev, 4); /* three removed, one added */
	assert_int_equal(f.ev[3].what, REG_ADDED);
	fx_done(&f);
}

static void test_expiry_timer(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "a@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\nExpires: 120\r\n"), 200);
	assert_int_equal(reg(&f, "b@x", 1, "Contact: <sip:100@192.0.2.10:5062>\r\nExpires: 600\r\n"), 200);
	f.nev = 0;
	fx_advance(&f, 118);
	assert_int_equal(registrar_count(f.r), 2);
	assert_int_equal(f.nev, 0);
	fx_advance(&f, 122);
	assert_int_equal(registrar_count(f.r), 1);
	assert_int_equal(f.nev, 1);
	assert_int_equal(f.ev[0].what, REG_REMOVED);
	assert_string_equal(f.ev[0].contact, "sip:100@192.0.2.10:5060");
	assert_true(f.ev[0].still_listed);
	/* A refresh moves the expiry. */
	assert_int_equal(reg(&f, "b@x", 2, "Contact: <sip:100@192.0.2.10:5062>\r\nExpires: 1200\r\n"), 200);
	fx_advance(&f, 602);
	assert_int_equal(registrar_count(f.r), 1);
	fx_advance(&f, 1202);
	assert_int_equal(registrar_count(f.r), 0);
	assert_null(registrar_find(f.r, "100"));
	assert_int_equal(f.nev, 3);
	assert_int_equal(f.ev[2].what, REG_REMOVED);
	fx_done(&f);
}

static void test_bad_contact(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "a@x", 1, "Contact: <tel:+15551234>\r\n"), 400);
	assert_int_equal(reg(&f, "a@x", 2, "Contact: <mailto:a@b.c>\r\n"), 400);
	/* One bad contact spoils the whole request. */
	assert_int_equal(reg(&f, "a@x", 3, "Contact: <sip:100@192.0.2.10:5060>, <tel:+15551234>\r\n"), 400);

	/* Over-long: exactly REG_CONTACT_MAX characters does not fit, one less does. */
	char uri[REG_CONTACT_MAX + 1], hdr[REG_CONTACT_MAX + 64];
	const char *head = "sip:100@192.0.2.10:5060;x=";
	size_t hl = strlen(head);
	memcpy(uri, head, hl);
	memset(uri + hl, 'a', REG_CONTACT_MAX - hl);
	uri[REG_CONTACT_MAX] = '\0';
	snprintf(hdr, sizeof hdr, "Contact: <%s>\r\n", uri);
	assert_int_equal(reg(&f, "a@x", 4, hdr), 400);
	assert_int_equal(f.nev, 0);
	assert_int_equal(registrar_count(f.r), 0);
	assert_null(registrar_find(f.r, "100"));

	uri[REG_CONTACT_MAX - 1] = '\0';
	snprintf(hdr, sizeof hdr, "Contact: <%s>\r\n", uri);
	assert_int_equal(reg(&f, "a@x", 5, hdr), 200);
	assert_int_equal(registrar_count(f.r), 1);
	assert_int_equal(strlen(registrar_find(f.r, "100")->bindings->contact), REG_CONTACT_MAX - 1);
	fx_done(&f);
}

static void test_instance(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg(&f, "a@x", 1,
			     "Contact: <sip:100@192.0.2.10:5060;ob>;+sip.instance=\"<urn:uuid:0001>\";reg-id=1\r\n"),
			 200);
	struct reg_binding *b = registrar_find(f.r, "100")->bindings;
	assert_string_equal(b->instance, "\"<urn:uuid:0001>\"");
	assert_int_equal(b->reg_id, 1);
	/* Same instance, new contact URI (new port after a reboot): an update. */
	assert_int_equal(reg(&f, "b@x", 1,
			     "Contact: <sip:100@192.0.2.10:5099;ob>;+sip.instance=\"<urn:uuid:0001>\";reg-id=1\r\n"),
			 200);
	assert_int_equal(registrar_count(f.r), 1);
	assert_int_equal(f.nev, 3);
	assert_int_equal(f.ev[1].what, REG_RENAMING);
	assert_string_equal(f.ev[1].contact, "sip:100@192.0.2.10:5060;ob");
	assert_int_equal(f.ev[2].what, REG_UPDATED);
	b = registrar_find(f.r, "100")->bindings;
	assert_string_equal(b->contact, "sip:100@192.0.2.10:5099;ob");
	assert_string_equal(b->call_id, "b@x");
	/* Another instance is another device, even at the same URI. */
	assert_int_equal(reg(&f, "c@x", 1,
			     "Contact: <sip:100@192.0.2.10:5099;ob>;+sip.instance=\"<urn:uuid:0002>\"\r\n"),
			 200);
	assert_int_equal(registrar_count(f.r), 2);
	assert_int_equal(f.ev[3].what, REG_ADDED);
	/* Expires: 0 by instance removes that one only. */
	assert_int_equal(reg(&f, "b@x", 2,
			     "Contact: <sip:100@192.0.2.10:7777;ob>;+sip.instance=\"<urn:uuid:0001>\"\r\n"
			     "Expires: 0\r\n"),
			 200);
	assert_int_equal(registrar_count(f.r), 1);
	assert_string_equal(registrar_find(f.r, "100")->bindings->instance, "\"<urn:uuid:0002>\"");

	/* A binding first registered without an instance learns it on refresh,
	 * so a later new URI with that instance is still an update. */
	assert_int_equal(reg(&f, "d@x", 1, "Contact: <sip:100@192.0.2.10:6000>\r\n"), 200);
	assert_int_equal(reg(&f, "d@x", 2, "Contact: <sip:100@192.0.2.10:6000>;+sip.instance=\"<urn:uuid:0003>\"\r\n"),
			 200);
	assert_int_equal(registrar_count(f.r), 2);
	assert_int_equal(reg(&f, "e@x", 1, "Contact: <sip:100@192.0.2.10:6001>;+sip.instance=\"<urn:uuid:0003>\"\r\n"),
			 200);
	assert_int_equal(registrar_count(f.r), 2);
	assert_non_null(find_contact(&f, "100", "sip:100@192.0.2.10:6001"));
	assert_null(find_contact(&f, "100", "sip:100@192.0.2.10:6000"));
	fx_done(&f);
}

static void test_nat_and_keepalive(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	/* Private address in the Contact: NAT. */
	assert_int_equal(reg(&f, "a@x", 1, "Contact: <sip:100@10.0.0.5:5060>\r\n"), 200);
	/* Right host, wrong port, and the phone sent from 5070 as its Via says
	 * (a NAT that keeps the address but not the port): NAT. */
	via_sent_by = "192.0.2.10:5070";
	assert_int_equal(reg(&f, "b@x", 1, "Contact: <sip:100@192.0.2.10:5070>\r\n"), 200);
	via_sent_by = SRC;
	/* Matches the source, default port 5060: no NAT. */
	assert_int_equal(reg_aor(&f, "101", "c@x", 1, "Contact: <sip:101@192.0.2.10>\r\n", NULL), 200);
	assert_true(find_contact(&f, "100", "sip:100@10.0.0.5:5060")->natted);
	assert_true(find_contact(&f, "100", "sip:100@192.0.2.10:5070")->natted);
	assert_false(find_contact(&f, "101", "sip:101@192.0.2.10")->natted);
	/* Requests go where the REGISTER came from. */
	assert_true(sip_addr_equal(&find_contact(&f, "100", "sip:100@10.0.0.5:5060")->reach.peer, &f.src.peer));
	/* Not NAT: the phone sent from where its Via says and names another
	 * port of its own address (a second socket, or a registration made for
	 * another device there): requests go to the Contact's port. */
	assert_int_equal(reg_aor(&f, "102", "d@x", 1, "Contact: <sip:102@192.0.2.10:5090>\r\n", NULL), 200);
	const struct reg_binding *third = find_contact(&f, "102", "sip:102@192.0.2.10:5090");
	assert_false(third->natted);
	assert_int_equal(sip_addr_port(&third->reach.peer), 5090);

	assert_int_equal(fx_advance(&f, 28), 0);
	assert_int_equal(f.nka, 0);
	assert_int_equal(fx_advance(&f, 32), 2); /* the two NATed bindings, not 101 */
	assert_int_equal(f.nka, 2);
	assert_int_equal(fx_advance(&f, 62), 2); /* re-armed */
	assert_int_equal(f.nka, 4);

	/* A refresh from where the Contact says: no longer NATed, no keepalives. */
	via_sent_by = "192.0.2.10:5070";
	assert_int_equal(reg(&f, "b@x", 2, "Contact: <sip:100@192.0.2.10:5070>\r\n"), 200);
	assert_true(find_contact(&f, "100", "sip:100@192.0.2.10:5070")->natted);
	via_sent_by = SRC;
	assert_int_equal(sip_addr_parse("192.0.2.10:5070", 5060, &f.src.peer), 0);
	assert_int_equal(reg(&f, "b@x", 3, "Contact: <sip:100@192.0.2.10:5070>\r\n"), 200);
	assert_false(find_contact(&f, "100", "sip:100@192.0.2.10:5070")->natted);
	f.nka = 0;
	assert_int_equal(fx_advance(&f, 95), 1);
	assert_int_equal(f.nka, 1);
	assert_string_equal(f.ka_contact, "sip:100@10.0.0.5:5060");

	/* The keepalive hook may remove the binding it is given. */
	f.ka_remove = true;
	f.nev = 0;
	fx_advance(&f, 130);
	assert_int_equal(f.nka, 2);
	assert_null(find_contact(&f, "100", "sip:100@10.0.0.5:5060"));
	assert_int_equal(f.nev, 1);
	assert_int_equal(f.ev[0].what, REG_REMOVED);
	assert_int_equal(registrar_count(f.r), 3); /* 100 at 5070, 101, 102 */
	fx_done(&f);
}

static void test_keepalive_off(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	struct reg_limits lim = test_limits;
	lim.keepalive_s = 0;
	registrar_set_limits(f.r, &lim);
	assert_int_equal(reg(&f, "a@x", 1, "Contact: <sip:100@10.0.0.5:5060>\r\n"), 200);
	assert_true(registrar_find(f.r, "100")->bindings->natted);
	fx_advance(&f, 120);
	assert_int_equal(f.nka, 0);
	assert_int_equal(registrar_count(f.r), 1);
	fx_done(&f);
}

static void test_restore(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	struct sip_dest reach = f.src;
	reach.tp = SIP_TP_TCP;
	reach.conn_id = 42;
	assert_int_equal(registrar_restore(f.r, "100", "sip:100@10.0.0.5:5060;ob", &reach, "c1@x", 7, NOW + 300,
					   0.7, "Phone", "\"<urn:uuid:0009>\"", 2, NOW),
			 0);
	assert_int_equal(registrar_count(f.r), 1);
	assert_int_equal(f.nev, 0); /* restoring writes nothing back */
	struct reg_binding *b = registrar_find(f.r, "100")->bindings;
	assert_string_equal(b->contact, "sip:100@10.0.0.5:5060;ob");
	assert_string_equal(b->call_id, "c1@x");
	assert_int_equal(b->cseq, 7);
	assert_int_equal(b->expires_at, NOW + 300);
	assert_true(b->q > 0.69 && b->q < 0.71);
	assert_string_equal(b->user_agent, "Phone");
	assert_string_equal(b->instance, "\"<urn:uuid:0009>\"");
	assert_int_equal(b->reg_id, 2);
	assert_true(b->natted);
	assert_int_equal(b->reach.conn_id, 0); /* the connection did not survive */
	assert_int_equal(b->reach.tp, SIP_TP_TCP);
	/* The restored CSeq still orders requests. */
	assert_int_equal(reg(&f, "c1@x", 7, "Contact: <sip:100@10.0.0.5:5060;ob>\r\n"), 500);

	/* Unusable rows. */
	assert_int_equal(registrar_restore(f.r, "100", "sip:100@192.0.2.10:5062", &reach, "c2@x", 1, NOW, 1.0,
					   "", "", 0, NOW),
			 EINVAL); /* expired */
	assert_int_equal(registrar_restore(f.r, "100", "sip:100@192.0.2.10:5062", &reach, "c2@x", 1, NOW - 5,
					   1.0, "", "", 0, NOW),
			 EINVAL);
	assert_int_equal(registrar_restore(f.r, "100", "tel:+15551234", &reach, "c2@x", 1, NOW + 300, 1.0, "",
					   "", 0, NOW),
			 EINVAL);
	assert_int_equal(registrar_restore(f.r, "100", "not a uri", &reach, "c2@x", 1, NOW + 300, 1.0, "", "",
					   0, NOW),
			 EINVAL);
	/* Exactly REG_CONTACT_MAX characters does not fit. */
	char longc[REG_CONTACT_MAX + 1];
	strcpy(longc, "sip:100@192.0.2.10;x=");
	size_t l = strlen(longc);
	memset(longc + l, 'a', REG_CONTACT_MAX - l);
	longc[REG_CONTACT_MAX] = '\0';
	assert_int_equal(registrar_restore(f.r, "100", longc, &reach, "c2@x", 1, NOW + 300, 1.0, "", "", 0, NOW),
			 EINVAL);
	assert_int_equal(registrar_restore(f.r, "1234567890123456789012345678901234567890",
					   "sip:100@192.0.2.10:5062", &reach, "c2@x", 1, NOW + 300, 1.0, "", "", 0,
					   NOW),
			 EINVAL); /* AOR too long */
	assert_int_equal(registrar_restore(f.r, "", "sip:100@192.0.2.10:5062", &reach, "c2@x", 1, NOW + 300, 1.0,
					   "", "", 0, NOW),
			 EINVAL);
	assert_int_equal(registrar_count(f.r), 1);
	assert_null(registrar_find(f.r, ""));
	assert_int_equal(f.nev, 0);
	/* One character less does. */
	longc[REG_CONTACT_MAX - 1] = '\0';
	assert_int_equal(registrar_restore(f.r, "102", longc, &reach, "c2@x", 1, NOW + 300, 1.0, "", "", 0, NOW), 0);
	assert_string_equal(registrar_find(f.r, "102")->bindings->contact, longc);
	registrar_remove_aor(f.r, "102");
	assert_null(registrar_find(f.r, "102"));
	assert_int_equal(f.nev, 1);
	f.nev = 0;

	/* A row from the far future is held to max_expires; a bad q becomes 1. */
	assert_int_equal(registrar_restore(f.r, "101", "sip:101@192.0.2.10", &f.src, "c3@x", 1, INT64_MAX, -3.0,
					   NULL, NULL, 0, NOW),
			 0);
	b = registrar_find(f.r, "101")->bindings;
	assert_int_equal(b->expires_at, NOW + test_limits.max_expires);
	assert_true(b->q == 1.0);
	assert_false(b->natted);
	assert_string_equal(b->user_agent, "");

	/* Restored bindings expire through the heap like any other. */
	fx_advance(&f, 302);
	assert_int_equal(registrar_count(f.r), 1);
	assert_int_equal(f.nev, 1);
	assert_int_equal(f.ev[0].what, REG_REMOVED);
	assert_string_equal(f.ev[0].aor, "100");
	fx_advance(&f, 7202);
	assert_int_equal(registrar_count(f.r), 0);
	fx_done(&f);
}

struct keep_ctx {
	const char *drop[4];
	int calls;
};

static bool keep_fn(void *ctx, const char *aor)
{
	struct keep_ctx *k = ctx;
	k->calls++;
	for (int i = 0; i < 4 && k->drop[i]; i++)
		if (strcmp(aor, k->drop[i]) == 0)
			return false;
	return true;
}

#define PRUNE_N 5000

struct odd_ctx {
	int calls;
	bool drop_all;
};

static bool keep_even(void *ctx, const char *aor)
{
	struct odd_ctx *k = ctx;
	k->calls++;
	return !k->drop_all && atoi(aor) % 2 == 0;
}

static void test_prune(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	assert_int_equal(reg_aor(&f, "100", "a@x", 1, "Contact: <sip:100@192.0.2.10:5060>\r\n", NULL), 200);
	assert_int_equal(reg_aor(&f, "101", "b@x", 1, "Contact: <sip:101@192.0.2.10:5060>\r\n", NULL), 200);
	assert_int_equal(reg_aor(&f, "101", "c@x", 1, "Contact: <sip:101@10.0.0.5:5060>\r\n", NULL), 200);
	assert_int_equal(reg_aor(&f, "102", "d@x", 1, "Contact: <sip:102@192.0.2.10:5060>\r\n", NULL), 200);
	assert_int_equal(reg_aor(&f, "103", "e@x", 1, "Contact: <sip:103@192.0.2.10:5060>\r\n", NULL), 200);
	f.nev = 0;
	struct keep_ctx k = { .drop = { "101", "103" } };
	registrar_prune(f.r, keep_fn, &k);
	assert_int_equal(k.calls, 4); /* once per AOR */
	assert_null(registrar_find(f.r, "101"));
	assert_null(registrar_find(f.r, "103"));
	assert_int_equal(aor_count(&f, "100"), 1);
	assert_int_equal(aor_count(&f, "102"), 1);
	assert_int_equal(registrar_count(f.r), 2);
	assert_int_equal(f.nev, 3);
	int n101 = 0, n103 = 0;
	for (int i = 0; i < f.nev; i++) {
		assert_int_equal(f.ev[i].what, REG_REMOVED);
		assert_true(f.ev[i].still_listed);
		n101 += strcmp(f.ev[i].aor, "101") == 0;
		n103 += strcmp(f.ev[i].aor, "103") == 0;
	}
	assert_int_equal(n101, 2);
	assert_int_equal(n103, 1);
	/* Their timers went with them: only the two survivors expire. */
	fx_advance(&f, 1802);
	assert_int_equal(f.nev, 5);
	assert_int_equal(registrar_count(f.r), 0);

	/* More AORs than the registrar has hash buckets (4096), so buckets
	 * hold chains whatever the hash: removal inside a chain must not lose
	 * the rest of it. */
	char aor[16], hdr[96];
	for (int i = 0; i < PRUNE_N; i++) {
		snprintf(aor, sizeof aor, "%d", 10000 + i);
		snprintf(hdr, sizeof hdr, "Contact: <sip:%s@192.0.2.10:5060>\r\n", aor);
		assert_int_equal(reg_aor(&f, aor, "p@x", 1, hdr, NULL), 200);
	}
	f.nev = 0;
	struct odd_ctx odd = { 0 };
	registrar_prune(f.r, keep_even, &odd);
	assert_int_equal(odd.calls, PRUNE_N);
	assert_int_equal(registrar_count(f.r), PRUNE_N / 2);
	assert_int_equal(f.nev, PRUNE_N / 2);
	for (int i = 0; i < PRUNE_N; i++) {
		snprintf(aor, sizeof aor, "%d", 10000 + i);
		if (i % 2)
			assert_null(registrar_find(f.r, aor));
		else
			assert_int_equal(aor_count(&f, aor), 1);
	}
	odd.drop_all = true;
	registrar_prune(f.r, keep_even, &odd);
	assert_int_equal(registrar_count(f.r), 0);
	assert_int_equal(f.nev, PRUNE_N);

	/* Pruning everything, and pruning an empty registrar. */
	assert_int_equal(reg_aor(&f, "100", "a@x", 2, "Contact: <sip:100@192.0.2.10:5060>\r\n", NULL), 200);
	struct keep_ctx all = { .drop = { "100" } };
	registrar_prune(f.r, keep_fn, &all);
	assert_int_equal(registrar_count(f.r), 0);
	all.calls = 0;
	registrar_prune(f.r, keep_fn, &all);
	assert_int_equal(all.calls, 0);
	fx_done(&f);
}

static void count_cb(void *ctx, struct reg_binding *b)
{
	(void)b;
	(*(int *)ctx)++;
}

static void test_free_live(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f);
	char aor[8], hdr[96];
	for (int i = 0; i < 20; i++) {
		snprintf(aor, sizeof aor, "%d", 200 + i % 7);
		snprintf(hdr, sizeof hdr, "Contact: <sip:%s@10.0.0.%d:5060>\r\n", aor, i);
		assert_int_equal(reg_aor(&f, aor, "x@x", (unsigned)i + 1, hdr, NULL), 200);
	}
	assert_int_equal(registrar_count(f.r), 20);
	int seen = 0;
	registrar_foreach(f.r, count_cb, &seen);
	assert_int_equal(seen, 20);
	assert_true(timer_heap_count(&f.th) >= 40); /* expiry and keepalive each */
	int nev = f.nev;
	registrar_free(f.r);
	assert_int_equal(f.nev, nev); /* shutting down is not unregistering */
	assert_int_equal(timer_heap_count(&f.th), 0);
	assert_int_equal(timer_heap_run(&f.th, UINT64_MAX), 0);
	timer_heap_free(&f.th);
	registrar_free(NULL);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_add_one),
		UNIT_TEST(test_two_devices),
		UNIT_TEST(test_refresh_same_contact),
		UNIT_TEST(test_expires_precedence),
		UNIT_TEST(test_default_expires),
		UNIT_TEST(test_interval_too_brief),
		UNIT_TEST(test_expires_clamped),
		UNIT_TEST(test_expires_zero_one),
		UNIT_TEST(test_star_removes_all),
		UNIT_TEST(test_star_misuse),
		UNIT_TEST(test_cseq_order),
		UNIT_TEST(test_max_contacts),
		UNIT_TEST(test_expiry_timer),
		UNIT_TEST(test_bad_contact),
		UNIT_TEST(test_instance),
		UNIT_TEST(test_nat_and_keepalive),
		UNIT_TEST(test_keepalive_off),
		UNIT_TEST(test_restore),
		UNIT_TEST(test_prune),
		UNIT_TEST(test_free_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
