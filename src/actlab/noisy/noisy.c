/* Training-mode forward of the hard noisy units (Gulcehre et al., 2016) in one pass over the input,
   and its backward (end of file).

   Why C: the unit is compute-bound on CPUs (a Gaussian draw, a sigmoid and a division per element),
   and Inductor's code for the same function took about three times as long (docs/noisy.md). Its numeric
   constants (fits, hash multipliers, unit slopes) are #defines that noisy/core.py generates from
   the Python definition and prepends at build time (`_native_header`). The math is the same as `nan_parts`/`nani_parts` in noisy/core.py and `standard_normal` in noise.py,
   which stay the reference: tests/test_noisy_native.py checks this kernel against them.

   Written with GCC/Clang vector extensions (8 float lanes): AVX2 registers where the compiler is
   allowed to use them, pairs of 128-bit registers otherwise. No intrinsics, so it builds on any
   architecture the compiler supports. Built and loaded by actlab/core/native.py; reached through
   the torch.library operators actlab::noisy_forward / actlab::noisy_backward of actlab/noisy/core.py.

   Per element, with u = k x + b the unit's linearisation, h = clamp(u, lo, 1), D = h - u:
     t = sigmoid(p D) - 1/2,  sigma = c t^2,  dsigma/d(pD) = 2 c t (1/4 - t^2)
     NAN:  y = alpha h + (1 - alpha) u + d sigma xi,   d = sgn(x) * (alpha > 1 ? 1 : -1)
     NANI: y = h(x - sgn(x) sigma xi)
   and the slopes dy/dx and dy/dp (see noisy/core.py). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define W 8
#define INLINE static inline __attribute__((always_inline))
typedef float vf __attribute__((vector_size(4 * W)));
typedef int32_t vi __attribute__((vector_size(4 * W)));
typedef uint32_t vu __attribute__((vector_size(4 * W)));

INLINE vf splat(float v) {
    vf r = {0};
    return r + v;
}
INLINE vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
/* a NaN in `a` passes through, as with torch.clamp */
INLINE vf vmin(vf a, vf b) { return sel(a > b, b, a); }
INLINE vf vmax(vf a, vf b) { return sel(a < b, b, a); }
INLINE vf vabs(vf a) { return (vf)((vi)a & 0x7FFFFFFF); }
INLINE int all_set(vi m) { /* every lane of a comparison mask true */
#if defined(__AVX__) && !defined(__clang__)
    return __builtin_ia32_movmskps256((vf)m) == 0xFF;
#else
    int all = 1;
    for (int k = 0; k < W; k++) all &= m[k] != 0;
    return all;
#endif
}
INLINE vf vsqrt(vf a) {
    vf r;
    for (int k = 0; k < W; k++) r[k] = __builtin_sqrtf(a[k]);
    return r;
}

/* ---- the draw: noise.py's standard_normal ---- */

INLINE vu mix(vu v) { /* lowbias32 */
    v ^= v >> 16;
    v *= MIX_M1;
    v ^= v >> 15;
    v *= MIX_M2;
    v ^= v >> 16;
    return v;
}

INLINE vf ln(vf u) { /* noise.py's _ln: exponent plus f Q(f), f in [-1/3, 1/3) */
    vi bits = (vi)u - TWO_THIRDS_BITS;
    vf e = __builtin_convertvector(bits >> 23, vf);
    vf f = (vf)((bits & 0x7FFFFF) + TWO_THIRDS_BITS) - 1.0f;
    vf q = f * LOG1P_Q7 + LOG1P_Q6;
    q = q * f + LOG1P_Q5;
    q = q * f + LOG1P_Q4;
    q = q * f + LOG1P_Q3;
    q = q * f + LOG1P_Q2;
    q = q * f + LOG1P_Q1;
    q = q * f + LOG1P_Q0;
    return e * LN2 + f * q;
}

/* Box-Muller from one 32-bit word w: sqrt(-2 ln U1) with U1 from bits 31..16, and cos(2 pi U2)
   with U2 = u2bits / 2^16. Element 2j takes the cosine of pair j's word, element 2j+1 the sine,
   which is the cosine at U2 - 1/4: noise.py's standard_normal. */
INLINE vf radius(vu w) {
    vf u1 = __builtin_convertvector((vi)(((w >> 15) & 0x1FFFEu) + 1u), vf) * (1.0f / 131072.0f);
    return vsqrt(vmax(-2.0f * ln(u1), splat(0.0f)));
}

