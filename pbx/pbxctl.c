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
#include "vm_file.h"
#include "wav.h"

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
#define DEFAULT_SPOOL "./var/spool" /* pbxd's default --spool */

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
	"  ext show NUM          name, ring time, options, do not disturb, forwarding\n"
	"  ext set NUM [--name NAME] [--ring-time S] [--redirect on|off] [--require-srtp on|off]\n"
	"                        ring time 5 to 300 s (also the no-answer forwarding delay);\n"
	"                        redirect: forward with a 302 instead of bridging the call\n"
	"  ext fwd NUM [--always T] [--busy T] [--noanswer T] [--off always|busy|noanswer|all]\n"
	"                        forward to extension T; rules not named stay as they are;\n"
	"                        --off takes a comma-separated list\n"
	"  ext dnd NUM on|off    do not disturb\n"
	"  room add NUM [--name NAME] [--pin PIN] [--moderator-pin PIN] [--max N]\n"
	"           [--options announce,wait-moderator,join-muted,end-with-moderator]\n"
	"  room list             number, name, PIN set, moderator PIN set, max participants\n"
	"  room del NUM\n"
	"  admin passwd USER     new password (at least 8 characters) from stdin or prompted\n"
	"  admin list\n"
	"  admin del USER\n"
	"  reg list              registered contacts: extension, contact, source, transport, seconds left\n"
	"  setting get KEY\n"
	"  setting set KEY VALUE\n"
	"  setting list\n"
	"  vm list MAILBOX       messages: id, folder, caller, received, seconds, heard, email status\n"
	"  vm add MAILBOX FILE.wav [--caller X] [--folder new|old]\n"
	"                        store an 8 kHz mono 16-bit WAV as a message, as if recorded\n"
	"  vm del MAILBOX ID     the message's row, then its file\n"
	"  vm mailbox MAILBOX [--pin P] [--email ADDR | --no-email] [--max-seconds N]\n"
	"           [--max-messages N] [--vm-on noanswer,busy,unavailable,dnd]\n"
	"           [--unsolicited-mwi on|off]  message waiting NOTIFYs to phones that do not subscribe\n"
	"                        without options: show the settings\n"
	"  cdr list [--limit N] [--caller X] [--callee X] [--disposition D]\n"
	"                        call records, newest first (default 50): start, caller, dialled,\n"
	"                        callee, disposition, talk time, who hung up\n"
	"\n"
	"  --db FILE   the database (default " DEFAULT_DB ", whose folder is created if missing)\n"
	"  --spool DIR voicemail files, as pbxd's --spool (default " DEFAULT_SPOOL ")\n"
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

/* ---- ext show, set, fwd, dnd ------------------------------------------------------ */

/* One extension copied out of db_ext_get's callback. */
struct ext_copy {
	char number[DB_NUMBER_MAX + 1];
	char name[DB_NAME_BYTES + 1];
	bool vm_pin_set;
	unsigned flags;
	int ring_time;
	struct db_fwd fwd;
};

static int ext_copy_cb(void *ctx, const struct db_ext *e)
{
	struct ext_copy *c = ctx;
	snprintf(c->number, sizeof c->number, "%s", e->number);
	snprintf(c->name, sizeof c->name, "%s", e->name);
	c->vm_pin_set = e->vm_pin[0] != '\0';
	c->flags = e->flags;
	c->ring_time = e->ring_time;
	snprintf(c->fwd.always, sizeof c->fwd.always, "%s", e->fwd_always);
	snprintf(c->fwd.busy, sizeof c->fwd.busy, "%s", e->fwd_busy);
	snprintf(c->fwd.noanswer, sizeof c->fwd.noanswer, "%s", e->fwd_noanswer);
	c->fwd.dnd = e->dnd;
	return 0;
}

/* EXIT_OK with *c filled, or the failure already reported. */
static int ext_fetch(sqlite3 *db, const char *cmd, const char *number, struct ext_copy *c)
{
	memset(c, 0, sizeof *c);
	int rc = db_ext_get(db, number, ext_copy_cb, c);
	if (rc == ENOENT)
		return fail("%s: no extension %s", cmd, number);
	if (rc != 0)
		return fail("%s: %s", cmd, strerror(rc));
	return EXIT_OK;
}

