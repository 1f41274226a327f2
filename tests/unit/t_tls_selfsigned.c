/*
 * t_tls_selfsigned.c: the web admin's self-signed certificate, in a temp
 * folder: a new pair parses with GnuTLS, its signature checks against
 * itself, it names localhost, 127.0.0.1 and a concrete listen address (not
 * a wildcard), the key is mode 0600 and matches; a second call reuses the
 * same bytes; a missing half is made again; files that do not load are
 * refused and left alone; a folder pbxd cannot write, and a write that
 * fails half-way (file size limit), give an errno and leave no file, not
 * even a temporary one. Then tls_pair_check's errors and the fingerprint.
 */
#include "unit.h"

#include "tls_selfsigned.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

static char tmpdir[64];
static int seq;

/* A fresh folder name under tmpdir (not created). */
static void fresh(char *out, size_t cap)
{
	snprintf(out, cap, "%s/d%d", tmpdir, ++seq);
}

/* Whole file into buf; its length, or -1. */
static long slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap);
	close(fd);
	return n;
}

static void spit(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

/* Entries in a folder other than . and .. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void v4(struct sockaddr_storage *ss, const char *ip)
{
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *s = (struct sockaddr_in *)ss;
	s->sin_family = AF_INET;
	s->sin_port = htons(8443);
	assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
}

static void load_crt(const char *path, gnutls_x509_crt_t *crt)
{
	static char buf[16384];
	long n = slurp(path, buf, sizeof buf);
	assert_true(n > 0);
	gnutls_datum_t d = { (unsigned char *)buf, (unsigned)n };
	assert_int_equal(gnutls_x509_crt_init(crt), 0);
	assert_int_equal(gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM), 0);
}

/* Does the certificate carry this SAN (type, raw value)? Counts IP SANs. */
static bool has_san(gnutls_x509_crt_t crt, int type, const void *val, size_t len, int *nip)
{
	bool found = false;
	if (nip)
		*nip = 0;
	for (unsigned i = 0; i < 32; i++) {
		unsigned char b[256];
		size_t bl = sizeof b;
		unsigned crit;
		int t = gnutls_x509_crt_get_subject_alt_name(crt, i, b, &bl, &crit);
		if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		assert_true(t >= 0);
		if (t == GNUTLS_SAN_IPADDRESS && nip)
			(*nip)++;
		if (t == type && bl == len && memcmp(b, val, len) == 0)
			found = true;
	}
	return found;
}

static void test_new_pair(void **state)
{
	(void)state;
	char dir[128], err[512];
	fresh(dir, sizeof dir);
	struct sockaddr_storage ls;
	v4(&ls, "192.0.2.7");
	struct tls_paths p;
	bool created = false;
	assert_int_equal(tls_selfsigned_ensure(dir, &ls, &p, &created, err, sizeof err), 0);
	assert_true(created);
	char want[160];
	snprintf(want, sizeof want, "%s/cert.pem", dir);
	assert_string_equal(p.cert, want);
	snprintf(want, sizeof want, "%s/key.pem", dir);
	assert_string_equal(p.key, want);
	assert_int_equal(entries(dir), 2); /* no temporary file left */

	struct stat st;
	assert_int_equal(stat(p.key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0); /* the folder is pbxd's alone */
	assert_int_equal(tls_pair_check(p.cert, p.key, err, sizeof err), 0);

	gnutls_x509_crt_t crt;
	load_crt(p.cert, &crt);
	assert_int_equal(gnutls_x509_crt_get_version(crt), 3);
	/* Self-signed: issuer is subject and the signature checks with its own key. */
	assert_true(gnutls_x509_crt_check_issuer(crt, crt));
	unsigned status = 99;
	assert_int_equal(gnutls_x509_crt_verify(crt, &crt, 1, 0, &status), 0);
	assert_int_equal(status, 0);
	/* The names a browser or curl is pointed at. */
	static const unsigned char lo4[4] = { 127, 0, 0, 1 }, ex4[4] = { 192, 0, 2, 7 };
	int nip;
	assert_true(has_san(crt, GNUTLS_SAN_DNSNAME, "localhost", 9, &nip));
	assert_true(has_san(crt, GNUTLS_SAN_IPADDRESS, lo4, 4, NULL));
	assert_true(has_san(crt, GNUTLS_SAN_IPADDRESS, ex4, 4, NULL));
	assert_int_equal(nip, 3); /* 127.0.0.1, ::1, 192.0.2.7 */
	char host[256];
	assert_int_equal(gethostname(host, sizeof host), 0);
	assert_true(gnutls_x509_crt_check_hostname(crt, host));
	assert_true(gnutls_x509_crt_check_hostname(crt, "localhost"));
	assert_true(gnutls_x509_crt_check_hostname(crt, "127.0.0.1"));
	assert_false(gnutls_x509_crt_check_hostname(crt, "example.com"));
	char cn[256];
	size_t cnl = sizeof cn;
	assert_int_equal(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cnl), 0);
	assert_string_equal(cn, host);
	/* About ten years, and already valid. */
	time_t now = time(NULL);
	assert_true(gnutls_x509_crt_get_activation_time(crt) <= now);
	assert_true(gnutls_x509_crt_get_expiration_time(crt) > now + 9L * 365 * 86400);
	assert_true(gnutls_x509_crt_get_expiration_time(crt) < now + 11L * 365 * 86400);
	/* Not a CA: browsers refuse a CA certificate as a server's own. */
	unsigned crit, ca = 1;
	int pathlen;
	assert_int_equal(gnutls_x509_crt_get_basic_constraints(crt, &crit, &ca, &pathlen), 0);
	assert_int_equal(ca, 0);
	gnutls_x509_crt_deinit(crt);
}

static void test_reused(void **state)
{
	(void)state;
	char dir[128], err[512];
	fresh(dir, sizeof dir);
	struct tls_paths p, q;
	bool created;
	assert_int_equal(tls_selfsigned_ensure(dir, NULL, &p, &created, err, sizeof err), 0);
	assert_true(created);
	static char c1[8192], k1[8192], c2[8192], k2[8192];
	long nc1 = slurp(p.cert, c1, sizeof c1), nk1 = slurp(p.key, k1, sizeof k1);
	char fp1[TLS_FINGERPRINT_MAX], fp2[TLS_FINGERPRINT_MAX];
	assert_int_equal(tls_cert_fingerprint(p.cert, fp1, sizeof fp1), 0);

	assert_int_equal(tls_selfsigned_ensure(dir, NULL, &q, &created, err, sizeof err), 0);
	assert_false(created);
	assert_string_equal(p.cert, q.cert);
	long nc2 = slurp(q.cert, c2, sizeof c2), nk2 = slurp(q.key, k2, sizeof k2);
	assert_true(nc1 > 0 && nk1 > 0);
	assert_int_equal(nc1, nc2);
	assert_int_equal(nk1, nk2);
	assert_memory_equal(c1, c2, (size_t)nc1);
	assert_memory_equal(k1, k2, (size_t)nk1);
	assert_int_equal(tls_cert_fingerprint(q.cert, fp2, sizeof fp2), 0);
	assert_string_equal(fp1, fp2);

	/* Half a pair (the key lost): both are made again. */
	assert_int_equal(unlink(p.key), 0);
	assert_int_equal(tls_selfsigned_ensure(dir, NULL, &q, &created, err, sizeof err), 0);
	assert_true(created);
	assert_int_equal(tls_cert_fingerprint(q.cert, fp2, sizeof fp2), 0);
	assert_string_not_equal(fp1, fp2);
	assert_int_equal(tls_pair_check(q.cert, q.key, err, sizeof err), 0);
}

static void test_wildcard_listen(void **state)
{
	(void)state;
	char dir[128], err[512];
	fresh(dir, sizeof dir);
	struct sockaddr_storage ls;
	v4(&ls, "0.0.0.0");
	struct tls_paths p;
	assert_int_equal(tls_selfsigned_ensure(dir, &ls, &p, NULL, err, sizeof err), 0);
	gnutls_x509_crt_t crt;
	load_crt(p.cert, &crt);
	static const unsigned char any[4] = { 0, 0, 0, 0 };
	int nip;
	assert_false(has_san(crt, GNUTLS_SAN_IPADDRESS, any, 4, &nip));
	assert_int_equal(nip, 2); /* the loopback ones only */
	gnutls_x509_crt_deinit(crt);
}

/* Files that are there but do not load are refused, not replaced: they may
 * be an admin's own. */
static void test_bad_files_kept(void **state)
{
	(void)state;
	char dir[128], err[512], path[192], buf[64];
	fresh(dir, sizeof dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof path, "%s/cert.pem", dir);
	spit(path, "not a certificate\n");
	snprintf(path, sizeof path, "%s/key.pem", dir);
	spit(path, "not a key\n");
	struct tls_paths p;
	bool created = true;
	assert_int_equal(tls_selfsigned_ensure(dir, NULL, &p, &created, err, sizeof err), EBADMSG);
	assert_false(created);
	assert_non_null(strstr(err, "cert.pem"));
	assert_int_equal(slurp(p.cert, buf, sizeof buf), 18);
	assert_memory_equal(buf, "not a certificate\n", 18);
}

/* Run tls_selfsigned_ensure in a child (as nobody when we are root, who
 * may write anywhere), after prep; its return value is the exit status. */
static int ensure_in_child(const char *dir, void (*prep)(void))
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prep)
			prep();
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(200);
		char err[512];
		struct tls_paths p;
		int rc = tls_selfsigned_ensure(dir, NULL, &p, NULL, err, sizeof err);
		if (rc)
			fprintf(stderr, "# child: %s\n", err);
		_exit(rc > 199 ? 199 : rc);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_folder_not_writable(void **state)
{
	(void)state;
	char dir[128];
	fresh(dir, sizeof dir);
	assert_int_equal(mkdir(dir, 0555), 0);
	assert_int_equal(chmod(dir, 0555), 0);
	assert_int_equal(ensure_in_child(dir, NULL), EACCES);
	assert_int_equal(entries(dir), 0);
	/* Its parent not writable: the folder cannot be made. */
	char sub[160];
	snprintf(sub, sizeof sub, "%s/tls", dir);
	assert_int_equal(ensure_in_child(sub, NULL), EACCES);
	assert_int_equal(entries(dir), 0);
}

