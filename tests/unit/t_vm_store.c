/*
 * t_vm_store.c: the voicemail worker thread on a real SQLite file and a
 * real spool folder: a recorded message stored (file in the mailbox folder,
 * row with its length, counts in the result); a message under a second
 * discarded; a full mailbox refused with no file left behind; list (new
 * first), load (decoded back to the tone), save, heard, delete (row and
 * file), PIN; a greeting stored under its fixed name and the mailbox row
 * pointing at it, then decoded for playing; a spool that cannot be written
 * found by vm_store_check; results the core never took freed at stop.
 * (A full disk is in t_vm_file and tests/sip/t_voicemail.sh.)
 */
#include "unit.h"

#include "db.h"
#include "log.h"
#include "vm_file.h"
#include "vm_menu.h"
#include "vm_store.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];
static unsigned seq;

struct fixture {
	char db_path[128];
	char spool[128];
	sqlite3 *db;
	struct vm_store *s;
};

static void fx_open(struct fixture *f)
{
	seq++;
	snprintf(f->db_path, sizeof f->db_path, "%s/s%u.db", tmpdir, seq);
	snprintf(f->spool, sizeof f->spool, "%s/spool%u", tmpdir, seq);
	assert_int_equal(mkdir(f->spool, 0700), 0);
	char err[256];
	assert_int_equal(db_open(f->db_path, &f->db, err, sizeof err), 0);
	assert_int_equal(db_ext_add(f->db, "1002", "", "secret12", "1234", err, sizeof err), 0);
	assert_int_equal(vm_store_start(&f->s, f->db_path, f->spool), 0);
}

static void fx_close(struct fixture *f)
{
	vm_store_stop(f->s);
	db_close(f->db);
}

/* ms of a freq tone at 8 kHz (malloc'd: the worker takes it). */
static int16_t *tone(unsigned ms, double freq, size_t *n)
{
	*n = (size_t)ms * 8;
	int16_t *p = malloc(*n * sizeof *p);
	assert_non_null(p);
	for (size_t i = 0; i < *n; i++)
		p[i] = (int16_t)lrint(8000 * sin(2.0 * M_PI * freq * (double)i / 8000.0));
	return p;
}

/* Post r with ms of a freq tone; vm_store_post's answer. */
static int post_tone(struct vm_store *s, const struct vm_store_req *r, unsigned ms, double freq)
{
	size_t n;
	int16_t *pcm = tone(ms, freq, &n);
	return vm_store_post(s, r, pcm, n);
}

/* Wait (5 s bound) for one result. */
static struct vm_store_result take(struct vm_store *s)
{
	struct vm_store_result r;
	memset(&r, 0, sizeof r);
	for (int i = 0; i < 500; i++) {
		struct pollfd p = { .fd = vm_store_fd(s), .events = POLLIN };
		poll(&p, 1, 10);
		if (vm_store_take(s, &r, 1) == 1)
			return r;
	}
	fail_msg("no result from the worker within 5 s");
	return r;
}

static struct vm_store_req req(enum vm_store_op op, int64_t id)
{
	struct vm_store_req r;
	memset(&r, 0, sizeof r);
	r.op = op;
	r.token = 77;
	r.tag = 5;
	snprintf(r.mailbox, sizeof r.mailbox, "1002");
	snprintf(r.caller, sizeof r.caller, "1001");
	r.received_at = 1700000000000;
	r.max_ms = 60000;
	r.max_messages = 2;
	r.msg_id = id;
	return r;
}

/* Energy of freq relative to the whole signal (Goertzel), 0..1. */
static double tone_share(const int16_t *p, size_t n, double freq)
{
	double w = 2.0 * M_PI * freq / 8000.0, c = 2.0 * cos(w), s1 = 0, s2 = 0, total = 0;
	for (size_t i = 0; i < n; i++) {
		double s0 = p[i] + c * s1 - s2;
		s2 = s1;
		s1 = s0;
		total += (double)p[i] * p[i];
	}
	double power = s1 * s1 + s2 * s2 - c * s1 * s2;
	return total > 0 ? 2.0 * power / ((double)n * total) : 0;
}

