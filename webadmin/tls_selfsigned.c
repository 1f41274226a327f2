/*
 * tls_selfsigned.c: the web admin's certificate (see tls_selfsigned.h).
 *
 * A self-signed pair is made once, in the tls/ folder next to the
 * database, and reused: its fingerprint is what an administrator compares
 * when the browser first asks, so it must not change on restart. Files are
 * written whole to a temporary name and renamed, the key first and never
 * readable by anyone but pbxd's user, so a crash or a full disk leaves
 * either the old state or a complete file, never half a key.
 */
#include "tls_selfsigned.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "sip_addr.h"

/* Largest PEM file read (a certificate chain fits many times over). */
#define TLS_PEM_MAX (1024 * 1024)
/* Ten years, and an hour back for clocks a little behind ours. */
#define TLS_VALID_S (10L * 366 * 24 * 3600)
#define TLS_BACKDATE_S 3600

/* Read a whole file of at most TLS_PEM_MAX bytes into d (gnutls_free it). */
static int read_file(const char *path, gnutls_datum_t *d, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
		return e;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0) {
		rc = errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > TLS_PEM_MAX) {
		rc = S_ISREG(st.st_mode) ? (st.st_size ? EFBIG : EBADMSG) : EINVAL;
		snprintf(err, errlen, "%s is %s", path,
			 !S_ISREG(st.st_mode) ? "not a regular file" : st.st_size ? "larger than 1 MiB" : "empty");
		goto out;
	}
	d->size = (unsigned)st.st_size;
	if (!(d->data = gnutls_malloc(d->size + 1))) {
		rc = ENOMEM;
		snprintf(err, errlen, "out of memory reading %s", path);
		goto out;
	}
	size_t got = 0;
	while (got < d->size) {
		ssize_t n = read(fd, d->data + got, d->size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? errno : EIO;
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(rc));
			gnutls_free(d->data);
			d->data = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	d->data[d->size] = '\0';
out:
	close(fd);
	return rc;
}

static int load_cert(const char *path, gnutls_x509_crt_t *crt, char *err, size_t errlen)
{
	gnutls_datum_t d = { NULL, 0 };
	int rc = read_file(path, &d, err, errlen);
	if (rc)
		return rc;
	int g = gnutls_x509_crt_init(crt);
	if (g == 0 && (g = gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM)) != 0) {
		gnutls_x509_crt_deinit(*crt);
		snprintf(err, errlen, "%s is not a PEM certificate: %s", path, gnutls_strerror(g));
		rc = EBADMSG;
	} else if (g != 0) {
		snprintf(err, errlen, "%s: %s", path, gnutls_strerror(g));
		rc = ENOMEM;
	}
	gnutls_free(d.data);
	return rc;
}

static int load_key(const char *path, gnutls_x509_privkey_t *key, char *err, size_t errlen)
{
	gnutls_datum_t d = { NULL, 0 };
	int rc = read_file(path, &d, err, errlen);
	if (rc)
		return rc;
	int g = gnutls_x509_privkey_init(key);
	/* PKCS#8, PKCS#1 and SEC1 ("EC PRIVATE KEY") alike; never encrypted. */
	if (g == 0 && (g = gnutls_x509_privkey_import2(*key, &d, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN)) != 0) {
		gnutls_x509_privkey_deinit(*key);
		snprintf(err, errlen, "%s is not an unencrypted PEM private key: %s", path, gnutls_strerror(g));
		rc = EBADMSG;
	} else if (g != 0) {
		snprintf(err, errlen, "%s: %s", path, gnutls_strerror(g));
		rc = ENOMEM;
	}
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	return rc;
}

