/*
 * vm_file.c: voicemail recordings written to the spool through a temporary
 * file and a rename, and read back for playback (see vm_file.h).
 *
 * libopusenc ignores what its write callback returns, so the callback keeps
 * the first errno in the recorder and every entry point checks it: once the
 * disk has failed, nothing more is written and the commit fails with that
 * errno. Directory descriptors (spool, spool/tmp, the mailbox folder) are
 * used with the *at() calls so a path is resolved once.
 *
 * A process that writes recordings should ignore SIGXFSZ: with a file size
 * limit (RLIMIT_FSIZE) the kernel otherwise kills it instead of letting
 * write() fail with EFBIG.
 */
#include "vm_file.h"
#include "log.h"
#include "resample.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <opusenc.h>
#include <opusfile.h>

#define PART_SUFFIX ".opus.part"
#define NAME_TRIES 8           /* fresh random names tried when one is taken */
#define NAME_MAX_GIVEN 32      /* bytes of a caller's file name (greetings) */
#define DECODE_RATE 48000      /* what opusfile hands out */
#define DECODE_CHANNELS_MAX 8
#define DECODE_HOLES_MAX 1000  /* gaps tolerated in a damaged file */

struct vm_rec {
	OggOpusEnc *enc;
	int spool_fd;                 /* SPOOL */
	int tmp_fd;                   /* SPOOL/tmp */
	int fd;                       /* the .part file, -1 once closed */
	char mailbox[16];             /* digits */
	char part[64];                /* the .part file's name inside tmp */
	uint64_t samples;             /* encoded so far */
	uint64_t max_samples;
	int err;                      /* first error, sticky */
};

static bool mailbox_valid(const char *s)
{
	size_t n = s ? strnlen(s, 16) : 0;
	return n >= 1 && n <= 15 && strspn(s, "0123456789") == n;
}

static bool given_name_valid(const char *s)
{
	size_t n = strnlen(s, NAME_MAX_GIVEN + 1);
	return n >= 1 && n <= NAME_MAX_GIVEN && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Same rule as db_vm_file_valid: relative, [A-Za-z0-9._-] components, no
 * empty, "." or ".." one. */
static bool rel_valid(const char *s)
{
	size_t n = s ? strnlen(s, VM_FILE_REL_MAX + 1) : 0;
	if (n == 0 || n > VM_FILE_REL_MAX)
		return false;
	size_t i = 0;
	while (i <= n) {
		size_t start = i;
		while (i < n && s[i] != '/') {
			unsigned char c = (unsigned char)s[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '.' || c == '_' || c == '-'))
				return false;
			i++;
		}
		size_t len = i - start;
		if (len == 0 || (len == 1 && s[start] == '.') ||
		    (len == 2 && s[start] == '.' && s[start + 1] == '.'))
			return false;
		i++; /* past the slash, or past the end */
	}
	return true;
}

int vm_file_path(char *out, size_t cap, const char *spool, const char *rel)
{
	if (!out || !spool || !*spool || !rel_valid(rel))
		return EINVAL;
	int n = snprintf(out, cap, "%s/%s", spool, rel);
	if (n < 0 || (size_t)n >= cap)
		return ENAMETOOLONG;
	return 0;
}

/* "<unix ms>-<8 hex digits><suffix>": unique enough that a collision only
 * costs a retry (the callers create with O_EXCL or RENAME_NOREPLACE). */
static void unique_name(char *out, size_t cap, const char *suffix)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid();
	snprintf(out, cap, "%lld-%08x%s", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, rnd, suffix);
}

static int rec_write_cb(void *user, const unsigned char *p, opus_int32 len)
{
	struct vm_rec *r = user;
	if (r->err)
		return 1;
	size_t left = len > 0 ? (size_t)len : 0;
	while (left > 0) {
		ssize_t w = write(r->fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r->err = w < 0 ? errno : EIO;
			return 1;
		}
		p += w;
		left -= (size_t)w;
	}
	return 0;
}

/* The .part descriptor is ours to close (and check). */
static int rec_close_cb(void *user)
{
	(void)user;
	return 0;
}

static void rec_free(struct vm_rec *r, bool remove_part)
{
	if (r->enc)
		ope_encoder_destroy(r->enc);
	if (r->fd >= 0)
		close(r->fd);
	if (remove_part && r->part[0] && unlinkat(r->tmp_fd, r->part, 0) != 0 && errno != ENOENT)
		log_warn("vm_file: cannot remove %s/%s: %s", VM_FILE_TMP, r->part, strerror(errno));
	if (r->tmp_fd >= 0)
		close(r->tmp_fd);
	if (r->spool_fd >= 0)
		close(r->spool_fd);
	free(r);
}