/* A forwarding target, and whether it still is an extension (a deleted
 * target stays in the rule; calls then skip it). */
static void print_target(sqlite3 *db, const char *label, const char *target, const char *after)
{
	if (!target[0]) {
		printf("%-18s off\n", label);
		return;
	}
	struct ext_copy t;
	bool gone = db_ext_get(db, target, ext_copy_cb, &t) == ENOENT;
	printf("%-18s %s%s%s\n", label, target, after, gone ? " (not an extension now: skipped)" : "");
}

static void print_forwarding(sqlite3 *db, const struct ext_copy *c)
{
	char after[32];
	snprintf(after, sizeof after, " after %d s", c->ring_time);
	printf("%-18s %s\n", "do not disturb", c->fwd.dnd ? "on" : "off");
	print_target(db, "forward always", c->fwd.always, "");
	print_target(db, "forward busy", c->fwd.busy, "");
	print_target(db, "forward no answer", c->fwd.noanswer, after);
}

static int ext_show(sqlite3 *db, int argc, char **argv)
{
	if (argc != 2)
		return usage("ext show needs NUM");
	struct ext_copy c;
	if (ext_fetch(db, "ext show", argv[1], &c) != EXIT_OK)
		return EXIT_FAIL;
	printf("%-18s %s\n", "extension", c.number);
	printf("%-18s %s\n", "name", c.name);
	printf("%-18s %s\n", "voicemail PIN", c.vm_pin_set ? "set" : "not set");
	printf("%-18s %d s\n", "ring time", c.ring_time);
	printf("%-18s %s\n", "redirect", (c.flags & EXT_F_REDIRECT) ? "on (302 to the target)" : "off (bridged)");
	printf("%-18s %s\n", "require SRTP", (c.flags & EXT_F_REQUIRE_SRTP) ? "on" : "off");
	print_forwarding(db, &c);
	return EXIT_OK;
}

/* "on" or "off" into *out; false otherwise. */
static bool parse_on_off(const char *s, bool *out)
{
	if (strcmp(s, "on") == 0)
		*out = true;
	else if (strcmp(s, "off") == 0)
		*out = false;
	else
		return false;
	return true;
}

static int ext_set(sqlite3 *db, int argc, char **argv)
{
	struct opt opts[] = {
		{ "--name", NULL }, { "--ring-time", NULL }, { "--redirect", NULL }, { "--require-srtp", NULL },
	};
	const char *pos[1];
	size_t npos;
	if (!parse_opts(argc - 1, argv + 1, opts, 4, pos, 1, &npos))
		return usage(NULL);
	if (npos != 1)
		return usage("ext set needs NUM");
	if (!opts[0].value && !opts[1].value && !opts[2].value && !opts[3].value)
		return usage("ext set needs --name, --ring-time, --redirect or --require-srtp");
	int ring = 0;
	if (opts[1].value) {
		const char *v = opts[1].value;
		char *end = NULL;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (errno || end == v || *end || v[0] < '0' || v[0] > '9' || n < DB_RING_TIME_MIN ||
		    n > DB_RING_TIME_MAX)
			return fail("ext set: --ring-time: %d to %d seconds", DB_RING_TIME_MIN, DB_RING_TIME_MAX);
		ring = (int)n;
	}
	bool redirect = false, srtp = false;
	if (opts[2].value && !parse_on_off(opts[2].value, &redirect))
		return usage("--redirect takes on or off");
	if (opts[3].value && !parse_on_off(opts[3].value, &srtp))
		return usage("--require-srtp takes on or off");

	/* Read the flags and write them back in one transaction, so a change
	 * made meanwhile by the web admin is not undone. */
	int rc = db_begin(db);
	if (rc != 0)
		return fail("ext set: %s", strerror(rc));
	struct ext_copy c;
	if (ext_fetch(db, "ext set", pos[0], &c) != EXIT_OK) {
		db_rollback(db);
		return EXIT_FAIL;
	}
	unsigned flags = c.flags;
	if (opts[2].value)
		flags = redirect ? flags | EXT_F_REDIRECT : flags & ~EXT_F_REDIRECT;
	if (opts[3].value)
		flags = srtp ? flags | EXT_F_REQUIRE_SRTP : flags & ~EXT_F_REQUIRE_SRTP;
	char err[256] = "";
	rc = db_ext_update(db, pos[0], opts[0].value, NULL, &flags, opts[1].value ? &ring : NULL, err, sizeof err);
	if (rc == 0)
		rc = db_commit(db);
	if (rc != 0) {
		db_rollback(db);
		return fail("ext set: %s", err[0] ? err : strerror(rc));
	}
	printf("extension %s changed\n", pos[0]);
	return EXIT_OK;
}

