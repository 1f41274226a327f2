/*
 * t_throttle.c: failed-attempt throttle on a fake clock: bans start at the
 * limit and end after ban_s, windows reset counts, the allow list exempts,
 * IPv6 sources group by /64, and a flood of distinct sources stays within
 * the fixed table without pushing out running bans.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "throttle.h"
#include "unit.h"

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			fail_msg("bad test address %s", ip);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			fail_msg("bad test address %s", ip);
	}
	return ss;
}

static struct sockaddr_storage addr_v4n(uint32_t n)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(5060);
	s4->sin_addr.s_addr = htonl(n);
	return ss;
}

static const struct throttle_cfg cfg_default = { .limit = 10, .window_s = 60, .ban_s = 300 };

/* Fail n times at now_ms; returns how many of those calls started a ban. */
static unsigned fail_n(struct throttle *t, const struct sockaddr_storage *s, unsigned n, uint64_t now_ms)
{
	unsigned bans = 0;
	for (unsigned i = 0; i < n; i++)
		bans += throttle_fail(t, s, now_ms);
	return bans;
}

static void test_limit_and_ban_end(void **state)
{
	(void)state;
	struct throttle *t;
	assert_int_equal(throttle_new(&t, &cfg_default), 0);
	struct sockaddr_storage a = addr("192.0.2.7", 5060);
	uint64_t now = 1000000;
	for (unsigned i = 0; i < 9; i++) {
		assert_false(throttle_fail(t, &a, now + i * 1000));
		assert_false(throttle_banned(t, &a, now + i * 1000));
	}
	/* The tenth within the window bans; other ports of the same host too. */
	assert_true(throttle_fail(t, &a, now + 9000));
	assert_true(throttle_banned(t, &a, now + 9000));
	struct sockaddr_storage a2 = addr("192.0.2.7", 40000);
	assert_true(throttle_banned(t, &a2, now + 9000));
	/* Other hosts are not affected. */
	struct sockaddr_storage b = addr("192.0.2.8", 5060);
	assert_false(throttle_banned(t, &b, now + 9000));
	/* More failures during the ban neither re-announce nor extend it. */
	assert_int_equal(fail_n(t, &a, 20, now + 100000), 0);
	uint64_t until = now + 9000 + 300 * 1000;
	assert_true(throttle_banned(t, &a, until - 1));
	assert_false(throttle_banned(t, &a, until));
	/* After the ban the count starts from zero. */
	assert_int_equal(fail_n(t, &a, 9, until + 1), 0);
	assert_false(throttle_banned(t, &a, until + 1));
	assert_true(throttle_fail(t, &a, until + 2));
	assert_true(throttle_banned(t, &a, until + 2));
	throttle_free(t);
}

static void test_window_reset(void **state)
{
	(void)state;
	struct throttle *t;
	assert_int_equal(throttle_new(&t, &cfg_default), 0);
	struct sockaddr_storage a = addr("198.51.100.1", 5060);
	uint64_t t0 = 5000;
	assert_int_equal(fail_n(t, &a, 9, t0), 0);
	/* 60 s after the first failure the window is over: this one starts a new count. */
	assert_false(throttle_fail(t, &a, t0 + 60000));
	assert_false(throttle_banned(t, &a, t0 + 60000));
	assert_int_equal(fail_n(t, &a, 8, t0 + 60001), 0);
	assert_false(throttle_banned(t, &a, t0 + 60001));
	/* The tenth of the new window, just inside it, bans. */
	assert_true(throttle_fail(t, &a, t0 + 60000 + 59999));
	assert_true(throttle_banned(t, &a, t0 + 120000));

	/* Again with the window running out while the entry is not the first
	 * to expire: five older sources are collected a few at a time, so the
	 * restart of the window itself is what resets the count. */
	struct sockaddr_storage b = addr("198.51.100.2", 5060);
	uint64_t t1 = 1000000;
	for (uint32_t i = 0; i < 5; i++) {
		struct sockaddr_storage o = addr_v4n(0xc6336500u + 10 + i);
		assert_false(throttle_fail(t, &o, t1 - 1));
	}
	assert_int_equal(fail_n(t, &b, 9, t1), 0);
	assert_false(throttle_fail(t, &b, t1 + 60000));
	assert_false(throttle_banned(t, &b, t1 + 60000));
	assert_int_equal(fail_n(t, &b, 8, t1 + 60001), 0);
	assert_true(throttle_fail(t, &b, t1 + 60002));
	throttle_free(t);
}

