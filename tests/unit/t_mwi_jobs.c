/*
 * t_mwi_jobs.c: message waiting counts through the jobs thread, on real
 * SQLite files: the mailboxes holding messages are handed over at start;
 * a write by another connection is noticed by the once-a-second
 * data_version poll without being told; jobs_vm_changed recounts one
 * mailbox at once; unchanged counts are not handed over again; a bad name
 * is refused; many changes drain in batches with the eventfd staying
 * readable until the last one is taken.
 */
#include "unit.h"

#include "db.h"
#include "jobs.h"
#include "log.h"
#include "mwi.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>

static char tmpdir[64];

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, timeout_ms) == 1;
}

/* Wait (at most timeout_ms) for counts, then take what is there. */
static size_t take_wait(struct jobs *j, struct mwi_count *out, size_t max, int timeout_ms)
{
	if (!fd_readable(jobs_vm_fd(j), timeout_ms))
		return 0;
	return jobs_take_vm_counts(j, out, max);
}

static void add_msg(sqlite3 *db, const char *mailbox, enum db_vm_folder folder, int64_t *id)
{
	static unsigned seq;
	struct db_vm_msg m;
	memset(&m, 0, sizeof m);
	snprintf(m.mailbox, sizeof m.mailbox, "%s", mailbox);
	m.folder = folder;
	snprintf(m.caller, sizeof m.caller, "1009");
	m.received_at = 1700000000000;
	m.duration_ms = 2000;
	snprintf(m.file, sizeof m.file, "%s/m%u.ogg", mailbox, ++seq);
	int64_t got = 0;
	assert_int_equal(db_vm_msg_add(db, &m, &got), 0);
	if (id)
		*id = got;
}

static struct jobs *jobs_on(const char *path)
{
	struct jobs *j = NULL;
	assert_int_equal(jobs_start(&j, path, 0), 0);
	return j;
}

static void test_counts_flow(void **state)
{
	(void)state;
	char path[128], err[160];
	snprintf(path, sizeof path, "%s/flow.db", tmpdir);
	sqlite3 *db = NULL;
	assert_int_equal(db_open(path, &db, err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "1001", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "1002", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "1003", "", "secret1", "", err, sizeof err), 0);
	add_msg(db, "1002", DB_VM_NEW, NULL);
	add_msg(db, "1002", DB_VM_OLD, NULL);

	/* At start: only the mailbox that holds messages (the core starts from 0/0). */
	struct jobs *j = jobs_on(path);
	struct mwi_count got[16];
	size_t n = take_wait(j, got, 16, 3000);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].mailbox, "1002");
	assert_int_equal(got[0].n_new, 1);
	assert_int_equal(got[0].n_old, 1);
	assert_false(fd_readable(jobs_vm_fd(j), 0));

	/* Another connection writes; nobody tells the jobs thread: the poll
	 * notices within about a second. */
	uint64_t t0 = now_ms();
	int64_t id1, id2;
	add_msg(db, "1001", DB_VM_NEW, &id1);
	add_msg(db, "1001", DB_VM_NEW, &id2);
	n = take_wait(j, got, 16, 3000);
	/* Both rows were committed before the poll or between two polls: the
	 * last thing handed over says 2/0 either way. */
	if (n == 1 && got[0].n_new == 1)
		n = take_wait(j, got, 16, 3000);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].mailbox, "1001");
	assert_int_equal(got[0].n_new, 2);
	assert_int_equal(got[0].n_old, 0);
	assert_true(now_ms() - t0 < 2500);

	/* Told: one moved to old, then jobs_vm_changed (the poll would see
	 * it too; either way the counts arrive once). */
	assert_int_equal(db_vm_msg_move_old(db, "1001", id1), 0);
	jobs_vm_changed(j, "1001");
	n = take_wait(j, got, 16, 3000);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].mailbox, "1001");
	assert_int_equal(got[0].n_new, 1);
	assert_int_equal(got[0].n_old, 1);

	/* Nothing changed: a recount of one, of all, of a mailbox that does
	 * not exist, and a bad name (refused, logged) hand nothing over. Then
	 * a real change shows that only it came through. */
	jobs_vm_changed(j, "1001");
	jobs_vm_changed(j, NULL);
	jobs_vm_changed(j, "4444");
	jobs_vm_changed(j, "12345678901234567890");
	jobs_vm_changed(j, "");
	char file[DB_VM_FILE_MAX + 1];
	assert_int_equal(db_vm_msg_del(db, "1001", id2, file), 0);
	jobs_vm_changed(j, "1001");
	n = take_wait(j, got, 16, 3000);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].mailbox, "1001");
	assert_int_equal(got[0].n_new, 0);
	assert_int_equal(got[0].n_old, 1);
	assert_false(fd_readable(jobs_vm_fd(j), 300));

	jobs_stop(j);
	db_close(db);
}