/* Which rules a --off value names ("all", or a comma-separated list);
 * false for anything else. */
static bool parse_off(const char *s, bool off[3])
{
	static const char *const names[3] = { "always", "busy", "noanswer" };
	if (strcmp(s, "all") == 0) {
		off[0] = off[1] = off[2] = true;
		return true;
	}
	for (size_t guard = 0; guard < 8; guard++) {
		size_t n = strcspn(s, ",");
		bool known = false;
		for (int k = 0; k < 3; k++)
			if (strlen(names[k]) == n && strncmp(s, names[k], n) == 0)
				off[k] = known = true;
		if (!known)
			return false;
		if (!s[n])
			return true;
		s += n + 1;
	}
	return false;
}

static int ext_fwd(sqlite3 *db, int argc, char **argv)
{
	struct opt opts[] = { { "--always", NULL }, { "--busy", NULL }, { "--noanswer", NULL }, { "--off", NULL } };
	const char *pos[1];
	size_t npos;
	if (!parse_opts(argc - 1, argv + 1, opts, 4, pos, 1, &npos))
		return usage(NULL);
	if (npos != 1)
		return usage("ext fwd needs NUM");
	if (!opts[0].value && !opts[1].value && !opts[2].value && !opts[3].value)
		return usage("ext fwd needs --always, --busy, --noanswer or --off");
	bool off[3] = { false, false, false };
	if (opts[3].value && !parse_off(opts[3].value, off))
		return usage("--off takes always, busy, noanswer (comma separated) or all");
	for (int k = 0; k < 3; k++)
		if (off[k] && opts[k].value)
			return usage("a rule cannot be set and switched off at once");

	int rc = db_begin(db);
	if (rc != 0)
		return fail("ext fwd: %s", strerror(rc));
	struct ext_copy c;
	if (ext_fetch(db, "ext fwd", pos[0], &c) != EXIT_OK) {
		db_rollback(db);
		return EXIT_FAIL;
	}
	char *field[3] = { c.fwd.always, c.fwd.busy, c.fwd.noanswer };
	char err[256] = "";
	for (int k = 0; k < 3; k++) {
		if (off[k])
			field[k][0] = '\0';
		if (!opts[k].value)
			continue;
		/* Too long for the field: let the db layer's check word it. */
		if (strlen(opts[k].value) > DB_NUMBER_MAX) {
			db_rollback(db);
			return fail("ext fwd: %s: an extension number of %d to %d digits", opts[k].name,
				    DB_NUMBER_MIN, DB_NUMBER_MAX);
		}
		snprintf(field[k], DB_NUMBER_MAX + 1, "%s", opts[k].value);
	}
	rc = db_ext_set_fwd(db, pos[0], &c.fwd, err, sizeof err);
	if (rc == 0)
		rc = db_commit(db);
	if (rc != 0) {
		db_rollback(db);
		/* "fwd_busy: ..." names the option it came from. */
		if (strncmp(err, "fwd_", 4) == 0)
			return fail("ext fwd: --%s", err + 4);
		return fail("ext fwd: %s", err[0] ? err : strerror(rc));
	}
	print_forwarding(db, &c);
	return EXIT_OK;
}

