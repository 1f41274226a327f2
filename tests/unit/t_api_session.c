/*
 * t_api_session.c: the web admin's session store and sign-in throttling,
 * driven with an explicit clock (t_api.c covers them over real HTTP).
 */
#include "unit.h"

#include <errno.h>
#include <string.h>

#include "api.h"

static void test_session_create_find_end(void **state)
{
	(void)state;
	struct api_sessions *s;
	assert_int_equal(api_sessions_new(&s), 0);
	struct api_session_info a, b, got;
	assert_int_equal(api_session_create(s, "alice", 1000, &a), 0);
	assert_int_equal(api_session_create(s, "bob", 1000, &b), 0);
	assert_int_equal(strlen(a.id), API_TOKEN_HEX);
	assert_int_equal(strlen(a.csrf), API_TOKEN_HEX);
	assert_string_not_equal(a.id, b.id);
	assert_string_not_equal(a.id, a.csrf);
	assert_int_equal(api_session_find(s, a.id, 1001, &got), 0);
	assert_string_equal(got.user, "alice");
	assert_string_equal(got.csrf, a.csrf);
	/* Malformed and unknown ids. */
	assert_int_equal(api_session_find(s, "", 1001, &got), ENOENT);
	assert_int_equal(api_session_find(s, "zz", 1001, &got), ENOENT);
	char other[API_TOKEN_HEX + 1];
	memcpy(other, a.id, sizeof other);
	other[0] = other[0] == 'a' ? 'b' : 'a';
	assert_int_equal(api_session_find(s, other, 1001, &got), ENOENT);
	/* Upper case is not the same id. */
	char upper[API_TOKEN_HEX + 1];
	for (size_t i = 0; i <= API_TOKEN_HEX; i++)
		upper[i] = (char)(a.id[i] >= 'a' && a.id[i] <= 'f' ? a.id[i] - 32 : a.id[i]);
	if (strcmp(upper, a.id) != 0)
		assert_int_equal(api_session_find(s, upper, 1001, &got), ENOENT);
	assert_int_equal(api_session_count(s, 1001), 2);
	assert_int_equal(api_session_end(s, a.id), 0);
	assert_int_equal(api_session_end(s, a.id), ENOENT);
	assert_int_equal(api_session_find(s, a.id, 1001, &got), ENOENT);
	assert_int_equal(api_session_find(s, b.id, 1001, &got), 0);
	api_sessions_free(s);
}

static void test_session_idle_expiry(void **state)
{
	(void)state;
	struct api_sessions *s;
	assert_int_equal(api_sessions_new(&s), 0);
	struct api_session_info a, got;
	assert_int_equal(api_session_create(s, "alice", 0, &a), 0);
	/* Used just before the idle limit, it lives on from that use. */
	assert_int_equal(api_session_find(s, a.id, API_SESSION_IDLE - 1, &got), 0);
	assert_int_equal(got.expires_in, API_SESSION_IDLE);
	assert_int_equal(api_session_find(s, a.id, 2 * API_SESSION_IDLE - 2, &got), 0);
	/* Then idle for exactly the limit: gone, and gone for good. */
	assert_int_equal(api_session_find(s, a.id, 3 * API_SESSION_IDLE - 2, &got), ENOENT);
	assert_int_equal(api_session_find(s, a.id, 3 * API_SESSION_IDLE - 2, &got), ENOENT);
	assert_int_equal(api_session_count(s, 0), 0);
	api_sessions_free(s);
}