int tls_pair_check(const char *cert, const char *key, char *err, size_t errlen)
{
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t k;
	int rc = load_cert(cert, &crt, err, errlen);
	if (rc)
		return rc;
	if ((rc = load_key(key, &k, err, errlen)) != 0) {
		gnutls_x509_crt_deinit(crt);
		return rc;
	}
	/* Same public key: compare the key ids both sides compute. */
	unsigned char a[64], b[64];
	size_t na = sizeof a, nb = sizeof b;
	if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a, &na) != 0 ||
	    gnutls_x509_privkey_get_key_id(k, GNUTLS_KEYID_USE_SHA256, b, &nb) != 0 || na != nb ||
	    memcmp(a, b, na) != 0) {
		snprintf(err, errlen, "%s is not the private key of %s", key, cert);
		rc = EINVAL;
	}
	gnutls_x509_privkey_deinit(k);
	gnutls_x509_crt_deinit(crt);
	return rc;
}

int tls_cert_fingerprint(const char *cert, char *out, size_t cap)
{
	char err[256];
	gnutls_x509_crt_t crt;
	if (cap < TLS_FINGERPRINT_MAX)
		return EINVAL;
	int rc = load_cert(cert, &crt, err, sizeof err);
	if (rc)
		return rc;
	unsigned char md[32];
	size_t n = sizeof md;
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, md, &n) != 0 || n != sizeof md)
		rc = EBADMSG;
	gnutls_x509_crt_deinit(crt);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		snprintf(out + 3 * i, cap - 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
	return 0;
}

/* Write data to DIR/NAME through a temporary file in DIR: mode, data,
 * fsync, rename. Nothing of it is left when it fails. */
static int write_atomic(const char *dir, const char *path, const gnutls_datum_t *data, mode_t mode, char *err,
			size_t errlen)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s/.tmp.XXXXXX", dir) >= (int)sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", dir);
		return ENAMETOOLONG;
	}
	int fd = mkostemp(tmp, O_CLOEXEC); /* 0600 */
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot create a file in %s: %s", dir, strerror(e));
		return e;
	}
	int rc = 0;
	if (fchmod(fd, mode) != 0)
		rc = errno;
	for (size_t off = 0; !rc && off < data->size;) {
		ssize_t n = write(fd, data->data + off, data->size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = n < 0 ? errno : EIO;
		else
			off += (size_t)n;
	}
	if (!rc && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && !rc)
		rc = errno;
	if (!rc && rename(tmp, path) != 0)
		rc = errno;
	if (rc) {
		unlink(tmp);
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(rc));
	}
	return rc;
}

static int add_ip_san(gnutls_x509_crt_t crt, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS,
							   &((const struct sockaddr_in *)ss)->sin_addr, 4,
							   GNUTLS_FSAN_APPEND);
	return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS,
						   &((const struct sockaddr_in6 *)ss)->sin6_addr, 16, GNUTLS_FSAN_APPEND);
}

/* listen is a concrete address not already in the names (wildcards and
 * the loopback ones are skipped). */
static bool listen_is_extra(const struct sockaddr_storage *ss)
{
	if (!ss)
		return false;
	if (ss->ss_family == AF_INET) {
		in_addr_t a = ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
		return a != INADDR_ANY && a != INADDR_LOOPBACK;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a);
	}
	return false;
}

