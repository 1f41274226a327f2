/*
 * mwi.c: message-summary bodies (RFC 3842, see mwi.h). Lines end in CRLF
 * as the RFC's grammar asks; "Messages-Waiting: yes" means new messages
 * wait, whatever the old ones.
 */
#include "mwi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* An absolute URI as far as this body cares: "scheme:rest", printable
 * ASCII, no spaces, no line breaks. */
static int account_ok(const char *s)
{
	size_t n = strnlen(s, MWI_ACCOUNT_MAX + 1);
	if (n == 0 || n > MWI_ACCOUNT_MAX)
		return 0;
	const char *colon = memchr(s, ':', n);
	if (!colon || colon == s || colon == s + n - 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	for (const char *p = s; p < colon; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (p > s && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
			return 0;
	}
	return 1;
}

int mwi_body(char *out, size_t cap, const char *account, unsigned n_new, unsigned n_old, size_t *len)
{
	if (!out || !len)
		return EINVAL;
	int has_account = account && *account;
	if (has_account && !account_ok(account))
		return EINVAL;
	int n = snprintf(out, cap, "Messages-Waiting: %s\r\n%s%s%sVoice-Message: %u/%u (0/0)\r\n",
			 n_new ? "yes" : "no", has_account ? "Message-Account: " : "",
			 has_account ? account : "", has_account ? "\r\n" : "", n_new, n_old);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return ENOSPC;
	}
	*len = (size_t)n;
	return 0;
}