INLINE vf cos_2pi(vu u2bits) { /* cos(2 pi U2) = sin(2 pi s), s = |U2 - 1/2| - 1/4: noise.py's _SIN_S */
    vf s = vabs(__builtin_convertvector((vi)u2bits, vf) * (1.0f / 65536.0f) - 0.5f) - 0.25f;
    vf s2 = s * s;
    vf q = s2 * SIN_S4 + SIN_S3;
    q = q * s2 + SIN_S2;
    q = q * s2 + SIN_S1;
    q = q * s2 + SIN_S0;
    return s * q;
}

INLINE vu pair_word(vu j, uint32_t key_a, uint32_t key_b) { return mix(j * (key_a | 1u) + key_b); }

/* the noise of elements idx (any indices) */
INLINE vf normal_lanes(vu idx, uint32_t key_a, uint32_t key_b) {
    vu w = pair_word(idx >> 1, key_a, key_b);
    return radius(w) * cos_2pi((w - ((idx & 1u) << 14)) & 0xFFFFu);
}

/* the noise of elements 2 j0 ... 2 j0 + 15: both halves of 8 pairs, interleaved */
INLINE void normal_pairs(uint32_t j0, uint32_t key_a, uint32_t key_b, vf* lo, vf* hi) {
    vu w = pair_word(j0 + (vu){0, 1, 2, 3, 4, 5, 6, 7}, key_a, key_b);
    vf r = radius(w);
    vf even = r * cos_2pi(w & 0xFFFFu), odd = r * cos_2pi((w - 0x4000u) & 0xFFFFu);
#if defined(__clang__)
    *lo = __builtin_shufflevector(even, odd, 0, 8, 1, 9, 2, 10, 3, 11);
    *hi = __builtin_shufflevector(even, odd, 4, 12, 5, 13, 6, 14, 7, 15);
#else
    *lo = __builtin_shuffle(even, odd, (vi){0, 8, 1, 9, 2, 10, 3, 11});
    *hi = __builtin_shuffle(even, odd, (vi){4, 12, 5, 13, 6, 14, 7, 15});
#endif
}

/* sigmoid(z) - 1/2 = tanh(v) / 2 with v = z / 2, tanh(v) = v P(v^2) / Q(v^2): P of degree 6 and Q of
   degree 3 in v^2, fitted for relative error by linear-programming minimax (differential correction)
   on |v| <= 7.905, where float32 tanh reaches 1: 3.4e-8 in exact arithmetic, 3.7e-7 absolute in
   float32, |tanh| <= 1. A third cheaper than exp and a division; the forward ran ~25% faster for it.
   Deep in saturation 1/4 - t^2 (sigmoid') cancels in float32 here as it does after torch.sigmoid;
   the two agree to ~1e-7 absolute there. The halving is folded into P. */
INLINE vf sigmoid_centered(vf z) {
    vf v = vmin(vmax(z * 0.5f, splat(-TANH_CLAMP)), splat(TANH_CLAMP));
    vf v2 = v * v;
    vf num = v2 * (TANH_P6 * 0.5f) + TANH_P5 * 0.5f;
    num = num * v2 + TANH_P4 * 0.5f;
    num = num * v2 + TANH_P3 * 0.5f;
    num = num * v2 + TANH_P2 * 0.5f;
    num = num * v2 + TANH_P1 * 0.5f;
    num = num * v2 + TANH_P0 * 0.5f;
    vf den = v2 * TANH_Q3 + TANH_Q2;
    den = den * v2 + TANH_Q1;
    den = den * v2 + TANH_Q0;
    /* At the clamp tanh is 1 in float32 (as torch.sigmoid is 1 there): t = +-1/2 exactly makes
       sigmoid' = 1/4 - t^2 exactly 0, as after torch.sigmoid, also for infinite inputs. */
    vf half = (vf)(((vi)v & (int32_t)0x80000000) | (vi)splat(0.5f));
    return sel(vabs(v) >= TANH_CLAMP, half, v * num / den);
}

/* Everything below takes the unit, the mode, half-normal and the slope count as arguments that
   are compile-time constants in each of the 24 specialised loops (RUNS): no branches and no
   reloads of parameters through pointers in the hot loop. unit: 0 hard_tanh, 1 hard_sigmoid. */

