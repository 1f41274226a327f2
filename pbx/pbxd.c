/*
 * pbxd.c: the phone system daemon's start-up and shutdown.
 *
 * Reads flags (and optionally a key=value config file; flags win), opens
 * the SQLite file (creating it with demo extensions on first run), starts
 * the HTTP server and the core, and runs the core on the main thread until
 * SIGTERM. SIGTERM and SIGINT are blocked in every thread and read by the
 * core's signalfd, so shutdown always happens on the core thread, between
 * two events.
 */
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "core.h"
#include "core_priv.h" /* core->notify only */
#include "db.h"
#include "http.h"
#include "live.h"
#include "log.h"
#include "tls_selfsigned.h"
#include "sd_notify.h"
#include "vm_notify.h"

#ifndef PBX_PROMPT_DIR
#define PBX_PROMPT_DIR "/usr/local/share/pbxd/prompts" /* the Makefile sets it from --prefix */
#endif

struct pbxd_opts {
	char db[PATH_MAX];
	char spool[PATH_MAX];
	char prompts[PATH_MAX];
	char sip_listen[CORE_MAX_LISTEN][128];
	unsigned nsip;
	char http_listen[128];
	unsigned rtp_lo, rtp_hi;
	int log_level;
	bool sip_trace;
	bool demo; /* create demo extensions on first run */
	char tls_cert[PATH_MAX], tls_key[PATH_MAX]; /* PEM files for HTTPS; both empty: none given */
	bool tls_self_signed; /* without a certificate given: DIR/tls/ next to the database */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pbxd [--db FILE] [--spool DIR] [--sip-listen ADDR:PORT]... [--http-listen ADDR:PORT]\n"
		"            [--rtp-ports LO-HI] [--prompts DIR] [--config FILE] [--log-level LEVEL] [--sip-trace]\n"
		"            [--no-demo] [--tls-cert FILE --tls-key FILE] [--tls-self-signed]\n"
		"defaults: --db ./var/pbx.db --spool ./var/spool --sip-listen 0.0.0.0:5060 --sip-listen [::]:5060\n"
		"          --http-listen 0.0.0.0:8080 --rtp-ports 10000-20000 --log-level notice\n"
		"          --prompts ./build/prompts when it exists (a build tree), else " PBX_PROMPT_DIR "\n"
		"          plain HTTP; --tls-self-signed: HTTPS with DIR/tls/cert.pem and key.pem (DIR: the\n"
		"          database's folder), made on the first start\n");
}

static int parse_rtp(const char *s, struct pbxd_opts *o)
{
	unsigned lo, hi;
	char tail;
	if (sscanf(s, "%u-%u%c", &lo, &hi, &tail) != 2 || !db_rtp_range_ok(lo, hi)) {
		fprintf(stderr, "pbxd: --rtp-ports wants LO-HI within 1024-65535 holding an even port and "
			"the one after it, got '%s'\n", s);
		return EINVAL;
	}
	o->rtp_lo = lo;
	o->rtp_hi = hi;
	return 0;
}

static bool opt_bool(const char *val)
{
	return strcmp(val, "0") != 0 && strcmp(val, "no") != 0 && strcmp(val, "false") != 0;
}

/* One option by name, from the command line or the config file. */
static int set_opt(struct pbxd_opts *o, const char *name, const char *val, bool from_file)
{
	if (strcmp(name, "db") == 0)
		snprintf(o->db, sizeof o->db, "%s", val);
	else if (strcmp(name, "spool") == 0)
		snprintf(o->spool, sizeof o->spool, "%s", val);
	else if (strcmp(name, "prompts") == 0)
		snprintf(o->prompts, sizeof o->prompts, "%s", val);
	else if (strcmp(name, "sip-listen") == 0) {
		if (o->nsip >= CORE_MAX_LISTEN) {
			fprintf(stderr, "pbxd: at most %d --sip-listen addresses\n", CORE_MAX_LISTEN);
			return EINVAL;
		}
		snprintf(o->sip_listen[o->nsip++], sizeof o->sip_listen[0], "%s", val);
	} else if (strcmp(name, "http-listen") == 0)
		snprintf(o->http_listen, sizeof o->http_listen, "%s", val);
	else if (strcmp(name, "rtp-ports") == 0)
		return parse_rtp(val, o);
	else if (strcmp(name, "log-level") == 0) {
		int l = log_level_parse(val);
		if (l < 0) {
			fprintf(stderr, "pbxd: unknown log level '%s'\n", val);
			return EINVAL;
		}
		o->log_level = l;
	} else if (strcmp(name, "sip-trace") == 0)
		o->sip_trace = opt_bool(val);
	else if (strcmp(name, "tls-cert") == 0)
		snprintf(o->tls_cert, sizeof o->tls_cert, "%s", val);
	else if (strcmp(name, "tls-key") == 0)
		snprintf(o->tls_key, sizeof o->tls_key, "%s", val);
	else if (strcmp(name, "tls-self-signed") == 0)
		o->tls_self_signed = opt_bool(val);
	else {
		fprintf(stderr, "pbxd: unknown %s '%s'\n", from_file ? "config key" : "option", name);
		return EINVAL;
	}
	return 0;
}

