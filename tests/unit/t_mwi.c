/*
 * t_mwi.c: message-summary bodies (RFC 3842): the exact text for waiting
 * and not waiting, with and without the account line, the largest counts,
 * accounts that would break the body refused, and the size limits. Then
 * the SUBSCRIBE checks (Expires bounds on both sides of each limit, Event
 * with and without an id, Accept lists) and the counts table (changes told
 * apart, limits, draining as a queue).
 */
#include "unit.h"

#include "mwi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void test_bodies(void **state)
{
	(void)state;
	char b[MWI_BODY_MAX];
	size_t len = 0;
	assert_int_equal(mwi_body(b, sizeof b, "sip:1001@pbx.example", 2, 8, &len), 0);
	assert_string_equal(b, "Messages-Waiting: yes\r\n"
			       "Message-Account: sip:1001@pbx.example\r\n"
			       "Voice-Message: 2/8 (0/0)\r\n");
	assert_int_equal(len, strlen(b));

	/* Old messages alone do not light the lamp. */
	assert_int_equal(mwi_body(b, sizeof b, "sip:1001@10.0.0.1:5060", 0, 3, &len), 0);
	assert_string_equal(b, "Messages-Waiting: no\r\n"
			       "Message-Account: sip:1001@10.0.0.1:5060\r\n"
			       "Voice-Message: 0/3 (0/0)\r\n");
	assert_int_equal(mwi_body(b, sizeof b, NULL, 0, 0, &len), 0);
	assert_string_equal(b, "Messages-Waiting: no\r\nVoice-Message: 0/0 (0/0)\r\n");
	assert_int_equal(mwi_body(b, sizeof b, "", 1, 0, &len), 0);
	assert_string_equal(b, "Messages-Waiting: yes\r\nVoice-Message: 1/0 (0/0)\r\n");
	assert_int_equal(len, strlen(b));
}

static void test_limits(void **state)
{
	(void)state;
	char b[MWI_BODY_MAX];
	size_t len = 0;
	/* The longest account and the largest counts fit MWI_BODY_MAX. */
	char acc[MWI_ACCOUNT_MAX + 2];
	memset(acc, 'a', sizeof acc);
	memcpy(acc, "sip:", 4);
	acc[MWI_ACCOUNT_MAX] = '\0';
	assert_int_equal(mwi_body(b, sizeof b, acc, 4294967295u, 4294967295u, &len), 0);
	assert_non_null(strstr(b, "Voice-Message: 4294967295/4294967295 (0/0)\r\n"));
	assert_int_equal(len, strlen(b));
	acc[MWI_ACCOUNT_MAX] = 'a';
	acc[MWI_ACCOUNT_MAX + 1] = '\0';
	assert_int_equal(mwi_body(b, sizeof b, acc, 1, 1, &len), EINVAL);

	/* Too small a buffer: nothing half written. */
	char small[30];
	assert_int_equal(mwi_body(small, sizeof small, "sip:1001@pbx", 1, 1, &len), ENOSPC);
	assert_string_equal(small, "");
	assert_int_equal(mwi_body(NULL, 10, NULL, 1, 1, &len), EINVAL);
	assert_int_equal(mwi_body(b, sizeof b, NULL, 1, 1, NULL), EINVAL);
}

static void test_bad_accounts(void **state)
{
	(void)state;
	char b[MWI_BODY_MAX] = "x";
	size_t len = 99;
	const char *bad[] = { "sip:1001@pbx\r\nMessages-Waiting: no", "sip:10 01@pbx", "1001@pbx", ":1001",
			      "sip:", "1sip:x@y", "s;p:x@y", "sip:\xc3\xa9@x", "sip:1001@pbx\n" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(mwi_body(b, sizeof b, bad[i], 1, 0, &len), EINVAL);
		assert_int_equal(len, 99);
	}
	assert_int_equal(mwi_body(b, sizeof b, "sips:1001@pbx.example;transport=tls", 1, 0, &len), 0);
	assert_int_equal(mwi_body(b, sizeof b, "tel:+15551234", 1, 0, &len), 0);
}

static void test_expires(void **state)
{
	(void)state;
	long g = -7;
	assert_int_equal(mwi_expires(-1, &g), 0); /* no Expires header */
	assert_int_equal(g, MWI_EXPIRES_DEFAULT);
	assert_int_equal(mwi_expires(0, &g), 0);
	assert_int_equal(g, 0);
	g = -7;
	assert_int_equal(mwi_expires(1, &g), ERANGE);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MIN - 1, &g), ERANGE);
	assert_int_equal(g, -7);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MIN, &g), 0);
	assert_int_equal(g, MWI_EXPIRES_MIN);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MAX, &g), 0);
	assert_int_equal(g, MWI_EXPIRES_MAX);
	assert_int_equal(mwi_expires(MWI_EXPIRES_MAX + 1, &g), 0);
	assert_int_equal(g, MWI_EXPIRES_MAX);
	assert_int_equal(mwi_expires(2147483647L, &g), 0);
	assert_int_equal(g, MWI_EXPIRES_MAX);
}