static void test_allow_list(void **state)
{
	(void)state;
	struct throttle *t;
	assert_int_equal(throttle_new(&t, &cfg_default), 0);
	assert_int_equal(throttle_set_allow(t, "127.0.0.0/8, 10.0.0.0/8 ::1/128,fd00::/8\t192.0.2.9"), 0);
	const char *trusted[] = { "127.0.0.1", "127.255.1.2", "10.20.30.40", "::1", "fd12:3456::1", "192.0.2.9",
				  "::ffff:10.1.1.1" };
	for (size_t i = 0; i < sizeof(trusted) / sizeof(trusted[0]); i++) {
		struct sockaddr_storage s = addr(trusted[i], 5060);
		assert_int_equal(fail_n(t, &s, 100, 1000), 0);
		assert_false(throttle_banned(t, &s, 1000));
	}
	assert_int_equal(throttle_count(t), 0);
	const char *untrusted[] = { "11.0.0.1", "128.0.0.1", "::2", "fe80::1", "192.0.2.10", "::ffff:11.1.1.1" };
	for (size_t i = 0; i < sizeof(untrusted) / sizeof(untrusted[0]); i++) {
		struct sockaddr_storage s = addr(untrusted[i], 5060);
		assert_int_equal(fail_n(t, &s, 10, 1000), 1);
		assert_true(throttle_banned(t, &s, 1000));
	}

	/* Bad lists are refused whole and leave the old list in place. */
	static const char *const bad[] = { "10.0.0.0/33", "1.2.3", "::1/129", "foo", "10.0.0.0/", "/8",
					   "10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0.0/0x8", "fe80::1%eth0",
					   "127.0.0.1,nonsense", "1.2.3.4/0008" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(throttle_set_allow(t, bad[i]), EINVAL);
	assert_int_equal(throttle_set_allow(t, NULL), EINVAL);
	struct sockaddr_storage lo = addr("127.0.0.1", 5060);
	assert_int_equal(fail_n(t, &lo, 20, 2000), 0);

	/* Too many entries. */
	char big[THROTTLE_ALLOW_MAX * 20 + 32];
	size_t pos = 0;
	for (unsigned i = 0; i <= THROTTLE_ALLOW_MAX; i++)
		pos += (size_t)snprintf(big + pos, sizeof(big) - pos, "10.%u.0.0/16 ", i);
	assert_int_equal(throttle_set_allow(t, big), EINVAL);

	/* Trusting a banned source lifts it in effect; emptying the list exposes
	 * 127/8 again. Host bits beyond the prefix are ignored. */
	struct sockaddr_storage b = addr("11.0.0.1", 5060);
	assert_true(throttle_banned(t, &b, 3000));
	assert_int_equal(throttle_set_allow(t, "11.9.9.9/8"), 0);
	assert_false(throttle_banned(t, &b, 3000));
	assert_int_equal(throttle_set_allow(t, " , "), 0);
	assert_true(throttle_banned(t, &b, 3000));
	assert_int_equal(fail_n(t, &lo, 10, 3000), 1);
	assert_true(throttle_banned(t, &lo, 3000));
	assert_int_equal(throttle_set_allow(t, "0.0.0.0/0 ::/0"), 0);
	assert_false(throttle_banned(t, &lo, 3000));
	struct sockaddr_storage v6 = addr("2001:db8::1", 1);
	assert_int_equal(fail_n(t, &v6, 50, 3000), 0);
	throttle_free(t);
}

static void test_ipv6_grouping(void **state)
{
	(void)state;
	struct throttle *t;
	assert_int_equal(throttle_new(&t, &cfg_default), 0);
	/* Ten different hosts in one /64 add up to one ban for the whole /64. */
	char ip[64];
	for (unsigned i = 1; i <= 9; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:1:2:%x::%x", i * 0x1111, i);
		struct sockaddr_storage s = addr(ip, (uint16_t)(5060 + i));
		assert_false(throttle_fail(t, &s, 100));
	}
	struct sockaddr_storage last = addr("2001:db8:1:2:ffff:ffff:ffff:ffff", 1);
	assert_true(throttle_fail(t, &last, 100));
	struct sockaddr_storage same = addr("2001:db8:1:2::abcd", 1);
	assert_true(throttle_banned(t, &same, 101));
	struct sockaddr_storage next64 = addr("2001:db8:1:3::1", 1);
	assert_false(throttle_banned(t, &next64, 101));
	struct sockaddr_storage prev64 = addr("2001:db8:1:1:ffff::1", 1);
	assert_false(throttle_banned(t, &prev64, 101));
	assert_int_equal(throttle_count(t), 1);

	/* IPv4 is per address, and IPv4-mapped IPv6 is the same IPv4 source. */
	struct sockaddr_storage v4 = addr("203.0.113.5", 1), v4b = addr("203.0.113.6", 1);
	struct sockaddr_storage mapped = addr("::ffff:203.0.113.5", 2);
	assert_int_equal(fail_n(t, &v4, 5, 200), 0);
	assert_int_equal(fail_n(t, &mapped, 4, 200), 0);
	assert_int_equal(fail_n(t, &v4b, 9, 200), 0);
	assert_true(throttle_fail(t, &mapped, 200));
	assert_true(throttle_banned(t, &v4, 201));
	assert_false(throttle_banned(t, &v4b, 201));

	/* Not an IP address: ignored. */
	struct sockaddr_storage un;
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	assert_int_equal(fail_n(t, &un, 20, 300), 0);
	assert_false(throttle_banned(t, &un, 300));
	assert_false(throttle_fail(t, NULL, 300));
	assert_false(throttle_banned(t, NULL, 300));
	throttle_free(t);
}

struct seen {
	unsigned n;
	char host[8][64];
	uint64_t until[8];
	unsigned failures[8];
};

static void list_cb(void *ctx, const struct sockaddr_storage *a, uint64_t until_ms, unsigned failures)
{
	struct seen *s = ctx;
	if (s->n >= 8)
		fail_msg("too many bans listed");
	if (a->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, s->host[s->n], 64);
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, s->host[s->n], 64);
	s->until[s->n] = until_ms;
	s->failures[s->n] = failures;
	s->n++;
}