/* key = value lines, '#' comments. Keys are the long option names. */
static int read_config_file(const char *path, struct pbxd_opts *o)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "pbxd: cannot read %s: %s\n", path, strerror(errno));
		return errno;
	}
	char line[1024];
	unsigned n = 0;
	int err = 0;
	while (!err && fgets(line, sizeof line, f)) {
		n++;
		char *p = line + strspn(line, " \t");
		p[strcspn(p, "\r\n")] = '\0';
		if (*p == '#' || *p == '\0')
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			fprintf(stderr, "pbxd: %s:%u: expected key = value\n", path, n);
			err = EINVAL;
			break;
		}
		char *k = p, *v = eq + 1;
		*eq = '\0';
		k[strcspn(k, " \t")] = '\0';
		v += strspn(v, " \t");
		for (size_t l = strlen(v); l && (v[l - 1] == ' ' || v[l - 1] == '\t'); l--)
			v[l - 1] = '\0';
		err = set_opt(o, k, v, true);
		if (err)
			fprintf(stderr, "pbxd: %s:%u: bad line\n", path, n);
	}
	fclose(f);
	return err;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return errno;
	return 0;
}

static int parent_dir(const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s", path);
	char *slash = strrchr(out, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return out[0] ? 0 : -1;
}

static void random_password(char *out, size_t len)
{
	/* No look-alikes (0/O, 1/l/I): people type these into phones. */
	static const char set[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char r[64];
	if (len > sizeof r)
		len = sizeof r;
	if (getrandom(r, len, 0) != (ssize_t)len)
		memset(r, 7, len);
	for (size_t i = 0; i < len; i++)
		out[i] = set[r[i] % (sizeof set - 1)];
	out[len] = '\0';
}

/* Print where a listen address can be reached: itself, or for a wildcard
 * every non-loopback address of that family (what a phone or a browser on
 * the office network would use), between pre and post. */
static void print_reachable(const struct sockaddr_storage *addr, const char *pre, const char *post)
{
	struct sockaddr_storage ss = *addr;
	bool wildcard = (ss.ss_family == AF_INET && ((struct sockaddr_in *)&ss)->sin_addr.s_addr == 0) ||
			(ss.ss_family == AF_INET6 &&
			 IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr));
	char s[SIP_ADDRSTR_MAX];
	if (!wildcard) {
		printf("%s%s%s\n", pre, sip_addr_str(&ss, s, sizeof s), post);
		return;
	}
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs) != 0)
		return;
	for (struct ifaddrs *a = ifs; a; a = a->ifa_next) {
		if (!a->ifa_addr || a->ifa_addr->sa_family != ss.ss_family || (a->ifa_flags & IFF_LOOPBACK))
			continue;
		if (ss.ss_family == AF_INET6 &&
		    IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr))
			continue;
		struct sockaddr_storage x;
		memset(&x, 0, sizeof x);
		memcpy(&x, a->ifa_addr, ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
								  : sizeof(struct sockaddr_in6));
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&x)->sin_port = ((struct sockaddr_in *)&ss)->sin_port;
		else
			((struct sockaddr_in6 *)&x)->sin6_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
		printf("%s%s%s\n", pre, sip_addr_str(&x, s, sizeof s), post);
	}
	freeifaddrs(ifs);
}

/* First start on a new database: a few extensions to try the system with. */
static void create_demo(sqlite3 *db)
{
	printf("Demo extensions (the passwords are shown only now):\n");
	for (int i = 0; i < 3; i++) {
		char num[16], name[32], pw[17], err[256];
		snprintf(num, sizeof num, "%d", 1001 + i);
		snprintf(name, sizeof name, "Demo %d", 1001 + i);
		random_password(pw, 12);
		if (db_ext_add(db, num, name, pw, "", err, sizeof err) == 0)
			printf("  extension %s  password %s\n", num, pw);
		else
			log_warn("demo extension %s: %s", num, err);
	}
}

static void ensure_admin(sqlite3 *db)
{
	int n = 0;
	if (db_admin_count(db, &n) != 0 || n > 0)
		return;
	char pw[17], err[256];
	random_password(pw, 16);
	if (db_admin_set_password(db, "admin", pw, err, sizeof err) != 0) {
		log_err("cannot create the admin account: %s", err);
		return;
	}
	printf("Web admin: user admin, password %s (shown only now; change it with 'pbxctl admin passwd admin')\n",
	       pw);
}

