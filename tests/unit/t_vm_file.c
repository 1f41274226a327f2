/*
 * t_vm_file.c: voicemail files in a private temporary spool: a recording
 * encoded, renamed into its mailbox folder and decoded back to the tone it
 * held for the time it lasted; messages under one second discarded; the
 * length limit; unique names that never replace a file; greetings that do;
 * abort; bad arguments and folders that are files; a file size limit
 * (RLIMIT_FSIZE), a full file system (a 64 KiB tmpfs) and a read-only
 * folder, each failing with an errno, leaving nothing in tmp and the stored
 * messages as they were; decoding errors; unlink and the start-up clean-up.
 *
 * The tmpfs and read-only tests need mounts: main() moves the process into
 * its own mount namespace (root only) so nothing is seen outside and
 * everything goes away with the process; without it they are skipped.
 */
#include "unit.h"

#include "log.h"
#include "vm_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opusenc.h>

static char tmpdir[64];
static bool have_mounts;
static unsigned spool_seq;

/* A new empty spool folder. */
static void new_spool(char *out, size_t cap)
{
	snprintf(out, cap, "%s/spool%u", tmpdir, ++spool_seq);
	assert_int_equal(mkdir(out, 0700), 0);
}

static unsigned count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static unsigned count_in(const char *spool, const char *sub)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", spool, sub);
	return count_files(p);
}

/* n samples of a sine at hz, continuing from sample index *at. */
static void tone(int16_t *out, size_t n, double hz, double amp, size_t *at)
{
	for (size_t i = 0; i < n; i++, (*at)++)
		out[i] = (int16_t)lrint(amp * sin(2.0 * M_PI * hz * (double)*at / VM_FILE_RATE));
}

/* Pseudo-random noise: the encoder's worst case for size. */
static void noise(int16_t *out, size_t n, uint32_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1664525u + 1013904223u;
		out[i] = (int16_t)(*seed >> 16);
	}
}

/* Feed ms of a tone (or noise when hz is 0) in 20 ms chunks, as the media
 * engine hands them over; returns the first error. */
