/*
 * t_sdp.c: SDP parsing, offer/answer and the text we write.
 *
 * Offers are modelled on what real phones send (baresip, Linphone, an SDES
 * phone, IPv6, hold, video, RFC 4317 2.1); each is answered with fixed
 * local settings and a fixed key, and the whole answer text is compared.
 * Malformed descriptions and every bound are checked on both sides of the
 * limit. Our own offers are answered and applied back, and a round trip
 * between two of our legs must agree on codec and keys.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/crypto.h>

#include "sdp.h"
#include "unit.h"

#define KEY_A5 "paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWl" /* 30 x 0xa5 */
#define KEY_SEQ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd" /* 0, 1, ... 29 */
#define KEY_100 "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB" /* 100 ... 129 */
#define KEY_256 "yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6err7O3u7/Dx8vP09Q=="

#define ANSWER_HEAD "v=0\r\no=pbx 1000 1000 IN IP4 203.0.113.5\r\ns=pbx\r\n" \
		    "c=IN IP4 203.0.113.5\r\nt=0 0\r\n"

static const uint8_t key_a5[SDP_SRTP_KEY_LEN] = {
	0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
	0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
};

/* ---- fixtures ---- */

static const char baresip_offer[] =
	"v=0\r\n"
	"o=- 2398405813 3482939211 IN IP4 192.168.1.20\r\n"
	"s=-\r\n"
	"c=IN IP4 192.168.1.20\r\n"
	"t=0 0\r\n"
	"a=tool:baresip 1.0.0\r\n"
	"m=audio 10218 RTP/AVP 96 0 8 101\r\n"
	"b=AS:125\r\n"
	"a=rtpmap:96 opus/48000/2\r\n"
	"a=fmtp:96 stereo=1;sprop-stereo=1\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=rtcp-rsize\r\n"
	"a=ssrc:3912345678 cname:b41f0c9a-7d2e\r\n"
	"a=sendrecv\r\n"
	"a=label:1\r\n"
	"a=ptime:20\r\n";

/* LF only, as some stacks write it. */
static const char linphone_offer[] =
	"v=0\n"
	"o=bob 1842 3045 IN IP4 10.0.0.7\n"
	"s=Talk\n"
	"c=IN IP4 10.0.0.7\n"
	"t=0 0\n"
	"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\n"
	"m=audio 7078 RTP/AVP 96 97 98 9 0 8 18 101 99 100\n"
	"a=rtpmap:96 opus/48000/2\n"
	"a=fmtp:96 useinbandfec=1\n"
	"a=rtpmap:97 speex/16000\n"
	"a=fmtp:97 vbr=on\n"
	"a=rtpmap:98 speex/8000\n"
	"a=fmtp:98 vbr=on\n"
	"a=fmtp:18 annexb=yes\n"
	"a=rtpmap:101 telephone-event/48000\n"
	"a=rtpmap:99 telephone-event/16000\n"
	"a=rtpmap:100 telephone-event/8000\n"
	"a=rtcp-fb:* trr-int 1000\n"
	"a=rtcp-fb:* ccm tmmbr\n";

static const char srtp_offer[] =
	"v=0\r\n"
	"o=- 1 1 IN IP4 192.0.2.30\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.30\r\n"
	"t=0 0\r\n"
	"m=audio 16000 RTP/SAVP 8 0 101\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" KEY_256 "\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEY_SEQ "|2^31|1:1\r\n"
	"a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:" KEY_100 "\r\n"
	"a=sendrecv\r\n";

static const char ipv6_offer[] =
	"v=0\r\n"
	"o=- 5 5 IN IP6 2001:db8::10\r\n"
	"s=-\r\n"
	"c=IN IP6 2001:db8::10\r\n"
	"t=0 0\r\n"
	"m=audio 20000 RTP/AVP 0 101\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=rtcp:20001 IN IP6 2001:db8::11\r\n"
	"a=rtcp-mux\r\n"
	"a=mid:audio\r\n";

