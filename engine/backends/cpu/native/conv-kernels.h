/*
 * The native convolution kernels, written once over a vector abstraction and included by conv.c
 * twice: for AVX-512F (16 floats a vector) and for AVX2 + FMA (8), each under its own target
 * pragma. The macros conv.c defines before including this file:
 *   VT, VW, MT            vector type, floats a vector, mask type
 *   V_ZERO, V_SET1, V_LOADU, V_LOADM, V_STOREU, V_STOREM, V_FMA(a, b, acc), V_MASK(n)
 *   SFX(name)             the ISA's suffix
 *
 * Bits: every output element accumulates exactly as the SIMD module's function does (same
 * operands, same order, a fused multiply-add per step in the FMA mode, a rounded product then a
 * rounded sum in the exact-bits mode): the vector width only decides how many elements go side by
 * side, never how one element is summed. See conv.c for each export's contract.
 */

/* acc + a * b: fused (fma) or rounded twice (the exact-bits mode; conv.c is compiled with
 * -ffp-contract=off, so that the compiler does not fuse the two) */
#define MADD(FMA, a, b, acc) ((FMA) ? V_FMA((a), (b), (acc)) : V_ADD((acc), V_MUL((a), (b))))

/* ---------------------------------------------------------------------------------------------
 * cblock: an R-row (R <= 6, the rows of one packed A panel) by CV-vector tile of C.
 * C[r][j] = sum_k ap[k * 6 + r] * X[x + offs[k] + 4 j], k in order from zero.
 * MASKED: the last vector holds only `lastm`'s columns: 1, loaded and stored under the mask; 2, stored
 * under it, loaded whole (where the memory goes on past them: the other lanes are computed and
 * dropped; masked loads that cross a cache line measured 5x slower here, Zen 5).
 */
static inline __attribute__((always_inline)) void SFX(ctile)(
  const int R, const int CV, const int FMA, const int MASKED,
  int K, const float *ap, const char *x, const int32_t *offs, float *c, size_t ldc, MT lastm)
{
  VT acc[6][4];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < CV; v++) acc[r][v] = V_ZERO();
  for (int k = 0; k < K; k++) {
    const float *xo = (const float *)(x + offs[k]);
    VT b[4];
    for (int v = 0; v < CV; v++) b[v] = (MASKED == 1 && v == CV - 1) ? V_LOADM(xo + VW * v, lastm) : V_LOADU(xo + VW * v);
    for (int r = 0; r < R; r++) {
      const VT av = V_SET1(ap[r]);
      for (int v = 0; v < CV; v++) acc[r][v] = MADD(FMA, av, b[v], acc[r][v]);
    }
    ap += GB_MR;
  }
  for (int r = 0; r < R; r++) {
    float *cr = (float *)((char *)c + r * ldc);
    for (int v = 0; v < CV; v++) {
      if (MASKED && v == CV - 1) V_STOREM(cr + VW * v, lastm, acc[r][v]);
      else V_STOREU(cr + VW * v, acc[r][v]);
    }
  }
}

#define CT_FN(R, CV, FMA, M) \
  static void SFX(ct_##R##_##CV##_##FMA##_##M)(int K, const float *ap, const char *x, const int32_t *offs, float *c, size_t ldc, MT m) { \
    SFX(ctile)(R, CV, FMA, M, K, ap, x, offs, c, ldc, m); \
  }
#define CT_R(R, FMA, M) CT_FN(R, 1, FMA, M) CT_FN(R, 2, FMA, M) CT_FN(R, 3, FMA, M) CT_FN(R, 4, FMA, M)
#define CT_ALL(FMA, M) CT_R(1, FMA, M) CT_R(2, FMA, M) CT_R(3, FMA, M) CT_R(4, FMA, M) CT_R(5, FMA, M) CT_R(6, FMA, M)
CT_ALL(0, 0)
CT_ALL(0, 1)
CT_ALL(0, 2)
CT_ALL(1, 0)
CT_ALL(1, 1)
CT_ALL(1, 2)

typedef void (*SFX(ct_fn))(int, const float *, const char *, const int32_t *, float *, size_t, MT);
#define CT_ROW(R, FMA, M) { SFX(ct_##R##_1_##FMA##_##M), SFX(ct_##R##_2_##FMA##_##M), SFX(ct_##R##_3_##FMA##_##M), SFX(ct_##R##_4_##FMA##_##M) }
#define CT_TABLE(FMA, M) { CT_ROW(1, FMA, M), CT_ROW(2, FMA, M), CT_ROW(3, FMA, M), CT_ROW(4, FMA, M), CT_ROW(5, FMA, M), CT_ROW(6, FMA, M) }
/* [fma][masked][R - 1][CV - 1] */
static const SFX(ct_fn) SFX(ct_table)[2][3][6][4] = { { CT_TABLE(0, 0), CT_TABLE(0, 1), CT_TABLE(0, 2) }, { CT_TABLE(1, 0), CT_TABLE(1, 1), CT_TABLE(1, 2) } };