static void test_event(void **state)
{
	(void)state;
	struct slice id;
	assert_true(mwi_event_ok(SLICE_LIT("message-summary"), &id));
	assert_null(id.p);
	assert_true(mwi_event_ok(SLICE_LIT("  Message-Summary \t"), NULL));
	assert_true(mwi_event_ok(SLICE_LIT("message-summary;id=7a"), &id));
	assert_true(slice_eq_cstr(id, "7a"));
	assert_true(mwi_event_ok(SLICE_LIT("message-summary ; foo ; id=x.1"), &id));
	assert_true(slice_eq_cstr(id, "x.1"));
	assert_true(mwi_event_ok(SLICE_LIT("message-summary;foo=bar"), &id));
	assert_null(id.p);

	assert_false(mwi_event_ok(SLICE_LIT("presence"), &id));
	assert_false(mwi_event_ok(SLICE_LIT("message-summary2"), &id));
	assert_false(mwi_event_ok(SLICE_LIT("message-summary, presence"), &id));
	assert_false(mwi_event_ok(SLICE_LIT("message"), &id));
	assert_false(mwi_event_ok(SLICE_LIT(""), &id));
	assert_false(mwi_event_ok(SLICE_NULL, &id));
	/* An id we could not echo as a token. */
	assert_false(mwi_event_ok(SLICE_LIT("message-summary;id=\"a b\""), &id));
	char longid[100] = "message-summary;id=";
	memset(longid + strlen(longid), 'a', MWI_EVENT_ID_MAX + 1);
	longid[19 + MWI_EVENT_ID_MAX + 1] = '\0';
	assert_false(mwi_event_ok(slice_cstr(longid), &id));
	longid[19 + MWI_EVENT_ID_MAX] = '\0';
	assert_true(mwi_event_ok(slice_cstr(longid), &id));
	assert_int_equal(id.len, MWI_EVENT_ID_MAX);
}

static void test_accept(void **state)
{
	(void)state;
	assert_true(mwi_accept_ok(SLICE_LIT("application/simple-message-summary")));
	assert_true(mwi_accept_ok(SLICE_LIT("Application/Simple-Message-Summary;q=0.5")));
	assert_true(mwi_accept_ok(SLICE_LIT("application/sdp, application/simple-message-summary")));
	assert_true(mwi_accept_ok(SLICE_LIT("text/plain ,application/*")));
	assert_true(mwi_accept_ok(SLICE_LIT("*/*")));
	assert_true(mwi_accept_ok(SLICE_LIT("application/simple-message-summary;q=0.001")));

	assert_false(mwi_accept_ok(SLICE_LIT("application/sdp")));
	assert_false(mwi_accept_ok(SLICE_LIT("text/*, application/pidf+xml")));
	assert_false(mwi_accept_ok(SLICE_LIT("application/simple-message-summary;q=0")));
	assert_false(mwi_accept_ok(SLICE_LIT("*/*;q=0.000")));
	assert_false(mwi_accept_ok(SLICE_LIT("")));
	assert_false(mwi_accept_ok(SLICE_LIT(" , ,")));
	assert_false(mwi_accept_ok(SLICE_NULL));
	assert_false(mwi_accept_ok(SLICE_LIT("application/simple-message-summaryx")));
}

static void test_table(void **state)
{
	(void)state;
	struct mwi_table *t;
	assert_int_equal(mwi_table_new(&t), 0);
	unsigned n, o;
	bool ch = false;
	mwi_table_get(t, "1001", &n, &o);
	assert_int_equal(n + o, 0);
	/* Absent counts as 0/0: storing 0/0 is no change, but is kept. */
	assert_int_equal(mwi_table_set(t, "1001", 0, 0, &ch), 0);
	assert_false(ch);
	assert_int_equal(mwi_table_count(t), 1);
	assert_int_equal(mwi_table_set(t, "1002", 2, 0, &ch), 0);
	assert_true(ch);
	assert_int_equal(mwi_table_set(t, "1002", 2, 0, &ch), 0);
	assert_false(ch);
	assert_int_equal(mwi_table_set(t, "1002", 1, 1, &ch), 0);
	assert_true(ch);
	assert_int_equal(mwi_table_set(t, "1002", 1, 2, NULL), 0);
	mwi_table_get(t, "1002", &n, &o);
	assert_int_equal(n, 1);
	assert_int_equal(o, 2);
	assert_int_equal(mwi_table_count(t), 2);

	/* Names: empty, too long, NULL. */
	assert_int_equal(mwi_table_set(t, "", 1, 1, &ch), EINVAL);
	assert_int_equal(mwi_table_set(t, NULL, 1, 1, &ch), EINVAL);
	assert_int_equal(mwi_table_set(t, "1234567890123456", 1, 1, &ch), EINVAL);
	assert_int_equal(mwi_table_set(t, "123456789012345", 1, 1, &ch), 0);
	mwi_table_get(t, NULL, &n, &o);
	assert_int_equal(n + o, 0);

	/* Drained in batches: every entry once, then empty. */
	for (unsigned i = 0; i < 3000; i++) {
		char name[16];
		snprintf(name, sizeof name, "%u", 20000 + i);
		assert_int_equal(mwi_table_set(t, name, i, i + 1, NULL), 0);
	}
	assert_int_equal(mwi_table_count(t), 3003);
	struct mwi_count got[100];
	size_t total = 0, k;
	unsigned long sum = 0;
	int rounds = 0;
	while ((k = mwi_table_take(t, got, 100)) > 0 && rounds++ < 1000) {
		assert_true(k <= 100);
		for (size_t i = 0; i < k; i++)
			if (got[i].mailbox[0] == '2')
				sum += got[i].n_old - got[i].n_new;
		total += k;
	}
	assert_int_equal(total, 3003);
	assert_int_equal(sum, 3000);
	assert_int_equal(mwi_table_count(t), 0);
	assert_int_equal(mwi_table_take(t, got, 100), 0);
	mwi_table_get(t, "1002", &n, &o);
	assert_int_equal(n + o, 0);
	mwi_table_free(t);
	mwi_table_free(NULL);
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_bodies),
		UNIT_TEST(test_limits),
		UNIT_TEST(test_bad_accounts),
		UNIT_TEST(test_expires),
		UNIT_TEST(test_event),
		UNIT_TEST(test_accept),
		UNIT_TEST(test_table),
	};
	return cmocka_run_group_tests_name("mwi", tests, NULL, NULL);
}
