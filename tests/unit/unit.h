/*
 * unit.h: what every unit test binary includes.
 *
 * Tests are cmocka groups; UNIT_TEST(fn) wraps each test in a leak check:
 * the bytes glibc has handed out (mallinfo2) must be the same after the test
 * as before it. Under AddressSanitizer mallinfo2 reports nothing and
 * LeakSanitizer does the same job at exit.
 */
#ifndef PBX_UNIT_H
#define PBX_UNIT_H

#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static size_t unit_heap_before;

static inline size_t unit_heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks;
}

static inline int unit_leak_setup(void **state)
{
	(void)state;
	unit_heap_before = unit_heap_in_use();
	return 0;
}

static inline int unit_leak_teardown(void **state)
{
	(void)state;
	size_t after = unit_heap_in_use();
	if (after > unit_heap_before) {
		fprintf(stderr, "leak check: %zu bytes still allocated after the test\n",
			after - unit_heap_before);
		return -1;
	}
	return 0;
}

#define UNIT_TEST(fn) cmocka_unit_test_setup_teardown(fn, unit_leak_setup, unit_leak_teardown)

/* The glibc settings that make mallinfo2 exact for the leak check: no
 * per-thread cache (it keeps freed chunks counted as in use) and one arena
 * (a new thread's arena bookkeeping would look like a leak). */
#define UNIT_GLIBC_TUNABLES "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1"

/*
 * Call first in main(): re-runs the test binary once with
 * UNIT_GLIBC_TUNABLES unless GLIBC_TUNABLES is set already (make check-unit
 * sets it) or it runs under valgrind, whose exec would escape it and which
 * checks leaks itself. If exec fails the tests run anyway.
 */
static inline void unit_exact_heap(char **argv)
{
	const char *pre = getenv("LD_PRELOAD");
	if (getenv("GLIBC_TUNABLES") || (pre && strstr(pre, "vgpreload")))
		return;
	setenv("GLIBC_TUNABLES", UNIT_GLIBC_TUNABLES, 1);
	execv("/proc/self/exe", argv);
}

#endif