static void test_list_and_lift(void **state)
{
	(void)state;
	struct throttle *t;
	assert_int_equal(throttle_new(&t, &cfg_default), 0);
	struct sockaddr_storage a = addr("192.0.2.1", 1), b = addr("2001:db8:aa:bb:1:2:3:4", 1),
				c = addr("192.0.2.3", 1), d = addr("192.0.2.4", 1);
	assert_int_equal(fail_n(t, &a, 12, 1000), 1);
	assert_int_equal(fail_n(t, &b, 10, 2000), 1);
	assert_int_equal(fail_n(t, &c, 10, 3000), 1);
	assert_int_equal(fail_n(t, &d, 3, 3000), 0); /* counting, not banned */

	struct seen s = { 0 };
	assert_int_equal(throttle_list(t, 4000, list_cb, &s), 3);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.host[0], "192.0.2.1");
	assert_int_equal(s.until[0], 1000 + 300000);
	assert_int_equal(s.failures[0], 12);
	assert_string_equal(s.host[1], "2001:db8:aa:bb::");
	assert_int_equal(s.until[1], 2000 + 300000);
	assert_int_equal(s.failures[1], 10);
	assert_string_equal(s.host[2], "192.0.2.3");
	assert_int_equal(throttle_list(t, 4000, NULL, NULL), 3);

	/* Lift by any address of the /64; lifting twice finds nothing. */
	struct sockaddr_storage b2 = addr("2001:db8:aa:bb::99", 7);
	assert_true(throttle_lift(t, &b2));
	assert_false(throttle_banned(t, &b, 4000));
	assert_false(throttle_lift(t, &b));
	/* Lifting a counting source forgets it but reports no ban. */
	assert_false(throttle_lift(t, &d));
	assert_int_equal(fail_n(t, &d, 9, 4000), 0);
	assert_int_equal(throttle_list(t, 4000, NULL, NULL), 2);
	/* Bans that ran out are not listed. */
	assert_int_equal(throttle_list(t, 1000 + 300000, NULL, NULL), 1);
	assert_int_equal(throttle_list(t, 3000 + 300000, NULL, NULL), 0);
	throttle_free(t);
}