static unsigned files_in(const char *spool, const char *sub)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "ls -A '%s/%s' 2>/dev/null | wc -l", spool, sub);
	FILE *p = popen(cmd, "r");
	unsigned n = 0;
	if (p) {
		if (fscanf(p, "%u", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

static void test_messages(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f);
	assert_int_equal(vm_store_check(f.s, 60000), 0);

	struct vm_store_req r = req(VM_OP_MESSAGE, 0);
	assert_int_equal(post_tone(f.s, &r, 2000, 440), 0);
	struct vm_store_result res = take(f.s);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.op, VM_OP_MESSAGE);
	assert_int_equal(res.token, 77);
	assert_true(res.msg_id > 0);
	assert_int_equal(res.duration_ms, 2000);
	assert_int_equal(res.n_new, 1);
	int64_t first = res.msg_id;

	/* Under a second: discarded, nothing stored. */
	assert_int_equal(post_tone(f.s, &r, 600, 440), 0);
	res = take(f.s);
	assert_int_equal(res.err, ENODATA);
	assert_int_equal(res.n_new, 1);

	assert_int_equal(post_tone(f.s, &r, 1500, 1000), 0);
	res = take(f.s);
	assert_int_equal(res.err, 0);
	int64_t second = res.msg_id;
	/* The mailbox holds max_messages (2): refused, no file left. */
	assert_int_equal(post_tone(f.s, &r, 1500, 1000), 0);
	res = take(f.s);
	assert_int_equal(res.err, ENOSPC);
	assert_int_equal(files_in(f.spool, "1002"), 2);
	assert_int_equal(files_in(f.spool, VM_FILE_TMP), 0);

	/* List: both new, oldest first. */
	r = req(VM_OP_LIST, 0);
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	res = take(f.s);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.n_msgs, 2);
	assert_int_equal(res.msgs[0].id, first);
	assert_true(res.msgs[0].is_new);
	free(res.msgs);

	/* Load decodes the tone back. */
	r = req(VM_OP_LOAD, first);
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	res = take(f.s);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.msg_id, first);
	assert_true(res.n >= 8 * 1900 && res.n <= 8 * 2100);
	assert_true(tone_share(res.pcm + 800, res.n - 1600, 440) > 0.5);
	free(res.pcm);

	/* Save moves it to old and heard; the counts follow. */
	r = req(VM_OP_SAVE, first);
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	res = take(f.s);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.n_new, 1);
	assert_int_equal(res.n_old, 1);

	/* Delete: row and file. Another mailbox's id is not reachable. */
	r = req(VM_OP_DELETE, second);
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	res = take(f.s);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.n_new, 0);
	assert_int_equal(files_in(f.spool, "1002"), 1);
	r = req(VM_OP_DELETE, first);
	snprintf(r.mailbox, sizeof r.mailbox, "1003");
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	res = take(f.s);
	assert_int_equal(res.err, ENOENT);
	assert_int_equal(files_in(f.spool, "1002"), 1);

	/* PIN. */
	r = req(VM_OP_SET_PIN, 0);
	snprintf(r.pin, sizeof r.pin, "98765");
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	assert_int_equal(take(f.s).err, 0);
	struct db_mailbox m;
	assert_int_equal(db_vm_mailbox_get(f.db, "1002", &m), 0);
	assert_string_equal(m.pin, "98765");

	/* Bad requests are refused at once, the PCM freed (ASan). */
	r = req(VM_OP_MESSAGE, 0);
	r.caller[0] = '\0';
	assert_int_equal(post_tone(f.s, &r, 1500, 440), EINVAL);
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), EINVAL);
	fx_close(&f);
}

static void test_greeting(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f);
	struct vm_store_req r = req(VM_OP_GREETING, 0);
	r.greeting = DB_VM_GREETING_BUSY;
	assert_int_equal(post_tone(f.s, &r, 1500, 700), 0);
	struct vm_store_result res = take(f.s);
	assert_int_equal(res.err, 0);
	struct db_mailbox m;
	assert_int_equal(db_vm_mailbox_get(f.db, "1002", &m), 0);
	assert_string_equal(m.greeting[DB_VM_GREETING_BUSY], "1002/greeting-busy.opus");
	/* Recording it again replaces the file (one greeting of a kind). */
	assert_int_equal(post_tone(f.s, &r, 1200, 700), 0);
	assert_int_equal(take(f.s).err, 0);
	assert_int_equal(files_in(f.spool, "1002"), 1);

	r = req(VM_OP_LOAD, 0);
	r.greeting = DB_VM_GREETING_BUSY;
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	res = take(f.s);
	assert_int_equal(res.err, 0);
	assert_true(res.n >= 8 * 1100 && res.n <= 8 * 1300);
	assert_true(tone_share(res.pcm + 800, res.n - 1600, 700) > 0.5);
	free(res.pcm);
	/* No greeting of that kind: ENOENT (the caller plays the generated one). */
	r.greeting = DB_VM_GREETING_UNAVAIL;
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	assert_int_equal(take(f.s).err, ENOENT);
	fx_close(&f);
}

static void test_unwritable_and_untaken(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f);
	/* A spool whose tmp folder is not a folder cannot take a message. */
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s/%s", f.spool, VM_FILE_TMP);
	assert_int_equal(rmdir(tmp), 0);
	FILE *fp = fopen(tmp, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_not_equal(vm_store_check(f.s, 60000), 0);
	assert_int_equal(unlink(tmp), 0);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(vm_store_check(f.s, 60000), 0);
	/* Results left in the queue at stop are freed (ASan / the leak check). */
	struct vm_store_req r = req(VM_OP_LIST, 0);
	struct vm_store_req m = req(VM_OP_MESSAGE, 0);
	assert_int_equal(post_tone(f.s, &m, 1500, 440), 0);
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	r = req(VM_OP_LOAD, 1);
	assert_int_equal(vm_store_post(f.s, &r, NULL, 0), 0);
	fx_close(&f);
}

static int group_setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERR);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_vm_store.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_unwritable_and_untaken),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
