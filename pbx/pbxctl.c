/*
 * pbxctl.c: the command-line companion of pbxd, for scripts and first-run
 * setup. It writes the same SQLite file as the daemon (through db/, on its
 * own connection); the triggers behind db_config_serial let a running pbxd
 * notice the change without a restart.
 *
 * Exit codes: 0 done, 1 the operation failed (message on stderr), 2 usage
 * error (usage on stderr).
 */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_DB "./var/pbx.db"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
	"usage: pbxctl [--db FILE] COMMAND ...\n"
	"\n"
	"  ext add NUM [--password PW] [--name NAME] [--vm-pin PIN]\n"
	"                        without --password it is read like 'ext passwd'\n"
	"  ext list              number, name, voicemail PIN set (yes/no), flags; tab separated\n"
	"  ext del NUM\n"
	"  ext passwd NUM        new password from stdin, or prompted twice on a terminal\n"
	"  ext import FILE.csv   header extension,name,password,vm_pin; all or nothing ('-' = stdin)\n"
	"  room add NUM [--name NAME] [--pin PIN] [--moderator-pin PIN] [--max N]\n"
	"  room list             number, name, PIN set, moderator PIN set, max participants\n"
	"  room del NUM\n"
	"  admin passwd USER     new password (at least 8 characters) from stdin or prompted\n"
	"  admin list\n"
	"  admin del USER\n"
	"  reg list              registered contacts: extension, contact, source, transport, seconds left\n"
	"  setting get KEY\n"
	"  setting set KEY VALUE\n"
	"  setting list\n"
	"\n"
	"  --db FILE   the database (default " DEFAULT_DB ", whose folder is created if missing)\n"
	"  --help      this text\n";

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "pbxctl: %s\n", why);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pbxctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return EXIT_FAIL;
}

/* ---- options after the command words ------------------------------------------ */

struct opt {
	const char *name;  /* "--name" */
	const char *value; /* NULL when not given */
};

/* Parse "--key VALUE" and "--key=VALUE" among argv[i..argc); every known
 * option takes a value; positionals are collected in order. false (usage
 * message printed) on an unknown option, a missing value or too many
 * positionals. */
static bool parse_opts(int argc, char **argv, struct opt *opts, size_t nopts, const char **pos, size_t npos,
		       size_t *got)
{
	*got = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (*got >= npos) {
				fprintf(stderr, "pbxctl: unexpected argument \"%s\"\n", a);
				return false;
			}
			pos[(*got)++] = a;
			continue;
		}
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		struct opt *o = NULL;
		for (size_t k = 0; k < nopts; k++)
			if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, a, nlen) == 0)
				o = &opts[k];
		if (!o) {
			fprintf(stderr, "pbxctl: unknown option %.*s\n", (int)nlen, a);
			return false;
		}
		if (eq) {
			o->value = eq + 1;
		} else if (i + 1 < argc) {
			o->value = argv[++i];
		} else {
			fprintf(stderr, "pbxctl: %s needs a value\n", o->name);
			return false;
		}
	}
	return true;
}

/* ---- reading a new password ------------------------------------------------------ */

/* The terminal state to restore if the user interrupts a prompt; owned by
 * the main thread (pbxctl has no other). */
static struct termios saved_tty;
static volatile sig_atomic_t tty_altered;

static void on_interrupt(int sig)
{
	if (tty_altered)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line from f without its line end; false at EOF, on error or when the
 * line does not fit. */
static bool read_line(FILE *f, char *buf, size_t cap)
{
	if (!fgets(buf, (int)cap, f))
		return false;
	size_t n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(f))
		return false; /* longer than the buffer */
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return true;
}

static bool prompt_hidden(const char *prompt, char *buf, size_t cap)
{
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &saved_tty) != 0)
		return false;
	t = saved_tty;
	t.c_lflag &= ~(tcflag_t)ECHO;
	t.c_lflag |= ECHONL;
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	fputs(prompt, stderr);
	fflush(stderr);
	tty_altered = 1;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	bool ok = read_line(stdin, buf, cap);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_altered = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	return ok;
}

/* From stdin: prompted twice without echo on a terminal, else one line. */
static int read_new_password(char *buf, size_t cap)
{
	if (isatty(STDIN_FILENO)) {
		char again[DB_ADMIN_PASSWORD_MAX + 2];
		if (!prompt_hidden("New password: ", buf, cap))
			return fail("no password read");
		if (!prompt_hidden("Again: ", again, sizeof again)) {
			explicit_bzero(buf, cap);
			return fail("no password read");
		}
		bool same = strcmp(buf, again) == 0;
		explicit_bzero(again, sizeof again);
		if (!same) {
			explicit_bzero(buf, cap);
			return fail("the passwords differ");
		}
		return EXIT_OK;
	}
	if (!read_line(stdin, buf, cap)) {
		explicit_bzero(buf, cap);
		return fail("no password on stdin (one line, at most %zu bytes)", cap - 2);
	}
	return EXIT_OK;
}

