// `block`, the SIMD module's GEMM micro-kernel driver (wasm/gemm-funcs.ts), natively: the same
// arguments, the same memory read and written, the same bits. Each C element of the SIMD module's
// kern<r> tiles is acc = 0, then acc = relaxed_madd(a_k, b_k, acc) (V8 fuses it where the CPU has
// FMA, as every CPU this path runs on does), or acc + a_k * b_k rounded twice in the exact-bits
// mode, for k = 0..kc-1 in order, stored as acc or C + acc: independent of the tile's shape. So
// the tiles here are wider (AVX-512: 16 columns, two packed panels a vector; AVX2: 8) and taller
// (up to 12 rows: two packed A panels), and the bits stay those of the WASM kernel.
#include <immintrin.h>

#include "gb-native.h"

#define MR GB_MR /* the SIMD module's configuration (gb-native.h) */
#define NR GB_NR

// ---------------------------------------------------------------------------------------------
// AVX-512 (16-float vectors: two packed panels of 8 columns side by side)

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx2,fma")
#define TILE_ISA avx512
#include "gemm-tiles.h"

#define LOADB16(b, v, bs) \
  _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps((const float*)((b) + 2 * (v) * (bs)))), _mm256_loadu_ps((const float*)((b) + (2 * (v) + 1) * (bs))), 1)
#define LOADB8(b, v, bs) _mm256_loadu_ps((const float*)((b) + (v) * (bs)))
#define LOADB4(b, v, bs) _mm_loadu_ps((const float*)(b))
DEFINE_TILE(16, __m512, LOADB16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_setzero_ps)
DEFINE_TILE(8, __m256, LOADB8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_setzero_ps)
DEFINE_TILE(4, __m128, LOADB4, _mm_set1_ps, _mm_fmadd_ps, _mm_mul_ps, _mm_add_ps, _mm_loadu_ps, _mm_storeu_ps, _mm_setzero_ps)
INST_ROWS(16, 1, 0) INST_ROWS(16, 1, 1) INST_ROWS(16, 2, 0) INST_ROWS(16, 2, 1)
INST_ROWS(8, 1, 0) INST_ROWS(8, 1, 1)
INST_ROWS(4, 1, 0) INST_ROWS(4, 1, 1)
/* [fma][kind: 0 = 4 panels (16 x 2), 1 = 2 panels (16 x 1), 2 = 1 panel (8), 3 = half a panel (4)][rows] */
static const tile_fn tiles_avx512[2][4][2 * MR + 1] = {
  { ROW_TABLE(16, 2, 0), ROW_TABLE(16, 1, 0), ROW_TABLE(8, 1, 0), ROW_TABLE(4, 1, 0) },
  { ROW_TABLE(16, 2, 1), ROW_TABLE(16, 1, 1), ROW_TABLE(8, 1, 1), ROW_TABLE(4, 1, 1) },
};
#undef TILE_ISA
#pragma GCC pop_options

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA (8-float vectors: one packed panel; 16 registers: 6 rows x 2 panels at most)

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define TILE_ISA avx2
#include "gemm-tiles.h"
DEFINE_TILE(8, __m256, LOADB8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_setzero_ps)
DEFINE_TILE(4, __m128, LOADB4, _mm_set1_ps, _mm_fmadd_ps, _mm_mul_ps, _mm_add_ps, _mm_loadu_ps, _mm_storeu_ps, _mm_setzero_ps)
INST_ROWS(8, 1, 0) INST_ROWS(8, 1, 1) INST_ROWS(8, 2, 0) INST_ROWS(8, 2, 1)
INST_ROWS(4, 1, 0) INST_ROWS(4, 1, 1)
/* [fma][kind: 0 = 2 panels (8 x 2), 1 = 1 panel (8), 2 = half a panel (4)][rows] */
static const tile_fn tiles_avx2[2][3][2 * MR + 1] = {
  { ROW_TABLE(8, 2, 0), ROW_TABLE(8, 1, 0), ROW_TABLE(4, 1, 0) },
  { ROW_TABLE(8, 2, 1), ROW_TABLE(8, 1, 1), ROW_TABLE(4, 1, 1) },
};
#undef TILE_ISA
#pragma GCC pop_options

