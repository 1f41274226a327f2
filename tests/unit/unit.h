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

#endif