static void small_files(void)
{
	/* A write past this limit fails with EFBIG instead of killing us. */
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit r = { 100, 100 };
	setrlimit(RLIMIT_FSIZE, &r);
}

static void test_write_fails_half_way(void **state)
{
	(void)state;
	char dir[128];
	fresh(dir, sizeof dir);
	assert_int_equal(mkdir(dir, 0777), 0);
	assert_int_equal(chmod(dir, 0777), 0); /* writable by the child, whoever it runs as */
	assert_int_equal(ensure_in_child(dir, small_files), EFBIG);
	assert_int_equal(entries(dir), 0); /* no key, no certificate, no temporary file */
}

static void test_pair_check_errors(void **state)
{
	(void)state;
	char a[128], b[128], err[512], path[192];
	fresh(a, sizeof a);
	fresh(b, sizeof b);
	struct tls_paths pa, pb;
	assert_int_equal(tls_selfsigned_ensure(a, NULL, &pa, NULL, err, sizeof err), 0);
	assert_int_equal(tls_selfsigned_ensure(b, NULL, &pb, NULL, err, sizeof err), 0);

	snprintf(path, sizeof path, "%s/missing.pem", a);
	assert_int_equal(tls_pair_check(path, pa.key, err, sizeof err), ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(tls_pair_check(pa.cert, path, err, sizeof err), ENOENT);
	assert_non_null(strstr(err, path));
	/* The key where the certificate should be, and the other way round. */
	assert_int_equal(tls_pair_check(pa.key, pa.key, err, sizeof err), EBADMSG);
	assert_non_null(strstr(err, pa.key));
	assert_int_equal(tls_pair_check(pa.cert, pa.cert, err, sizeof err), EBADMSG);
	assert_non_null(strstr(err, pa.cert));
	snprintf(path, sizeof path, "%s/empty.pem", a);
	spit(path, "");
	assert_int_equal(tls_pair_check(path, pa.key, err, sizeof err), EBADMSG);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(tls_pair_check(a, pa.key, err, sizeof err), EINVAL); /* a folder */
	/* Each file fine, but not a pair. */
	assert_int_equal(tls_pair_check(pa.cert, pb.key, err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "not the private key"));
	assert_int_equal(tls_pair_check(pb.cert, pb.key, err, sizeof err), 0);
}

static void test_fingerprint(void **state)
{
	(void)state;
	char dir[128], err[512], fp[TLS_FINGERPRINT_MAX];
	fresh(dir, sizeof dir);
	struct tls_paths p;
	assert_int_equal(tls_selfsigned_ensure(dir, NULL, &p, NULL, err, sizeof err), 0);
	assert_int_equal(tls_cert_fingerprint(p.cert, fp, 10), EINVAL);
	assert_int_equal(tls_cert_fingerprint(p.cert, fp, sizeof fp), 0);
	assert_int_equal(strlen(fp), 95);
	gnutls_x509_crt_t crt;
	load_crt(p.cert, &crt);
	unsigned char md[32];
	size_t n = sizeof md;
	assert_int_equal(gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, md, &n), 0);
	gnutls_x509_crt_deinit(crt);
	char want[TLS_FINGERPRINT_MAX];
	for (size_t i = 0; i < n; i++)
		snprintf(want + 3 * i, sizeof want - 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
	assert_string_equal(fp, want);
	assert_int_equal(tls_cert_fingerprint(p.key, fp, sizeof fp), EBADMSG);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_tls.XXXXXX");
	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) != 0) /* the child runs as nobody */
		return -1;
	/* GnuTLS makes process-wide state on first use: here, outside the
	 * per-test leak check. */
	char dir[128], err[512], fp[TLS_FINGERPRINT_MAX];
	fresh(dir, sizeof dir);
	struct tls_paths p;
	if (tls_selfsigned_ensure(dir, NULL, &p, NULL, err, sizeof err) != 0 ||
	    tls_cert_fingerprint(p.cert, fp, sizeof fp) != 0)
		return -1;
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
		UNIT_TEST(test_new_pair),
		UNIT_TEST(test_reused),
		UNIT_TEST(test_wildcard_listen),
		UNIT_TEST(test_bad_files_kept),
		UNIT_TEST(test_folder_not_writable),
		UNIT_TEST(test_write_fails_half_way),
		UNIT_TEST(test_pair_check_errors),
		UNIT_TEST(test_fingerprint),
	};
	return cmocka_run_group_tests_name("tls_selfsigned", tests, group_setup, group_teardown);
}