// ---------------------------------------------------------------------------------------------

/** The rows [0, mc) by tiles of at most `maxRows` (a multiple of MR) rows: row i at a + (i / MR) * astride + 4 (i % MR). */
static void rows_of(const tile_fn* byRows, int maxRows, int mc, int kc, const uint8_t* a, int64_t astep, int64_t astride, const uint8_t* b,
                    int64_t bstep, int64_t bstride, uint8_t* c, int64_t ldc, int accum) {
  int i = 0;
  while (i < mc) {
    int r = mc - i;
    if (r > maxRows) r = maxRows;
    if (r > MR && r < 2 * MR) r = MR; /* (a whole panel, then the rest; maxRows is MR or 2 MR) */
    byRows[r](kc, a + (int64_t)(i / MR) * astride, astep, astride, b, bstep, bstride, c + (int64_t)i * ldc, ldc, accum);
    i += r;
  }
}

/** block(mc, np, kc, a, b, c, ldc, accum, aStep, bStep): see wasm/gemm-funcs.ts. */
static int native_block(gb_call* call) {
  const int32_t* x = call->i;
  const int mc = x[0], np = x[1], kc = x[2];
  const uint32_t a = (uint32_t)x[3], b = (uint32_t)x[4], c = (uint32_t)x[5];
  const int64_t ldc = x[6];
  const int narrow = (x[7] >> 1) & 1, accum = x[7] & 1;
  const int64_t aStep = x[8], bStep = x[9];
  if (mc <= 0 || np <= 0) return 0;
  if (kc < 0) return gb_fail(call, "kc < 0");
  if (ldc < 0 || aStep < 0 || bStep < 0) return gb_fail(call, "a negative step (ldc, aStep or bStep)");
  const int64_t astride = aStep == MR * 4 ? (int64_t)kc * MR * 4 : MR * 4;
  const int64_t bstride = bStep == NR * 4 ? (int64_t)kc * NR * 4 : NR * 4;
  const int wlast = narrow ? NR / 2 : NR;
  if (kc > 0) {
    if (gb_range(call, "A", a, (gb_wide)a + (gb_wide)((mc - 1) / MR) * astride + 4 * ((mc - 1) % MR) + (gb_wide)(kc - 1) * aStep + 4)) return 1;
    if (gb_range(call, "B", b, (gb_wide)b + (gb_wide)(np - 1) * bstride + (gb_wide)(kc - 1) * bStep + 4 * wlast)) return 1;
  }
  if (gb_range(call, "C", c, (gb_wide)c + (gb_wide)(mc - 1) * ldc + (gb_wide)(np - 1) * NR * 4 + 4 * wlast)) return 1;
  const uint8_t* A = gb_ptr(call, a);
  const uint8_t* B = gb_ptr(call, b);
  uint8_t* C = gb_ptr(call, c);
  const int fma = call->mem->fma ? 1 : 0;
  const int full = np - narrow; /* panels of NR columns; then, with narrow, one of NR / 2 */
  int p = 0;
  if (mc > 1 && ldc < (int64_t)full * NR * 4 + (narrow ? NR * 2 : 0)) {
    // a row's tiles reach into the next row's (gemm.ts: C as its rows, N not a multiple of NR,
    // the panel past the row's end computed first): the SIMD module's order of stores, panel by
    // panel (each all its rows, in order: a tile computes all its rows, then loads, adds and
    // stores them one row after the other, as kern<r> does), so that each element ends up with
    // the same tile's value
    const tile_fn(*tiles)[2 * MR + 1] = call->isa >= GB_ISA_AVX512 ? tiles_avx512[fma] : tiles_avx2[fma];
    const int kind8 = call->isa >= GB_ISA_AVX512 ? 2 : 1;
    for (; p < np; p++)
      rows_of(tiles[p < full ? kind8 : kind8 + 1], 2 * MR, mc, kc, A, aStep, astride, B + p * bstride, bStep, bstride, C + p * NR * 4, ldc, accum);
    return 0;
  }
  if (call->isa >= GB_ISA_AVX512) {
    for (; p + 4 <= full; p += 4)
      rows_of(tiles_avx512[fma][0], 2 * MR, mc, kc, A, aStep, astride, B + p * bstride, bStep, bstride, C + p * NR * 4, ldc, accum);
    for (; p + 2 <= full; p += 2)
      rows_of(tiles_avx512[fma][1], 2 * MR, mc, kc, A, aStep, astride, B + p * bstride, bStep, bstride, C + p * NR * 4, ldc, accum);
    for (; p < full; p++)
      rows_of(tiles_avx512[fma][2], 2 * MR, mc, kc, A, aStep, astride, B + p * bstride, bStep, bstride, C + p * NR * 4, ldc, accum);
    if (narrow) rows_of(tiles_avx512[fma][3], 2 * MR, mc, kc, A, aStep, astride, B + p * bstride, bStep, bstride, C + p * NR * 4, ldc, accum);
  } else {
    for (; p + 2 <= full; p += 2)
      rows_of(tiles_avx2[fma][0], MR, mc, kc, A, aStep, astride, B + p * bstride, bStep, bstride, C + p * NR * 4, ldc, accum);
    for (; p < full; p++)
      rows_of(tiles_avx2[fma][1], 2 * MR, mc, kc, A, aStep, astride, B + p * bstride, bStep, bstride, C + p * NR * 4, ldc, accum);
    if (narrow) rows_of(tiles_avx2[fma][2], 2 * MR, mc, kc, A, aStep, astride, B + p * bstride, bStep, bstride, C + p * NR * 4, ldc, accum);
  }
  return 0;
}

