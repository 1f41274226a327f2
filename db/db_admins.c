/*
 * db_admins.c: web admin accounts, passwords kept as yescrypt hashes
 * ("$y$", libxcrypt). Hashing takes tens of milliseconds on purpose; call
 * these from the http or jobs thread, never from the SIP core.
 */
#include "db.h"
#include "log.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/memops.h>

static bool admin_user_valid(const char *user)
{
	if (!user)
		return false;
	size_t n = strnlen(user, DB_ADMIN_USER_MAX + 1);
	return n >= 1 && n <= DB_ADMIN_USER_MAX &&
	       strspn(user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") == n;
}

/* Hash password with setting (a salt string, or a stored hash to check
 * against); the result goes into out. struct crypt_data is ~32 KB: heap. */
static int admin_crypt(const char *password, const char *setting, char *out, size_t cap)
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	if (!cd)
		return ENOMEM;
	int ret = 0;
	const char *h = crypt_rn(password, setting, cd, (int)sizeof *cd);
	if (!h || h[0] == '*' || strlen(h) >= cap)
		ret = EINVAL;
	else
		memcpy(out, h, strlen(h) + 1);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ret;
}

int db_admin_set_password(sqlite3 *db, const char *user, const char *password, char *err, size_t errcap)
{
	if (!admin_user_valid(user)) {
		snprintf(err, errcap, "user: 1 to %d of letters, digits and ._@-", DB_ADMIN_USER_MAX);
		return EINVAL;
	}
	size_t n = password ? strnlen(password, DB_ADMIN_PASSWORD_MAX + 1) : 0;
	if (n < DB_ADMIN_PASSWORD_MIN || n > DB_ADMIN_PASSWORD_MAX) {
		snprintf(err, errcap, "password: %d to %d characters", DB_ADMIN_PASSWORD_MIN,
			 DB_ADMIN_PASSWORD_MAX);
		return EINVAL;
	}
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	/* NULL random bytes: libxcrypt reads them from the kernel itself. */
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt)) {
		snprintf(err, errcap, "cannot make a salt: %s", strerror(errno));
		return EIO;
	}
	char hash[CRYPT_OUTPUT_SIZE];
	int ret = admin_crypt(password, salt, hash, sizeof hash);
	if (ret != 0) {
		snprintf(err, errcap, "cannot hash the password");
		return ret == ENOMEM ? ENOMEM : EIO;
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO admins(username, pw_hash, created_at) VALUES (?1, ?2, ?3)"
				    " ON CONFLICT(username) DO UPDATE SET pw_hash = excluded.pw_hash",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
		rc = db_step_write(db, st);
	}
	ret = rc == SQLITE_DONE ? 0 : db_errno(db, rc);
	if (ret != 0)
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ret;
}

/* Checked against when the user does not exist, so that the answer takes
 * as long as for a real user: a valid yescrypt hash of a random password. */
static const char admin_dummy_hash[] =
	"$y$j9T$w9elCCziIfm42UfV8Lqa7.$IVuS3z6m89ksaIbvlWMLeScxcXjO2hA/MB3SZPuV385";

int db_admin_check(sqlite3 *db, const char *user, const char *password, bool *ok)
{
	*ok = false;
	if (!user || !password)
		return EINVAL;
	char stored[CRYPT_OUTPUT_SIZE];
	bool found = false;
	if (admin_user_valid(user)) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(db, "SELECT pw_hash FROM admins WHERE username = ?1", -1, &st, NULL);
		if (rc != SQLITE_OK)
			return db_errno(db, rc);
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *h = (const char *)sqlite3_column_text(st, 0);
			size_t hn = (size_t)sqlite3_column_bytes(st, 0);
			if (h && hn > 0 && hn < sizeof stored) {
				memcpy(stored, h, hn + 1);
				found = true;
			} else {
				log_warn("db: admins row \"%.64s\" has an unusable pw_hash; skipped", user);
			}
		} else if (rc != SQLITE_DONE) {
			int e = db_errno(db, rc);
			sqlite3_finalize(st);
			return e;
		}
		sqlite3_finalize(st);
	}
	char hash[CRYPT_OUTPUT_SIZE];
	const char *setting = found ? stored : admin_dummy_hash;
	size_t n = strnlen(password, DB_ADMIN_PASSWORD_MAX + 1);
	if (n > DB_ADMIN_PASSWORD_MAX)
		password = ""; /* still hash something, and fail below */
	int ret = admin_crypt(password, setting, hash, sizeof hash);
	if (ret == ENOMEM)
		return ENOMEM;
	if (ret != 0) {
		if (found)
			log_warn("db: admins row \"%.64s\": pw_hash is not a hash libcrypt knows", user);
		return 0;
	}
	size_t hl = strlen(hash);
	*ok = found && n <= DB_ADMIN_PASSWORD_MAX && hl == strlen(setting) &&
	      memeql_sec(hash, setting, hl);
	explicit_bzero(hash, sizeof hash);
	return 0;
}

int db_admin_count(sqlite3 *db, int *n)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM admins", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int(st, 0);
	else
		ret = db_errno(db, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
	sqlite3_finalize(st);
	return ret;
}

int db_admin_del(sqlite3 *db, const char *user)
{
	if (!user)
		return EINVAL;
	return db_delete_one(db, "DELETE FROM admins WHERE username = ?1", user);
}

int db_admin_list(sqlite3 *db, int (*cb)(void *ctx, const char *user, int64_t created_at), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT username, created_at FROM admins ORDER BY username", -1, &st,
				    NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	int ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *u = (const char *)sqlite3_column_text(st, 0);
		if (!u)
			continue;
		ret = cb(ctx, u, sqlite3_column_int64(st, 1));
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}