/* ---- ext ------------------------------------------------------------------------- */

static int ext_list_cb(void *ctx, const struct db_ext *e)
{
	(void)ctx;
	printf("%s\t%s\t%s\t%u\n", e->number, e->name, e->vm_pin[0] ? "yes" : "no", e->flags);
	return 0;
}

struct import_ctx {
	const char *file;
	unsigned reported;
};

static void import_report(void *ctx, unsigned line, const char *msg)
{
	struct import_ctx *ic = ctx;
	fprintf(stderr, "%s:%u: %s\n", ic->file, line, msg);
	ic->reported++;
}

static int cmd_ext(sqlite3 *db, int argc, char **argv)
{
	if (argc < 1)
		return usage("ext needs a subcommand");
	const char *sub = argv[0];
	char err[256];
	int rc;
	if (strcmp(sub, "add") == 0) {
		struct opt opts[] = { { "--password", NULL }, { "--name", NULL }, { "--vm-pin", NULL } };
		const char *pos[1];
		size_t npos;
		if (!parse_opts(argc - 1, argv + 1, opts, 3, pos, 1, &npos))
			return usage(NULL);
		if (npos != 1)
			return usage("ext add needs NUM");
		char pw[DB_PASSWORD_MAX + 2];
		const char *password = opts[0].value;
		if (!password) {
			if (read_new_password(pw, sizeof pw) != EXIT_OK)
				return EXIT_FAIL;
			password = pw;
		}
		rc = db_ext_add(db, pos[0], opts[1].value, password, opts[2].value, err, sizeof err);
		explicit_bzero(pw, sizeof pw);
		if (rc != 0)
			return fail("ext add: %s", err);
		printf("extension %s added\n", pos[0]);
		return EXIT_OK;
	}
	if (strcmp(sub, "list") == 0) {
		if (argc != 1)
			return usage("ext list takes no arguments");
		rc = db_ext_list(db, ext_list_cb, NULL);
		return rc == 0 ? EXIT_OK : fail("ext list: %s", strerror(rc));
	}
	if (strcmp(sub, "del") == 0) {
		if (argc != 2)
			return usage("ext del needs NUM");
		rc = db_ext_del(db, argv[1]);
		if (rc == ENOENT)
			return fail("ext del: no extension %s", argv[1]);
		if (rc != 0)
			return fail("ext del: %s", strerror(rc));
		printf("extension %s deleted\n", argv[1]);
		return EXIT_OK;
	}
	if (strcmp(sub, "passwd") == 0) {
		if (argc != 2)
			return usage("ext passwd needs NUM");
		if (db_ext_validate(argv[1], NULL, NULL, NULL, err, sizeof err) != 0)
			return fail("ext passwd: %s", err);
		char pw[DB_PASSWORD_MAX + 2];
		if (read_new_password(pw, sizeof pw) != EXIT_OK)
			return EXIT_FAIL;
		if (db_ext_validate(NULL, NULL, pw, NULL, err, sizeof err) != 0) {
			explicit_bzero(pw, sizeof pw);
			return fail("ext passwd: %s", err);
		}
		rc = db_ext_set_password(db, argv[1], pw);
		explicit_bzero(pw, sizeof pw);
		if (rc == ENOENT)
			return fail("ext passwd: no extension %s", argv[1]);
		if (rc != 0)
			return fail("ext passwd: %s", strerror(rc));
		printf("password of extension %s changed\n", argv[1]);
		return EXIT_OK;
	}
	if (strcmp(sub, "import") == 0) {
		if (argc != 2)
			return usage("ext import needs FILE.csv");
		const char *file = argv[1];
		FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
		if (!in)
			return fail("%s: %s", file, strerror(errno));
		struct import_ctx ic = { .file = strcmp(file, "-") == 0 ? "stdin" : file };
		unsigned imported = 0;
		rc = db_ext_import_csv(db, in, import_report, &ic, &imported);
		if (in != stdin)
			fclose(in);
		if (rc == EBADMSG) {
			fprintf(stderr, "nothing imported\n");
			return EXIT_FAIL;
		}
		if (rc != 0) {
			fprintf(stderr, "%s: %s\nnothing imported\n", ic.file, strerror(rc));
			return EXIT_FAIL;
		}
		printf("imported %u extensions\n", imported);
		return EXIT_OK;
	}
	return usage("unknown ext subcommand");
}