/* A new key and certificate as PEM, into *key_pem and *crt_pem (gnutls_free). */
static int make_pair(const struct sockaddr_storage *listen, gnutls_datum_t *key_pem, gnutls_datum_t *crt_pem)
{
	char host[256];
	if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';

	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	int g;
	if ((g = gnutls_x509_privkey_init(&key)) != 0)
		goto out;
	if ((g = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
					      0)) != 0)
		goto out;
	if ((g = gnutls_x509_crt_init(&crt)) != 0)
		goto out;
	/* A positive 16-byte serial: random, so two machines never share one. */
	unsigned char serial[16];
	if ((g = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial)) != 0)
		goto out;
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x01);
	time_t now = time(NULL);
	static const struct in6_addr v6_loopback = IN6ADDR_LOOPBACK_INIT;
	const unsigned char v4_loopback[4] = { 127, 0, 0, 1 };
	unsigned char id[64];
	size_t idlen = sizeof id;
	if ((g = gnutls_x509_crt_set_version(crt, 3)) != 0 ||
	    (g = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) != 0 ||
	    (g = gnutls_x509_crt_set_activation_time(crt, now - TLS_BACKDATE_S)) != 0 ||
	    (g = gnutls_x509_crt_set_expiration_time(crt, now + TLS_VALID_S)) != 0 ||
	    (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, host, (unsigned)strlen(host))) !=
		    0 ||
	    (g = gnutls_x509_crt_set_key(crt, key)) != 0 ||
	    (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host, (unsigned)strlen(host),
						      GNUTLS_FSAN_APPEND)) != 0)
		goto out;
	if (strcmp(host, "localhost") != 0 &&
	    (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9, GNUTLS_FSAN_APPEND)) != 0)
		goto out;
	if ((g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v4_loopback, 4, GNUTLS_FSAN_APPEND)) !=
		    0 ||
	    (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, &v6_loopback, 16, GNUTLS_FSAN_APPEND)) !=
		    0)
		goto out;
	if (listen_is_extra(listen) && (g = add_ip_san(crt, listen)) != 0)
		goto out;
	/* An end-entity certificate (browsers refuse a CA one as a server's
	 * own), for TLS servers only. No key usage: it would have to allow
	 * certificate signing for the self-signature to check everywhere. */
	if ((g = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) != 0 ||
	    (g = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) != 0 ||
	    (g = gnutls_x509_crt_get_key_id(crt, 0, id, &idlen)) != 0 ||
	    (g = gnutls_x509_crt_set_subject_key_id(crt, id, idlen)) != 0 ||
	    (g = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) != 0)
		goto out;
	if ((g = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, key_pem)) != 0)
		goto out;
	if ((g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, crt_pem)) != 0) {
		gnutls_memset(key_pem->data, 0, key_pem->size);
		gnutls_free(key_pem->data);
		key_pem->data = NULL;
	}
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return g;
}

int tls_selfsigned_ensure(const char *dir, const struct sockaddr_storage *listen, struct tls_paths *out,
			  bool *created, char *err, size_t errlen)
{
	if (created)
		*created = false;
	if (!dir || !*dir || !out) {
		snprintf(err, errlen, "no folder for the certificate");
		return EINVAL;
	}
	if (snprintf(out->cert, sizeof out->cert, "%s/cert.pem", dir) >= (int)sizeof out->cert ||
	    snprintf(out->key, sizeof out->key, "%s/key.pem", dir) >= (int)sizeof out->key) {
		snprintf(err, errlen, "%s: path too long", dir);
		return ENAMETOOLONG;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(e));
		return e;
	}
	/* Both there: reuse them, as they are (an admin may have put a pair
	 * of their own there); they must still load. */
	if (access(out->cert, F_OK) == 0 && access(out->key, F_OK) == 0)
		return tls_pair_check(out->cert, out->key, err, errlen);

	gnutls_datum_t key_pem = { NULL, 0 }, crt_pem = { NULL, 0 };
	int g = make_pair(listen, &key_pem, &crt_pem);
	if (g != 0) {
		snprintf(err, errlen, "cannot make a certificate: %s", gnutls_strerror(g));
		return EIO;
	}
	/* The key first: a certificate on disk always has its key beside it.
	 * If the certificate cannot be written, the new key goes too (an old
	 * certificate may be left, without a key), so the next start makes
	 * both again rather than finding a pair that does not match. */
	int rc = write_atomic(dir, out->key, &key_pem, 0600, err, errlen);
	if (!rc && (rc = write_atomic(dir, out->cert, &crt_pem, 0644, err, errlen)) != 0)
		unlink(out->key);
	gnutls_memset(key_pem.data, 0, key_pem.size);
	gnutls_free(key_pem.data);
	gnutls_free(crt_pem.data);
	if (!rc) {
		/* The renames themselves survive a crash. */
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		if (created)
			*created = true;
	}
	return rc;
}