/* h = clamp(u, lo, 1) and dh/dx = k on lo < u < 1 (0 at the kinks, as noisy/core.py's unit_parts). */
INLINE void unit(vf u, int hsig, vf* h, vf* dh) {
    float lo = hsig ? HSIG_LO : HTANH_LO, k = hsig ? HSIG_K : HTANH_K;
    *h = vmin(vmax(u, splat(lo)), splat(1.0f));
    *dh = sel((u > lo) & (u < 1.0f), splat(k), splat(0.0f));
}

/* `linear` (a constant): every lane is known to be in the linear region (D = 0), so t = 0 and the
   noise term vanishes; the same expressions then give the same values without the draw or the
   sigmoid (up to the sign of zero terms). */
INLINE void body(vf x, vf p, vf xi, int hsig, int nani, int half, int linear, float c, float alpha, vf* y,
                 vf* dydx, vf* dydp) {
    float k = hsig ? HSIG_K : HTANH_K, b = hsig ? HSIG_B : HTANH_B;
    vf u = hsig ? x * k + b : x, h, dh;
    unit(u, hsig, &h, &dh);
    vf delta = h - u;
    vf t = linear ? splat(0.0f) : sigmoid_centered(p * delta);
    vf sigma = c * t * t;
    vf dsigma = (2.0f * c) * t * (0.25f - t * t);
    if (half) xi = vabs(xi);
    /* sgn(x) xi as a sign flip: where x = 0 the unit is linear, sigma = dsigma = 0, so sgn(0) = +1 is harmless */
    vf sxi = (vf)((vi)xi ^ ((vi)x & (int32_t)0x80000000)), s;
    if (nani) {
        vf xd = -sxi, z = x + xd * sigma, hz, dhz;
        unit(hsig ? z * k + b : z, hsig, &hz, &dhz);
        s = dhz * xd * dsigma;
        *y = hz;
        *dydx = dhz + s * p * (dh - k);
    } else {
        vf dxi = alpha > 1.0f ? sxi : -sxi; /* d xi, d = sgn(x) sgn(alpha - 1) */
        s = dxi * dsigma;
        *y = alpha * h + (1.0f - alpha) * u + dxi * sigma;
        *dydx = alpha * dh + (1.0f - alpha) * k + s * p * (dh - k);
    }
    *dydp = s * delta;
}

static const vu IOTA = {0, 1, 2, 3, 4, 5, 6, 7};

/* Up to W elements from offset `at` through zero-padded copies, with per-lane noise. */
INLINE void run_short(const float* x, float* y, float* dydx, float* dydp, int64_t at, int64_t len, const float* p,
                      int pstride, float c, float alpha, uint32_t key_a, uint32_t key_b, int hsig, int nani,
                      int half, int slopes) {
    float xb[W] = {0}, pb[W] = {0}, out[W];
    vf xv, pv = splat(p[0]), yv, gx, gp;
    memcpy(xb, x + at, len * sizeof(float));
    memcpy(&xv, xb, sizeof xv);
    if (pstride) {
        memcpy(pb, p, len * sizeof(float));
        memcpy(&pv, pb, sizeof pv);
    }
    vf xi = normal_lanes(IOTA + (uint32_t)at, key_a, key_b);
    body(xv, pv, xi, hsig, nani, half, 0, c, alpha, &yv, &gx, &gp);
    memcpy(out, &yv, sizeof out);
    memcpy(y + at, out, len * sizeof(float));
    if (slopes >= 1) {
        memcpy(out, &gx, sizeof out);
        memcpy(dydx + at, out, len * sizeof(float));
    }
    if (slopes >= 2) {
        memcpy(out, &gp, sizeof out);
        memcpy(dydp + at, out, len * sizeof(float));
    }
}

INLINE void store(float* y, float* dydx, float* dydp, int64_t at, vf yv, vf gx, vf gp, int slopes) {
    memcpy(y + at, &yv, sizeof yv);
    if (slopes >= 1) memcpy(dydx + at, &gx, sizeof gx);
    if (slopes >= 2) memcpy(dydp + at, &gp, sizeof gp);
}

/* 16 elements from offset `at`, all in the closed linear region (|x| <= 1 for hard-tanh, 2 for
   hard-sigmoid; a NaN is not)? */