/* cblock over `mc` rows and `ncols` columns (see conv.c); wholeLoads: X may be read in whole vectors past the last column */
static void SFX(cblock)(int fma, int mc, int ncols, int K, const char *a, const char *x, const int32_t *offs, char *c, size_t ldc, size_t astride, int wholeLoads) {
  const int CVMAX = VW == 16 ? 4 : 2; /* 24 or 12 accumulators: 32 or 16 vector registers */
  for (int i0 = 0; i0 < mc; i0 += GB_MR) {
    const int R = mc - i0 < GB_MR ? mc - i0 : GB_MR;
    const float *ap = (const float *)(a + (size_t)(i0 / GB_MR) * astride);
    char *crow = c + (size_t)i0 * ldc;
    for (int j0 = 0; j0 < ncols; j0 += CVMAX * VW) {
      const int n = ncols - j0 < CVMAX * VW ? ncols - j0 : CVMAX * VW;
      const int CV = (n + VW - 1) / VW, tail = n - (CV - 1) * VW, masked = tail < VW ? (wholeLoads ? 2 : 1) : 0;
      SFX(ct_table)[fma][masked][R - 1][CV - 1](K, ap, x + 4 * (size_t)j0, offs, (float *)(crow + 4 * (size_t)j0), ldc, V_MASK(tail));
    }
  }
}

/* ---------------------------------------------------------------------------------------------
 * wblock: dw[i][m] += ((s0 + s1) + (s2 + s3)), s_l = sum over j = l (mod 4), in order from zero,
 * of dy_i[j] * x_m[j] (a 4-lane accumulator a (row, tap) as the SIMD module's). Here a vector's
 * 4-float lanes are VW / 4 rows side by side (rows ri[0..]), times the same 4 floats of x_m;
 * Q taps a tile (Q <= WQ_MAX).
 */
#define WROWS (VW / 4)
static inline __attribute__((always_inline)) void SFX(wtile)(
  const int Q, const int FMA, int J, const float *const *dyr, int nrows, const char *x, const int32_t *offs, char *dw, size_t lddw)
{
  VT acc[WQ_MAX];
  const float *xm[WQ_MAX];
  for (int q = 0; q < Q; q++) { acc[q] = V_ZERO(); xm[q] = (const float *)(x + offs[q]); }
  for (int j = 0; j < J; j += 4) {
    const VT d = V_ROWS4(dyr, j);
    for (int q = 0; q < Q; q++) acc[q] = MADD(FMA, d, V_BCAST4(xm[q] + j), acc[q]);
  }
  for (int q = 0; q < Q; q++) {
    float t[VW];
    V_STOREU(t, acc[q]);
    for (int s = 0; s < nrows; s++) {
      float *p = (float *)(dw + (size_t)s * lddw) + q;
      *p = *p + ((t[4 * s] + t[4 * s + 1]) + (t[4 * s + 2] + t[4 * s + 3]));
    }
  }
}

#define WT_FN(Q, FMA) \
  static void SFX(wt_##Q##_##FMA)(int J, const float *const *dyr, int nrows, const char *x, const int32_t *offs, char *dw, size_t lddw) { \
    SFX(wtile)(Q, FMA, J, dyr, nrows, x, offs, dw, lddw); \
  }
WT_FN(4, 0) WT_FN(8, 0) WT_FN(12, 0) WT_FN(4, 1) WT_FN(8, 1) WT_FN(12, 1)

#if VW == 16
/*
 * 8 rows a tile (AVX-512): the rows' 4-float groups interleaved first into `ri` ([J / 4][8][4]:
 * two vectors a step, from one pointer: with a pointer a row, the rows' and taps' pointers
 * outnumbered the registers), each broadcast of x_m used by both vectors.
 */