static void test_live_cfg(void **state)
{
	(void)state;
	struct throttle *t;
	assert_int_equal(throttle_new(&t, &cfg_default), 0);
	struct sockaddr_storage a = addr("192.0.2.50", 1), b = addr("192.0.2.51", 1);
	assert_int_equal(fail_n(t, &a, 4, 0), 0);
	struct throttle_cfg strict = { .limit = 5, .window_s = 10, .ban_s = 20 };
	throttle_set_cfg(t, &strict);
	assert_true(throttle_fail(t, &a, 1000));
	assert_true(throttle_banned(t, &a, 20999));
	assert_false(throttle_banned(t, &a, 21000));
	/* limit 0: counting off. */
	struct throttle_cfg off = { .limit = 0, .window_s = 10, .ban_s = 20 };
	throttle_set_cfg(t, &off);
	assert_int_equal(fail_n(t, &b, 1000, 30000), 0);
	assert_false(throttle_banned(t, &b, 30000));
	throttle_free(t);
	assert_int_equal(throttle_new(&t, NULL), EINVAL);
	throttle_free(NULL);
}

/* A million distinct sources each failing once: the table stays at its
 * fixed size, and a ban made before the flood survives it. */
static void test_flood_bounded(void **state)
{
	(void)state;
	struct throttle *t;
	assert_int_equal(throttle_new(&t, &cfg_default), 0);
	struct sockaddr_storage bad = addr("198.18.0.1", 1);
	assert_int_equal(fail_n(t, &bad, 10, 0), 1);

	size_t heap_before = unit_heap_in_use();
	uint64_t now = 1;
	for (uint32_t i = 0; i < 1000000; i++) {
		struct sockaddr_storage s = addr_v4n(0x0b000000u + i); /* 11.0.0.0 and up */
		if (throttle_fail(t, &s, now))
			fail_msg("one failure banned source %u", i);
		if (i % 100 == 0)
			now++; /* 10000 ms over the flood: inside the window */
		if (throttle_count(t) > THROTTLE_MAX_ENTRIES)
			fail_msg("table grew past its bound at source %u", i);
	}
	assert_int_equal(throttle_count(t), THROTTLE_MAX_ENTRIES);
	/* No allocation while flooding. */
	assert_int_equal(unit_heap_in_use(), heap_before);
	assert_true(throttle_banned(t, &bad, now));
	/* The newest sources are still counted: nine more failures ban one. */
	struct sockaddr_storage recent = addr_v4n(0x0b000000u + 999999);
	assert_int_equal(fail_n(t, &recent, 9, now), 1);
	/* The oldest were pushed out: its count restarted. */
	struct sockaddr_storage oldest = addr_v4n(0x0b000000u);
	assert_int_equal(fail_n(t, &oldest, 9, now), 0);

	/* Same with IPv6 sources each in their own /64. */
	for (uint32_t i = 0; i < 200000; i++) {
		struct sockaddr_storage s;
		memset(&s, 0, sizeof(s));
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&s;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr.s6_addr[0] = 0x20;
		s6->sin6_addr.s6_addr[1] = 0x01;
		memcpy(&s6->sin6_addr.s6_addr[4], &i, 4);
		s6->sin6_addr.s6_addr[15] = 1;
		(void)throttle_fail(t, &s, now);
	}
	assert_true(throttle_count(t) <= THROTTLE_MAX_ENTRIES);
	assert_true(throttle_banned(t, &bad, now));
	throttle_free(t);
}

/* When every entry is a live ban, the oldest ban makes room; once bans run
 * out they are reused before anything else. */
static void test_full_of_bans(void **state)
{
	(void)state;
	struct throttle_cfg one = { .limit = 1, .window_s = 60, .ban_s = 100 };
	struct throttle *t;
	assert_int_equal(throttle_new(&t, &one), 0);
	for (uint32_t i = 0; i < THROTTLE_MAX_ENTRIES; i++) {
		struct sockaddr_storage s = addr_v4n(0x0c000000u + i);
		assert_true(throttle_fail(t, &s, 1000 + i / 1000));
	}
	assert_int_equal(throttle_list(t, 2000, NULL, NULL), THROTTLE_MAX_ENTRIES);
	struct sockaddr_storage first = addr_v4n(0x0c000000u), second = addr_v4n(0x0c000001u);
	struct sockaddr_storage extra = addr("198.18.1.1", 1);
	assert_true(throttle_fail(t, &extra, 2000));
	assert_false(throttle_banned(t, &first, 2000));
	assert_true(throttle_banned(t, &second, 2000));
	assert_int_equal(throttle_count(t), THROTTLE_MAX_ENTRIES);
	throttle_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_limit_and_ban_end), UNIT_TEST(test_window_reset), UNIT_TEST(test_allow_list),
		UNIT_TEST(test_ipv6_grouping),	   UNIT_TEST(test_list_and_lift), UNIT_TEST(test_live_cfg),
		UNIT_TEST(test_flood_bounded),	   UNIT_TEST(test_full_of_bans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