INLINE int linear16(const float* x, int64_t at, int hsig) {
    float thr = hsig ? 2.0f : 1.0f;
    vf a, b;
    memcpy(&a, x + at, sizeof a);
    memcpy(&b, x + at + W, sizeof b);
    return all_set((vabs(a) <= thr) & (vabs(b) <= thr));
}

/* Elements ahead of the main loop that it asks the caches for. The loop is compute-bound, and
   the hardware prefetcher alone left memory and arithmetic mostly serialised: the forward ran
   ~10% faster at 16M elements with these prefetches (1 KB ahead; 256, 512 and 2048 elements
   measured within noise of each other, the stores' prefetch worth ~2% more). */
#define PREFETCH 256
/* Past a block's end it asks for the next block (usually the same thread's next item). A prefetch
   never faults; the address is formed as an integer, so no pointer points outside its array. */
#define ahead(ptr, at, write) \
    __builtin_prefetch((const void*)((uintptr_t)((ptr) + (at)) + 4 * PREFETCH), (write), 0)

/* The main loop: 16 elements from an even offset per step, 8 Box-Muller pairs. With `shortcut` (a
   constant) a step whose 16 elements are all linear skips the draw and the sigmoid: ~2x faster on
   unsaturated inputs, but the branch costs ~20% on saturated ones, so `run` picks per block. */
INLINE int64_t run_main(const float* x, float* y, float* dydx, float* dydp, int64_t at, int64_t i, int64_t len,
                        const float* p, int pstride, float c, float alpha, uint32_t key_a, uint32_t key_b, int hsig,
                        int nani, int half, int slopes, int shortcut) {
    vf pv = splat(p[0]), xv, yv, gx, gp, lo, hi;
    for (; i + 2 * W <= len; i += 2 * W) {
        ahead(x, at + i, 0);
        ahead(y, at + i, 1);
        if (slopes >= 1) ahead(dydx, at + i, 1);
        if (slopes >= 2) ahead(dydp, at + i, 1);
        if (shortcut && linear16(x, at + i, hsig)) {
            for (int h = 0; h < 2; h++) {
                memcpy(&xv, x + at + i + h * W, sizeof xv);
                if (pstride) memcpy(&pv, p + i + h * W, sizeof pv);
                body(xv, pv, splat(0.0f), hsig, nani, half, 1, c, alpha, &yv, &gx, &gp);
                store(y, dydx, dydp, at + i + h * W, yv, gx, gp, slopes);
            }
            continue;
        }
        normal_pairs((uint32_t)((at + i) >> 1), key_a, key_b, &lo, &hi);
        memcpy(&xv, x + at + i, sizeof xv);
        if (pstride) memcpy(&pv, p + i, sizeof pv);
        body(xv, pv, lo, hsig, nani, half, 0, c, alpha, &yv, &gx, &gp);
        store(y, dydx, dydp, at + i, yv, gx, gp, slopes);
        memcpy(&xv, x + at + i + W, sizeof xv);
        if (pstride) memcpy(&pv, p + i + W, sizeof pv);
        body(xv, pv, hi, hsig, nani, half, 0, c, alpha, &yv, &gx, &gp);
        store(y, dydx, dydp, at + i + W, yv, gx, gp, slopes);
    }
    return i;
}

/* len elements from offset `at`; p is one value (pstride 0) or one per element (pstride 1).
   The first 16 groups of 16 decide the main loop: the shortcut loop where at least half of
   them are all linear (a unit that mostly is not saturated), the plain loop otherwise. */
INLINE void run(const float* x, float* y, float* dydx, float* dydp, int64_t at, int64_t len, const float* p,
                int pstride, float c, float alpha, uint32_t key_a, uint32_t key_b, int hsig, int nani, int half,
                int slopes) {
    int64_t i = 0;
    if (len > 0 && (at & 1)) {
        run_short(x, y, dydx, dydp, at, 1, p, pstride, c, alpha, key_a, key_b, hsig, nani, half, slopes);
        i = 1;
    }
    int groups = 0, linear = 0;
    for (int64_t j = i; j + 2 * W <= len && groups < 16; j += 2 * W, groups++) linear += linear16(x, at + j, hsig);
    if (2 * linear > groups)
        i = run_main(x, y, dydx, dydp, at, i, len, p, pstride, c, alpha, key_a, key_b, hsig, nani, half, slopes, 1);
    else
        i = run_main(x, y, dydx, dydp, at, i, len, p, pstride, c, alpha, key_a, key_b, hsig, nani, half, slopes, 0);
    for (; i < len; i += W) {
        int64_t n = len - i < W ? len - i : W;
        run_short(x, y, dydx, dydp, at + i, n, p + (pstride ? i : 0), pstride, c, alpha, key_a, key_b, hsig,
                  nani, half, slopes);
    }
}