/* RFC 4317 2.1, Alice's offer. */
static const char rfc4317_offer[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n"
	"s=\r\n"
	"c=IN IP4 host.atlanta.example.com\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/AVP 0 8 97\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:97 iLBC/8000\r\n"
	"m=video 51372 RTP/AVP 31 32\r\n"
	"a=rtpmap:31 H261/90000\r\n"
	"a=rtpmap:32 MPV/90000\r\n";

/* The other leg of a video call: it only does MPV. */
static const char peer_video_offer[] =
	"v=0\r\n"
	"o=- 9 9 IN IP4 192.0.2.99\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.99\r\n"
	"t=0 0\r\n"
	"m=audio 9000 RTP/AVP 0\r\n"
	"m=video 9002 RTP/AVP 32\r\n"
	"a=rtpmap:32 MPV/90000\r\n";

static struct sdp_session *parse_ok(const char *text)
{
	struct sdp_session *s = malloc(sizeof(*s));
	assert_non_null(s);
	int rc = sdp_parse(slice_cstr(text), s);
	if (rc)
		fail_msg("sdp_parse: %d for\n%s", rc, text);
	return s;
}

static int parse_rc(const char *text, size_t len)
{
	struct sdp_session *s = malloc(sizeof(*s));
	assert_non_null(s);
	int rc = sdp_parse(slice_make(text, len), s);
	free(s);
	return rc;
}

static struct sdp_local local_default(void)
{
	struct sdp_local l;
	memset(&l, 0, sizeof(l));
	l.codecs[0] = SDP_CODEC_PCMU;
	l.codecs[1] = SDP_CODEC_PCMA;
	l.codecs[2] = SDP_CODEC_OPUS;
	l.ncodecs = 3;
	l.dtmf = true;
	l.srtp = SDP_SRTP_OFF;
	l.addr = "203.0.113.5";
	l.audio_port = 40000;
	l.dir = SDP_DIR_UNSET;
	l.ptime = 20;
	l.srtp_key = key_a5;
	return l;
}

/* Answer text for offer with l, origin 1000; NULL when expect_rc != 0. */
static void check_answer(const char *offer, const struct sdp_local *l, int expect_rc,
			 const char *expect, struct sdp_neg *neg_out)
{
	struct sdp_session *s = parse_ok(offer);
	struct sdp_neg neg;
	int rc = sdp_answer_make(s, l, &neg);
	assert_int_equal(rc, expect_rc);
	if (rc == 0) {
		struct sdp_origin o;
		assert_int_equal(sdp_origin_init(&o, 1000), 0);
		char text[4096];
		struct sip_buf b;
		sip_buf_init(&b, text, sizeof(text) - 1);
		assert_int_equal(sdp_answer_write(&b, s, &neg, l, &o), 0);
		text[b.len] = '\0';
		assert_string_equal(text, expect);
		/* What we write must parse again. */
		struct sdp_session *again = parse_ok(text);
		assert_int_equal(again->nmedia, s->nmedia);
		free(again);
		if (neg_out)
			*neg_out = neg;
	}
	free(s);
}

/* ---- parsing ---- */

static void test_parse_baresip(void **state)
{
	(void)state;
	struct sdp_session *s = parse_ok(baresip_offer);
	assert_true(slice_eq_cstr(s->o_user, "-"));
	assert_true(slice_eq_cstr(s->o_sess_id, "2398405813"));
	assert_true(slice_eq_cstr(s->o_sess_version, "3482939211"));
	assert_int_equal(s->o_conn.family, AF_INET);
	assert_true(s->conn.present && s->conn.numeric && !s->conn.null);
	assert_true(slice_eq_cstr(s->conn.addr, "192.168.1.20"));
	assert_true(slice_eq_cstr(s->timing, "0 0"));
	assert_int_equal(s->nattr, 1);
	assert_true(slice_eq_cstr(s->attr[0].name, "tool"));
	assert_true(slice_eq_cstr(s->attr[0].value, "baresip 1.0.0"));
	assert_int_equal(s->dir, SDP_DIR_UNSET);

	assert_int_equal(s->nmedia, 1);
	const struct sdp_media *m = &s->media[0];
	assert_int_equal(m->kind, SDP_MEDIA_AUDIO);
	assert_int_equal(m->port, 10218);
	assert_int_equal(m->port_count, 1);
	assert_int_equal(m->proto_id, SDP_PROTO_RTP_AVP);
	assert_true(m->rtp);
	assert_false(m->conn.present);
	assert_int_equal(m->dir, SDP_DIR_SENDRECV);
	assert_int_equal(m->ptime, 20);
	assert_int_equal(m->nfmt, 4);
	assert_int_equal(m->fmt[0].pt, 96);
	assert_int_equal(sdp_fmt_codec(&m->fmt[0]), SDP_CODEC_OPUS);
	assert_true(slice_eq_cstr(m->fmt[0].fmtp, "stereo=1;sprop-stereo=1"));
	assert_int_equal(sdp_fmt_codec(&m->fmt[1]), SDP_CODEC_PCMU);
	assert_int_equal(sdp_fmt_codec(&m->fmt[2]), SDP_CODEC_PCMA);
	assert_int_equal(sdp_fmt_codec(&m->fmt[3]), SDP_CODEC_TEL_EVENT);
	assert_int_equal(m->fmt[3].clock, 8000);
	assert_true(slice_eq_cstr(m->fmt[3].fmtp, "0-15"));

	/* Every a-line indexed, in order, unknown ones kept for pass-through. */
	assert_int_equal(m->nattr, 11);
	assert_int_equal(m->attr[0].kind, SDP_ATTR_RTPMAP);
	assert_int_equal(m->attr[1].kind, SDP_ATTR_FMTP);
	assert_int_equal(m->attr[6].kind, SDP_ATTR_OTHER);
	assert_true(slice_eq_cstr(m->attr[6].name, "rtcp-rsize"));
	assert_false(slice_present(m->attr[6].value));
	assert_true(slice_eq_cstr(m->attr[7].name, "ssrc"));
	assert_true(slice_eq_cstr(m->attr[7].value, "3912345678 cname:b41f0c9a-7d2e"));
	assert_int_equal(m->attr[8].kind, SDP_ATTR_DIR);
	assert_int_equal(m->attr[10].kind, SDP_ATTR_PTIME);

	/* Zero copy: the slices point into the body. */
	assert_true(m->fmt[0].enc.p > baresip_offer &&
		    m->fmt[0].enc.p < baresip_offer + sizeof(baresip_offer));
	free(s);
}

static void test_parse_linphone_lf(void **state)
{
	(void)state;
	struct sdp_session *s = parse_ok(linphone_offer);
	assert_true(slice_eq_cstr(s->name, "Talk"));
	const struct sdp_media *m = &s->media[0];
	assert_int_equal(m->nfmt, 10);
	/* Static types without rtpmap come from the RFC 3551 table. */
	assert_int_equal(m->fmt[3].pt, 9);
	assert_false(m->fmt[3].has_rtpmap);
	assert_true(slice_eq_cstr(m->fmt[3].enc, "G722"));
	assert_int_equal(m->fmt[4].pt, 0);
	assert_int_equal(sdp_fmt_codec(&m->fmt[4]), SDP_CODEC_PCMU);
	assert_int_equal(sdp_fmt_codec(&m->fmt[5]), SDP_CODEC_PCMA);
	assert_true(slice_eq_cstr(m->fmt[6].enc, "G729"));
	assert_true(slice_eq_cstr(m->fmt[6].fmtp, "annexb=yes"));
	assert_int_equal(m->fmt[1].clock, 16000);
	assert_int_equal(sdp_fmt_codec(&m->fmt[1]), SDP_CODEC_UNKNOWN);
	/* telephone-event/16000 is not ours. */
	assert_int_equal(sdp_fmt_codec(&m->fmt[8]), SDP_CODEC_UNKNOWN);
	assert_int_equal(sdp_fmt_codec(&m->fmt[9]), SDP_CODEC_TEL_EVENT);
	assert_int_equal(sdp_media_dir(s, m), SDP_DIR_SENDRECV);
	free(s);
}

static void test_parse_srtp(void **state)
{
	(void)state;
	struct sdp_session *s = parse_ok(srtp_offer);
	const struct sdp_media *m = &s->media[0];
	assert_int_equal(m->proto_id, SDP_PROTO_RTP_SAVP);
	assert_int_equal(m->ncrypto, 3);
	assert_int_equal(m->crypto[0].tag, 1);
	assert_int_equal(m->crypto[0].suite_id, SDP_SRTP_UNKNOWN);
	assert_true(slice_eq_cstr(m->crypto[0].key_b64, KEY_256));
	assert_int_equal(m->crypto[1].suite_id, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_true(slice_eq_cstr(m->crypto[1].lifetime, "2^31"));
	assert_true(slice_eq_cstr(m->crypto[1].mki, "1:1"));
	for (int i = 0; i < SDP_SRTP_KEY_LEN; i++) {
		assert_int_equal(m->crypto[1].key[i], i);
		assert_int_equal(m->crypto[2].key[i], 100 + i);
	}
	assert_int_equal(m->crypto[2].suite_id, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_false(slice_present(m->crypto[2].lifetime));
	assert_false(slice_present(m->crypto[2].mki));
	free(s);
}

static void test_parse_ipv6(void **state)
{
	(void)state;
	struct sdp_session *s = parse_ok(ipv6_offer);
	assert_int_equal(s->conn.family, AF_INET6);
	assert_true(s->conn.numeric);
	assert_true(slice_eq_cstr(s->conn.addr, "2001:db8::10"));
	const struct sdp_media *m = &s->media[0];
	assert_int_equal(m->rtcp_port, 20001);
	assert_true(m->rtcp_conn.present);
	assert_int_equal(m->rtcp_conn.family, AF_INET6);
	assert_true(slice_eq_cstr(m->rtcp_conn.addr, "2001:db8::11"));
	assert_true(m->rtcp_mux);
	assert_true(slice_eq_cstr(m->mid, "audio"));
	free(s);
}

static void test_parse_misc(void **state)
{
	(void)state;
	/* RFC 4317: host names in c=, empty s=, two m-lines, video static types. */
	struct sdp_session *s = parse_ok(rfc4317_offer);
	assert_true(s->conn.present);
	assert_false(s->conn.numeric);
	assert_true(slice_present(s->name) && s->name.len == 0);
	assert_int_equal(s->nmedia, 2);
	assert_int_equal(s->media[1].kind, SDP_MEDIA_VIDEO);
	assert_true(slice_eq_cstr(s->media[1].fmt[0].enc, "H261"));
	free(s);

	/* Media-level c= wins; multicast ttl stripped; port/count; non-RTP formats kept. */
	s = parse_ok("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\na=recvonly\r\n"
		     "m=audio 5000/2 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127/3\r\na=maxptime:40\r\n"
		     "m=application 9 UDP/BFCP *\r\nc=IN IP4 192.0.2.2\r\n"
		     "m=audio 6000 RTP/AVPF 0\r\nc=IN IP4 0.0.0.0\r\na=ptime:20.5\r\n");
	assert_int_equal(s->dir, SDP_DIR_RECVONLY);
	assert_false(s->conn.present);
	assert_int_equal(s->media[0].port_count, 2);
	assert_true(slice_eq_cstr(sdp_media_conn(s, &s->media[0])->addr, "224.2.1.1"));
	assert_int_equal(sdp_media_dir(s, &s->media[0]), SDP_DIR_RECVONLY);
	assert_int_equal(s->media[0].maxptime, 40);
	assert_false(s->media[1].rtp);
	assert_int_equal(s->media[1].fmt[0].pt, -1);
	assert_true(slice_eq_cstr(s->media[1].fmt[0].id, "*"));
	assert_int_equal(s->media[2].proto_id, SDP_PROTO_OTHER);
	assert_true(s->media[2].rtp);
	assert_true(s->media[2].conn.null);
	assert_int_equal(s->media[2].ptime, 20);
	free(s);
}

static void test_parse_malformed(void **state)
{
	(void)state;
	static const char *bad[] = {
		/* missing v= */
		"o=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n",
		/* v= not first, v twice */
		"o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\ns=-\r\n",
		"v=0\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n",
		"v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n",
		/* no o= */
		"v=0\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n",
		/* bad o= */
		"v=0\r\no=- 1 IN IP4 192.0.2.1\r\ns=-\r\n",
		"v=0\r\no=- x1 1 IN IP4 192.0.2.1\r\ns=-\r\n",
		/* bad m-lines */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP abc\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP 128\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP 0 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000/0 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio -1 RTP/AVP 0\r\n",
		/* port > 65535 */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 65536 RTP/AVP 0\r\n",
		/* no connection for a live m-line */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n",
		/* bad c= */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP5 192.0.2.1\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP6 not:an:addr!\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4\r\n",
		/* bad line syntax, control bytes, a bare CR */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nxyz\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nA=b\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=a\rb\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=a\x01\r\n",
		/* bad rtpmap, rtcp */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP 96\r\n"
		"a=rtpmap:96 opus\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP 96\r\n"
		"a=rtpmap:96 opus/0\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP 96\r\n"
		"a=rtpmap:96 opus/48000/2/9\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/AVP 0\r\n"
		"a=rtcp:70000\r\n",
		/* bad base64 key: short, a character outside the alphabet, padded */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/SAVP 0\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/SAVP 0\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREh*UFRYXGBkaGxwd\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/SAVP 0\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx==\r\n",
		/* bad crypto syntax: tag, method, lifetime, MKI */
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/SAVP 0\r\n"
		"a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:" KEY_SEQ "\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/SAVP 0\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 outline:" KEY_SEQ "\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/SAVP 0\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_SEQ "|2^x\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/SAVP 0\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_SEQ "|1:0\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 5000 RTP/SAVP 0\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80\r\n",
		/* empty */
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse_rc(bad[i], strlen(bad[i]));
		if (rc != EBADMSG)
			fail_msg("case %zu: %d, expected EBADMSG:\n%s", i, rc, bad[i]);
	}
	/* A NUL inside the body. */
	static const char nul[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=a\0b\r\n";
	assert_int_equal(parse_rc(nul, sizeof(nul) - 1), EBADMSG);
	assert_int_equal(sdp_parse(slice_cstr("v=0\r\n"), NULL), EINVAL);
}

/* Head of a valid description; limits are tested by appending to it. */
#define HEAD "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"

static char *grow(char *buf, size_t *len, const char *add)
{
	size_t n = strlen(add);
	char *p = realloc(buf, *len + n + 1);
	assert_non_null(p);
	memcpy(p + *len, add, n + 1);
	*len += n;
	return p;
}

static void test_parse_limits(void **state)
{
	(void)state;
	/* 16 m-lines pass, 17 do not. */
	size_t len = 0;
	char *b = grow(NULL, &len, HEAD);
	for (int i = 0; i < SDP_MAX_MEDIA; i++)
		b = grow(b, &len, "m=audio 5000 RTP/AVP 0\r\n");
	assert_int_equal(parse_rc(b, len), 0);
	b = grow(b, &len, "m=audio 5000 RTP/AVP 0\r\n");
	assert_int_equal(parse_rc(b, len), EBADMSG);
	free(b);

	/* 32 formats pass, 33 do not. */
	len = 0;
	b = grow(NULL, &len, HEAD "m=audio 5000 RTP/AVP");
	char num[16];
	for (int i = 0; i < SDP_MAX_FMT; i++) {
		snprintf(num, sizeof(num), " %d", 96 + i);
		b = grow(b, &len, num);
	}
	char *b2 = strdup(b);
	size_t len2 = len;
	b = grow(b, &len, "\r\n");
	assert_int_equal(parse_rc(b, len), 0);
	b2 = grow(b2, &len2, " 0\r\n");
	assert_int_equal(parse_rc(b2, len2), EBADMSG);
	free(b);
	free(b2);

	/* 64 attributes per m-line pass, 65 do not; same at session level. */
	len = 0;
	b = grow(NULL, &len, HEAD "m=audio 5000 RTP/AVP 0\r\n");
	for (int i = 0; i < SDP_MAX_ATTR; i++)
		b = grow(b, &len, "a=x-foo:bar\r\n");
	assert_int_equal(parse_rc(b, len), 0);
	b = grow(b, &len, "a=x-foo:bar\r\n");
	assert_int_equal(parse_rc(b, len), EBADMSG);
	free(b);
	len = 0;
	b = grow(NULL, &len, HEAD);
	for (int i = 0; i <= SDP_MAX_ATTR; i++)
		b = grow(b, &len, "a=x-foo\r\n");
	assert_int_equal(parse_rc(b, len), EBADMSG);
	free(b);

	/* A line of exactly 1024 bytes passes (with CRLF or LF), 1025 does not. */
	char line[SDP_MAX_LINE + 8];
	memset(line, 'x', sizeof(line));
	memcpy(line, "a=y:", 4);
	for (size_t n = SDP_MAX_LINE; n <= SDP_MAX_LINE + 1; n++) {
		for (int lf = 0; lf < 2; lf++) {
			len = 0;
			b = grow(NULL, &len, HEAD);
			char save = line[n];
			line[n] = '\0';
			b = grow(b, &len, line);
			line[n] = save;
			b = grow(b, &len, lf ? "\n" : "\r\n");
			assert_int_equal(parse_rc(b, len), n == SDP_MAX_LINE ? 0 : EBADMSG);
			free(b);
		}
	}

	/* A body of 64 KiB passes, one byte more does not. */
	len = 0;
	b = grow(NULL, &len, HEAD);
	while (len + 1000 < SDP_MAX_BODY) {
		char pad[1001];
		memset(pad, 'i', 998);
		memcpy(pad, "i=", 2);
		memcpy(pad + 998, "\r\n", 3);
		b = grow(b, &len, pad);
	}
	size_t fill = SDP_MAX_BODY - len - 2;
	char *tail = malloc(fill + 3);
	assert_non_null(tail);
	memset(tail, 'i', fill);
	memcpy(tail, "i=", 2);
	memcpy(tail + fill, "\r\n", 3);
	b = grow(b, &len, tail);
	free(tail);
	assert_int_equal(len, SDP_MAX_BODY);
	assert_int_equal(parse_rc(b, len), 0);
	b = grow(b, &len, "\n");
	assert_int_equal(parse_rc(b, len), EBADMSG);
	free(b);
}

static void test_codec_table(void **state)
{
	(void)state;
	struct sdp_fmt f;
	memset(&f, 0, sizeof(f));
	f.channels = 1;
	f.enc = SLICE_LIT("OPUS");
	f.clock = 48000;
	f.channels = 2;
	assert_int_equal(sdp_fmt_codec(&f), SDP_CODEC_OPUS);
	f.channels = 1; /* opus/48000 without /2 is not RFC 7587 */
	assert_int_equal(sdp_fmt_codec(&f), SDP_CODEC_UNKNOWN);
	f.enc = SLICE_LIT("pcmu");
	f.clock = 8000;
	assert_int_equal(sdp_fmt_codec(&f), SDP_CODEC_PCMU);
	f.clock = 16000;
	assert_int_equal(sdp_fmt_codec(&f), SDP_CODEC_UNKNOWN);
	f.enc = SLICE_LIT("telephone-event");
	f.clock = 48000;
	assert_int_equal(sdp_fmt_codec(&f), SDP_CODEC_TEL_EVENT);
	f.enc = SLICE_NULL;
	assert_int_equal(sdp_fmt_codec(&f), SDP_CODEC_UNKNOWN);
	assert_int_equal(sdp_codec_info(SDP_CODEC_PCMA)->static_pt, 8);
	assert_int_equal(sdp_codec_info(SDP_CODEC_PCMU)->static_pt, 0);
	assert_int_equal(sdp_codec_info(SDP_CODEC_OPUS)->static_pt, -1);
	assert_string_equal(sdp_codec_info((enum sdp_codec)99)->name, "");
}

/* ---- answers ---- */

static void test_answer_baresip(void **state)
{
	(void)state;
	struct sdp_local l = local_default();
	struct sdp_neg neg;
	/* The offerer's order wins: opus is its first, so opus with its 96. */
	check_answer(baresip_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 96 101\r\n"
				 "a=rtpmap:96 opus/48000/2\r\n"
				 "a=rtpmap:101 telephone-event/8000\r\n"
				 "a=fmtp:101 0-16\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n",
		     &neg);
	assert_int_equal(neg.audio, 0);
	assert_int_equal(neg.media[0].codec, SDP_CODEC_OPUS);
	assert_int_equal(neg.media[0].pt, 96);
	assert_true(slice_eq_cstr(neg.media[0].remote_fmtp, "stereo=1;sprop-stereo=1"));
	assert_true(neg.media[0].dtmf);
	assert_int_equal(neg.media[0].dtmf_pt, 101);
	assert_true(slice_eq_cstr(neg.media[0].remote_conn.addr, "192.168.1.20"));
	assert_int_equal(neg.media[0].remote_port, 10218);
	assert_int_equal(neg.media[0].remote_rtcp_port, 10219);
	assert_int_equal(neg.media[0].remote_ptime, 20);
	assert_false(neg.media[0].srtp);
	assert_false(neg.media[0].remote_hold);

	/* Our order instead, and no DTMF, and our opus fmtp. */
	l.codecs[0] = SDP_CODEC_PCMA;
	l.codecs[1] = SDP_CODEC_OPUS;
	l.ncodecs = 2;
	l.local_order = true;
	l.dtmf = false;
	check_answer(baresip_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 8\r\n"
				 "a=rtpmap:8 PCMA/8000\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n",
		     NULL);
	l.codecs[0] = SDP_CODEC_OPUS;
	l.ncodecs = 1;
	l.opus_fmtp = "useinbandfec=1";
	l.ptime = 0;
	check_answer(baresip_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 96\r\n"
				 "a=rtpmap:96 opus/48000/2\r\n"
				 "a=fmtp:96 useinbandfec=1\r\n"
				 "a=sendrecv\r\n",
		     NULL);
}

static void test_answer_linphone(void **state)
{
	(void)state;
	struct sdp_local l = local_default();
	l.codecs[0] = SDP_CODEC_PCMA;
	l.codecs[1] = SDP_CODEC_PCMU;
	l.ncodecs = 2;
	/* PCMU is the offerer's first that we do; telephone-event at 8000 is 100, not 101. */
	check_answer(linphone_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 0 100\r\n"
				 "a=rtpmap:0 PCMU/8000\r\n"
				 "a=rtpmap:100 telephone-event/8000\r\n"
				 "a=fmtp:100 0-16\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n",
		     NULL);
	l.local_order = true;
	check_answer(linphone_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 8 100\r\n"
				 "a=rtpmap:8 PCMA/8000\r\n"
				 "a=rtpmap:100 telephone-event/8000\r\n"
				 "a=fmtp:100 0-16\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n",
		     NULL);
	/* With opus: opus, and the telephone-event at its clock. */
	l = local_default();
	check_answer(linphone_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 96 101\r\n"
				 "a=rtpmap:96 opus/48000/2\r\n"
				 "a=rtpmap:101 telephone-event/48000\r\n"
				 "a=fmtp:101 0-16\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n",
		     NULL);
	/* Nothing in common: 488. */
	l.codecs[0] = SDP_CODEC_OPUS;
	l.ncodecs = 1;
	check_answer("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		     "m=audio 5000 RTP/AVP 9 18 101\r\na=rtpmap:101 telephone-event/8000\r\n",
		     &l, ENOTSUP, NULL, NULL);
}

static void test_answer_srtp(void **state)
{
	(void)state;
	struct sdp_local l = local_default();
	struct sdp_neg neg;
	/* The first suite we know (tag 2), a fresh key of ours under the same tag. */
	l.srtp = SDP_SRTP_OPTIONAL;
	check_answer(srtp_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/SAVP 8 101\r\n"
				 "a=rtpmap:8 PCMA/8000\r\n"
				 "a=rtpmap:101 telephone-event/8000\r\n"
				 "a=fmtp:101 0-16\r\n"
				 "a=ptime:20\r\n"
				 "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A5 "\r\n"
				 "a=sendrecv\r\n",
		     &neg);
	const struct sdp_neg_media *nm = &neg.media[0];
	assert_true(nm->srtp);
	assert_int_equal(nm->suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(nm->crypto_tag, 2);
	assert_memory_equal(nm->local_key, key_a5, SDP_SRTP_KEY_LEN);
	for (int i = 0; i < SDP_SRTP_KEY_LEN; i++)
		assert_int_equal(nm->remote_key[i], i);
	assert_true(slice_eq_cstr(nm->remote_mki, "1:1"));
	assert_true(slice_eq_cstr(nm->remote_lifetime, "2^31"));

	l.srtp = SDP_SRTP_REQUIRED;
	check_answer(srtp_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/SAVP 8 101\r\n"
				 "a=rtpmap:8 PCMA/8000\r\n"
				 "a=rtpmap:101 telephone-event/8000\r\n"
				 "a=fmtp:101 0-16\r\n"
				 "a=ptime:20\r\n"
				 "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A5 "\r\n"
				 "a=sendrecv\r\n",
		     NULL);

	/* With the key drawn by us it is random: two answers differ. */
	l.srtp_key = NULL;
	struct sdp_session *s = parse_ok(srtp_offer);
	struct sdp_neg n1, n2;
	assert_int_equal(sdp_answer_make(s, &l, &n1), 0);
	assert_int_equal(sdp_answer_make(s, &l, &n2), 0);
	assert_memory_not_equal(n1.media[0].local_key, n2.media[0].local_key, SDP_SRTP_KEY_LEN);
	free(s);

	/* SRTP off: RTP/SAVP is refused, and with nothing else that is a 488. */
	l = local_default();
	check_answer(srtp_offer, &l, ENOTSUP, NULL, NULL);

	/* ... but a plain audio line next to it is taken, the SAVP one kept at port 0. */
	check_answer("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		     "m=audio 5000 RTP/SAVP 0\r\n"
		     "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_SEQ "\r\n"
		     "m=audio 5002 RTP/AVP 0\r\n",
		     &l, 0,
		     ANSWER_HEAD "m=audio 0 RTP/SAVP 0\r\n"
				 "m=audio 40000 RTP/AVP 0\r\n"
				 "a=rtpmap:0 PCMU/8000\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n",
		     &neg);
	assert_int_equal(neg.audio, 1);
	assert_false(neg.media[0].accepted);

	/* SRTP required, plain RTP offered: 488. */
	l.srtp = SDP_SRTP_REQUIRED;
	check_answer(baresip_offer, &l, ENOTSUP, NULL, NULL);
	/* SAVP with only suites we do not know: refused. */
	l.srtp = SDP_SRTP_OPTIONAL;
	check_answer("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		     "m=audio 5000 RTP/SAVP 0\r\n"
		     "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" KEY_256 "\r\n",
		     &l, ENOTSUP, NULL, NULL);

	/* Best-effort SDES (crypto in RTP/AVP) satisfies "required" and keeps RTP/AVP. */
	l.srtp = SDP_SRTP_REQUIRED;
	l.ptime = 0;
	check_answer("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		     "m=audio 5000 RTP/AVP 0\r\n"
		     "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:" KEY_SEQ "\r\n",
		     &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 0\r\n"
				 "a=rtpmap:0 PCMU/8000\r\n"
				 "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:" KEY_A5 "\r\n"
				 "a=sendrecv\r\n",
		     NULL);
	/* ... and is ignored when SRTP is off. */
	l.srtp = SDP_SRTP_OFF;
	check_answer("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		     "m=audio 5000 RTP/AVP 0\r\n"
		     "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:" KEY_SEQ "\r\n",
		     &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 0\r\n"
				 "a=rtpmap:0 PCMU/8000\r\n"
				 "a=sendrecv\r\n",
		     NULL);
}

static void test_answer_ipv6(void **state)
{
	(void)state;
	struct sdp_local l = local_default();
	l.addr = "2001:db8::1";
	l.rtcp_mux = true;
	l.ptime = 0;
	struct sdp_neg neg;
	check_answer(ipv6_offer, &l, 0,
		     "v=0\r\no=pbx 1000 1000 IN IP6 2001:db8::1\r\ns=pbx\r\n"
		     "c=IN IP6 2001:db8::1\r\nt=0 0\r\n"
		     "m=audio 40000 RTP/AVP 0 101\r\n"
		     "a=rtpmap:0 PCMU/8000\r\n"
		     "a=rtpmap:101 telephone-event/8000\r\n"
		     "a=fmtp:101 0-16\r\n"
		     "a=rtcp-mux\r\n"
		     "a=mid:audio\r\n"
		     "a=sendrecv\r\n",
		     &neg);
	assert_int_equal(neg.media[0].remote_conn.family, AF_INET6);
	assert_true(slice_eq_cstr(neg.media[0].remote_conn.addr, "2001:db8::10"));
	assert_int_equal(neg.media[0].remote_rtcp_port, 20001);
	assert_true(neg.media[0].rtcp_mux);
	/* Without rtcp-mux on our side it is not agreed. */
	l.rtcp_mux = false;
	struct sdp_session *s = parse_ok(ipv6_offer);
	assert_int_equal(sdp_answer_make(s, &l, &neg), 0);
	assert_false(neg.media[0].rtcp_mux);
	free(s);
}

static void test_answer_hold(void **state)
{
	(void)state;
	static const struct {
		const char *offer_dir; /* attribute line, or "" */
		const char *conn;
		enum sdp_dir local;
		const char *answer_dir;
		bool remote_hold;
	} cases[] = {
		{ "a=sendonly\r\n", "192.0.2.1", SDP_DIR_UNSET, "recvonly", true },
		{ "a=recvonly\r\n", "192.0.2.1", SDP_DIR_UNSET, "sendonly", false },
		{ "a=inactive\r\n", "192.0.2.1", SDP_DIR_UNSET, "inactive", true },
		{ "a=sendrecv\r\n", "192.0.2.1", SDP_DIR_UNSET, "sendrecv", false },
		{ "", "192.0.2.1", SDP_DIR_UNSET, "sendrecv", false },
		/* RFC 2543 hold: c=0.0.0.0 means it receives nothing */
		{ "", "0.0.0.0", SDP_DIR_UNSET, "recvonly", true },
		{ "a=sendonly\r\n", "0.0.0.0", SDP_DIR_UNSET, "recvonly", true },
		/* we hold: we only send */
		{ "a=sendrecv\r\n", "192.0.2.1", SDP_DIR_SENDONLY, "sendonly", false },
		{ "a=sendonly\r\n", "192.0.2.1", SDP_DIR_SENDONLY, "inactive", true },
		{ "a=recvonly\r\n", "192.0.2.1", SDP_DIR_INACTIVE, "inactive", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char offer[512], expect[512];
		snprintf(offer, sizeof(offer),
			 "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
			 "m=audio 5000 RTP/AVP 8\r\n%s",
			 cases[i].conn, cases[i].offer_dir);
		snprintf(expect, sizeof(expect),
			 ANSWER_HEAD "m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
				     "a=ptime:20\r\na=%s\r\n",
			 cases[i].answer_dir);
		struct sdp_local l = local_default();
		l.dir = cases[i].local;
		struct sdp_neg neg;
		check_answer(offer, &l, 0, expect, &neg);
		assert_int_equal(neg.media[0].remote_hold, cases[i].remote_hold);
	}
	/* Session-level direction applies to the m-line. */
	struct sdp_local l = local_default();
	check_answer("v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		     "a=sendonly\r\nm=audio 5000 RTP/AVP 8\r\n",
		     &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
				 "a=ptime:20\r\na=recvonly\r\n",
		     NULL);
}

static void test_answer_video(void **state)
{
	(void)state;
	struct sdp_local l = local_default();
	l.codecs[0] = SDP_CODEC_PCMU;
	l.codecs[1] = SDP_CODEC_PCMA;
	l.ncodecs = 2;
	/* No video relay: video kept in place with port 0 and its formats. */
	check_answer(rfc4317_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 0\r\n"
				 "a=rtpmap:0 PCMU/8000\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n"
				 "m=video 0 RTP/AVP 31 32\r\n",
		     NULL);

	/* RFC 4317 2.1: Bob answers PCMU and MPV. Here MPV is what the other
	 * leg offers, so that is what we relay. */
	struct sdp_session *peer = parse_ok(peer_video_offer);
	struct sdp_session *alice = parse_ok(rfc4317_offer);
	struct sdp_video_match vm;
	sdp_video_match(alice, peer, &vm);
	assert_true(vm.same);
	assert_int_equal(vm.a_media, 1);
	assert_int_equal(vm.b_media, 1);
	assert_int_equal(vm.a_fmt, 1);
	assert_int_equal(vm.b_fmt, 0);

	l.video_port = 40002;
	l.video_peer = &peer->media[1];
	struct sdp_neg neg;
	check_answer(rfc4317_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 0\r\n"
				 "a=rtpmap:0 PCMU/8000\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n"
				 "m=video 40002 RTP/AVP 32\r\n"
				 "a=rtpmap:32 MPV/90000\r\n"
				 "a=sendrecv\r\n",
		     &neg);
	assert_true(neg.media[1].accepted);
	assert_int_equal(neg.media[1].nvideo, 1);
	assert_int_equal(neg.media[1].remote_port, 51372);

	/* A peer with a different codec: no match, video refused. */
	struct sdp_session *h264 = parse_ok("v=0\r\no=- 9 9 IN IP4 192.0.2.99\r\ns=-\r\n"
					    "c=IN IP4 192.0.2.99\r\nt=0 0\r\n"
					    "m=video 9002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
					    "a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n");
	sdp_video_match(alice, h264, &vm);
	assert_false(vm.same);
	l.video_peer = &h264->media[0];
	check_answer(rfc4317_offer, &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 0\r\n"
				 "a=rtpmap:0 PCMU/8000\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n"
				 "m=video 0 RTP/AVP 31 32\r\n",
		     NULL);
	/* Same codec under different payload types still matches; fmtp passes through. */
	struct sdp_session *h264b = parse_ok("v=0\r\no=- 9 9 IN IP4 192.0.2.98\r\ns=-\r\n"
					     "c=IN IP4 192.0.2.98\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n"
					     "m=video 7002 RTP/AVP 102 96\r\na=rtpmap:102 VP8/90000\r\n"
					     "a=rtpmap:96 h264/90000\r\n");
	sdp_video_match(h264b, h264, &vm);
	assert_true(vm.same);
	assert_int_equal(vm.a_fmt, 1);
	l.video_peer = &h264b->media[1];
	check_answer("v=0\r\no=- 9 9 IN IP4 192.0.2.99\r\ns=-\r\nc=IN IP4 192.0.2.99\r\nt=0 0\r\n"
		     "m=audio 9000 RTP/AVP 0\r\n"
		     "m=video 9002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
		     "a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n",
		     &l, 0,
		     ANSWER_HEAD "m=audio 40000 RTP/AVP 0\r\n"
				 "a=rtpmap:0 PCMU/8000\r\n"
				 "a=ptime:20\r\n"
				 "a=sendrecv\r\n"
				 "m=video 40002 RTP/AVP 96\r\n"
				 "a=rtpmap:96 H264/90000\r\n"
				 "a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n"
				 "a=sendrecv\r\n",
		     NULL);
	free(h264b);
	free(h264);
	free(alice);
	free(peer);
}

static void test_answer_shape(void **state)
{
	(void)state;
	struct sdp_local l = local_default();
	/* One audio stream per leg: a second audio line is refused; other
	 * media and protocols keep their place at port 0; an m-line already
	 * at port 0 stays there. */
	check_answer("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		     "m=audio 0 RTP/AVP 0\r\n"
		     "m=audio 5000 RTP/AVPF 0\r\n"
		     "m=audio 5002 RTP/AVP 8\r\na=mid:a1\r\n"
		     "m=audio 5004 RTP/AVP 0\r\na=mid:a2\r\n"
		     "m=application 5006 UDP/BFCP *\r\n"
		     "m=text 5008 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\n",
		     &l, 0,
		     ANSWER_HEAD "m=audio 0 RTP/AVP 0\r\n"
				 "m=audio 0 RTP/AVPF 0\r\n"
				 "m=audio 40000 RTP/AVP 8\r\n"
				 "a=rtpmap:8 PCMA/8000\r\n"
				 "a=ptime:20\r\n"
				 "a=mid:a1\r\n"
				 "a=sendrecv\r\n"
				 "m=audio 0 RTP/AVP 0\r\n"
				 "a=mid:a2\r\n"
				 "m=application 0 UDP/BFCP *\r\n"
				 "m=text 0 RTP/AVP 98\r\n",
		     NULL);
	/* Bad arguments. */
	struct sdp_session *s = parse_ok(baresip_offer);
	struct sdp_neg neg;
	l.addr = NULL;
	assert_int_equal(sdp_answer_make(s, &l, &neg), EINVAL);
	l = local_default();
	l.ncodecs = SDP_MAX_CODECS + 1;
	assert_int_equal(sdp_answer_make(s, &l, &neg), EINVAL);
	/* A buffer too small: ENOSPC, never a partial success. */
	l = local_default();
	assert_int_equal(sdp_answer_make(s, &l, &neg), 0);
	struct sdp_origin o;
	assert_int_equal(sdp_origin_init(&o, 7), 0);
	char small[64];
	struct sip_buf b;
	sip_buf_init(&b, small, sizeof(small));
	assert_int_equal(sdp_answer_write(&b, s, &neg, &l, &o), ENOSPC);
	free(s);
}

/* RFC 4317 3.1 (hold and unhold by re-offer) and 4.1 (audio with
 * telephone-event), answered by us on one dialog: the o= version goes up
 * with each answer, the session id stays. */
static void test_rfc4317_hold_dtmf(void **state)
{
	(void)state;
	static const char *offers[] = {
		"v=0\r\no=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\ns=\r\n"
		"c=IN IP4 host.atlanta.example.com\r\nt=0 0\r\n"
		"m=audio 49170 RTP/AVP 0 97\r\na=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:97 telephone-event/8000\r\n",
		"v=0\r\no=alice 2890844526 2890844527 IN IP4 host.atlanta.example.com\r\ns=\r\n"
		"c=IN IP4 host.atlanta.example.com\r\nt=0 0\r\n"
		"m=audio 49170 RTP/AVP 0 97\r\na=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:97 telephone-event/8000\r\na=sendonly\r\n",
		"v=0\r\no=alice 2890844526 2890844528 IN IP4 host.atlanta.example.com\r\ns=\r\n"
		"c=IN IP4 host.atlanta.example.com\r\nt=0 0\r\n"
		"m=audio 49170 RTP/AVP 0 97\r\na=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:97 telephone-event/8000\r\n",
	};
	static const char *dirs[] = { "sendrecv", "recvonly", "sendrecv" };
	struct sdp_local l = local_default();
	l.ptime = 0;
	struct sdp_origin o;
	assert_int_equal(sdp_origin_init(&o, 2890844730), 0);
	for (size_t i = 0; i < 3; i++) {
		struct sdp_session *s = parse_ok(offers[i]);
		struct sdp_neg neg;
		assert_int_equal(sdp_answer_make(s, &l, &neg), 0);
		assert_int_equal(neg.media[0].remote_hold, i == 1);
		assert_false(neg.media[0].remote_conn.numeric);
		char text[1024], expect[1024];
		struct sip_buf b;
		sip_buf_init(&b, text, sizeof(text) - 1);
		assert_int_equal(sdp_answer_write(&b, s, &neg, &l, &o), 0);
		text[b.len] = '\0';
		snprintf(expect, sizeof(expect),
			 "v=0\r\no=pbx 2890844730 %zu IN IP4 203.0.113.5\r\ns=pbx\r\n"
			 "c=IN IP4 203.0.113.5\r\nt=0 0\r\n"
			 "m=audio 40000 RTP/AVP 0 97\r\n"
			 "a=rtpmap:0 PCMU/8000\r\n"
			 "a=rtpmap:97 telephone-event/8000\r\n"
			 "a=fmtp:97 0-16\r\n"
			 "a=%s\r\n",
			 (size_t)2890844730 + i, dirs[i]);
		assert_string_equal(text, expect);
		free(s);
	}
}

/* ---- our offers ---- */

static void test_origin(void **state)
{
	(void)state;
	struct sdp_origin o;
	assert_int_equal(sdp_origin_init(&o, 0), 0);
	assert_true(o.sess_id != 0);
	assert_true(o.sess_id < (UINT64_C(1) << 63));
	assert_int_equal(o.version, o.sess_id & 0xffffffffu);

	/* Every description we write carries the next version, same id. */
	assert_int_equal(sdp_origin_init(&o, 1000), 0);
	struct sdp_local l = local_default();
	struct sdp_offer st;
	char text[2048];
	struct sip_buf b;
	for (unsigned v = 1000; v < 1003; v++) {
		sip_buf_init(&b, text, sizeof(text) - 1);
		assert_int_equal(sdp_offer_make(&l, &o, &st, &b), 0);
		text[b.len] = '\0';
		char want[64];
		snprintf(want, sizeof(want), "o=pbx 1000 %u IN IP4", v);
		assert_non_null(strstr(text, want));
	}
}

static void test_offer(void **state)
{
	(void)state;
	struct sdp_local l = local_default();
	l.codecs[0] = SDP_CODEC_OPUS;
	l.codecs[1] = SDP_CODEC_PCMU;
	l.codecs[2] = SDP_CODEC_PCMA;
	l.srtp = SDP_SRTP_OPTIONAL;
	l.rtcp_mux = true;
	l.addr = "198.51.100.7";
	l.audio_port = 30000;
	struct sdp_origin o;
	assert_int_equal(sdp_origin_init(&o, 42), 0);
	struct sdp_offer st;
	char text[2048];
	struct sip_buf b;
	sip_buf_init(&b, text, sizeof(text) - 1);
	assert_int_equal(sdp_offer_make(&l, &o, &st, &b), 0);
	text[b.len] = '\0';
	assert_string_equal(text, "v=0\r\n"
				  "o=pbx 42 42 IN IP4 198.51.100.7\r\n"
				  "s=pbx\r\n"
				  "c=IN IP4 198.51.100.7\r\n"
				  "t=0 0\r\n"
				  "m=audio 30000 RTP/AVP 111 0 8 110 101\r\n"
				  "a=rtpmap:111 opus/48000/2\r\n"
				  "a=rtpmap:0 PCMU/8000\r\n"
				  "a=rtpmap:8 PCMA/8000\r\n"
				  "a=rtpmap:110 telephone-event/48000\r\n"
				  "a=fmtp:110 0-16\r\n"
				  "a=rtpmap:101 telephone-event/8000\r\n"
				  "a=fmtp:101 0-16\r\n"
				  "a=ptime:20\r\n"
				  "a=rtcp-mux\r\n"
				  "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A5 "\r\n"
				  "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_A5 "\r\n"
				  "a=sendrecv\r\n");
	assert_int_equal(st.proto, SDP_PROTO_RTP_AVP);
	assert_true(st.srtp);
	assert_int_equal(st.ncodecs, 5);

	/* The answer: PCMU and DTMF, the 32-bit suite. */
	struct sdp_session *ans = parse_ok("v=0\r\no=- 7 7 IN IP4 192.0.2.50\r\ns=-\r\n"
					   "c=IN IP4 192.0.2.50\r\nt=0 0\r\n"
					   "m=audio 5004 RTP/AVP 0 101\r\n"
					   "a=rtpmap:0 PCMU/8000\r\n"
					   "a=rtpmap:101 telephone-event/8000\r\n"
					   "a=ptime:30\r\n"
					   "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_SEQ "\r\n"
					   "a=sendrecv\r\n");
	struct sdp_neg neg;
	assert_int_equal(sdp_answer_apply(&st, ans, &neg), 0);
	const struct sdp_neg_media *nm = &neg.media[0];
	assert_int_equal(neg.audio, 0);
	assert_true(nm->accepted);
	assert_int_equal(nm->codec, SDP_CODEC_PCMU);
	assert_int_equal(nm->pt, 0);
	assert_int_equal(nm->clock, 8000);
	assert_true(nm->dtmf);
	assert_int_equal(nm->dtmf_pt, 101);
	assert_int_equal(nm->dtmf_clock, 8000);
	assert_true(nm->srtp);
	assert_int_equal(nm->suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_int_equal(nm->crypto_tag, 2);
	assert_memory_equal(nm->local_key, key_a5, SDP_SRTP_KEY_LEN);
	for (int i = 0; i < SDP_SRTP_KEY_LEN; i++)
		assert_int_equal(nm->remote_key[i], i);
	assert_true(slice_eq_cstr(nm->remote_conn.addr, "192.0.2.50"));
	assert_int_equal(nm->remote_port, 5004);
	assert_int_equal(nm->remote_ptime, 30);
	assert_false(nm->rtcp_mux);
	assert_int_equal(nm->dir, SDP_DIR_SENDRECV);
	free(ans);

	/* Renumbered opus (by name), opus by our number without rtpmap,
	 * best-effort SDES refused (plain), recvonly answer. */
	static const struct {
		const char *media;
		int rc;
		enum sdp_codec codec;
		int pt;
	} cases[] = {
		{ "m=audio 5004 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n", 0, SDP_CODEC_OPUS, 96 },
		{ "m=audio 5004 RTP/AVP 111\r\n", 0, SDP_CODEC_OPUS, 111 },
		{ "m=audio 5004 RTP/AVP 8 0\r\n", 0, SDP_CODEC_PCMA, 8 },
		{ "m=audio 0 RTP/AVP 0\r\n", 0, SDP_CODEC_UNKNOWN, -1 },
		/* not what we offered */
		{ "m=audio 5004 RTP/AVP 9\r\n", EBADMSG, 0, 0 },
		{ "m=audio 5004 RTP/AVP 97\r\na=rtpmap:97 speex/8000\r\n", EBADMSG, 0, 0 },
		{ "m=audio 5004 RTP/SAVP 0\r\n", EBADMSG, 0, 0 },
		{ "m=video 5004 RTP/AVP 0\r\n", EBADMSG, 0, 0 },
		{ "m=audio 5004 RTP/AVP 0\r\nm=audio 5006 RTP/AVP 0\r\n", EBADMSG, 0, 0 },
		{ "m=audio 5004 RTP/AVP 0\r\na=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:" KEY_SEQ "\r\n",
		  EBADMSG, 0, 0 },
		{ "m=audio 5004 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" KEY_SEQ "\r\n",
		  EBADMSG, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text2[512];
		snprintf(text2, sizeof(text2),
			 "v=0\r\no=- 7 8 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n%s",
			 cases[i].media);
		ans = parse_ok(text2);
		int rc = sdp_answer_apply(&st, ans, &neg);
		if (rc != cases[i].rc)
			fail_msg("case %zu: %d, expected %d", i, rc, cases[i].rc);
		if (rc == 0 && cases[i].pt >= 0) {
			assert_int_equal(neg.media[0].codec, cases[i].codec);
			assert_int_equal(neg.media[0].pt, cases[i].pt);
			assert_false(neg.media[0].srtp);
		} else if (rc == 0) {
			assert_false(neg.media[0].accepted);
			assert_int_equal(neg.audio, -1);
		}
		free(ans);
	}

	/* SRTP required: RTP/SAVP offered; an answer without crypto is EPROTO. */
	l.srtp = SDP_SRTP_REQUIRED;
	l.dtmf = false;
	l.rtcp_mux = false;
	l.ptime = 0;
	l.codecs[0] = SDP_CODEC_PCMA;
	l.ncodecs = 1;
	l.dir = SDP_DIR_SENDONLY;
	sip_buf_init(&b, text, sizeof(text) - 1);
	assert_int_equal(sdp_offer_make(&l, &o, &st, &b), 0);
	text[b.len] = '\0';
	assert_string_equal(text, "v=0\r\n"
				  "o=pbx 42 43 IN IP4 198.51.100.7\r\n"
				  "s=pbx\r\n"
				  "c=IN IP4 198.51.100.7\r\n"
				  "t=0 0\r\n"
				  "m=audio 30000 RTP/SAVP 8\r\n"
				  "a=rtpmap:8 PCMA/8000\r\n"
				  "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A5 "\r\n"
				  "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_A5 "\r\n"
				  "a=sendonly\r\n");
	ans = parse_ok("v=0\r\no=- 7 9 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
		       "m=audio 5004 RTP/SAVP 8\r\na=recvonly\r\n");
	assert_int_equal(sdp_answer_apply(&st, ans, &neg), EPROTO);
	free(ans);
	ans = parse_ok("v=0\r\no=- 7 9 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
		       "m=audio 5004 RTP/SAVP 8\r\na=recvonly\r\n"
		       "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_100 "\r\n");
	assert_int_equal(sdp_answer_apply(&st, ans, &neg), 0);
	assert_int_equal(neg.media[0].dir, SDP_DIR_SENDONLY);
	assert_int_equal(neg.media[0].suite, SDP_SRTP_AES_CM_128_HMAC_SHA1_80);
	free(ans);

	/* No usable codec in the list: EINVAL. */
	l.codecs[0] = SDP_CODEC_TEL_EVENT;
	sip_buf_init(&b, text, sizeof(text));
	assert_int_equal(sdp_offer_make(&l, &o, &st, &b), EINVAL);
	/* Too small a buffer. */
	l.codecs[0] = SDP_CODEC_PCMU;
	char small[100];
	sip_buf_init(&b, small, sizeof(small));
	assert_int_equal(sdp_offer_make(&l, &o, &st, &b), ENOSPC);
}

/* Two of our legs talk: A offers (SRTP required, random keys), B answers
 * (SRTP optional, random key), A applies. They must agree on codec and each
 * must receive with the key the other sends with. Video from a third
 * party's offer is relayed through A's offer and B's answer. */
static void test_round_trip(void **state)
{
	(void)state;
	struct sdp_session *peer = parse_ok(peer_video_offer);
	struct sdp_local a = local_default();
	a.srtp = SDP_SRTP_REQUIRED;
	a.srtp_key = NULL;
	a.video_port = 40010;
	a.video_peer = &peer->media[1];
	struct sdp_origin oa, ob;
	assert_int_equal(sdp_origin_init(&oa, 0), 0);
	assert_int_equal(sdp_origin_init(&ob, 0), 0);
	struct sdp_offer st;
	char offer[2048], answer[2048];
	struct sip_buf b;
	sip_buf_init(&b, offer, sizeof(offer));
	assert_int_equal(sdp_offer_make(&a, &oa, &st, &b), 0);
	assert_true(st.video);
	struct sdp_session *so = malloc(sizeof(*so));
	assert_non_null(so);
	assert_int_equal(sdp_parse(slice_make(offer, b.len), so), 0);

	struct sdp_local bl = local_default();
	bl.codecs[0] = SDP_CODEC_PCMA;
	bl.ncodecs = 1;
	bl.srtp = SDP_SRTP_OPTIONAL;
	bl.srtp_key = NULL;
	bl.addr = "192.0.2.200";
	bl.audio_port = 50000;
	bl.video_port = 50002;
	bl.video_peer = &peer->media[1];
	struct sdp_neg nb, na;
	assert_int_equal(sdp_answer_make(so, &bl, &nb), 0);
	sip_buf_init(&b, answer, sizeof(answer));
	assert_int_equal(sdp_answer_write(&b, so, &nb, &bl, &ob), 0);
	struct sdp_session *sa = malloc(sizeof(*sa));
	assert_non_null(sa);
	assert_int_equal(sdp_parse(slice_make(answer, b.len), sa), 0);
	assert_int_equal(sdp_answer_apply(&st, sa, &na), 0);

	assert_int_equal(na.media[0].codec, SDP_CODEC_PCMA);
	assert_int_equal(nb.media[0].codec, SDP_CODEC_PCMA);
	assert_int_equal(na.media[0].pt, nb.media[0].pt);
	assert_true(na.media[0].dtmf && nb.media[0].dtmf);
	assert_int_equal(na.media[0].dtmf_pt, nb.media[0].dtmf_pt);
	assert_int_equal(na.media[0].dtmf_clock, 8000);
	assert_true(na.media[0].srtp && nb.media[0].srtp);
	assert_int_equal(na.media[0].suite, nb.media[0].suite);
	assert_memory_equal(na.media[0].local_key, nb.media[0].remote_key, SDP_SRTP_KEY_LEN);
	assert_memory_equal(na.media[0].remote_key, nb.media[0].local_key, SDP_SRTP_KEY_LEN);
	assert_memory_not_equal(na.media[0].local_key, na.media[0].remote_key, SDP_SRTP_KEY_LEN);
	assert_int_equal(na.media[0].remote_port, 50000);
	assert_true(slice_eq_cstr(na.media[0].remote_conn.addr, "192.0.2.200"));
	assert_int_equal(nb.media[0].remote_port, 40000);
	assert_true(na.media[1].accepted && nb.media[1].accepted);
	assert_int_equal(na.media[1].remote_port, 50002);
	assert_int_equal(nb.media[1].remote_port, 40010);
	free(sa);
	free(so);
	free(peer);
}

int main(void)
{
	/* GnuTLS sets up its random generator state on first use and keeps it
	 * for the thread's life; draw once here so the per-test leak check does
	 * not count it. */
	uint8_t warm[1];
	if (gnutls_rnd(GNUTLS_RND_KEY, warm, sizeof(warm)) != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_parse_baresip),
		UNIT_TEST(test_parse_linphone_lf),
		UNIT_TEST(test_parse_srtp),
		UNIT_TEST(test_parse_ipv6),
		UNIT_TEST(test_parse_misc),
		UNIT_TEST(test_parse_malformed),
		UNIT_TEST(test_parse_limits),
		UNIT_TEST(test_codec_table),
		UNIT_TEST(test_answer_baresip),
		UNIT_TEST(test_answer_linphone),
		UNIT_TEST(test_answer_srtp),
		UNIT_TEST(test_answer_ipv6),
		UNIT_TEST(test_answer_hold),
		UNIT_TEST(test_answer_video),
		UNIT_TEST(test_answer_shape),
		UNIT_TEST(test_rfc4317_hold_dtmf),
		UNIT_TEST(test_origin),
		UNIT_TEST(test_offer),
		UNIT_TEST(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
