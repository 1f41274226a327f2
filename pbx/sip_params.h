/*
 * sip_params.h: the generic-param list scanner shared by the parser's
 * files (Via parameters in sip_msg.c, header parameters in sip_uri.c).
 * Internal to the SIP parser.
 */
#ifndef PBX_SIP_PARAMS_H
#define PBX_SIP_PARAMS_H

#include "slice.h"

/*
 * Strict check of a parameter list (after the first ';'):
 * generic-param *( SEMI generic-param ), generic-param = token [ EQUAL
 * gen-value ], gen-value = token / host / quoted-string (IPv6 references
 * with or without brackets, RFC 5118 4.5). Empty elements (";;") are
 * malformed (RFC 4475 badinv01). Calls fn for each parameter (val absent
 * when there is no '='); returns 0 or EBADMSG.
 */
int sip_params_scan(struct slice params, void (*fn)(void *ctx, struct slice name, struct slice val),
		    void *ctx);

#endif
