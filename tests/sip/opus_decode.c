/*
 * opus_decode.c: test helper for t_vm_web.sh. Decodes an Ogg/Opus file with
 * opusfile (independently of media/vm_file.c, the code under test) and
 * writes it to stdout as raw 48 kHz signed 16-bit little-endian mono (the
 * channels averaged), so sox can measure it.
 *
 *   opus_decode FILE.opus > out.raw      exit 0, 1 on any error
 */
#include <opusfile.h>
#include <stdio.h>

#define MAX_SAMPLES (48000 * 600) /* ten minutes: bounds a broken file */

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: opus_decode FILE.opus > out.raw\n", stderr);
		return 1;
	}
	int err = 0;
	OggOpusFile *of = op_open_file(argv[1], &err);
	if (!of) {
		fprintf(stderr, "opus_decode: %s: not Ogg/Opus (opusfile error %d)\n", argv[1], err);
		return 1;
	}
	opus_int16 pcm[5760 * 8];
	long total = 0;
	int ret = 0;
	for (;;) {
		int n = op_read(of, pcm, (int)(sizeof pcm / sizeof pcm[0]), NULL);
		if (n == 0)
			break;
		if (n < 0) {
			fprintf(stderr, "opus_decode: %s: decode error %d\n", argv[1], n);
			ret = 1;
			break;
		}
		int ch = op_channel_count(of, -1);
		if (ch < 1 || ch > 8) {
			ret = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			long sum = 0;
			for (int c = 0; c < ch; c++)
				sum += pcm[i * ch + c];
			int16_t s = (int16_t)(sum / ch);
			unsigned char b[2] = { (unsigned char)(s & 0xff), (unsigned char)((unsigned)s >> 8) };
			fwrite(b, 1, 2, stdout);
		}
		total += n;
		if (total > MAX_SAMPLES) {
			fprintf(stderr, "opus_decode: %s: longer than ten minutes\n", argv[1]);
			ret = 1;
			break;
		}
	}
	op_free(of);
	if (fflush(stdout) != 0)
		ret = 1;
	return ret;
}
