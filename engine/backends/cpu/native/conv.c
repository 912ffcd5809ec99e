/*
 * Native versions of the SIMD module's convolution exports (engine/backends/cpu/wasm/gemm-funcs.ts):
 * cblock (implicit-GEMM convolution), wblock (weight-gradient dot products), vblock (the weight
 * gradient by transposed tiles). Same arguments (byte addresses in the WebAssembly memory, sizes),
 * same bits: each output element is summed over the same operands in the same order as the WASM
 * function sums it (a fused multiply-add a step in the FMA mode, a rounded product then a rounded
 * sum in the exact-bits mode). The vector width (16 floats with AVX-512F, 8 with AVX2 + FMA) only
 * sets how many elements go side by side. The configuration is the runtime's: MR 6 (rows of a
 * packed A panel), NR 8, WR 2, WK 4, VB_TAPS 4 (nconv_config_ok says which one the kernels assume).
 *
 * The contracts, for the addresses as the WASM functions take them (base = the memory's start):
 *  cblock(mc, np, K, a, x, offs, c, ldc, astride, narrow):
 *    ncols = 8 np (8 np - 4 when narrow & 1: the last panel half-width);
 *    C[i][j] (float at c + i ldc + 4 j, i < mc, j < ncols) =
 *      sum_{k < K} A_i[k] * X[x + offs[k] + 4 j], from zero, k in order;
 *    A_i[k] = float at a + (i / 6) astride + 24 k + 4 (i % 6); offs: K int32 byte offsets.
 *  wblock(mt, kt, J, dy, ldy, x, offs, dw, lddw): for rows i < 2 mt, taps m < 4 kt:
 *    dw[i][m] (float at dw + i lddw + 4 m) = dw[i][m] + ((s0 + s1) + (s2 + s3)),
 *    s_l = sum over j < J, j = l mod 4, in order from zero, of dy[dy + i ldy + 4 j] * X[x + offs[m] + 4 j].
 *  vblock(ot, tt, J, x, offs, dyt, dytStep, c, cStep): nothing unless ot > 0, tt > 0, J >= 4; for
 *    channel tiles q < ot, taps m < 4 tt, lanes o < 8:
 *    C[q][m][o] (float at c + q cStep + 32 m + 4 o) += X[x + offs[m] + 4 j] * DYT[dyt + q dytStep + 32 j + 4 o]
 *    for j = 0 .. J - 1 in order (a running sum from C's value).
 * Where C's rows overlap (cblock: ldc < 4 ncols), the native cblock writes in the WASM function's
 * order (the same last write to each float); overlapping dW rows (wblock) or C tiles (vblock), which
 * the WASM functions would sum in their own order, are an error (no caller makes them). Operands
 * that overlap what a call writes are outside every contract (no caller does that either).
 */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include "gb-native.h"

#define WQ_MAX 12
#define VT_MAX 12

/* ---------------------------------------------------------------- AVX-512F */
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#define VT __m512
#define VW 16
#define MT __mmask16
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(f) _mm512_set1_ps(f)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_LOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define V_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define V_STOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_MASK(n) ((__mmask16)((1u << (n)) - 1u))
/* four rows' 4 floats at j, one 128-bit lane a row */
#define V_ROWS4(r, j) _mm512_insertf32x4(_mm512_insertf32x4(_mm512_insertf32x4(_mm512_castps128_ps512(_mm_loadu_ps((r)[0] + (j))), \
  _mm_loadu_ps((r)[1] + (j)), 1), _mm_loadu_ps((r)[2] + (j)), 2), _mm_loadu_ps((r)[3] + (j)), 3)
#define V_BCAST4(p) _mm512_broadcast_f32x4(_mm_loadu_ps(p))
/* 8 floats (one channel tile), two channel tiles side by side */
#define V_LOAD8(p) _mm512_zextps256_ps512(_mm256_loadu_ps(p))
#define V_STORE8(p, v) _mm256_storeu_ps((p), _mm512_castps512_ps256(v))
#define V_STORE8X2(p, q, v) (_mm256_storeu_ps((p), _mm512_castps512_ps256(v)), _mm256_storeu_ps((q), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))))
#define SFX(name) name##_avx512
#define V_LOAD8X2(p, q) _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(p))), _mm256_castps_pd(_mm256_loadu_ps(q)), 1))
#include "conv-kernels.h"
#undef VT
#undef VW
#undef MT
#undef V_ZERO
#undef V_SET1
#undef V_LOADU
#undef V_LOADM
#undef V_STOREU
#undef V_STOREM
#undef V_FMA
#undef V_ADD
#undef V_MUL
#undef V_MASK
#undef V_ROWS4
#undef V_BCAST4
#undef V_LOAD8
#undef V_STORE8
#undef V_LOAD8X2
#undef V_STORE8X2
#undef SFX
#undef WROWS
#undef CT_FN
#undef CT_R
#undef CT_ALL
#undef CT_ROW
#undef CT_TABLE
#undef WT_FN
#undef WT8_FN
#undef WJ_MAX
#undef VTL_FN
#undef MADD
#pragma GCC pop_options