static void test_session_alive(void **state)
{
	(void)state;
	struct api_sessions *s;
	assert_int_equal(api_sessions_new(&s), 0);
	struct api_session_info a, got;
	assert_int_equal(api_session_create(s, "alice", 0, &a), 0);
	assert_true(api_session_alive(s, a.id, 0));
	/* Asking does not count as a use: an open event stream checking every
	 * second does not keep the session from going idle. */
	for (int64_t t = 0; t < API_SESSION_IDLE; t += 60)
		assert_true(api_session_alive(s, a.id, t));
	assert_false(api_session_alive(s, a.id, API_SESSION_IDLE));
	assert_int_equal(api_session_find(s, a.id, API_SESSION_IDLE, &got), ENOENT);
	/* Ended, unknown and malformed ids. */
	assert_int_equal(api_session_create(s, "bob", 100, &a), 0);
	assert_true(api_session_alive(s, a.id, 100));
	assert_int_equal(api_session_end(s, a.id), 0);
	assert_false(api_session_alive(s, a.id, 100));
	assert_false(api_session_alive(s, NULL, 100));
	assert_false(api_session_alive(s, "", 100));
	assert_false(api_session_alive(s, "00", 100));
	api_sessions_free(s);
}

static void test_session_absolute_expiry(void **state)
{
	(void)state;
	struct api_sessions *s;
	assert_int_equal(api_sessions_new(&s), 0);
	struct api_session_info a, got;
	assert_int_equal(api_session_create(s, "alice", 0, &a), 0);
	/* Kept busy, it still ends API_SESSION_ABS after sign-in. */
	int64_t t = 0;
	while (t + 600 < API_SESSION_ABS) {
		t += 600;
		assert_int_equal(api_session_find(s, a.id, t, &got), 0);
		assert_true(got.expires_in <= API_SESSION_ABS - t);
	}
	assert_int_equal(api_session_find(s, a.id, API_SESSION_ABS - 1, &got), 0);
	assert_int_equal(got.expires_in, 1);
	assert_int_equal(api_session_find(s, a.id, API_SESSION_ABS, &got), ENOENT);
	api_sessions_free(s);
}

static void test_session_table_bounded(void **state)
{
	(void)state;
	struct api_sessions *s;
	assert_int_equal(api_sessions_new(&s), 0);
	struct api_session_info first, x, got;
	assert_int_equal(api_session_create(s, "first", 0, &first), 0);
	for (int i = 1; i < API_SESSIONS_MAX; i++)
		assert_int_equal(api_session_create(s, "user", i, &x), 0);
	assert_int_equal(api_session_count(s, API_SESSIONS_MAX), API_SESSIONS_MAX);
	/* Full: the next sign-in pushes out the least recently used one. */
	struct api_session_info last;
	assert_int_equal(api_session_create(s, "last", API_SESSIONS_MAX, &last), 0);
	assert_int_equal(api_session_count(s, API_SESSIONS_MAX), API_SESSIONS_MAX);
	assert_int_equal(api_session_find(s, first.id, API_SESSIONS_MAX, &got), ENOENT);
	assert_int_equal(api_session_find(s, last.id, API_SESSIONS_MAX, &got), 0);
	assert_int_equal(api_session_find(s, x.id, API_SESSIONS_MAX, &got), 0);
	/* Ending a user's sessions ends all but the one kept. */
	api_session_end_user(s, "user", x.id);
	assert_int_equal(api_session_count(s, API_SESSIONS_MAX), 2);
	assert_int_equal(api_session_find(s, x.id, API_SESSIONS_MAX, &got), 0);
	api_session_end_user(s, "user", NULL);
	assert_int_equal(api_session_count(s, API_SESSIONS_MAX), 1);
	api_sessions_free(s);
}

static void test_csrf_compare(void **state)
{
	(void)state;
	struct api_session_info si;
	memset(&si, 0, sizeof si);
	memset(si.csrf, 'a', API_TOKEN_HEX);
	char tok[API_TOKEN_HEX + 2];
	memset(tok, 'a', API_TOKEN_HEX);
	tok[API_TOKEN_HEX] = '\0';
	assert_true(api_csrf_ok(&si, tok));
	tok[API_TOKEN_HEX - 1] = 'b';
	assert_false(api_csrf_ok(&si, tok));
	tok[API_TOKEN_HEX - 1] = 'a';
	tok[API_TOKEN_HEX] = 'a';
	tok[API_TOKEN_HEX + 1] = '\0';
	assert_false(api_csrf_ok(&si, tok)); /* longer */
	assert_false(api_csrf_ok(&si, "aaaa")); /* a prefix */
	assert_false(api_csrf_ok(&si, ""));
	assert_false(api_csrf_ok(&si, NULL));
}

