/*
 * vm_file.h: voicemail recordings on disk, as Ogg/Opus files in the spool
 * folder.
 *
 * Writing (struct vm_rec): 8 kHz S16 mono PCM comes in chunks, is encoded
 * with libopusenc into SPOOL/tmp/<unique>.opus.part and, only once the
 * recording is complete, fsynced and renamed into SPOOL/<mailbox>/ (then
 * that folder is fsynced too). A message gets a new unique name and never
 * replaces a file; a greeting replaces the previous greeting of its kind in
 * one rename. Whatever fails (a full disk, a read-only or missing folder, a
 * file size limit) comes back as an errno value and the temporary file is
 * removed: nothing half written ever appears under the final name and no
 * file already stored is touched. The row in SQLite is added after the
 * rename (db_vm_msg_add), so a row never points at a file in progress.
 *
 * Reading: decode a file (opusfile, which decodes at 48 kHz) and resample it
 * to 8 kHz, the rate of the prompt player (media/prompt.h): one PCM format
 * for everything the player plays, and nothing is lost since recordings are
 * made from 8 kHz audio.
 *
 * All of it blocks on the disk: it runs on the jobs thread, never on a media
 * thread. A struct vm_rec belongs to one thread at a time.
 */
#ifndef PBX_VM_FILE_H
#define PBX_VM_FILE_H

#include <stddef.h>
#include <stdint.h>

#define VM_FILE_RATE 8000          /* PCM in and out, mono S16 */
#define VM_FILE_MIN_MS 1000        /* shorter messages are discarded */
#define VM_FILE_MAX_MS 3600000     /* longest recording or decode asked for */
#define VM_FILE_BITRATE 16000      /* Opus bits per second: plenty for 8 kHz speech */
#define VM_FILE_REL_MAX 255        /* bytes of a name relative to the spool folder */
#define VM_FILE_TMP "tmp"          /* SPOOL/tmp: recordings in progress */

struct vm_rec;

/*
 * Start a recording for mailbox (its number: digits) of at most max_ms
 * (VM_FILE_MIN_MS..VM_FILE_MAX_MS) milliseconds. spool must exist; its tmp
 * folder is made when missing. Refuses with ENOSPC at once when the file
 * system has not the room a recording of max_ms may take, so the caller can
 * be told before speaking. 0, EINVAL, ENOMEM, or the errno of the disk.
 */
int vm_rec_open(struct vm_rec **out, const char *spool, const char *mailbox, uint32_t max_ms);
/*
 * Could vm_rec_open start a recording of max_ms now? SPOOL/tmp is a folder
 * we may write and its file system has the room vm_rec_open asks for
 * (stat and statvfs only: cheap enough to ask before a caller speaks).
 * 0, or the errno vm_rec_open would meet (ENOENT, ENOTDIR, EACCES, EROFS,
 * ENOSPC).
 */
int vm_spool_room(const char *spool, uint32_t max_ms);
/*
 * Encode n more samples. Samples past max_ms are dropped (not an error: the
 * caller stops at the limit; vm_rec_ms says where it is). The first error
 * (the disk's errno, or EIO from the encoder) is returned and sticks: later
 * calls and vm_rec_commit return it too.
 */
int vm_rec_write(struct vm_rec *r, const int16_t *pcm, size_t n);
/* Milliseconds recorded so far. */
uint32_t vm_rec_ms(const struct vm_rec *r);
/*
 * Finish and free r, whatever happens. name NULL: a message, stored as
 * SPOOL/<mailbox>/<unix ms>-<random>.opus under a name no file has; name
 * given ([a-z0-9-], at most 32 bytes, e.g. "greeting-busy"): stored as
 * SPOOL/<mailbox>/<name>.opus, replacing the file of that name. rel gets
 * "<mailbox>/<file>.opus" (for the database), duration_ms the length.
 * ENODATA when shorter than VM_FILE_MIN_MS (nothing is stored), else 0 or
 * the first error met (the temporary file is removed then).
 */
int vm_rec_commit(struct vm_rec *r, const char *name, char *rel, size_t relcap, uint32_t *duration_ms);
/* Drop the recording and free r (NULL is fine). */
void vm_rec_abort(struct vm_rec *r);

/* SPOOL/rel into out. EINVAL when rel is not a relative path of
 * [A-Za-z0-9._-] components (no "." or ".." ones), ENAMETOOLONG. */
int vm_file_path(char *out, size_t cap, const char *spool, const char *rel);
/* Length of a stored recording. ENOENT, EBADMSG (not Ogg/Opus), EIO. */
int vm_file_duration(const char *spool, const char *rel, uint32_t *ms);
/*
 * Decode a stored recording (any channel count: mixed to mono) into a new
 * buffer of 8 kHz samples; the caller frees *pcm. EFBIG when it is longer
 * than max_ms (at most VM_FILE_MAX_MS), ENOENT, EBADMSG, EIO, ENOMEM.
 */
int vm_file_decode(const char *spool, const char *rel, uint32_t max_ms, int16_t **pcm, size_t *n);
/* Remove a stored recording (after its row: see db_vm_msg_del). ENOENT. */
int vm_file_unlink(const char *spool, const char *rel);
/* At start-up: remove what crashed recordings left in SPOOL/tmp (files
 * ending ".opus.part"). *removed (may be NULL) counts them. */
int vm_spool_clean_tmp(const char *spool, unsigned *removed);

#endif