/* ---------------------------------------------------------------- AVX2 + FMA */
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define VT __m256
#define VW 8
#define MT __m256i
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(f) _mm256_set1_ps(f)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_LOADM(p, m) _mm256_maskload_ps((p), (m))
#define V_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define V_STOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_MASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_ROWS4(r, j) _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps((r)[0] + (j))), _mm_loadu_ps((r)[1] + (j)), 1)
#define V_BCAST4(p) _mm256_broadcast_ps((const __m128 *)(p))
#define V_LOAD8(p) _mm256_loadu_ps(p)
#define V_STORE8(p, v) _mm256_storeu_ps((p), (v))
#define V_LOAD8X2(p, q) _mm256_loadu_ps(p) /* (unused: one channel tile a vector) */
#define V_STORE8X2(p, q, v) _mm256_storeu_ps((p), (v))
#define SFX(name) name##_avx2
#include "conv-kernels.h"
#pragma GCC pop_options

/* ---------------------------------------------------------------- entries (gb-native.h) */

/* the byte range [lo, hi] of offs[0..n) (int32 minima and maxima, vectorized with AVX2's vpminsd /
 * vpmaxsd: scalar, this scan cost 2 cycles a tap, a third of a narrow cblock call's time) */
__attribute__((target("avx2"))) static void offs_span(const int32_t *offs, int64_t n, int64_t *lo, int64_t *hi) {
  int32_t mn = INT32_MAX, mx = INT32_MIN;
  for (int64_t i = 0; i < n; i++) {
    mn = offs[i] < mn ? offs[i] : mn;
    mx = offs[i] > mx ? offs[i] : mx;
  }
  *lo = mn;
  *hi = mx;
}

#define U32(v) ((gb_wide)(uint32_t)(v))

static int native_cblock(gb_call *call) {
  const int32_t *v = call->i;
  /* (bounds in 128-bit arithmetic: products of i32 arguments never wrap into a passing range) */
  const gb_wide mc = v[0], np = v[1], K = v[2], a = U32(v[3]), x = U32(v[4]), offs = U32(v[5]), c = U32(v[6]);
  const gb_wide ldc = v[7], astride = v[8], narrow = v[9] & 1;
  if (np <= 0 || mc <= 0) return 0; /* the WASM loops write nothing either */
  if (K < 0 || ldc < 0 || astride < 0) return gb_fail(call, "K, ldc and astride must not be negative");
  const gb_wide ncols = 8 * np - (narrow ? 4 : 0);
  int whole = 0; /* the last vector of X read whole (its lanes past ncols dropped): the memory goes on past it */
  if (gb_range(call, "C", c, c + (mc - 1) * ldc + 4 * ncols)) return 1;
  if (K > 0) {
    if (gb_range(call, "the tap offsets", offs, offs + 4 * K)) return 1;
    /* A: the last row tile's rows, and a full tile before it (panels may overlap: astride < 24 K) */
    const gb_wide tl = (mc - 1) / GB_MR, rl = mc - GB_MR * tl;
    gb_wide ahi = tl * astride + 24 * (K - 1) + 4 * rl;
    if (tl > 0 && (tl - 1) * astride + 24 * K > ahi) ahi = (tl - 1) * astride + 24 * K;
    if (gb_range(call, "A", a, a + ahi)) return 1;
    int64_t lo, hi;
    offs_span((const int32_t *)gb_ptr(call, (uint32_t)offs), (int64_t)K, &lo, &hi);
    if (gb_range(call, "X (x + the tap offsets)", x + lo, x + hi + 4 * ncols)) return 1;
    whole = x + hi + 4 * ((ncols + 15) & ~(gb_wide)15) <= (gb_wide)call->mem->len;
  }
  char *base = (char *)call->mem->base;
  if (mc > 1 && ldc < 4 * ncols) {
    /* C's rows overlap (no caller does this): panel by panel, row tiles in order, as the WASM
     * function writes them, so that the last write to each float is the same one */
    for (int64_t p = 0; p < np; p++) {
      const int64_t n = ncols - 8 * p < 8 ? (int64_t)(ncols - 8 * p) : 8;
      if (call->isa >= GB_ISA_AVX512)
        cblock_avx512(call->mem->fma, (int)mc, (int)n, (int)K, base + a, base + x + 32 * p, (const int32_t *)(base + offs), base + c + 32 * p, (size_t)ldc, (size_t)astride, whole);
      else
        cblock_avx2(call->mem->fma, (int)mc, (int)n, (int)K, base + a, base + x + 32 * p, (const int32_t *)(base + offs), base + c + 32 * p, (size_t)ldc, (size_t)astride, whole);
    }
    return 0;
  }
  if (call->isa >= GB_ISA_AVX512)
    cblock_avx512(call->mem->fma, (int)mc, (int)ncols, (int)K, base + a, base + x, (const int32_t *)(base + offs), base + c, (size_t)ldc, (size_t)astride, whole);
  else
    cblock_avx2(call->mem->fma, (int)mc, (int)ncols, (int)K, base + a, base + x, (const int32_t *)(base + offs), base + c, (size_t)ldc, (size_t)astride, whole);
  return 0;
}

