// `packa` / `packb`, the SIMD module's operand packing (wasm/gemm-funcs.ts), natively: the same
// arguments and the same bytes written. pack(src, ld, dst, kc, np, sstep, dstep): for np panels
// of R rows (R = 6 for packa: MR; 8 for packb: NR), dst[p][k*R + r] = src[p][r*ld + k] for
// k < kc (kc >= 4; else nothing written, as the WASM function), r < R; ld, sstep, dstep in bytes.
// A copy (bits kept, NaNs included): 8 k steps at a time by 8x8 transposes of 8-float vectors
// (the last 8 moved back to end at kc, rewriting the same values, as the WASM function does
// with its 4), fewer than 8 steps one float at a time.
#include <immintrin.h>
#include <string.h>

#include "gb-native.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")
static void pack_panel(const uint8_t* src, int64_t ld, uint8_t* dst, int kc, int R) {
  if (kc < 8) {
    for (int k = 0; k < kc; k++)
      for (int r = 0; r < R; r++) memcpy(dst + 4 * ((int64_t)k * R + r), src + r * ld + 4 * k, 4);
    return;
  }
  for (int k0 = 0;; k0 += 8) {
    if (k0 > kc - 8) k0 = kc - 8;
    __m256 v[8];
    for (int r = 0; r < 8; r++) v[r] = r < R ? _mm256_loadu_ps((const float*)(src + r * ld + 4 * (int64_t)k0)) : _mm256_setzero_ps();
    __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
    __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
    __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
    __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    __m256 o[8];
    o[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    o[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    o[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    o[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    o[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    o[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    o[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    o[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
    float* d = (float*)(dst + 4 * (int64_t)k0 * R);
    const int last = k0 + 8 >= kc;
    // R < 8: each step's 8-float store runs R - 8 floats into the next step's, which the next
    // store (or a later block: the last one moved back rewrites the same values) writes again;
    // the panel's last step only its R floats (masked stores measured slower)
    for (int k = 0; k < 7; k++) _mm256_storeu_ps(d + R * k, o[k]);
    if (R == 8 || !last) {
      _mm256_storeu_ps(d + R * 7, o[7]);
    } else {
      float t[8];
      _mm256_storeu_ps(t, o[7]);
      memcpy(d + R * 7, t, 4 * (size_t)R);
    }
    if (last) break;
  }
}
#pragma GCC pop_options

static int native_pack(gb_call* call, int R) {
  const int32_t* x = call->i;
  const uint32_t src = (uint32_t)x[0], dst = (uint32_t)x[2];
  const int64_t ld = x[1], sstep = x[5], dstep = x[6];
  const int kc = x[3], np = x[4];
  if (np <= 0 || kc < 4) return 0;
  if (ld < 0 || sstep < 0 || dstep < 0) return gb_fail(call, "a negative step (ld, sstep or dstep)");
  if (gb_range(call, "the source", src, (gb_wide)src + (gb_wide)(np - 1) * sstep + (gb_wide)(R - 1) * ld + 4 * (gb_wide)kc)) return 1;
  if (gb_range(call, "the destination", dst, (gb_wide)dst + (gb_wide)(np - 1) * dstep + 4 * (gb_wide)kc * R)) return 1;
  for (int p = 0; p < np; p++) pack_panel(gb_ptr(call, src) + p * sstep, ld, gb_ptr(call, dst) + p * dstep, kc, R);
  return 0;
}

static int native_packa(gb_call* call) { return native_pack(call, GB_MR); }
static int native_packb(gb_call* call) { return native_pack(call, GB_NR); }

GB_EXPORT("packa", native_packa, 7, 0, 0, GB_ISA_AVX2)
GB_EXPORT("packb", native_packb, 7, 0, 0, GB_ISA_AVX2)
