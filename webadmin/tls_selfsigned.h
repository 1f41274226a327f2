/*
 * tls_selfsigned.h: the web admin's certificate: checking a configured PEM
 * pair, and making a self-signed one on first start (GnuTLS).
 *
 * pbxd calls tls_pair_check for --tls-cert/--tls-key, or tls_selfsigned_ensure
 * for --tls-self-signed (DIR is the tls/ folder next to the database), then
 * hands the two paths to http_start. The pair is made once and reused on
 * every later start, so a browser that accepted it (or an admin who noted
 * its fingerprint) sees the same certificate after a restart.
 */
#ifndef PBX_TLS_SELFSIGNED_H
#define PBX_TLS_SELFSIGNED_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* "AB:CD:..." for a SHA-256 digest: 32 bytes as 3 characters each. */
#define TLS_FINGERPRINT_MAX 96

struct tls_paths {
	char cert[PATH_MAX]; /* DIR/cert.pem */
	char key[PATH_MAX];  /* DIR/key.pem, mode 0600 */
};

/*
 * Make sure DIR/cert.pem and DIR/key.pem exist and load as a matching pair;
 * when either is missing, make both: an ECDSA P-256 key and an X.509 v3
 * certificate signed by it, valid ten years, CN = this machine's host name,
 * subjectAltName DNS:hostname, DNS:localhost, IP:127.0.0.1, IP:::1 and
 * listen's address when it is a concrete one (listen may be NULL). DIR is
 * created (0700) if it does not exist; its parent must. Each file is written
 * to a temporary file in DIR and renamed over its name, so a failure never
 * leaves a half-written file behind. *created tells whether a new pair was
 * made (may be NULL). Returns 0 or an errno (EACCES, ENOSPC... from the file
 * system, EBADMSG when existing files do not load, EIO for a GnuTLS
 * failure), with a sentence naming the file in err.
 */
int tls_selfsigned_ensure(const char *dir, const struct sockaddr_storage *listen, struct tls_paths *out,
			  bool *created, char *err, size_t errlen);

/*
 * Check a configured pair: both files readable, the certificate a PEM X.509
 * certificate, the key a PEM private key, and the key the certificate's.
 * Returns 0, the errno of open/read (ENOENT, EACCES, EFBIG over 1 MiB),
 * EBADMSG (not PEM or not parseable) or EINVAL (a key for another
 * certificate), with a sentence naming the file in err.
 */
int tls_pair_check(const char *cert, const char *key, char *err, size_t errlen);

/* The SHA-256 fingerprint of the first certificate in a PEM file, as
 * colon-separated upper-case hex, into out (at least TLS_FINGERPRINT_MAX
 * bytes). 0, an errno of open/read, or EBADMSG. */
int tls_cert_fingerprint(const char *cert, char *out, size_t cap);

#endif