static void test_throttle(void **state)
{
	(void)state;
	struct api_sessions *s;
	assert_int_equal(api_sessions_new(&s), 0);
	unsigned retry;
	for (int i = 0; i < API_THROTTLE_LIMIT; i++) {
		assert_int_equal(api_throttle_check(s, "192.0.2.1", "admin", 100, &retry), 0);
		api_throttle_fail(s, "192.0.2.1", "admin", 100 + i);
	}
	assert_int_equal(api_throttle_check(s, "192.0.2.1", "admin", 110, &retry), EAGAIN);
	assert_int_equal(retry, API_THROTTLE_WINDOW - 10);
	/* Per user: another address, same user. */
	assert_int_equal(api_throttle_check(s, "192.0.2.2", "admin", 110, &retry), EAGAIN);
	/* Per address: same address, another user. */
	assert_int_equal(api_throttle_check(s, "192.0.2.1", "bob", 110, &retry), EAGAIN);
	/* Unrelated. */
	assert_int_equal(api_throttle_check(s, "192.0.2.2", "bob", 110, &retry), 0);
	/* The window's last second still blocks; then it is over. */
	assert_int_equal(api_throttle_check(s, "192.0.2.1", "admin", 100 + API_THROTTLE_WINDOW - 1, &retry),
			 EAGAIN);
	assert_int_equal(retry, 1);
	assert_int_equal(api_throttle_check(s, "192.0.2.1", "admin", 100 + API_THROTTLE_WINDOW, &retry), 0);
	/* One failure less than the limit, then a success: counting restarts. */
	for (int i = 0; i < API_THROTTLE_LIMIT - 1; i++)
		api_throttle_fail(s, "192.0.2.3", "carol", 1000);
	api_throttle_ok(s, "192.0.2.3", "carol");
	api_throttle_fail(s, "192.0.2.3", "carol", 1000);
	assert_int_equal(api_throttle_check(s, "192.0.2.3", "carol", 1000, &retry), 0);
	api_sessions_free(s);
}

static void test_throttle_table_bounded(void **state)
{
	(void)state;
	struct api_sessions *s;
	assert_int_equal(api_sessions_new(&s), 0);
	unsigned retry;
	for (int i = 0; i < API_THROTTLE_LIMIT; i++)
		api_throttle_fail(s, "198.51.100.1", "victim", 50);
	/* Far more distinct keys than the table holds: it stays bounded, and
	 * the entries given up are those with the fewest failures, so flooding
	 * it with new names does not free the blocked ones (which are the
	 * oldest here). */
	char user[32];
	for (int i = 0; i < 3 * API_THROTTLE_MAX; i++) {
		snprintf(user, sizeof user, "u%d", i);
		api_throttle_fail(s, "198.51.100.2", user, 60 + i / 100);
	}
	assert_int_equal(api_throttle_check(s, "198.51.100.9", "victim", 100, &retry), EAGAIN);
	assert_int_equal(api_throttle_check(s, "198.51.100.1", "nobody", 100, &retry), EAGAIN);
	assert_int_equal(api_throttle_check(s, "198.51.100.2", "anyone", 100, &retry), EAGAIN);
	assert_int_equal(api_throttle_check(s, "198.51.100.3", "u3071", 100, &retry), 0);
	api_sessions_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_session_create_find_end), UNIT_TEST(test_session_idle_expiry),
		UNIT_TEST(test_session_alive),
		UNIT_TEST(test_session_absolute_expiry), UNIT_TEST(test_session_table_bounded),
		UNIT_TEST(test_csrf_compare),            UNIT_TEST(test_throttle),
		UNIT_TEST(test_throttle_table_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