GB_EXPORT("block", native_block, 10, 0, 0, GB_ISA_AVX2)

// ---------------------------------------------------------------------------------------------
// the peak: `iters` steps of 12 independent fused multiply-add chains of the widest vectors
// (bench: the fraction of it the kernels reach)

#define PEAK_BODY(VT, SET1, FMADD, ADD, STORE, N)                                                           \
  VT m = SET1(0.999999f), d = SET1(1e-7f);                                                                 \
  VT a0 = SET1(0), a1 = SET1(1), a2 = SET1(2), a3 = SET1(3), a4 = SET1(4), a5 = SET1(5), a6 = SET1(6),   \
     a7 = SET1(7), a8 = SET1(8), a9 = SET1(9), a10 = SET1(10), a11 = SET1(11);                             \
  for (long k = 0; k < iters; k++) {                                                                       \
    a0 = FMADD(a0, m, d); a1 = FMADD(a1, m, d); a2 = FMADD(a2, m, d); a3 = FMADD(a3, m, d);                \
    a4 = FMADD(a4, m, d); a5 = FMADD(a5, m, d); a6 = FMADD(a6, m, d); a7 = FMADD(a7, m, d);                \
    a8 = FMADD(a8, m, d); a9 = FMADD(a9, m, d); a10 = FMADD(a10, m, d); a11 = FMADD(a11, m, d);            \
  }                                                                                                        \
  VT s = ADD(ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))), ADD(ADD(a8, a9), ADD(a10, a11))); \
  float out[N];                                                                                            \
  STORE(out, s);                                                                                           \
  return out[0];

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx2,fma")
static double peak_avx512(long iters) { PEAK_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16) }
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
static double peak_avx2(long iters) { PEAK_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8) }
#pragma GCC pop_options

long gb_peak(int isa, long iters, double* sink) {
  if (isa >= GB_ISA_AVX512) {
    *sink = peak_avx512(iters);
    return iters * 12 * 16 * 2;
  }
  if (isa >= GB_ISA_AVX2) {
    *sink = peak_avx2(iters);
    return iters * 12 * 8 * 2;
  }
  return 0;
}