typedef void (*run_fn)(const float*, float*, float*, float*, int64_t, int64_t, const float*, int, float, float,
                       uint32_t, uint32_t);
#define RUN(HSIG, NANI, HALF, SLOPES)                                                                           \
    static void run_##HSIG##NANI##HALF##SLOPES(const float* x, float* y, float* dydx, float* dydp, int64_t at,    \
                                               int64_t len, const float* p, int pstride, float c, float alpha,   \
                                               uint32_t key_a, uint32_t key_b) {                                 \
        run(x, y, dydx, dydp, at, len, p, pstride, c, alpha, key_a, key_b, HSIG, NANI, HALF, SLOPES);           \
    }
#define RUNS_SLOPES(H, N, F) RUN(H, N, F, 0) RUN(H, N, F, 1) RUN(H, N, F, 2)
#define RUNS_HALF(H, N) RUNS_SLOPES(H, N, 0) RUNS_SLOPES(H, N, 1)
#define RUNS_MODE(H) RUNS_HALF(H, 0) RUNS_HALF(H, 1)
RUNS_MODE(0)
RUNS_MODE(1)
#define ENTRY(H, N, F) run_##H##N##F##0, run_##H##N##F##1, run_##H##N##F##2
static const run_fn RUNS[24] = {ENTRY(0, 0, 0), ENTRY(0, 0, 1), ENTRY(0, 1, 0), ENTRY(0, 1, 1),
                                ENTRY(1, 0, 0), ENTRY(1, 0, 1), ENTRY(1, 1, 0), ENTRY(1, 1, 1)};

/* The input is `rows` rows of `row_len` elements (row-major). pmode 0: p[0] everywhere;
   1: p[row % channels] for the whole row (channels at dim 1, row_len = the elements per channel);
   2: p[j] for element j of every row (row_len = channels x elements per channel, p expanded).
   Work is split in blocks of at most BLOCK elements within rows, so threads balance whatever the shape.
   Below 65536 elements one thread runs it all: an OpenMP fork costs more than it saves there, and
   on a busy machine its barrier cost ~1 ms per call (an LSTM gate's 8192 elements, measured). 
   unit: 0 hard_tanh, 1 hard_sigmoid. mode: 0 NAN, 1 NANI. Returns 0, or -1 for bad arguments. */
#define BLOCK 4096
int actlab_noisy_forward(const float* x, float* y, float* dydx, float* dydp, int64_t rows, int64_t row_len,
                         const float* p, int pmode, int64_t channels, int unit_id, int mode, int half,
                         float c, float alpha, uint32_t key_a, uint32_t key_b, int slopes, int threads) {
    if (unit_id < 0 || unit_id > 1 || mode < 0 || mode > 1 || half < 0 || half > 1 || pmode < 0 || pmode > 2 ||
        slopes < 0 || slopes > 2 || rows < 0 || row_len < 0 || channels < 1)
        return -1;
    run_fn fn = RUNS[((unit_id * 2 + mode) * 2 + half) * 3 + slopes];
    int64_t blocks = (row_len + BLOCK - 1) / BLOCK, items = rows * blocks;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (items > 1 && rows * row_len >= 65536)
    for (int64_t item = 0; item < items; item++) {
        int64_t row = item / blocks, start = (item % blocks) * BLOCK;
        int64_t len = row_len - start < BLOCK ? row_len - start : BLOCK;
        const float* pr = pmode == 0 ? p : pmode == 1 ? p + row % channels : p + start;
        fn(x, y, dydx, dydp, row * row_len + start, len, pr, pmode == 2, c, alpha, key_a, key_b);
    }
    return 0;
}

/* ---- the backward of a training forward ---- */

#if defined(__AVX__)
#include <immintrin.h>
#endif

