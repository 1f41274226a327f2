/*
 * fuzz_sdp.c: libFuzzer target for the SDP parser and what consumes it.
 *
 * The input is a session description. Whatever parses is answered under
 * several local policies and the answer text is written and parsed again
 * (what we send must always be valid SDP with the offer's m-line count);
 * it is also applied as an answer to a fixed offer of ours, and matched
 * against itself for video pass-through. The input is copied into a buffer
 * of exactly its size so an overread lands on a redzone.
 *
 * The generic fuzz rule links only the SIP parser sources, so the SDP
 * sources (and the buffer writer) are compiled in here.
 */
#include "../../media/sdp.c"
#include "../../media/sdp_build.c"
#include "../../media/sdp_negotiate.c"
#include "../../pbx/sip_build.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct slice s, const char *buf, size_t size)
{
	return !s.p || (s.p >= buf && s.p + s.len <= buf + size);
}

static void check_slices(const struct sdp_session *s, const char *buf, size_t size)
{
	if (!inside(s->o_user, buf, size) || !inside(s->name, buf, size) ||
	    !inside(s->conn.addr, buf, size) || s->nmedia > SDP_MAX_MEDIA || s->nattr > SDP_MAX_ATTR)
		abort();
	for (size_t i = 0; i < s->nmedia; i++) {
		const struct sdp_media *m = &s->media[i];
		if (m->nfmt == 0 || m->nfmt > SDP_MAX_FMT || m->nattr > SDP_MAX_ATTR ||
		    m->ncrypto > SDP_MAX_CRYPTO)
			abort();
		if (!inside(m->type, buf, size) || !inside(m->proto, buf, size) ||
		    !inside(m->mid, buf, size) || !inside(m->conn.addr, buf, size))
			abort();
		for (size_t j = 0; j < m->nfmt; j++) {
			const struct sdp_fmt *f = &m->fmt[j];
			if (!inside(f->id, buf, size) || !inside(f->fmtp, buf, size) ||
			    (f->has_rtpmap && !inside(f->enc, buf, size)) || f->pt > 127)
				abort();
		}
		for (size_t j = 0; j < m->nattr; j++)
			if (!inside(m->attr[j].name, buf, size) || !inside(m->attr[j].value, buf, size))
				abort();
		for (size_t j = 0; j < m->ncrypto; j++)
			if (!inside(m->crypto[j].key_b64, buf, size) || !inside(m->crypto[j].mki, buf, size))
				abort();
	}
}

/* Our answer must be valid SDP with one m-line per offered one. */
static void answer_and_reparse(const struct sdp_session *s, const struct sdp_local *l)
{
	static struct sdp_session again; /* one thread: libFuzzer's */
	struct sdp_neg neg;
	int rc = sdp_answer_make(s, l, &neg);
	if (rc == ENOTSUP)
		return;
	if (rc != 0)
		abort();
	if (neg.audio < 0 || !neg.media[neg.audio].accepted)
		abort();
	struct sdp_origin o = { 1, 1 };
	static char text[SDP_MAX_BODY];
	struct sip_buf b;
	sip_buf_init(&b, text, sizeof(text));
	rc = sdp_answer_write(&b, s, &neg, l, &o);
	if (rc == ENOSPC)
		return;
	if (rc != 0 || sdp_parse(slice_make(text, b.len), &again) != 0 ||
	    again.nmedia != s->nmedia)
		abort();
	for (size_t i = 0; i < s->nmedia; i++)
		if ((again.media[i].port != 0) != neg.media[i].accepted)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdp_session s; /* about 100 KB: not on the stack */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);

	int rc = sdp_parse(slice_make(buf, size), &s);
	if (rc != 0 && rc != EBADMSG)
		abort();
	if (rc == 0) {
		check_slices(&s, buf, size);
		static const uint8_t key[SDP_SRTP_KEY_LEN] = { 1, 2, 3 };
		struct sdp_local l = {
			.codecs = { SDP_CODEC_PCMU, SDP_CODEC_PCMA, SDP_CODEC_OPUS },
			.ncodecs = 3,
			.dtmf = true,
			.addr = "192.0.2.1",
			.audio_port = 4000,
			.dir = SDP_DIR_UNSET,
			.ptime = 20,
			.rtcp_mux = true,
			.opus_fmtp = "useinbandfec=1",
			.srtp_key = key,
		};
		struct sdp_video_match vm;
		sdp_video_match(&s, &s, &vm);
		if (vm.same) {
			l.video_port = 4002;
			l.video_peer = &s.media[vm.b_media];
		}
		for (int pol = SDP_SRTP_OFF; pol <= SDP_SRTP_REQUIRED; pol++) {
			l.srtp = (enum sdp_srtp_policy)pol;
			l.local_order = pol == SDP_SRTP_OPTIONAL;
			l.dir = pol == SDP_SRTP_REQUIRED ? SDP_DIR_SENDONLY : SDP_DIR_UNSET;
			answer_and_reparse(&s, &l);
		}

		/* The input as the answer to an offer of ours. */
		struct sdp_offer st;
		struct sdp_origin o = { 5, 5 };
		static char text[SDP_MAX_BODY];
		struct sip_buf b;
		sip_buf_init(&b, text, sizeof(text));
		l.srtp = SDP_SRTP_OPTIONAL;
		rc = sdp_offer_make(&l, &o, &st, &b);
		if (rc != 0 && rc != ENOSPC)
			abort();
		struct sdp_neg neg;
		rc = sdp_answer_apply(&st, &s, &neg);
		if (rc != 0 && rc != EBADMSG && rc != EPROTO)
			abort();
		if (rc == 0 && neg.audio == 0 && !neg.media[0].accepted)
			abort();
	}
	free(buf);
	return 0;
}
