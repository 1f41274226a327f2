/*
 * sdp_build.c: SDP text for our answers (and the pieces offers share).
 *
 * Everything is written into a struct sip_buf, which never overflows and
 * records when something did not fit; writers check once at the end and
 * return ENOSPC. Lines end in CRLF. Slices copied from a remote description
 * (formats, fmtp, mid) were checked by the parser to hold no line breaks.
 */
#include "sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

bool sdp_addr_valid(const char *addr)
{
	unsigned char bin[16];
	return addr && (inet_pton(AF_INET, addr, bin) == 1 || inet_pton(AF_INET6, addr, bin) == 1);
}

void sdp_write_session(struct sip_buf *buf, const char *addr, struct sdp_origin *o)
{
	const char *fam = strchr(addr, ':') ? "IP6" : "IP4";
	sip_buf_str(buf, "v=0\r\n");
	sip_buf_printf(buf, "o=pbx %" PRIu64 " %" PRIu64 " IN %s %s\r\n", o->sess_id, o->version, fam,
		       addr);
	sip_buf_str(buf, "s=pbx\r\n");
	sip_buf_printf(buf, "c=IN %s %s\r\n", fam, addr);
	sip_buf_str(buf, "t=0 0\r\n");
	o->version++;
}

static void write_fmt(struct sip_buf *buf, const struct sdp_fmt *f)
{
	if (f->has_rtpmap || (f->enc.p && f->pt >= 0)) {
		sip_buf_str(buf, "a=rtpmap:");
		sip_buf_slice(buf, f->id);
		sip_buf_str(buf, " ");
		sip_buf_slice(buf, f->enc);
		sip_buf_printf(buf, "/%u", f->clock);
		if (f->channels > 1)
			sip_buf_printf(buf, "/%u", f->channels);
		sip_buf_str(buf, "\r\n");
	}
	if (f->fmtp.p) {
		sip_buf_str(buf, "a=fmtp:");
		sip_buf_slice(buf, f->id);
		sip_buf_str(buf, " ");
		sip_buf_slice(buf, f->fmtp);
		sip_buf_str(buf, "\r\n");
	}
}

void sdp_write_fmt_attrs(struct sip_buf *buf, const struct sdp_media *m, const uint8_t *idx,
			 size_t n)
{
	if (!idx) {
		for (size_t i = 0; i < m->nfmt && i < SDP_MAX_FMT; i++)
			write_fmt(buf, &m->fmt[i]);
		return;
	}
	for (size_t i = 0; i < n && i < SDP_MAX_FMT; i++)
		if (idx[i] < m->nfmt)
			write_fmt(buf, &m->fmt[idx[i]]);
}

static void write_mid(struct sip_buf *buf, const struct sdp_media *m)
{
	if (m->mid.p) {
		sip_buf_str(buf, "a=mid:");
		sip_buf_slice(buf, m->mid);
		sip_buf_str(buf, "\r\n");
	}
}

/* RFC 3264 6: a refused stream keeps its place, port 0, the offered formats. */
static void write_rejected(struct sip_buf *buf, const struct sdp_media *m)
{
	sip_buf_str(buf, "m=");
	sip_buf_slice(buf, m->type);
	sip_buf_str(buf, " 0 ");
	sip_buf_slice(buf, m->proto);
	for (size_t i = 0; i < m->nfmt; i++) {
		sip_buf_str(buf, " ");
		sip_buf_slice(buf, m->fmt[i].id);
	}
	sip_buf_str(buf, "\r\n");
	write_mid(buf, m);
}

static void write_audio(struct sip_buf *buf, const struct sdp_media *m,
			const struct sdp_neg_media *nm, const struct sdp_local *l)
{
	sip_buf_printf(buf, "m=audio %u ", l->audio_port);
	sip_buf_slice(buf, m->proto);
	sip_buf_printf(buf, " %u", nm->pt);
	if (nm->dtmf)
		sip_buf_printf(buf, " %u", nm->dtmf_pt);
	sip_buf_str(buf, "\r\n");
	const struct sdp_codec_info *ci = sdp_codec_info(nm->codec);
	sip_buf_printf(buf, "a=rtpmap:%u %s/%u", nm->pt, ci->name, nm->clock);
	if (nm->channels > 1)
		sip_buf_printf(buf, "/%u", nm->channels);
	sip_buf_str(buf, "\r\n");
	if (nm->codec == SDP_CODEC_OPUS && l->opus_fmtp)
		sip_buf_printf(buf, "a=fmtp:%u %s\r\n", nm->pt, l->opus_fmtp);
	if (nm->dtmf) {
		sip_buf_printf(buf, "a=rtpmap:%u telephone-event/%u\r\n", nm->dtmf_pt, nm->dtmf_clock);
		sip_buf_printf(buf, "a=fmtp:%u 0-16\r\n", nm->dtmf_pt);
	}
	if (l->ptime)
		sip_buf_printf(buf, "a=ptime:%u\r\n", l->ptime);
	if (nm->rtcp_mux)
		sip_buf_str(buf, "a=rtcp-mux\r\n");
	write_mid(buf, m);
	if (nm->srtp) {
		char b64[41];
		sdp_key_b64(nm->local_key, b64);
		sip_buf_printf(buf, "a=crypto:%u %s inline:%s\r\n", nm->crypto_tag,
			       sdp_srtp_suite_name(nm->suite), b64);
	}
	sip_buf_printf(buf, "a=%s\r\n", sdp_dir_name(nm->dir));
}

static void write_video(struct sip_buf *buf, const struct sdp_media *m,
			const struct sdp_neg_media *nm, const struct sdp_local *l)
{
	sip_buf_printf(buf, "m=video %u ", l->video_port);
	sip_buf_slice(buf, m->proto);
	for (size_t i = 0; i < nm->nvideo && i < SDP_MAX_FMT; i++)
		if (nm->video_fmt[i] < m->nfmt) {
			sip_buf_str(buf, " ");
			sip_buf_slice(buf, m->fmt[nm->video_fmt[i]].id);
		}
	sip_buf_str(buf, "\r\n");
	sdp_write_fmt_attrs(buf, m, nm->video_fmt, nm->nvideo);
	if (nm->rtcp_mux)
		sip_buf_str(buf, "a=rtcp-mux\r\n");
	write_mid(buf, m);
	sip_buf_printf(buf, "a=%s\r\n", sdp_dir_name(nm->dir));
}

int sdp_answer_write(struct sip_buf *buf, const struct sdp_session *offer,
		     const struct sdp_neg *neg, const struct sdp_local *local, struct sdp_origin *o)
{
	if (!buf || !offer || !neg || !local || !sdp_addr_valid(local->addr) || !o ||
	    neg->nmedia != offer->nmedia || neg->nmedia > SDP_MAX_MEDIA)
		return EINVAL;
	sdp_write_session(buf, local->addr, o);
	for (size_t i = 0; i < offer->nmedia; i++) {
		const struct sdp_media *m = &offer->media[i];
		const struct sdp_neg_media *nm = &neg->media[i];
		if (!nm->accepted)
			write_rejected(buf, m);
		else if (nm->kind == SDP_MEDIA_AUDIO)
			write_audio(buf, m, nm, local);
		else if (nm->kind == SDP_MEDIA_VIDEO && local->video_port)
			write_video(buf, m, nm, local);
		else
			write_rejected(buf, m);
	}
	return sip_buf_ok(buf) ? 0 : ENOSPC;
}