static void test_many_in_batches(void **state)
{
	(void)state;
	char path[128], err[160];
	snprintf(path, sizeof path, "%s/many.db", tmpdir);
	sqlite3 *db = NULL;
	assert_int_equal(db_open(path, &db, err, sizeof err), 0);
	enum { N = 150 };
	assert_int_equal(db_begin(db), 0);
	for (unsigned i = 0; i < N; i++) {
		char num[16];
		snprintf(num, sizeof num, "%u", 2000 + i);
		assert_int_equal(db_ext_add(db, num, "", "secret1", "", err, sizeof err), 0);
	}
	assert_int_equal(db_commit(db), 0);
	struct jobs *j = jobs_on(path);
	/* Every mailbox 0/0: nothing to hand over at start. */
	assert_false(fd_readable(jobs_vm_fd(j), 500));

	assert_int_equal(db_begin(db), 0);
	for (unsigned i = 0; i < N; i++) {
		char num[16];
		snprintf(num, sizeof num, "%u", 2000 + i);
		for (unsigned k = 0; k <= i % 3; k++)
			add_msg(db, num, DB_VM_NEW, NULL);
	}
	assert_int_equal(db_commit(db), 0);
	for (unsigned i = 0; i < N; i++) {
		char num[16];
		snprintf(num, sizeof num, "%u", 2000 + i);
		jobs_vm_changed(j, num);
	}
	/* Taken 7 at a time: the eventfd stays readable until the last. */
	struct mwi_count got[7];
	bool seen[N] = { false };
	size_t total = 0, n;
	for (int rounds = 0; rounds < 200 && total < N && (n = take_wait(j, got, 7, 3000)) > 0; rounds++) {
		for (size_t i = 0; i < n; i++) {
			unsigned num = (unsigned)atoi(got[i].mailbox);
			assert_true(num >= 2000 && num < 2000 + N);
			assert_false(seen[num - 2000]);
			seen[num - 2000] = true;
			assert_int_equal(got[i].n_new, (num - 2000) % 3 + 1);
			assert_int_equal(got[i].n_old, 0);
		}
		total += n;
	}
	assert_int_equal(total, N);
	assert_false(fd_readable(jobs_vm_fd(j), 300));
	jobs_stop(j);
	db_close(db);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_mwi_jobs.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* One-time library state before the per-test leak checks count. */
	sqlite3_initialize();
	uint8_t b[4];
	gnutls_rnd(GNUTLS_RND_KEY, b, sizeof b);
	gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof b);
	log_set_level(LOG_ERR);
	/* A first jobs thread, so that whatever a thread leaves behind in
	 * glibc (its arena bookkeeping) exists before the tests. */
	char path[128];
	snprintf(path, sizeof path, "%s/warm.db", tmpdir);
	struct jobs *j = NULL;
	if (jobs_start(&j, path, 0) != 0)
		return -1;
	jobs_vm_changed(j, "1001");
	jobs_sync(j);
	jobs_stop(j);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_counts_flow),
		UNIT_TEST(test_many_in_batches),
	};
	return cmocka_run_group_tests_name("mwi_jobs", tests, group_setup, group_teardown);
}
