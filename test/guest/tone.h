/* The sound checks' arithmetic, the same in the guest (cellvm-check-snd)
 * and on the host (cellvm-test-audio): a sine tone, the dominant frequency
 * of a recording by a Goertzel scan, its RMS. Pure C, no allocation. */
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define TONE_PI 3.14159265358979323846

/* Sample i of a sine of freq Hz at rate, amplitude amp (of full scale 1). */
static inline double tone_sample(double freq, double rate, double amp, uint64_t i)
{
	return amp * sin(2.0 * TONE_PI * freq * (double)i / rate);
}

/* The power of frequency f in x (n mono samples at rate): Goertzel's
 * recurrence, |X(f)|^2. */
static inline double tone_power(const float *x, size_t n, double rate, double f)
{
	double c = 2.0 * cos(2.0 * TONE_PI * f / rate), s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + c * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - c * s1 * s2;
}

/* The frequency in lo..hi Hz where x has the most power: every 10 Hz over
 * a tenth of a second of the middle (whose main lobe is 10 Hz wide each
 * side, so no tone falls between two steps), then every 0.25 Hz around the
 * best step over all of x. Returns 0 for fewer than a tenth of a second. */
static inline double tone_dominant(const float *x, size_t n, double rate, double lo, double hi)
{
	size_t win = (size_t)(rate / 10);
	const float *mid = x + (n - win) / 2;
	double best = 0, best_p = -1, fine = 0, fine_p = -1;

	if (n < win || win == 0)
		return 0;
	for (double f = lo; f <= hi; f += 10) {
		double p = tone_power(mid, win, rate, f);

		if (p > best_p) {
			best_p = p;
			best = f;
		}
	}
	for (double f = best - 10; f <= best + 10; f += 0.25) {
		double p = f > 0 ? tone_power(x, n, rate, f) : -1;

		if (p > fine_p) {
			fine_p = p;
			fine = f;
		}
	}
	return fine;
}

/* Root mean square of x (full scale 1). */
static inline double tone_rms(const float *x, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (double)x[i] * x[i];
	return n ? sqrt(sum / (double)n) : 0;
}