static inline __attribute__((always_inline)) void SFX(wtile8)(
  const int Q, const int FMA, int J, const float *ri, int nrows, const char *x, const int32_t *offs, char *dw, size_t lddw)
{
  VT acc0[WQ_MAX], acc1[WQ_MAX];
  const float *xm[WQ_MAX];
  for (int q = 0; q < Q; q++) { acc0[q] = V_ZERO(); acc1[q] = V_ZERO(); xm[q] = (const float *)(x + offs[q]); }
  for (int j = 0; j < J; j += 4) {
    const VT d0 = V_LOADU(ri + 8 * j), d1 = V_LOADU(ri + 8 * j + 16);
    for (int q = 0; q < Q; q++) {
      const VT xv = V_BCAST4(xm[q] + j);
      acc0[q] = MADD(FMA, d0, xv, acc0[q]);
      acc1[q] = MADD(FMA, d1, xv, acc1[q]);
    }
  }
  for (int q = 0; q < Q; q++) {
    float t[2 * VW];
    V_STOREU(t, acc0[q]);
    V_STOREU(t + VW, acc1[q]);
    for (int s = 0; s < nrows; s++) {
      float *p = (float *)(dw + (size_t)s * lddw) + q;
      *p = *p + ((t[4 * s] + t[4 * s + 1]) + (t[4 * s + 2] + t[4 * s + 3]));
    }
  }
}

#define WT8_FN(Q, FMA) \
  static void SFX(wt8_##Q##_##FMA)(int J, const float *ri, int nrows, const char *x, const int32_t *offs, char *dw, size_t lddw) { \
    SFX(wtile8)(Q, FMA, J, ri, nrows, x, offs, dw, lddw); \
  }
WT8_FN(4, 0) WT8_FN(8, 0) WT8_FN(12, 0) WT8_FN(4, 1) WT8_FN(8, 1) WT8_FN(12, 1)

/* each thread's interleaving scratch (thread-local: glibc frees it when the thread ends), for J <= WJ_MAX */
#define WJ_MAX 2048
static __thread float SFX(wscratch)[8 * WJ_MAX] __attribute__((aligned(64)));
#endif

/* wblock: rows [0, 2 mt) by taps [0, 4 kt) (see conv.c) */
static void SFX(wblock)(int fma, int mt, int kt, int J, const char *dy, size_t ldy, const char *x, const int32_t *offs, char *dw, size_t lddw) {
  const int rows = 2 * mt, taps = 4 * kt;
  int i0 = 0;
#if VW == 16
  /* groups of more than 4 rows: 8 rows a tile (the rows past the last one: copies of the group's first) */
  if (rows - i0 > 4 && J > 0 && J <= WJ_MAX) {
    float *ri = SFX(wscratch);
    for (; rows - i0 > 4; i0 += 8) {
      const int nr = rows - i0 < 8 ? rows - i0 : 8;
      for (int s = 0; s < 8; s++) {
        const float *r = (const float *)(dy + (size_t)(i0 + (s < nr ? s : 0)) * ldy);
        for (int j = 0; j < J; j += 4) _mm_storeu_ps(ri + 8 * j + 4 * s, _mm_loadu_ps(r + j));
      }
      char *dwr = dw + (size_t)i0 * lddw;
      int q0 = 0;
      for (; q0 + 12 <= taps; q0 += 12) (fma ? SFX(wt8_12_1) : SFX(wt8_12_0))(J, ri, nr, x, offs + q0, dwr + 4 * (size_t)q0, lddw);
      if (taps - q0 == 8) (fma ? SFX(wt8_8_1) : SFX(wt8_8_0))(J, ri, nr, x, offs + q0, dwr + 4 * (size_t)q0, lddw), q0 += 8;
      for (; q0 < taps; q0 += 4) (fma ? SFX(wt8_4_1) : SFX(wt8_4_0))(J, ri, nr, x, offs + q0, dwr + 4 * (size_t)q0, lddw);
    }
  }
#endif
  for (; i0 < rows; i0 += WROWS) {
    const int nr = rows - i0 < WROWS ? rows - i0 : WROWS;
    const float *dyr[WROWS];
    /* rows past the last one read the tile's first row again (their lanes are dropped) */
    for (int s = 0; s < WROWS; s++) dyr[s] = (const float *)(dy + (size_t)(i0 + (s < nr ? s : 0)) * ldy);
    char *dwr = dw + (size_t)i0 * lddw;
    int q0 = 0;
    for (; q0 + 12 <= taps; q0 += 12) (fma ? SFX(wt_12_1) : SFX(wt_12_0))(J, dyr, nr, x, offs + q0, dwr + 4 * (size_t)q0, lddw);
    if (taps - q0 == 8) (fma ? SFX(wt_8_1) : SFX(wt_8_0))(J, dyr, nr, x, offs + q0, dwr + 4 * (size_t)q0, lddw), q0 += 8;
    for (; q0 < taps; q0 += 4) (fma ? SFX(wt_4_1) : SFX(wt_4_0))(J, dyr, nr, x, offs + q0, dwr + 4 * (size_t)q0, lddw);
  }
}

