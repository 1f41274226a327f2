/*
 * resample.h: mono S16 sample-rate conversion between 8 kHz and 48 kHz,
 * a thin wrapper around the speexdsp resampler.
 *
 * The ratio is a whole number, so each call turns n input samples into
 * exactly n * out_rate / in_rate output samples (n must be a multiple of
 * in_rate / out_rate when downsampling); the filter's delay is carried in
 * the state, not withheld. One resampler per direction of one stream,
 * owned by the thread that codes that stream.
 */
#ifndef PBX_RESAMPLE_H
#define PBX_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* speexdsp quality 0..10; see resample.c for why this one. */
#define RESAMPLE_QUALITY 3

struct resample;

/* in_rate, out_rate: 8000 or 48000, different. 0, EINVAL or ENOMEM. */
int resample_new(struct resample **out, uint32_t in_rate, uint32_t out_rate, int quality);
void resample_free(struct resample *r);

/* Convert n samples into out (cap samples). Returns the samples written,
 * or -1 when n is not a whole number of output samples or cap is too
 * small. */
int resample_run(struct resample *r, const int16_t *in, size_t n, int16_t *out, size_t cap);

#endif