/* Room a recording of ms may take: the bit rate with room for VBR peaks,
 * Ogg pages and the headers. */
static uint64_t bytes_needed(uint32_t ms)
{
	return (uint64_t)ms * (VM_FILE_BITRATE / 8) * 3 / 2 / 1000 + 16384;
}

int vm_spool_room(const char *spool, uint32_t max_ms)
{
	if (!spool || !*spool)
		return EINVAL;
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s/%s", spool, VM_FILE_TMP) >= (int)sizeof tmp)
		return ENAMETOOLONG;
	struct stat st;
	if (stat(tmp, &st) != 0)
		return errno;
	if (!S_ISDIR(st.st_mode))
		return ENOTDIR;
	if (access(tmp, W_OK | X_OK) != 0)
		return errno;
	struct statvfs vfs;
	if (statvfs(tmp, &vfs) != 0)
		return errno;
	if (vfs.f_flag & ST_RDONLY)
		return EROFS;
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < bytes_needed(max_ms))
		return ENOSPC;
	return 0;
}

int vm_rec_open(struct vm_rec **out, const char *spool, const char *mailbox, uint32_t max_ms)
{
	*out = NULL;
	if (!spool || !*spool || !mailbox_valid(mailbox) || max_ms < VM_FILE_MIN_MS || max_ms > VM_FILE_MAX_MS)
		return EINVAL;
	struct vm_rec *r = calloc(1, sizeof *r);
	if (!r)
		return ENOMEM;
	r->spool_fd = r->tmp_fd = r->fd = -1;
	snprintf(r->mailbox, sizeof r->mailbox, "%s", mailbox);
	r->max_samples = (uint64_t)max_ms * VM_FILE_RATE / 1000;
	int ret = 0;

	r->spool_fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->spool_fd < 0) {
		ret = errno;
		goto fail;
	}
	if (mkdirat(r->spool_fd, VM_FILE_TMP, 0750) != 0 && errno != EEXIST) {
		ret = errno;
		goto fail;
	}
	r->tmp_fd = openat(r->spool_fd, VM_FILE_TMP, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->tmp_fd < 0) {
		ret = errno;
		goto fail;
	}
	struct statvfs vfs;
	if (fstatvfs(r->tmp_fd, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < bytes_needed(max_ms)) {
		ret = ENOSPC;
		goto fail;
	}
	for (int i = 0; i < NAME_TRIES; i++) {
		unique_name(r->part, sizeof r->part, PART_SUFFIX);
		r->fd = openat(r->tmp_fd, r->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (r->fd >= 0 || errno != EEXIST)
			break;
	}
	if (r->fd < 0) {
		ret = errno;
		r->part[0] = '\0'; /* nothing of ours to remove */
		goto fail;
	}

	OggOpusComments *comments = ope_comments_create();
	if (!comments) {
		ret = ENOMEM;
		goto fail;
	}
	static const OpusEncCallbacks cbs = { rec_write_cb, rec_close_cb };
	int oe = 0;
	r->enc = ope_encoder_create_callbacks(&cbs, r, comments, VM_FILE_RATE, 1, 0, &oe);
	ope_comments_destroy(comments);
	if (!r->enc) {
		ret = oe == OPE_ALLOC_FAIL ? ENOMEM : EIO;
		goto fail;
	}
	if (ope_encoder_ctl(r->enc, OPUS_SET_BITRATE(VM_FILE_BITRATE)) != OPE_OK ||
	    ope_encoder_ctl(r->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPE_OK) {
		ret = EIO;
		goto fail;
	}
	*out = r;
	return 0;
fail:
	rec_free(r, true);
	return ret;
}

int vm_rec_write(struct vm_rec *r, const int16_t *pcm, size_t n)
{
	if (r->err)
		return r->err;
	if (!pcm && n)
		return EINVAL;
	uint64_t room = r->max_samples - r->samples;
	if (n > room)
		n = (size_t)room;
	while (n > 0 && !r->err) {
		int chunk = n > 48000 ? 48000 : (int)n;
		if (ope_encoder_write(r->enc, pcm, chunk) != OPE_OK && !r->err)
			r->err = EIO;
		r->samples += (uint64_t)chunk;
		pcm += chunk;
		n -= (size_t)chunk;
	}
	return r->err;
}

uint32_t vm_rec_ms(const struct vm_rec *r)
{
	return (uint32_t)(r->samples * 1000 / VM_FILE_RATE);
}

/* Move the finished .part file to its place in box_fd. */
static int place(struct vm_rec *r, int box_fd, const char *name, char *final, size_t cap)
{
	if (name) {
		snprintf(final, cap, "%s.opus", name);
		return renameat(r->tmp_fd, r->part, box_fd, final) == 0 ? 0 : errno;
	}
	for (int i = 0; i < NAME_TRIES; i++) {
		unique_name(final, cap, ".opus");
		if (renameat2(r->tmp_fd, r->part, box_fd, final, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno != EINVAL && errno != ENOSYS)
			return errno;
		/* A file system without RENAME_NOREPLACE: a hard link refuses an
		 * existing name just the same. */
		if (linkat(r->tmp_fd, r->part, box_fd, final, 0) == 0) {
			unlinkat(r->tmp_fd, r->part, 0);
			return 0;
		}
		if (errno != EEXIST)
			return errno;
	}
	return EEXIST;
}

int vm_rec_commit(struct vm_rec *r, const char *name, char *rel, size_t relcap, uint32_t *duration_ms)
{
	int ret = r->err;
	if (ret == 0 && ((name && !given_name_valid(name)) || !rel || relcap == 0))
		ret = EINVAL;
	if (ret == 0 && r->samples < (uint64_t)VM_FILE_MIN_MS * VM_FILE_RATE / 1000)
		ret = ENODATA;
	if (ret == 0) {
		int oe = ope_encoder_drain(r->enc);
		ret = r->err ? r->err : oe != OPE_OK ? EIO : 0;
	}
	if (ret == 0 && fsync(r->fd) != 0)
		ret = errno;
	if (r->fd >= 0) {
		int c = close(r->fd);
		r->fd = -1;
		if (ret == 0 && c != 0)
			ret = errno;
	}
	int box_fd = -1;
	if (ret == 0 && mkdirat(r->spool_fd, r->mailbox, 0750) != 0 && errno != EEXIST)
		ret = errno;
	if (ret == 0 && (box_fd = openat(r->spool_fd, r->mailbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		ret = errno;
	char final[64];
	if (ret == 0)
		ret = place(r, box_fd, name, final, sizeof final);
	if (ret == 0) {
		/* The file itself is on disk already; an fsync failure here
		 * only risks the rename, so it is reported but not undone. */
		if (fsync(box_fd) != 0)
			log_warn("vm_file: fsync of %s/: %s", r->mailbox, strerror(errno));
		r->part[0] = '\0';
		int n = snprintf(rel, relcap, "%s/%s", r->mailbox, final);
		if (n < 0 || (size_t)n >= relcap) {
			/* Stored but unnamed for the caller: take it back. */
			unlinkat(box_fd, final, 0);
			ret = ENAMETOOLONG;
		}
		if (duration_ms)
			*duration_ms = vm_rec_ms(r);
	}
	if (box_fd >= 0)
		close(box_fd);
	rec_free(r, ret != 0);
	return ret;
}

void vm_rec_abort(struct vm_rec *r)
{
	if (r)
		rec_free(r, true);
}

/* ---- reading ------------------------------------------------------------------------ */

static int opus_err(int oe)
{
	switch (oe) {
	case OP_EREAD:
		return EIO;
	case OP_EFAULT:
		return ENOMEM;
	default:
		return EBADMSG;
	}
}

static int open_opus(const char *spool, const char *rel, OggOpusFile **of)
{
	char path[PATH_MAX];
	int ret = vm_file_path(path, sizeof path, spool, rel);
	if (ret != 0)
		return ret;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	OpusFileCallbacks cb;
	void *stream = op_fdopen(&cb, fd, "rb");
	if (!stream) {
		ret = errno ? errno : ENOMEM;
		close(fd);
		return ret;
	}
	int oe = 0;
	*of = op_open_callbacks(stream, &cb, NULL, 0, &oe);
	if (!*of) {
		cb.close(stream);
		return opus_err(oe);
	}
	return 0;
}

int vm_file_duration(const char *spool, const char *rel, uint32_t *ms)
{
	OggOpusFile *of = NULL;
	int ret = open_opus(spool, rel, &of);
	if (ret != 0)
		return ret;
	ogg_int64_t total = op_pcm_total(of, -1);
	if (total < 0 || total / (DECODE_RATE / 1000) > UINT32_MAX)
		ret = EBADMSG;
	else
		*ms = (uint32_t)(total / (DECODE_RATE / 1000));
	op_free(of);
	return ret;
}

/* Growable output of the decoder, never past max samples. */
struct pcm_out {
	int16_t *s;
	size_t n, cap, max;
};

static int pcm_reserve(struct pcm_out *o, size_t more)
{
	if (more > o->max - o->n)
		return EFBIG;
	if (o->n + more <= o->cap)
		return 0;
	size_t cap = o->cap ? o->cap : 8000;
	while (cap < o->n + more)
		cap *= 2;
	if (cap > o->max)
		cap = o->max;
	int16_t *s = realloc(o->s, cap * sizeof *s);
	if (!s)
		return ENOMEM;
	o->s = s;
	o->cap = cap;
	return 0;
}

int vm_file_decode(const char *spool, const char *rel, uint32_t max_ms, int16_t **pcm, size_t *n)
{
	*pcm = NULL;
	*n = 0;
	if (max_ms == 0 || max_ms > VM_FILE_MAX_MS)
		return EINVAL;
	OggOpusFile *of = NULL;
	int ret = open_opus(spool, rel, &of);
	if (ret != 0)
		return ret;
	struct resample *rs = NULL;
	/* One packet of up to 120 ms at 48 kHz per read, every channel. */
	enum { READ_MAX = 5760 };
	int16_t *buf = malloc(sizeof(int16_t) * READ_MAX * DECODE_CHANNELS_MAX);
	int16_t *mono = malloc(sizeof(int16_t) * (READ_MAX + 6));
	struct pcm_out o = { .max = (size_t)max_ms * VM_FILE_RATE / 1000 };
	size_t held = 0; /* 48 kHz samples in mono not yet resampled (< 6) */
	unsigned holes = 0;
	if (!buf || !mono) {
		ret = ENOMEM;
		goto out;
	}
	if ((ret = resample_new(&rs, DECODE_RATE, VM_FILE_RATE, RESAMPLE_QUALITY)) != 0)
		goto out;
	/* A seekable file says how long it is: refuse a long one before
	 * decoding it, and allocate once. */
	ogg_int64_t total = op_pcm_total(of, -1);
	if (total > 0) {
		if ((uint64_t)total / 6 > o.max) {
			ret = EFBIG;
			goto out;
		}
		if ((ret = pcm_reserve(&o, (size_t)total / 6)) != 0)
			goto out;
	}
	for (;;) {
		int li = -1;
		int got = op_read(of, buf, READ_MAX * DECODE_CHANNELS_MAX, &li);
		if (got == 0)
			break;
		if (got == OP_HOLE) {
			if (++holes > DECODE_HOLES_MAX) {
				ret = EBADMSG;
				goto out;
			}
			continue;
		}
		if (got < 0) {
			ret = opus_err(got);
			goto out;
		}
		int ch = op_channel_count(of, li);
		if (ch < 1 || ch > DECODE_CHANNELS_MAX || got > READ_MAX) {
			ret = EBADMSG;
			goto out;
		}
		/* Down to mono, after what is held from the last read. */
		for (int i = 0; i < got; i++) {
			int32_t acc = 0;
			for (int c = 0; c < ch; c++)
				acc += buf[i * ch + c];
			mono[held + (size_t)i] = (int16_t)(acc / ch);
		}
		size_t have = held + (size_t)got, whole = have - have % 6;
		if ((ret = pcm_reserve(&o, whole / 6)) != 0)
			goto out;
		int w = resample_run(rs, mono, whole, o.s + o.n, o.cap - o.n);
		if (w < 0) {
			ret = EIO;
			goto out;
		}
		o.n += (size_t)w;
		held = have - whole;
		memmove(mono, mono + whole, held * sizeof *mono);
	}
	*pcm = o.s;
	*n = o.n;
	o.s = NULL;
out:
	free(o.s);
	free(buf);
	free(mono);
	resample_free(rs);
	op_free(of);
	return ret;
}

int vm_file_unlink(const char *spool, const char *rel)
{
	char path[PATH_MAX];
	int ret = vm_file_path(path, sizeof path, spool, rel);
	if (ret != 0)
		return ret;
	return unlink(path) == 0 ? 0 : errno;
}

int vm_spool_clean_tmp(const char *spool, unsigned *removed)
{
	if (removed)
		*removed = 0;
	if (!spool || !*spool)
		return EINVAL;
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/%s", spool, VM_FILE_TMP);
	if (n < 0 || (size_t)n >= sizeof path)
		return ENAMETOOLONG;
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : errno;
	int ret = 0;
	unsigned count = 0;
	struct dirent *e;
	size_t suffix = strlen(PART_SUFFIX);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len <= suffix || strcmp(e->d_name + len - suffix, PART_SUFFIX) != 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			count++;
		else if (errno != ENOENT && ret == 0)
			ret = errno;
	}
	closedir(d);
	if (count)
		log_notice("vm_file: removed %u unfinished recordings from %s", count, path);
	if (removed)
		*removed = count;
	return ret;
}
