/*
 * fuzz_wav.c: libFuzzer target for the WAV header reader that loads the
 * prompts. Whatever parses must describe a slice inside the input holding a
 * whole number of frames of a format the reader promises. The input is
 * copied into a buffer of exactly its size so an overread lands on a
 * redzone. The generic fuzz rule links only the SIP sources, so wav.c is
 * compiled in here.
 */
#include "../../media/wav.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct wav_info w;
	int rc = wav_parse(buf, size, &w);
	if (rc == 0) {
		size_t frame = (size_t)w.channels * (w.bits / 8);
		if (w.channels < 1 || w.channels > 8 || w.rate < 1 || w.rate > 384000 || frame == 0)
			abort();
		if (w.bits != 8 && w.bits != 16 && w.bits != 24 && w.bits != 32)
			abort();
		if (w.data < buf || w.data > buf + size || w.data_len > (size_t)(buf + size - w.data) ||
		    w.data_len % frame != 0)
			abort();
		/* Touch every byte the slice claims. */
		unsigned sum = 0;
		for (size_t i = 0; i < w.data_len; i++)
			sum += w.data[i];
		if (sum == 0xffffffffu)
			abort();
	} else if (rc != EBADMSG && rc != ENOTSUP) {
		abort();
	}
	free(buf);
	return 0;
}