static int feed(struct vm_rec *r, unsigned ms, double hz)
{
	int16_t chunk[160];
	size_t at = 0;
	uint32_t seed = 12345;
	for (unsigned t = 0; t < ms; t += 20) {
		if (hz > 0)
			tone(chunk, 160, hz, 8000, &at);
		else
			noise(chunk, 160, &seed);
		int rc = vm_rec_write(r, chunk, 160);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Level of one frequency (Goertzel), as the amplitude of a sine. */
static double level(const int16_t *s, size_t n, double hz)
{
	double k = 2.0 * cos(2.0 * M_PI * hz / VM_FILE_RATE), s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		double s0 = s[i] + k * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	double p = s1 * s1 + s2 * s2 - k * s1 * s2;
	return 2.0 * sqrt(p > 0 ? p : 0) / (double)n;
}

static size_t read_all(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Record ms of a tone as a message of mailbox; returns its rel name. */
static void record_message(const char *spool, const char *mailbox, unsigned ms, double hz, char *rel, size_t cap)
{
	struct vm_rec *r = NULL;
	assert_int_equal(vm_rec_open(&r, spool, mailbox, 10000), 0);
	assert_int_equal(feed(r, ms, hz), 0);
	uint32_t dur = 0;
	assert_int_equal(vm_rec_commit(r, NULL, rel, cap, &dur), 0);
	assert_int_equal(dur, ms);
}

/* ---- the good path ------------------------------------------------------------------ */

static void test_record_and_decode(void **state)
{
	(void)state;
	char spool[128], rel[VM_FILE_REL_MAX + 1], path[512];
	new_spool(spool, sizeof spool);
	struct vm_rec *r = NULL;
	assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
	/* While recording, the file lives in tmp only. */
	assert_int_equal(count_in(spool, "tmp"), 1);
	assert_int_equal(count_in(spool, "1001"), 0);
	assert_int_equal(feed(r, 3000, 440), 0);
	assert_int_equal(vm_rec_ms(r), 3000);
	uint32_t dur = 0;
	assert_int_equal(vm_rec_commit(r, NULL, rel, sizeof rel, &dur), 0);
	assert_int_equal(dur, 3000);
	assert_int_equal(count_in(spool, "tmp"), 0);
	assert_int_equal(count_in(spool, "1001"), 1);
	/* "1001/<unix ms>-<8 hex>.opus" */
	assert_int_equal(strncmp(rel, "1001/", 5), 0);
	size_t digits = strspn(rel + 5, "0123456789");
	assert_true(digits >= 13);
	assert_int_equal(rel[5 + digits], '-');
	assert_int_equal(strspn(rel + 6 + digits, "0123456789abcdef"), 8);
	assert_string_equal(rel + 14 + digits, ".opus");

	assert_int_equal(vm_file_path(path, sizeof path, spool, rel), 0);
	char head[64];
	assert_true(read_all(path, head, sizeof head) == sizeof head);
	assert_memory_equal(head, "OggS", 4);
	assert_memory_equal(head + 28, "OpusHead", 8);

	uint32_t ms = 0;
	assert_int_equal(vm_file_duration(spool, rel, &ms), 0);
	assert_true(ms >= 2990 && ms <= 3010);

	int16_t *pcm = NULL;
	size_t n = 0;
	assert_int_equal(vm_file_decode(spool, rel, 60000, &pcm, &n), 0);
	assert_true(n >= 23900 && n <= 24100);
	/* The middle second holds the tone at about its level, and nothing else. */
	double at440 = level(pcm + 8000, 8000, 440), at1000 = level(pcm + 8000, 8000, 1000);
	assert_true(at440 > 6000 && at440 < 10000);
	assert_true(at1000 < at440 / 100);
	free(pcm);
}

static void test_short_message_discarded(void **state)
{
	(void)state;
	char spool[128], rel[VM_FILE_REL_MAX + 1] = "untouched";
	new_spool(spool, sizeof spool);
	struct vm_rec *r = NULL;
	assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
	assert_int_equal(feed(r, 980, 440), 0);
	uint32_t dur = 77;
	assert_int_equal(vm_rec_commit(r, NULL, rel, sizeof rel, &dur), ENODATA);
	assert_string_equal(rel, "untouched");
	assert_int_equal(dur, 77);
	assert_int_equal(count_in(spool, "tmp"), 0);
	assert_int_equal(count_in(spool, "1001"), 0);

	/* One second is enough. */
	assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
	assert_int_equal(feed(r, 1000, 440), 0);
	assert_int_equal(vm_rec_commit(r, NULL, rel, sizeof rel, &dur), 0);
	assert_int_equal(dur, 1000);
}

static void test_length_limit(void **state)
{
	(void)state;
	char spool[128], rel[VM_FILE_REL_MAX + 1];
	new_spool(spool, sizeof spool);
	struct vm_rec *r = NULL;
	assert_int_equal(vm_rec_open(&r, spool, "1001", 2000), 0);
	assert_int_equal(feed(r, 3500, 440), 0); /* the rest is dropped, not an error */
	assert_int_equal(vm_rec_ms(r), 2000);
	uint32_t dur = 0;
	assert_int_equal(vm_rec_commit(r, NULL, rel, sizeof rel, &dur), 0);
	assert_int_equal(dur, 2000);
	int16_t *pcm = NULL;
	size_t n = 0;
	assert_int_equal(vm_file_decode(spool, rel, 60000, &pcm, &n), 0);
	assert_true(n >= 15900 && n <= 16100);
	free(pcm);
	/* Longer than the caller will take. */
	assert_int_equal(vm_file_decode(spool, rel, 1500, &pcm, &n), EFBIG);
	assert_null(pcm);
	assert_int_equal(n, 0);
}

static void test_unique_names_keep_existing(void **state)
{
	(void)state;
	char spool[128], path[512], rel[3][VM_FILE_REL_MAX + 1], buf[64];
	new_spool(spool, sizeof spool);
	snprintf(path, sizeof path, "%s/1001", spool);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/1001/keep.opus", spool);
	write_file(path, "precious", 8);
	for (int i = 0; i < 3; i++)
		record_message(spool, "1001", 1200, 440, rel[i], sizeof rel[i]);
	assert_string_not_equal(rel[0], rel[1]);
	assert_string_not_equal(rel[1], rel[2]);
	assert_string_not_equal(rel[0], rel[2]);
	assert_int_equal(count_in(spool, "1001"), 4);
	assert_int_equal(read_all(path, buf, sizeof buf), 8);
	assert_memory_equal(buf, "precious", 8);
}

static void test_greeting_replaces(void **state)
{
	(void)state;
	char spool[128], rel[VM_FILE_REL_MAX + 1];
	new_spool(spool, sizeof spool);
	struct vm_rec *r = NULL;
	uint32_t dur = 0;
	assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
	assert_int_equal(feed(r, 1500, 440), 0);
	assert_int_equal(vm_rec_commit(r, "greeting-busy", rel, sizeof rel, &dur), 0);
	assert_string_equal(rel, "1001/greeting-busy.opus");
	assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
	assert_int_equal(feed(r, 2500, 880), 0);
	assert_int_equal(vm_rec_commit(r, "greeting-busy", rel, sizeof rel, &dur), 0);
	assert_string_equal(rel, "1001/greeting-busy.opus");
	assert_int_equal(count_in(spool, "1001"), 1);
	uint32_t ms = 0;
	assert_int_equal(vm_file_duration(spool, rel, &ms), 0);
	assert_true(ms >= 2490 && ms <= 2510);
	int16_t *pcm = NULL;
	size_t n = 0;
	assert_int_equal(vm_file_decode(spool, rel, 60000, &pcm, &n), 0);
	assert_true(level(pcm + 4000, 8000, 880) > 10 * level(pcm + 4000, 8000, 440));
	free(pcm);

	/* Names that could escape the folder or clash with messages. */
	const char *bad[] = { "Greeting", "../x", "a/b", "", "x.opus", "abcdefghijklmnopqrstuvwxyz0123456" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
		assert_int_equal(feed(r, 1200, 440), 0);
		assert_int_equal(vm_rec_commit(r, bad[i], rel, sizeof rel, &dur), EINVAL);
		assert_int_equal(count_in(spool, "tmp"), 0);
	}
	assert_int_equal(count_in(spool, "1001"), 1);
}

static void test_abort_and_arguments(void **state)
{
	(void)state;
	char spool[128], path[512], rel[VM_FILE_REL_MAX + 1];
	new_spool(spool, sizeof spool);
	struct vm_rec *r = NULL;
	assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
	assert_int_equal(feed(r, 1500, 440), 0);
	vm_rec_abort(r);
	vm_rec_abort(NULL);
	assert_int_equal(count_in(spool, "tmp"), 0);
	assert_int_equal(count_in(spool, "1001"), 0);

	assert_int_equal(vm_rec_open(&r, spool, "10a1", 60000), EINVAL);
	assert_int_equal(vm_rec_open(&r, spool, "../1", 60000), EINVAL);
	assert_int_equal(vm_rec_open(&r, spool, "", 60000), EINVAL);
	assert_int_equal(vm_rec_open(&r, spool, "1234567890123456", 60000), EINVAL);
	assert_int_equal(vm_rec_open(&r, spool, "1001", VM_FILE_MIN_MS - 1), EINVAL);
	assert_int_equal(vm_rec_open(&r, spool, "1001", VM_FILE_MAX_MS + 1), EINVAL);
	assert_int_equal(vm_rec_open(&r, "", "1001", 60000), EINVAL);
	assert_null(r);
	snprintf(path, sizeof path, "%s/missing", spool);
	assert_int_equal(vm_rec_open(&r, path, "1001", 60000), ENOENT);
	/* The spool, or its tmp, is a file. */
	snprintf(path, sizeof path, "%s/afile", spool);
	write_file(path, "x", 1);
	assert_int_equal(vm_rec_open(&r, path, "1001", 60000), ENOTDIR);
	char spool2[128];
	new_spool(spool2, sizeof spool2);
	snprintf(path, sizeof path, "%s/tmp", spool2);
	write_file(path, "x", 1);
	assert_int_equal(vm_rec_open(&r, spool2, "1001", 60000), ENOTDIR);
	assert_null(r);

	/* The mailbox folder is a file: the commit fails, the file stays. */
	snprintf(path, sizeof path, "%s/1002", spool);
	write_file(path, "mine", 4);
	assert_int_equal(vm_rec_open(&r, spool, "1002", 60000), 0);
	assert_int_equal(feed(r, 1500, 440), 0);
	assert_int_equal(vm_rec_commit(r, NULL, rel, sizeof rel, NULL), ENOTDIR);
	assert_int_equal(count_in(spool, "tmp"), 0);
	char buf[8];
	assert_int_equal(read_all(path, buf, sizeof buf), 4);
}

/* ---- failures of the disk ---------------------------------------------------------- */

static void test_file_size_limit(void **state)
{
	(void)state;
	char spool[128], rel[VM_FILE_REL_MAX + 1], keep[VM_FILE_REL_MAX + 1], path[512];
	new_spool(spool, sizeof spool);
	record_message(spool, "1001", 1500, 440, keep, sizeof keep);
	char before[65536], after[65536];
	assert_int_equal(vm_file_path(path, sizeof path, spool, keep), 0);
	size_t nb = read_all(path, before, sizeof before);

	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	struct vm_rec *r = NULL;
	assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
	lim = old;
	lim.rlim_cur = 6000; /* bytes: a few seconds of Opus */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int wrc = feed(r, 10000, 0);
	int crc = vm_rec_commit(r, NULL, rel, sizeof rel, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(wrc, EFBIG);
	assert_int_equal(crc, EFBIG);
	assert_int_equal(count_in(spool, "tmp"), 0);
	assert_int_equal(count_in(spool, "1001"), 1);
	assert_int_equal(read_all(path, after, sizeof after), nb);
	assert_memory_equal(before, after, nb);
}

static void mount_tmpfs(const char *dir, const char *opts)
{
	assert_int_equal(mkdir(dir, 0700), 0);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
		fprintf(stderr, "mount tmpfs %s: %s\n", dir, strerror(errno));
		fail();
	}
}

static void test_full_file_system(void **state)
{
	(void)state;
	if (!have_mounts)
		skip();
	char fs[128], spool[160], rel[VM_FILE_REL_MAX + 1], keep[VM_FILE_REL_MAX + 1], path[512], filler[512];
	snprintf(fs, sizeof fs, "%s/full", tmpdir);
	mount_tmpfs(fs, "size=64k,mode=0700");
	snprintf(spool, sizeof spool, "%s/spool", fs);
	assert_int_equal(mkdir(spool, 0700), 0);

	/* Not even room for a long message: refused before anyone speaks. */
	struct vm_rec *r = NULL;
	assert_int_equal(vm_rec_open(&r, spool, "1001", 180000), ENOSPC);
	assert_null(r);
	assert_int_equal(count_in(spool, "tmp"), 0);

	record_message(spool, "1001", 2000, 440, keep, sizeof keep);
	char before[65536], after[65536];
	assert_int_equal(vm_file_path(path, sizeof path, spool, keep), 0);
	size_t nb = read_all(path, before, sizeof before);
	assert_true(nb > 1000);

	/* Room when it starts; then something else fills the disk. */
	assert_int_equal(vm_rec_open(&r, spool, "1001", 10000), 0);
	snprintf(filler, sizeof filler, "%s/filler", fs);
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	static const char block[1024];
	unsigned blocks = 0;
	while (write(fd, block, sizeof block) == (ssize_t)sizeof block)
		assert_true(++blocks < 1000);
	close(fd);
	int wrc = feed(r, 5000, 0);
	int crc = vm_rec_commit(r, NULL, rel, sizeof rel, NULL);
	assert_true(wrc == 0 || wrc == ENOSPC);
	assert_int_equal(crc, ENOSPC);
	assert_int_equal(count_in(spool, "tmp"), 0);
	assert_int_equal(count_in(spool, "1001"), 1);
	assert_int_equal(read_all(path, after, sizeof after), nb);
	assert_memory_equal(before, after, nb);
	int16_t *pcm = NULL;
	size_t n = 0;
	assert_int_equal(vm_file_decode(spool, keep, 60000, &pcm, &n), 0);
	assert_true(level(pcm + 4000, 8000, 440) > 6000);
	free(pcm);

	/* Room again: recording works again. */
	assert_int_equal(unlink(filler), 0);
	record_message(spool, "1001", 1500, 440, rel, sizeof rel);
	assert_int_equal(count_in(spool, "1001"), 2);
	assert_int_equal(umount(fs), 0);
}

static void test_read_only_folders(void **state)
{
	(void)state;
	if (!have_mounts)
		skip();
	char fs[128], spool[160], box[192], rel[VM_FILE_REL_MAX + 1], keep[VM_FILE_REL_MAX + 1];
	snprintf(fs, sizeof fs, "%s/ro", tmpdir);
	mount_tmpfs(fs, "size=1m,mode=0700");
	snprintf(spool, sizeof spool, "%s/spool", fs);
	assert_int_equal(mkdir(spool, 0700), 0);
	record_message(spool, "1001", 1500, 440, keep, sizeof keep);

	/* The mailbox folder read-only (a read-only bind mount of itself). */
	snprintf(box, sizeof box, "%s/1001", spool);
	assert_int_equal(mount(box, box, NULL, MS_BIND, NULL), 0);
	assert_int_equal(mount(NULL, box, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
	struct vm_rec *r = NULL;
	assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
	assert_int_equal(feed(r, 1500, 440), 0);
	int rc = vm_rec_commit(r, NULL, rel, sizeof rel, NULL);
	assert_true(rc == EROFS || rc == EXDEV);
	assert_int_equal(count_in(spool, "tmp"), 0);
	assert_int_equal(count_in(spool, "1001"), 1);
	assert_int_equal(umount(box), 0);

	/* The whole spool read-only: refused at once. */
	assert_int_equal(mount(NULL, fs, NULL, MS_REMOUNT | MS_RDONLY, "size=1m,mode=0700"), 0);
	char spool2[192];
	snprintf(spool2, sizeof spool2, "%s/spool", fs);
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%s/tmp", spool2);
	/* tmp exists from before: opening the .part file is what fails. */
	assert_int_equal(vm_rec_open(&r, spool2, "1001", 60000), EROFS);
	assert_null(r);
	assert_int_equal(count_files(tmp), 0);
	uint32_t ms = 0;
	assert_int_equal(vm_file_duration(spool, keep, &ms), 0);
	assert_true(ms >= 1490 && ms <= 1510);
	assert_int_equal(umount(fs), 0);
}

/* ---- reading ------------------------------------------------------------------------- */

static void test_decode_errors(void **state)
{
	(void)state;
	char spool[128], path[512];
	new_spool(spool, sizeof spool);
	int16_t *pcm = (int16_t *)1;
	size_t n = 5;
	uint32_t ms;
	assert_int_equal(vm_file_decode(spool, "1001/none.opus", 60000, &pcm, &n), ENOENT);
	assert_null(pcm);
	assert_int_equal(n, 0);
	assert_int_equal(vm_file_duration(spool, "1001/none.opus", &ms), ENOENT);
	assert_int_equal(vm_file_decode(spool, "../etc/passwd", 60000, &pcm, &n), EINVAL);
	assert_int_equal(vm_file_decode(spool, "/etc/passwd", 60000, &pcm, &n), EINVAL);
	assert_int_equal(vm_file_decode(spool, "x.opus", 0, &pcm, &n), EINVAL);
	assert_int_equal(vm_file_decode(spool, "x.opus", VM_FILE_MAX_MS + 1, &pcm, &n), EINVAL);

	snprintf(path, sizeof path, "%s/garbage.opus", spool);
	char junk[4096];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(path, junk, sizeof junk);
	assert_int_equal(vm_file_decode(spool, "garbage.opus", 60000, &pcm, &n), EBADMSG);
	assert_int_equal(vm_file_duration(spool, "garbage.opus", &ms), EBADMSG);
	snprintf(path, sizeof path, "%s/empty.opus", spool);
	write_file(path, "", 0);
	assert_int_equal(vm_file_decode(spool, "empty.opus", 60000, &pcm, &n), EBADMSG);

	/* A real file cut in half still decodes as far as it goes. */
	char rel[VM_FILE_REL_MAX + 1];
	record_message(spool, "1001", 4000, 440, rel, sizeof rel);
	char whole[65536];
	assert_int_equal(vm_file_path(path, sizeof path, spool, rel), 0);
	size_t nb = read_all(path, whole, sizeof whole);
	snprintf(path, sizeof path, "%s/half.opus", spool);
	write_file(path, whole, nb / 2);
	int rc = vm_file_decode(spool, "half.opus", 60000, &pcm, &n);
	if (rc == 0) {
		/* Ogg pages of up to a second each: what the cut page held is lost. */
		bool ok = n > 4000 && n < 32000;
		free(pcm);
		assert_true(ok);
	} else {
		assert_int_equal(rc, EBADMSG);
	}
}

/* A stereo file (not one we write, but one could be uploaded): mixed to mono. */
static void test_decode_stereo(void **state)
{
	(void)state;
	char spool[128], path[512];
	new_spool(spool, sizeof spool);
	snprintf(path, sizeof path, "%s/stereo.opus", spool);
	OggOpusComments *c = ope_comments_create();
	assert_non_null(c);
	int err = 0;
	OggOpusEnc *enc = ope_encoder_create_file(path, c, 48000, 2, 0, &err);
	ope_comments_destroy(c);
	assert_non_null(enc);
	static int16_t st[48000 * 2];
	for (size_t i = 0; i < 48000; i++) {
		int16_t v = (int16_t)lrint(8000 * sin(2.0 * M_PI * 440 * (double)i / 48000));
		st[2 * i] = v;
		st[2 * i + 1] = v;
	}
	assert_int_equal(ope_encoder_write(enc, st, 48000), OPE_OK);
	assert_int_equal(ope_encoder_drain(enc), OPE_OK);
	ope_encoder_destroy(enc);
	int16_t *pcm = NULL;
	size_t n = 0;
	assert_int_equal(vm_file_decode(spool, "stereo.opus", 60000, &pcm, &n), 0);
	assert_true(n >= 7950 && n <= 8050);
	assert_true(level(pcm + 2000, 4000, 440) > 6000);
	free(pcm);
}

static void test_unlink_and_clean(void **state)
{
	(void)state;
	char spool[128], rel[VM_FILE_REL_MAX + 1], path[512];
	new_spool(spool, sizeof spool);
	record_message(spool, "1001", 1200, 440, rel, sizeof rel);
	assert_int_equal(vm_file_unlink(spool, rel), 0);
	assert_int_equal(vm_file_unlink(spool, rel), ENOENT);
	assert_int_equal(vm_file_unlink(spool, "1001/../../x"), EINVAL);
	assert_int_equal(count_in(spool, "1001"), 0);

	/* What a crash leaves in tmp goes; anything else stays. */
	struct vm_rec *r = NULL;
	assert_int_equal(vm_rec_open(&r, spool, "1001", 60000), 0);
	assert_int_equal(feed(r, 500, 440), 0);
	snprintf(path, sizeof path, "%s/tmp/old.opus.part", spool);
	write_file(path, "x", 1);
	snprintf(path, sizeof path, "%s/tmp/notes.txt", spool);
	write_file(path, "x", 1);
	unsigned removed = 0;
	assert_int_equal(vm_spool_clean_tmp(spool, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(count_in(spool, "tmp"), 1);
	vm_rec_abort(r); /* its file is gone already: fine */
	char spool2[128];
	new_spool(spool2, sizeof spool2);
	assert_int_equal(vm_spool_clean_tmp(spool2, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(vm_spool_clean_tmp("", NULL), EINVAL);

	char out[16];
	assert_int_equal(vm_file_path(out, sizeof out, "/var/spool/pbx", "1001/x.opus"), ENAMETOOLONG);
	assert_int_equal(vm_file_path(out, sizeof out, "s", "1001//x"), EINVAL);
	assert_int_equal(vm_file_path(out, sizeof out, "s", "1001/x"), 0);
	assert_string_equal(out, "s/1001/x");
}

static int group_setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERR);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_vm_file.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
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
	/* A mount namespace of our own, with nothing shared back, for the
	 * tmpfs tests (root only; skipped otherwise). */
	have_mounts = unshare(CLONE_NEWNS) == 0 && mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0;
	if (!have_mounts)
		fprintf(stderr, "# no mount namespace (%s): the tmpfs tests are skipped\n", strerror(errno));
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_record_and_decode),
		UNIT_TEST(test_short_message_discarded),
		UNIT_TEST(test_length_limit),
		UNIT_TEST(test_unique_names_keep_existing),
		UNIT_TEST(test_greeting_replaces),
		UNIT_TEST(test_abort_and_arguments),
		UNIT_TEST(test_file_size_limit),
		UNIT_TEST(test_full_file_system),
		UNIT_TEST(test_read_only_folders),
		UNIT_TEST(test_decode_errors),
		UNIT_TEST(test_decode_stereo),
		UNIT_TEST(test_unlink_and_clean),
	};
	return cmocka_run_group_tests_name("vm_file", tests, group_setup, group_teardown);
}