/* ---------------------------------------------------------------------------------------------
 * vblock: C[q][m][o] += sum_{j < J} x_m[j] * dyt_q[j][o], in order from C's value, for channel
 * tiles q < ot (8 channels o each), taps m < 4 tt. The channels of VW / 8 channel tiles go side
 * by side in a vector (VQ of them: 1 or 2); T taps a tile.
 */
static inline __attribute__((always_inline)) void SFX(vtile)(
  const int T, const int VQ, const int FMA, int J, const char *x, const int32_t *offs, const float *d0, const float *d1,
  float *c0, float *c1)
{
  VT acc[VT_MAX];
  const float *xm[VT_MAX];
  for (int t = 0; t < T; t++) {
    xm[t] = (const float *)(x + offs[t]);
    acc[t] = VQ == 2 ? V_LOAD8X2(c0 + 8 * t, c1 + 8 * t) : V_LOAD8(c0 + 8 * t);
  }
  for (int j = 0; j < J; j++) {
    const VT d = VQ == 2 ? V_LOAD8X2(d0 + 8 * j, d1 + 8 * j) : V_LOAD8(d0 + 8 * j);
    for (int t = 0; t < T; t++) acc[t] = MADD(FMA, V_SET1(xm[t][j]), d, acc[t]);
  }
  for (int t = 0; t < T; t++) {
    if (VQ == 2) V_STORE8X2(c0 + 8 * t, c1 + 8 * t, acc[t]);
    else V_STORE8(c0 + 8 * t, acc[t]);
  }
}

#define VTL_FN(T, VQ, FMA) \
  static void SFX(vt_##T##_##VQ##_##FMA)(int J, const char *x, const int32_t *offs, const float *d0, const float *d1, float *c0, float *c1) { \
    SFX(vtile)(T, VQ, FMA, J, x, offs, d0, d1, c0, c1); \
  }
VTL_FN(4, 1, 0) VTL_FN(8, 1, 0) VTL_FN(12, 1, 0) VTL_FN(4, 1, 1) VTL_FN(8, 1, 1) VTL_FN(12, 1, 1)
#if VW == 16
VTL_FN(4, 2, 0) VTL_FN(8, 2, 0) VTL_FN(12, 2, 0) VTL_FN(4, 2, 1) VTL_FN(8, 2, 1) VTL_FN(12, 2, 1)
#endif

typedef void (*SFX(vt_fn))(int, const char *, const int32_t *, const float *, const float *, float *, float *);

static void SFX(vblock)(int fma, int ot, int tt, int J, const char *x, const int32_t *offs, const char *dyt, size_t dytStep, char *c, size_t cStep) {
  const int taps = 4 * tt;
#if VW == 16
  const int VQ = 2;
#else
  const int VQ = 1;
#endif
  for (int q = 0; q < ot; q += VQ) {
    const int pair = VQ == 2 && q + 1 < ot;
    const float *d0 = (const float *)(dyt + (size_t)q * dytStep), *d1 = pair ? (const float *)(dyt + (size_t)(q + 1) * dytStep) : d0;
    float *c0 = (float *)(c + (size_t)q * cStep), *c1 = pair ? (float *)(c + (size_t)(q + 1) * cStep) : c0;
    int m = 0;
#if VW == 16
    if (pair) {
      for (; m + 12 <= taps; m += 12) (fma ? SFX(vt_12_2_1) : SFX(vt_12_2_0))(J, x, offs + m, d0, d1, c0 + 8 * m, c1 + 8 * m);
      if (taps - m == 8) (fma ? SFX(vt_8_2_1) : SFX(vt_8_2_0))(J, x, offs + m, d0, d1, c0 + 8 * m, c1 + 8 * m), m += 8;
      for (; m < taps; m += 4) (fma ? SFX(vt_4_2_1) : SFX(vt_4_2_0))(J, x, offs + m, d0, d1, c0 + 8 * m, c1 + 8 * m);
      continue;
    }
#endif
    for (; m + 12 <= taps; m += 12) (fma ? SFX(vt_12_1_1) : SFX(vt_12_1_0))(J, x, offs + m, d0, d1, c0 + 8 * m, c1 + 8 * m);
    if (taps - m == 8) (fma ? SFX(vt_8_1_1) : SFX(vt_8_1_0))(J, x, offs + m, d0, d1, c0 + 8 * m, c1 + 8 * m), m += 8;
    for (; m < taps; m += 4) (fma ? SFX(vt_4_1_1) : SFX(vt_4_1_0))(J, x, offs + m, d0, d1, c0 + 8 * m, c1 + 8 * m);
  }
}