static int ext_dnd(sqlite3 *db, int argc, char **argv)
{
	bool on;
	if (argc != 3 || !parse_on_off(argv[2], &on))
		return usage("ext dnd needs NUM on|off");
	int rc = db_ext_set_dnd(db, argv[1], on);
	if (rc == ENOENT)
		return fail("ext dnd: no extension %s", argv[1]);
	if (rc != 0)
		return fail("ext dnd: %s", strerror(rc));
	printf("do not disturb %s for extension %s\n", on ? "on" : "off", argv[1]);
	return EXIT_OK;
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
	if (strcmp(sub, "show") == 0)
		return ext_show(db, argc, argv);
	if (strcmp(sub, "set") == 0)
		return ext_set(db, argc, argv);
	if (strcmp(sub, "fwd") == 0)
		return ext_fwd(db, argc, argv);
	if (strcmp(sub, "dnd") == 0)
		return ext_dnd(db, argc, argv);
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
			{ "--options", NULL },
		};
		const char *pos[1];
		size_t npos;
		if (!parse_opts(argc - 1, argv + 1, opts, 5, pos, 1, &npos))
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
		unsigned flags = 0;
		if (db_room_flags_parse(opts[4].value, &flags, err, sizeof err) != 0)
			return fail("room add: %s", err);
		/* One transaction: the room never exists without its options. */
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : EIO;
		if (rc == 0)
			rc = db_room_add(db, pos[0], opts[1].value, opts[0].value, opts[2].value, max, err, sizeof err);
		if (rc == 0 && flags && (rc = db_room_set_flags(db, pos[0], flags)) != 0)
			snprintf(err, sizeof err, "options: %s", strerror(rc));
		sqlite3_exec(db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
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

/* ---- cdr ------------------------------------------------------------------------- */

#define CDR_LIST_DEFAULT 50
#define CDR_LIST_MAX 100000

/* Record fields came from the network: only printable ASCII reaches the
 * terminal (no escape sequences), the rest shows as '?'. */
static void term_safe(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 1 < cap; in++)
		out[o++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[o] = '\0';
}

static int cdr_list_cb(void *ctx, const struct db_cdr *r)
{
	(void)ctx;
	char when[32] = "?", talk[32] = "-", caller[DB_CDR_PARTY_MAX + 1], dialed[DB_CDR_PARTY_MAX + 1],
	     callee[DB_CDR_PARTY_MAX + 1];
	time_t t = (time_t)(r->start_at / 1000);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	if (r->answer_at) {
		long long s = (r->end_at - r->answer_at) / 1000;
		snprintf(talk, sizeof talk, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
	}
	term_safe(r->caller, caller, sizeof caller);
	term_safe(r->dialed, dialed, sizeof dialed);
	term_safe(r->callee, callee, sizeof callee);
	const char *by = db_cdr_by_name(r->hangup_by);
	printf("%-19s  %-15s  %-15s  %-15s  %-11s  %9s  %s\n", when, caller, dialed, callee[0] ? callee : "-",
	       db_cdr_disp_name(r->disposition), talk, by && by[0] ? by : "-");
	return 0;
}

/* Newest first; times in local time, talk time from answer to end. */
static int cmd_cdr(sqlite3 *db, int argc, char **argv)
{
	if (argc < 1 || strcmp(argv[0], "list") != 0)
		return usage("cdr needs the subcommand list");
	struct opt opts[] = {
		{ "--limit", NULL }, { "--caller", NULL }, { "--callee", NULL }, { "--disposition", NULL },
	};
	const char *pos[1];
	size_t npos;
	if (!parse_opts(argc - 1, argv + 1, opts, 4, pos, 0, &npos))
		return usage(NULL);
	long limit = CDR_LIST_DEFAULT;
	if (opts[0].value) {
		const char *v = opts[0].value;
		char *end = NULL;
		errno = 0;
		limit = strtol(v, &end, 10);
		if (errno || end == v || *end || v[0] < '0' || v[0] > '9' || limit < 1 || limit > CDR_LIST_MAX)
			return fail("cdr list: --limit: 1 to %d", CDR_LIST_MAX);
	}
	enum db_cdr_disp d;
	if (opts[3].value && db_cdr_disp_parse(opts[3].value, &d) != 0)
		return fail("cdr list: --disposition: answered, busy, noanswer, unavailable, cancelled, failed, "
			    "redirected or rejected");
	struct db_cdr_filter f = { .caller = opts[1].value, .callee = opts[2].value, .disposition = opts[3].value };
	size_t total = 0;
	int rc = db_cdr_count(db, &f, &total);
	if (rc != 0)
		return fail("cdr list: %s", strerror(rc));
	printf("%-19s  %-15s  %-15s  %-15s  %-11s  %9s  %s\n", "START", "CALLER", "DIALED", "CALLEE", "DISPOSITION",
	       "TALK", "HANGUP");
	rc = db_cdr_list(db, &f, 0, (size_t)limit, cdr_list_cb, NULL);
	if (rc != 0)
		return fail("cdr list: %s", strerror(rc));
	size_t shown = total < (size_t)limit ? total : (size_t)limit;
	printf("%zu of %zu call record%s\n", shown, total, total == 1 ? "" : "s");
	return EXIT_OK;
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

/* ---- vm: voicemail messages and mailbox settings ----------------------------------- */

/* The spool folder (--spool, default DEFAULT_SPOOL); set by main. */
static const char *spool_dir = DEFAULT_SPOOL;

/* Largest WAV read: an hour of 8 kHz S16 mono (VM_FILE_MAX_MS) and room for
 * the header and other chunks. */
#define VM_WAV_MAX ((size_t)VM_FILE_MAX_MS / 1000 * VM_FILE_RATE * 2 + 65536)
#define VM_CALLER_DEFAULT "unknown"

static int vm_list_cb(void *ctx, const struct db_vm_msg *m)
{
	(void)ctx;
	char when[32] = "?", caller[DB_CDR_PARTY_MAX + 1], status[DB_VM_STATUS_MAX + 1];
	time_t t = (time_t)(m->received_at / 1000);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	term_safe(m->caller, caller, sizeof caller);
	term_safe(m->email_status, status, sizeof status);
	printf("%lld\t%s\t%s\t%s\t%u.%u\t%s\t%s\n", (long long)m->id, m->folder == DB_VM_OLD ? "old" : "new", caller,
	       when, m->duration_ms / 1000, m->duration_ms % 1000 / 100, m->heard ? "yes" : "no",
	       status[0] ? status : "-");
	return 0;
}

/* EXIT_OK with *m filled, or the failure already reported. */
static int vm_mailbox_fetch(sqlite3 *db, const char *cmd, const char *number, struct db_mailbox *m)
{
	int rc = db_vm_mailbox_get(db, number, m);
	if (rc == ENOENT)
		return fail("%s: no mailbox %s (not an extension)", cmd, number);
	if (rc != 0)
		return fail("%s: %s", cmd, strerror(rc));
	return EXIT_OK;
}

/* A decimal in lo..hi, nothing else. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
	if (!s || s[0] < '0' || s[0] > '9')
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

/* The whole of path into a new buffer (at most max bytes; EFBIG beyond). */
static int read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno;
	int ret = 0;
	struct stat st;
	uint8_t *b = NULL;
	if (fstat(fileno(f), &st) != 0) {
		ret = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		ret = EFBIG;
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		ret = ENOMEM;
		goto out;
	}
	size_t n = fread(b, 1, (size_t)st.st_size, f);
	if (n != (size_t)st.st_size || ferror(f)) {
		ret = EIO;
		goto out;
	}
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	fclose(f);
	return ret;
}

/* Encode the samples of w into r, a chunk at a time (the data may be
 * unaligned in the file's buffer: copied out little-endian). */
static int vm_encode(struct vm_rec *r, const struct wav_info *w)
{
	int16_t chunk[1600];
	size_t total = w->data_len / 2;
	for (size_t done = 0; done < total;) {
		size_t n = total - done < 1600 ? total - done : 1600;
		const uint8_t *p = w->data + done * 2;
		for (size_t k = 0; k < n; k++)
			chunk[k] = (int16_t)(uint16_t)(p[2 * k] | (unsigned)p[2 * k + 1] << 8);
		int rc = vm_rec_write(r, chunk, n);
		if (rc != 0)
			return rc;
		done += n;
	}
	return 0;
}

/* Store FILE.wav as a message the way a recording is stored: encoded into
 * SPOOL/tmp, renamed into SPOOL/<mailbox>/, then the row. When the row
 * cannot be added the file goes again, so nothing is left behind. */
static int vm_add(sqlite3 *db, int argc, char **argv)
{
	struct opt opts[] = { { "--caller", NULL }, { "--folder", NULL }, { "--spool", NULL } };
	const char *pos[2];
	size_t npos;
	if (!parse_opts(argc, argv, opts, 3, pos, 2, &npos))
		return usage(NULL);
	if (npos != 2)
		return usage("vm add needs MAILBOX FILE.wav");
	const char *spool = opts[2].value ? opts[2].value : spool_dir;
	struct db_vm_msg m = { .folder = DB_VM_NEW };
	if (opts[1].value && strcmp(opts[1].value, "old") == 0)
		m.folder = DB_VM_OLD;
	else if (opts[1].value && strcmp(opts[1].value, "new") != 0)
		return fail("vm add: --folder: new or old");
	const char *caller = opts[0].value ? opts[0].value : VM_CALLER_DEFAULT;
	size_t clen = strlen(caller);
	if (clen == 0 || clen > DB_CDR_PARTY_MAX)
		return fail("vm add: --caller: 1 to %d characters", DB_CDR_PARTY_MAX);
	for (size_t k = 0; k < clen; k++)
		if ((unsigned char)caller[k] < 0x20 || caller[k] == 0x7f)
			return fail("vm add: --caller: no control characters");
	memcpy(m.caller, caller, clen + 1);
	snprintf(m.mailbox, sizeof m.mailbox, "%.*s", (int)(sizeof m.mailbox - 1), pos[0]);

	struct db_mailbox mb;
	if (vm_mailbox_fetch(db, "vm add", pos[0], &mb) != EXIT_OK)
		return EXIT_FAIL;
	unsigned n_new = 0, n_old = 0;
	int rc = db_vm_counts(db, pos[0], &n_new, &n_old);
	if (rc != 0)
		return fail("vm add: %s", strerror(rc));
	if (n_new + n_old >= mb.max_messages)
		return fail("vm add: mailbox %s is full (%u messages)", pos[0], mb.max_messages);

	uint8_t *buf = NULL;
	size_t len = 0;
	rc = read_file(pos[1], VM_WAV_MAX, &buf, &len);
	if (rc == EFBIG)
		return fail("vm add: %s: longer than an hour of 8 kHz audio", pos[1]);
	if (rc != 0)
		return fail("vm add: %s: %s", pos[1], rc == EINVAL ? "not a regular file" : strerror(rc));
	struct wav_info w;
	int ret = EXIT_FAIL;
	struct vm_rec *r = NULL;
	rc = wav_parse(buf, len, &w);
	if (rc != 0) {
		fail("vm add: %s: not an uncompressed WAV file", pos[1]);
		goto out;
	}
	if (w.rate != VM_FILE_RATE || w.channels != 1 || w.bits != 16) {
		fail("vm add: %s: %u Hz, %u channel(s), %u bits; needs 8000 Hz mono 16-bit", pos[1], w.rate,
		     w.channels, w.bits);
		goto out;
	}
	uint64_t ms = (uint64_t)(w.data_len / 2) * 1000 / VM_FILE_RATE;
	if (ms < VM_FILE_MIN_MS) {
		fail("vm add: %s: shorter than %d ms (a recording that short is discarded)", pos[1], VM_FILE_MIN_MS);
		goto out;
	}
	if (ms > (uint64_t)mb.max_msg_seconds * 1000) {
		fail("vm add: %s: %llu ms, longer than the mailbox's limit of %u s", pos[1], (unsigned long long)ms,
		     mb.max_msg_seconds);
		goto out;
	}
	if (!opts[2].value && mkdir(spool, 0750) != 0 && errno != EEXIST) {
		fail("vm add: cannot create the spool %s: %s", spool, strerror(errno));
		goto out;
	}
	rc = vm_rec_open(&r, spool, pos[0], mb.max_msg_seconds * 1000);
	if (rc != 0) {
		fail("vm add: cannot record into the spool %s: %s", spool, strerror(rc));
		goto out;
	}
	if ((rc = vm_encode(r, &w)) != 0) {
		vm_rec_abort(r);
		fail("vm add: cannot write into the spool %s: %s", spool, strerror(rc));
		goto out;
	}
	rc = vm_rec_commit(r, NULL, m.file, sizeof m.file, &m.duration_ms);
	if (rc != 0) {
		fail("vm add: cannot store the message in the spool %s: %s", spool, strerror(rc));
		goto out;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	m.received_at = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	int64_t id = 0;
	rc = db_vm_msg_add(db, &m, &id);
	if (rc != 0) {
		vm_file_unlink(spool, m.file);
		fail("vm add: %s", rc == ENOSPC ? "the mailbox is full" : strerror(rc));
		goto out;
	}
	printf("%lld\n", (long long)id);
	ret = EXIT_OK;
out:
	free(buf);
	return ret;
}

static int vm_del(sqlite3 *db, int argc, char **argv)
{
	struct opt opts[] = { { "--spool", NULL } };
	const char *pos[2];
	size_t npos;
	if (!parse_opts(argc, argv, opts, 1, pos, 2, &npos))
		return usage(NULL);
	if (npos != 2)
		return usage("vm del needs MAILBOX ID");
	const char *spool = opts[0].value ? opts[0].value : spool_dir;
	unsigned id;
	if (!parse_uint(pos[1], 1, UINT32_MAX, &id))
		return fail("vm del: ID: a message number (see vm list)");
	char file[DB_VM_FILE_MAX + 1];
	int rc = db_vm_msg_del(db, pos[0], id, file);
	if (rc == ENOENT)
		return fail("vm del: no message %u in mailbox %s", id, pos[0]);
	if (rc != 0)
		return fail("vm del: %s", strerror(rc));
	/* The row is gone: the message is deleted even if its file stays. */
	rc = vm_file_unlink(spool, file);
	if (rc != 0 && rc != ENOENT)
		fprintf(stderr, "pbxctl: warning: vm del: cannot remove %s/%s: %s\n", spool, file, strerror(rc));
	printf("message %u deleted\n", id);
	return EXIT_OK;
}

static void vm_mailbox_print(const struct db_mailbox *m)
{
	char on[64] = "";
	db_vm_on_format(m->vm_on, on, sizeof on);
	printf("%-16s %s\n", "mailbox", m->number);
	printf("%-16s %s\n", "pin", m->pin[0] ? "set" : "not set");
	printf("%-16s %s\n", "email", m->email[0] ? m->email : "-");
	printf("%-16s %u\n", "max seconds", m->max_msg_seconds);
	printf("%-16s %u\n", "max messages", m->max_messages);
	printf("%-16s %s\n", "vm on", on[0] ? on : "-");
	printf("%-16s %s\n", "unsolicited mwi", m->unsolicited_mwi ? "on" : "off");
}

static int vm_mailbox(sqlite3 *db, int argc, char **argv)
{
	struct opt opts[] = {
		{ "--pin", NULL }, { "--email", NULL }, { "--max-seconds", NULL }, { "--max-messages", NULL },
		{ "--vm-on", NULL }, { "--unsolicited-mwi", NULL },
	};
	const size_t nopts = sizeof opts / sizeof opts[0];
	/* --no-email is the one option without a value: taken out first. */
	char *rest[64];
	int nrest = 0;
	bool no_email = false;
	for (int k = 0; k < argc; k++) {
		if (strcmp(argv[k], "--no-email") == 0) {
			no_email = true;
			continue;
		}
		if (nrest >= (int)(sizeof rest / sizeof rest[0]))
			return usage("vm mailbox: too many arguments");
		rest[nrest++] = argv[k];
	}
	const char *pos[1];
	size_t npos;
	if (!parse_opts(nrest, rest, opts, nopts, pos, 1, &npos))
		return usage(NULL);
	if (npos != 1)
		return usage("vm mailbox needs MAILBOX");
	if (no_email && opts[1].value)
		return usage("vm mailbox: --email and --no-email together");
	struct db_mailbox m;
	if (vm_mailbox_fetch(db, "vm mailbox", pos[0], &m) != EXIT_OK)
		return EXIT_FAIL;
	bool change = no_email;
	for (size_t k = 0; k < nopts; k++)
		change = change || opts[k].value;
	if (!change) {
		vm_mailbox_print(&m);
		return EXIT_OK;
	}
	if (opts[0].value && !db_pin_valid(opts[0].value))
		return fail("vm mailbox: --pin: %d to %d digits, or \"\" for none", DB_PIN_MIN, DB_PIN_MAX);
	if (opts[1].value) {
		if (!opts[1].value[0] || strlen(opts[1].value) > DB_VM_EMAIL_MAX || !db_vm_email_valid(opts[1].value))
			return fail("vm mailbox: --email: one address local@domain (or --no-email)");
		snprintf(m.email, sizeof m.email, "%s", opts[1].value);
	}
	if (no_email)
		m.email[0] = '\0';
	if (opts[2].value && !parse_uint(opts[2].value, DB_VM_MSG_SECONDS_MIN, DB_VM_MSG_SECONDS_MAX, &m.max_msg_seconds))
		return fail("vm mailbox: --max-seconds: %d to %d", DB_VM_MSG_SECONDS_MIN, DB_VM_MSG_SECONDS_MAX);
	if (opts[3].value && !parse_uint(opts[3].value, 1, DB_VM_MESSAGES_MAX, &m.max_messages))
		return fail("vm mailbox: --max-messages: 1 to %d", DB_VM_MESSAGES_MAX);
	if (opts[4].value && db_vm_on_parse(opts[4].value, &m.vm_on) != 0)
		return fail("vm mailbox: --vm-on: a comma list of noanswer, busy, unavailable, dnd (\"\" for none)");
	if (opts[5].value && !parse_on_off(opts[5].value, &m.unsolicited_mwi))
		return usage("--unsolicited-mwi takes on or off");
	/* PIN and settings in one transaction: all or nothing. */
	char err[256] = "";
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : EIO;
	if (rc != 0)
		snprintf(err, sizeof err, "%s", sqlite3_errmsg(db));
	if (rc == 0 && (rc = db_vm_mailbox_set(db, &m, err, sizeof err)) != 0 && !err[0])
		snprintf(err, sizeof err, "%s", strerror(rc));
	if (rc == 0 && opts[0].value && (rc = db_vm_set_pin(db, pos[0], opts[0].value)) != 0)
		snprintf(err, sizeof err, "pin: %s", strerror(rc));
	if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = EIO;
		snprintf(err, sizeof err, "%s", sqlite3_errmsg(db));
	}
	if (rc != 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return fail("vm mailbox: %s", err);
	}
	printf("mailbox %s updated\n", pos[0]);
	return EXIT_OK;
}

static int cmd_vm(sqlite3 *db, int argc, char **argv)
{
	if (argc < 1)
		return usage("vm needs a subcommand");
	const char *sub = argv[0];
	if (strcmp(sub, "list") == 0) {
		if (argc != 2)
			return usage("vm list needs MAILBOX");
		struct db_mailbox mb;
		if (vm_mailbox_fetch(db, "vm list", argv[1], &mb) != EXIT_OK)
			return EXIT_FAIL;
		int rc = db_vm_msg_list(db, argv[1], DB_VM_ANY, vm_list_cb, NULL);
		return rc == 0 ? EXIT_OK : fail("vm list: %s", strerror(rc));
	}
	if (strcmp(sub, "add") == 0)
		return vm_add(db, argc - 1, argv + 1);
	if (strcmp(sub, "del") == 0)
		return vm_del(db, argc - 1, argv + 1);
	if (strcmp(sub, "mailbox") == 0)
		return vm_mailbox(db, argc - 1, argv + 1);
	return usage("unknown vm subcommand");
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
		} else if (strcmp(a, "--spool") == 0) {
			if (i + 1 >= argc)
				return usage("--spool needs a DIR");
			spool_dir = argv[++i];
		} else if (strncmp(a, "--spool=", 8) == 0) {
			spool_dir = a + 8;
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
	else if (strcmp(cmd, "cdr") == 0)
		run = cmd_cdr;
	else if (strcmp(cmd, "vm") == 0)
		run = cmd_vm;
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