/* ---- room ---------------------------------------------------------------------- */

static int room_list_cb(void *ctx, const struct db_room *r)
{
	(void)ctx;
	printf("%s\t%s\t%s\t%s\t%u\n", r->number, r->name, r->pin[0] ? "yes" : "no",
	       r->moderator_pin[0] ? "yes" : "no", r->max_participants);
	return 0;
}

static int cmd_room(sqlite3 *db, int argc, char **argv)
{
	if (argc < 1)
		return usage("room needs a subcommand");
	const char *sub = argv[0];
	char err[256];
	int rc;
	if (strcmp(sub, "add") == 0) {
		struct opt opts[] = {
			{ "--pin", NULL }, { "--name", NULL }, { "--moderator-pin", NULL }, { "--max", NULL },
		};
		const char *pos[1];
		size_t npos;
		if (!parse_opts(argc - 1, argv + 1, opts, 4, pos, 1, &npos))
			return usage(NULL);
		if (npos != 1)
			return usage("room add needs NUM");
		unsigned max = 0;
		if (opts[3].value) {
			char *end = NULL;
			errno = 0;
			unsigned long v = strtoul(opts[3].value, &end, 10);
			if (errno || !end || *end || opts[3].value[0] < '0' || opts[3].value[0] > '9' || v < 1 ||
			    v > DB_ROOM_MAX_PARTICIPANTS)
				return fail("room add: --max: 1 to %d", DB_ROOM_MAX_PARTICIPANTS);
			max = (unsigned)v;
		}
		rc = db_room_add(db, pos[0], opts[1].value, opts[0].value, opts[2].value, max, err, sizeof err);
		if (rc != 0)
			return fail("room add: %s", err);
		printf("room %s added\n", pos[0]);
		return EXIT_OK;
	}
	if (strcmp(sub, "list") == 0) {
		if (argc != 1)
			return usage("room list takes no arguments");
		rc = db_room_list(db, room_list_cb, NULL);
		return rc == 0 ? EXIT_OK : fail("room list: %s", strerror(rc));
	}
	if (strcmp(sub, "del") == 0) {
		if (argc != 2)
			return usage("room del needs NUM");
		rc = db_room_del(db, argv[1]);
		if (rc == ENOENT)
			return fail("room del: no room %s", argv[1]);
		if (rc != 0)
			return fail("room del: %s", strerror(rc));
		printf("room %s deleted\n", argv[1]);
		return EXIT_OK;
	}
	return usage("unknown room subcommand");
}

/* ---- admin --------------------------------------------------------------------- */

static int admin_list_cb(void *ctx, const char *user, int64_t created_at)
{
	(void)ctx;
	printf("%s\t%lld\n", user, (long long)created_at);
	return 0;
}

static int cmd_admin(sqlite3 *db, int argc, char **argv)
{
	if (argc < 1)
		return usage("admin needs a subcommand");
	const char *sub = argv[0];
	char err[256];
	int rc;
	if (strcmp(sub, "passwd") == 0) {
		if (argc != 2)
			return usage("admin passwd needs USER");
		char pw[DB_ADMIN_PASSWORD_MAX + 2];
		if (read_new_password(pw, sizeof pw) != EXIT_OK)
			return EXIT_FAIL;
		rc = db_admin_set_password(db, argv[1], pw, err, sizeof err);
		explicit_bzero(pw, sizeof pw);
		if (rc != 0)
			return fail("admin passwd: %s", err);
		printf("password of admin %s set\n", argv[1]);
		return EXIT_OK;
	}
	if (strcmp(sub, "list") == 0) {
		if (argc != 1)
			return usage("admin list takes no arguments");
		rc = db_admin_list(db, admin_list_cb, NULL);
		return rc == 0 ? EXIT_OK : fail("admin list: %s", strerror(rc));
	}
	if (strcmp(sub, "del") == 0) {
		if (argc != 2)
			return usage("admin del needs USER");
		rc = db_admin_del(db, argv[1]);
		if (rc == ENOENT)
			return fail("admin del: no admin %s", argv[1]);
		if (rc != 0)
			return fail("admin del: %s", strerror(rc));
		printf("admin %s deleted\n", argv[1]);
		return EXIT_OK;
	}
	return usage("unknown admin subcommand");
}

/* ---- setting ------------------------------------------------------------------- */

static int setting_list_cb(void *ctx, const char *key, const char *value)
{
	(void)ctx;
	/* The nonce secret is no business of a terminal's scrollback. */
	printf("%s\t%s\n", key, strcmp(key, "nonce_key") == 0 ? "(secret)" : value);
	return 0;
}

static int count_cb(void *ctx, const struct db_ext *e)
{
	(void)e;
	(*(unsigned *)ctx)++;
	return 0;
}

