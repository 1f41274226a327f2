/*
 * t_mwi.c: message-summary bodies (RFC 3842): the exact text for waiting
 * and not waiting, with and without the account line, the largest counts,
 * accounts that would break the body refused, and the size limits.
 */
#include "unit.h"

#include "mwi.h"

#include <errno.h>
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

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_bodies),
		UNIT_TEST(test_limits),
		UNIT_TEST(test_bad_accounts),
	};
	return cmocka_run_group_tests_name("mwi", tests, NULL, NULL);
}