static int native_wblock(gb_call *call) {
  const int32_t *v = call->i;
  const gb_wide mt = v[0], kt = v[1], J = v[2], dy = U32(v[3]), ldy = v[4], x = U32(v[5]), offs = U32(v[6]), dw = U32(v[7]), lddw = v[8];
  if (mt <= 0 || kt <= 0) return 0;
  if (J < 0 || (J & 3)) return gb_fail(call, "J must be a multiple of 4");
  if (ldy < 0 || lddw < 0) return gb_fail(call, "ldy and lddw must not be negative");
  const gb_wide rows = 2 * mt, taps = 4 * kt;
  if (rows > 1 && lddw < 4 * taps) return gb_fail(call, "dW's rows overlap (lddw < 16 kt): the native kernel sums them in another order");
  if (gb_range(call, "dW", dw, dw + (rows - 1) * lddw + 4 * taps)) return 1;
  if (gb_range(call, "the tap offsets", offs, offs + 4 * taps)) return 1;
  if (J > 0) {
    if (gb_range(call, "dy", dy, dy + (rows - 1) * ldy + 4 * J)) return 1;
    int64_t lo, hi;
    offs_span((const int32_t *)gb_ptr(call, (uint32_t)offs), (int64_t)taps, &lo, &hi);
    if (gb_range(call, "X (x + the tap offsets)", x + lo, x + hi + 4 * J)) return 1;
  }
  char *base = (char *)call->mem->base;
  if (call->isa >= GB_ISA_AVX512)
    wblock_avx512(call->mem->fma, (int)mt, (int)kt, (int)J, base + dy, (size_t)ldy, base + x, (const int32_t *)(base + offs), base + dw, (size_t)lddw);
  else
    wblock_avx2(call->mem->fma, (int)mt, (int)kt, (int)J, base + dy, (size_t)ldy, base + x, (const int32_t *)(base + offs), base + dw, (size_t)lddw);
  return 0;
}

static int native_vblock(gb_call *call) {
  const int32_t *v = call->i;
  const gb_wide ot = v[0], tt = v[1], J = v[2], x = U32(v[3]), offs = U32(v[4]), dyt = U32(v[5]), dytStep = v[6], c = U32(v[7]), cStep = v[8];
  if (ot <= 0 || tt <= 0 || J < 4) return 0; /* as the WASM function */
  if (dytStep < 0 || cStep < 0) return gb_fail(call, "dytStep and cStep must not be negative");
  const gb_wide taps = 4 * tt;
  if (ot > 1 && cStep < 32 * taps) return gb_fail(call, "C's channel tiles overlap (cStep < 128 tt): the native kernel sums them in another order");
  if (gb_range(call, "C", c, c + (ot - 1) * cStep + 32 * taps)) return 1;
  if (gb_range(call, "dy transposed", dyt, dyt + (ot - 1) * dytStep + 32 * J)) return 1;
  if (gb_range(call, "the tap offsets", offs, offs + 4 * taps)) return 1;
  int64_t lo, hi;
  offs_span((const int32_t *)gb_ptr(call, (uint32_t)offs), (int64_t)taps, &lo, &hi);
  if (gb_range(call, "X (x + the tap offsets)", x + lo, x + hi + 4 * J)) return 1;
  char *base = (char *)call->mem->base;
  if (call->isa >= GB_ISA_AVX512)
    vblock_avx512(call->mem->fma, (int)ot, (int)tt, (int)J, base + x, (const int32_t *)(base + offs), base + dyt, (size_t)dytStep, base + c, (size_t)cStep);
  else
    vblock_avx2(call->mem->fma, (int)ot, (int)tt, (int)J, base + x, (const int32_t *)(base + offs), base + dyt, (size_t)dytStep, base + c, (size_t)cStep);
  return 0;
}

GB_EXPORT("cblock", native_cblock, 10, 0, 0, GB_ISA_AVX2)
GB_EXPORT("wblock", native_wblock, 9, 0, 0, GB_ISA_AVX2)
GB_EXPORT("vblock", native_vblock, 9, 0, 0, GB_ISA_AVX2)