/* ---- reg ----------------------------------------------------------------------- */

struct reg_list_ctx {
	int64_t now;
	unsigned n;
};

static int reg_list_cb(void *ctx, const struct db_binding *b)
{
	struct reg_list_ctx *rl = ctx;
	rl->n++;
	printf("%s\t%s\t%s\t%s\t%lld\n", b->aor, b->contact, b->received, b->transport,
	       (long long)(b->expires_at - rl->now));
	return 0;
}

/* What pbxd has written of its bindings (it writes changes within a
 * fraction of a second). */
static int cmd_reg(sqlite3 *db, int argc, char **argv)
{
	if (argc < 1 || strcmp(argv[0], "list") != 0 || argc != 1)
		return usage("reg list takes no arguments");
	struct reg_list_ctx rl = { .now = (int64_t)time(NULL) };
	int rc = db_location_load(db, rl.now, reg_list_cb, &rl);
	return rc == 0 ? EXIT_OK : fail("reg list: %s", strerror(rc));
}

static int cmd_setting(sqlite3 *db, int argc, char **argv)
{
	if (argc < 1)
		return usage("setting needs a subcommand");
	const char *sub = argv[0];
	char err[256];
	int rc;
	if (strcmp(sub, "get") == 0) {
		if (argc != 2)
			return usage("setting get needs KEY");
		char value[DB_SETTING_VALUE_MAX + 1];
		rc = db_setting_get(db, argv[1], value, sizeof value);
		if (rc == ENOENT)
			return fail("setting get: no setting %s", argv[1]);
		if (rc != 0)
			return fail("setting get: %s", strerror(rc));
		printf("%s\n", value);
		return EXIT_OK;
	}
	if (strcmp(sub, "set") == 0) {
		if (argc != 3)
			return usage("setting set needs KEY VALUE");
		char old[DB_REALM_MAX + 1] = "";
		bool realm = strcmp(argv[1], "sip_realm") == 0;
		if (realm)
			db_setting_realm(db, old);
		rc = db_setting_set(db, argv[1], argv[2], err, sizeof err);
		if (rc != 0)
			return fail("setting set: %s", err);
		unsigned n = 0;
		if (realm && strcmp(old, argv[2]) != 0 && db_ext_list(db, count_cb, &n) == 0 && n > 0)
			fprintf(stderr, "pbxctl: warning: the stored digests of all %u extensions are for realm "
				"\"%s\"; set each password again (ext passwd or ext add) or phones cannot register\n",
				n, old);
		return EXIT_OK;
	}
	if (strcmp(sub, "list") == 0) {
		if (argc != 1)
			return usage("setting list takes no arguments");
		rc = db_setting_list(db, setting_list_cb, NULL);
		return rc == 0 ? EXIT_OK : fail("setting list: %s", strerror(rc));
	}
	return usage("unknown setting subcommand");
}

int main(int argc, char **argv)
{
	const char *db_path = NULL;
	int i = 1;
	log_set_level(LOG_ERR);
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		} else if (strcmp(a, "--db") == 0) {
			if (i + 1 >= argc)
				return usage("--db needs a FILE");
			db_path = argv[++i];
		} else if (strncmp(a, "--db=", 5) == 0) {
			db_path = a + 5;
		} else if (a[0] == '-') {
			fprintf(stderr, "pbxctl: unknown option %s\n", a);
			return usage(NULL);
		} else {
			break;
		}
	}
	if (i >= argc)
		return usage("no command");
	const char *cmd = argv[i++];
	int (*run)(sqlite3 *, int, char **) = NULL;
	if (strcmp(cmd, "ext") == 0)
		run = cmd_ext;
	else if (strcmp(cmd, "room") == 0)
		run = cmd_room;
	else if (strcmp(cmd, "admin") == 0)
		run = cmd_admin;
	else if (strcmp(cmd, "setting") == 0)
		run = cmd_setting;
	else if (strcmp(cmd, "reg") == 0)
		run = cmd_reg;
	else
		return usage("unknown command");

	if (!db_path || !*db_path) {
		db_path = DEFAULT_DB;
		if (mkdir("./var", 0750) != 0 && errno != EEXIST)
			return fail("cannot create ./var: %s", strerror(errno));
	}
	sqlite3 *db = NULL;
	char err[256];
	int rc = db_open(db_path, &db, err, sizeof err);
	if (rc != 0)
		return fail("cannot open the database: %s", err);
	int ret = run(db, argc - i, argv + i);
	db_close(db);
	if (fflush(stdout) != 0 || ferror(stdout))
		return fail("cannot write the output: %s", strerror(errno));
	return ret;
}