/* HTTPS from the options: a given pair is checked, or with
 * --tls-self-signed one is made in DATADIR/tls/ (or reused). fingerprint is
 * left empty for plain HTTP. 0, or -1 after saying why. */
static int setup_tls(const struct pbxd_opts *o, const char *datadir, const struct sockaddr_storage *listen,
		     struct tls_paths *tls, char *fingerprint, size_t cap)
{
	char err[PATH_MAX + 256];
	if (o->tls_cert[0]) {
		if (tls_pair_check(o->tls_cert, o->tls_key, err, sizeof err) != 0) {
			log_err("HTTPS: %s", err);
			return -1;
		}
		snprintf(tls->cert, sizeof tls->cert, "%s", o->tls_cert);
		snprintf(tls->key, sizeof tls->key, "%s", o->tls_key);
	} else if (o->tls_self_signed) {
		char dir[PATH_MAX];
		bool created;
		if (snprintf(dir, sizeof dir, "%s/tls", datadir) >= (int)sizeof dir ||
		    tls_selfsigned_ensure(dir, listen, tls, &created, err, sizeof err) != 0) {
			log_err("HTTPS: %s", err);
			return -1;
		}
		if (created)
			log_notice("https: made a self-signed certificate %s (key %s)", tls->cert, tls->key);
	} else
		return 0;
	int rc = tls_cert_fingerprint(tls->cert, fingerprint, cap);
	if (rc != 0) {
		log_err("HTTPS: %s: %s", tls->cert, strerror(rc));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pbxd_opts o;
	memset(&o, 0, sizeof o);
	/* Before SQLite starts: no global memory statistics, whose one lock
	 * every allocation of every thread's connection would take (the web
	 * admin's threads contend on it while the jobs thread writes). */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	snprintf(o.db, sizeof o.db, "./var/pbx.db");
	snprintf(o.spool, sizeof o.spool, "./var/spool");
	/* Run from a build tree (quickstart, tests), the prompts are there. */
	snprintf(o.prompts, sizeof o.prompts, "%s", access("build/prompts", R_OK) == 0 ? "build/prompts" : PBX_PROMPT_DIR);
	snprintf(o.http_listen, sizeof o.http_listen, "0.0.0.0:8080");
	o.rtp_lo = 10000;
	o.rtp_hi = 20000;
	o.log_level = LOG_NOTICE;
	o.demo = true;

	/* A config file first, so flags given on the command line win. */
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--config") == 0 && read_config_file(argv[i + 1], &o) != 0)
			return 2;
	unsigned file_nsip = o.nsip;
	bool cli_sip = false;

	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "spool", required_argument, NULL, 's' },
		{ "prompts", required_argument, NULL, 'p' },
		{ "sip-listen", required_argument, NULL, 'S' },
		{ "http-listen", required_argument, NULL, 'H' },
		{ "rtp-ports", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "sip-trace", no_argument, NULL, 't' },
		{ "no-demo", no_argument, NULL, 'n' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-self-signed", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int err = 0;
		switch (ch) {
		case 'd': err = set_opt(&o, "db", optarg, false); break;
		case 's': err = set_opt(&o, "spool", optarg, false); break;
		case 'p': err = set_opt(&o, "prompts", optarg, false); break;
		case 'S':
			if (!cli_sip) { /* command-line addresses replace the file's */
				o.nsip = 0;
				cli_sip = true;
			}
			err = set_opt(&o, "sip-listen", optarg, false);
			break;
		case 'H': err = set_opt(&o, "http-listen", optarg, false); break;
		case 'r': err = set_opt(&o, "rtp-ports", optarg, false); break;
		case 'c': break; /* read above */
		case 'l': err = set_opt(&o, "log-level", optarg, false); break;
		case 't': o.sip_trace = true; break;
		case 'n': o.demo = false; break;
		case 'C': err = set_opt(&o, "tls-cert", optarg, false); break;
		case 'K': err = set_opt(&o, "tls-key", optarg, false); break;
		case 'T': o.tls_self_signed = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (err)
			return 2;
	}
	(void)file_nsip;
	if (optind < argc) {
		fprintf(stderr, "pbxd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (o.nsip == 0) {
		snprintf(o.sip_listen[o.nsip++], sizeof o.sip_listen[0], "0.0.0.0:5060");
		snprintf(o.sip_listen[o.nsip++], sizeof o.sip_listen[0], "[::]:5060");
	}
	log_set_level((enum log_level)o.log_level);
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct core_opts co = { .db_path = o.db, .sip_trace = o.sip_trace, .rtp_lo = (uint16_t)o.rtp_lo, .rtp_hi = (uint16_t)o.rtp_hi,
				.prompt_dir = o.prompts, .spool = o.spool };
	for (unsigned i = 0; i < o.nsip; i++) {
		if (sip_addr_parse(o.sip_listen[i], 5060, &co.sip[co.nsip]) != 0) {
			fprintf(stderr, "pbxd: --sip-listen '%s' is not ADDR:PORT\n", o.sip_listen[i]);
			return 2;
		}
		co.nsip++;
	}
	struct sockaddr_storage http_addr;
	if (sip_addr_parse(o.http_listen, 8080, &http_addr) != 0) {
		fprintf(stderr, "pbxd: --http-listen '%s' is not ADDR:PORT\n", o.http_listen);
		return 2;
	}
	if (!o.tls_cert[0] != !o.tls_key[0]) {
		fprintf(stderr, "pbxd: --tls-cert and --tls-key go together\n");
		return 2;
	}

	/* Blocked everywhere: threads created from here on inherit the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	char dir[PATH_MAX];
	if (parent_dir(o.db, dir, sizeof dir) != 0)
		snprintf(dir, sizeof dir, "%s", o.db[0] == '/' ? "/" : "."); /* --db /pbx.db or pbx.db */
	else if (mkdir_p(dir) != 0) {
		log_err("cannot create %s: %s", dir, strerror(errno));
		return 1;
	}
	if (mkdir_p(o.spool) != 0) {
		log_err("cannot create spool %s: %s", o.spool, strerror(errno));
		return 1;
	}
	/* Before the database: a bad certificate stops pbxd before it
	 * creates anything or prints passwords. */
	struct tls_paths tls;
	char fingerprint[TLS_FINGERPRINT_MAX] = "";
	if (setup_tls(&o, dir, &http_addr, &tls, fingerprint, sizeof fingerprint) != 0)
		return 1;
	bool https = fingerprint[0] != '\0';
	bool first_run = access(o.db, F_OK) != 0;
	sqlite3 *db;
	char err[512];
	if (db_open(o.db, &db, err, sizeof err) != 0) {
		log_err("cannot open database %s: %s", o.db, err);
		return 1;
	}
	if (first_run && o.demo)
		create_demo(db);
	ensure_admin(db);
	struct config *cfg;
	if (config_load(db, &cfg) != 0) {
		log_err("cannot load the configuration from %s", o.db);
		db_close(db);
		return 1;
	}

	atomic_bool ready = false;
	struct core *core;
	int rc = core_new(&core, &co, db, cfg);
	db_close(db);
	if (rc != 0) {
		log_err("cannot start the SIP core: %s", strerror(rc));
		return 1;
	}
	/* After the jobs thread (core_new starts it); voicemail deposits post
	 * to it through core->notify. Without it messages are still stored. */
	struct vm_notify *notify = NULL;
	if ((rc = vm_notify_start(&notify, o.db, o.spool)) != 0)
		log_err("cannot start the voicemail email thread: %s; no emails will be sent", strerror(rc));
	core->notify = notify;
	struct live_ops live;
	core_live_ops(core, &live);
	struct http_cfg hc = { .addr = http_addr, .ready = &ready, .db_path = o.db, .spool = o.spool, .live = &live,
			       .tls_cert = https ? tls.cert : NULL, .tls_key = https ? tls.key : NULL };
	struct http_server *http;
	if ((rc = http_start(&http, &hc)) != 0) {
		log_err("cannot listen for HTTP on %s", o.http_listen);
		core_free(core);
		vm_notify_stop(notify);
		return 1;
	}
	printf("pbxd ready.\n");
	/* Where the core listens: the setting sip_port may differ from --sip-listen. */
	struct sockaddr_storage sip_open[CORE_MAX_LISTEN];
	size_t nopen = core_sip_listening(core, sip_open, CORE_MAX_LISTEN);
	for (size_t i = 0; i < nopen; i++)
		print_reachable(&sip_open[i], "  SIP server for phones: ", " (UDP and TCP)");
	print_reachable(&http_addr, https ? "  Web admin: https://" : "  Web admin: http://", "/");
	if (https) {
		printf("  Web admin certificate SHA-256 fingerprint: %s\n", fingerprint);
		log_notice("https: certificate %s, SHA-256 fingerprint %s", tls.cert, fingerprint);
	}
	log_notice("pbxd ready: db %s, spool %s, rtp %u-%u", o.db, o.spool, o.rtp_lo, o.rtp_hi);
	sd_notify_send("READY=1");
	rc = core_run(core, &ready);
	sd_notify_send("STOPPING=1");
	http_stop(http);
	/* The core (and its jobs thread) may post until it is freed; the
	 * notifier goes last, within its own time bound. */
	core_free(core);
	vm_notify_stop(notify);
	log_notice("pbxd stopped");
	return rc == 0 ? 0 : 1;
}