/* grad_x = g dy/dx over len elements from `at`; returns the sum of g dy/dp there (float lanes over
   at most one BLOCK, then double; 0 without dy/dp). With `nt` the gradient is written with
   non-temporal stores (AVX builds): it skips the read-for-ownership of each output line, ~15%
   of this loop's time on large inputs, where its reader finds it in memory anyway. */
INLINE double backward_block(const float* g, const float* dydx, const float* dydp, float* grad_x, int64_t at,
                             int64_t len, int has_p, int nt) {
    vf acc = splat(0.0f), gv, a, b, out;
    double sum = 0.0;
    int64_t i = 0;
#if defined(__AVX__)
    for (; nt && i < len && ((uintptr_t)(grad_x + at + i) & 31); i++) { /* up to an aligned output */
        grad_x[at + i] = g[at + i] * dydx[at + i];
        if (has_p) sum += g[at + i] * dydp[at + i];
    }
#endif
    for (; i + W <= len; i += W) {
        memcpy(&gv, g + at + i, sizeof gv);
        memcpy(&a, dydx + at + i, sizeof a);
        out = gv * a;
#if defined(__AVX__)
        if (nt)
            _mm256_stream_ps(grad_x + at + i, (__m256)out);
        else
#endif
            memcpy(grad_x + at + i, &out, sizeof out);
        if (has_p) {
            memcpy(&b, dydp + at + i, sizeof b);
            acc += gv * b;
        }
    }
#if defined(__AVX__)
    if (nt) _mm_sfence(); /* the streamed stores are weakly ordered: complete them before returning */
#endif
    for (int k = 0; k < W; k++) sum += acc[k];
    for (; i < len; i++) {
        grad_x[at + i] = g[at + i] * dydx[at + i];
        if (has_p) sum += g[at + i] * dydp[at + i];
    }
    return sum;
}

/* The backward of a training forward, over the same walk (`rows` x `row_len`, p as in
   actlab_noisy_forward's pmode 0 or 1): grad_x = g dy/dx and, with dydp (slopes=2), grad_p[0]
   (pmode 0) or grad_p[ch] (pmode 1, rows of channel ch = row % channels) = the sum of g dy/dp.
   One pass over the input-sized streams; the Inductor kernel of the same two results took ~1.2x
   as long in the bench's training loop. Each work item's sum is kept in double and they are
   added in item order afterwards, so the result does not depend on the thread count. `nt`:
   stream the gradient past the caches (see backward_block). Returns 0, -1 for bad arguments,
   -2 when out of memory. */
int actlab_noisy_backward(const float* g, const float* dydx, const float* dydp, float* grad_x, float* grad_p,
                          int64_t rows, int64_t row_len, int pmode, int64_t channels, int nt, int threads) {
    if (rows < 0 || row_len < 0 || pmode < 0 || pmode > 1 || channels < 1 || (dydp != NULL) != (grad_p != NULL))
        return -1;
    int64_t blocks = (row_len + BLOCK - 1) / BLOCK, items = rows * blocks, slots = pmode ? channels : 1;
    double* sums = NULL;
    if (dydp != NULL && (sums = malloc(sizeof(double) * (size_t)(items + slots))) == NULL) return -2;
    (void)threads;
#pragma omp parallel for schedule(static) num_threads(threads) if (items > 1 && rows * row_len >= 65536)
    for (int64_t item = 0; item < items; item++) {
        int64_t start = (item % blocks) * BLOCK, len = row_len - start < BLOCK ? row_len - start : BLOCK;
        int64_t at = item / blocks * row_len + start;
        /* constant flags: one specialised copy of the loop each */
        if (dydp == NULL && nt)
            backward_block(g, dydx, NULL, grad_x, at, len, 0, 1);
        else if (dydp == NULL)
            backward_block(g, dydx, NULL, grad_x, at, len, 0, 0);
        else if (nt)
            sums[item] = backward_block(g, dydx, dydp, grad_x, at, len, 1, 1);
        else
            sums[item] = backward_block(g, dydx, dydp, grad_x, at, len, 1, 0);
    }
    if (dydp == NULL) return 0;
    double* fold = sums + items;
    for (int64_t k = 0; k < slots; k++) fold[k] = 0.0;
    for (int64_t item = 0; item < items; item++) fold[pmode ? item / blocks % channels : 0] += sums[item];
    for (int64_t k = 0; k < slots; k++) grad_p[k] = (float)fold[k];
    free(sums);
    return 0;
}
