// The GEMM tiles of one instruction set (included by gemm.c with TILE_ISA and the vector macros
// defined; see gemm.c). A tile: R rows (< 2 * MR) x V vectors of W floats; every C element of it is
// acc = 0; acc = acc + a_k * b_k for k = 0..kc-1 (fused, or multiply then add); C = acc or C + acc:
// the SIMD module's kern<r> exactly, whatever W.

#define TILE_FN(W) GB_CAT3(tile, W, TILE_ISA)
#define GB_CAT3_(a, b, c) a##b##_##c
#define GB_CAT3(a, b, c) GB_CAT3_(a, b, c)

#define DEFINE_TILE(W, VT, LOADB, SET1, FMADD, MUL, ADD, LOADU, STOREU, ZERO)                                      \
  static inline __attribute__((always_inline)) void TILE_FN(W)(const int R, const int V, const int FMA, int kc,   \
      const uint8_t* a, int64_t astep, int64_t astride, const uint8_t* b, int64_t bstep, int64_t bstride,          \
      uint8_t* c, int64_t ldc, int accum) {                                                                        \
    (void)bstride;                                                                                                 \
    VT acc[2 * MR][2];                                                                                             \
    _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                                           \
      _Pragma("GCC unroll 2") for (int v = 0; v < V; v++) acc[r][v] = ZERO();                                     \
    const uint8_t* a1 = a + astride;                                                                               \
    for (int k = 0; k < kc; k++) {                                                                                 \
      VT bv[2];                                                                                                    \
      _Pragma("GCC unroll 2") for (int v = 0; v < V; v++) bv[v] = LOADB(b, v, bstride);                           \
      _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                                       \
        VT av = SET1(*(const float*)((r < MR ? a : a1) + 4 * (r % MR)));                                           \
        _Pragma("GCC unroll 2") for (int v = 0; v < V; v++)                                                        \
          acc[r][v] = FMA ? FMADD(av, bv[v], acc[r][v]) : ADD(acc[r][v], MUL(av, bv[v]));                          \
      }                                                                                                            \
      a += astep;                                                                                                  \
      a1 += astep;                                                                                                 \
      b += bstep;                                                                                                  \
    }                                                                                                              \
    _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                                           \
      _Pragma("GCC unroll 2") for (int v = 0; v < V; v++) {                                                        \
        float* p = (float*)(c + r * ldc + v * (W * 4));                                                            \
        STOREU(p, accum ? ADD(LOADU(p), acc[r][v]) : acc[r][v]);                                                   \
      }                                                                                                            \
  }

// the tiles as functions of (rows, vectors, fma): one per combination, in tables by rows
#define TILE_ARGS int kc, const uint8_t *a, int64_t astep, int64_t astride, const uint8_t *b, int64_t bstep, int64_t bstride, uint8_t *c, int64_t ldc, int accum
#define TILE_PASS kc, a, astep, astride, b, bstep, bstride, c, ldc, accum
typedef void (*tile_fn)(TILE_ARGS);
#define INST1(W, R, V, F) \
  static void GB_CAT3(TILE_FN(W), R##_##V, F)(TILE_ARGS) { TILE_FN(W)(R, V, F, TILE_PASS); }
#define INST_ROWS(W, V, F)                                                                                         \
  INST1(W, 1, V, F) INST1(W, 2, V, F) INST1(W, 3, V, F) INST1(W, 4, V, F) INST1(W, 5, V, F) INST1(W, 6, V, F)     \
  INST1(W, 7, V, F) INST1(W, 8, V, F) INST1(W, 9, V, F) INST1(W, 10, V, F) INST1(W, 11, V, F) INST1(W, 12, V, F)
#define ROW_TABLE(W, V, F)                                                                                         \
  { NULL, GB_CAT3(TILE_FN(W), 1_##V, F), GB_CAT3(TILE_FN(W), 2_##V, F), GB_CAT3(TILE_FN(W), 3_##V, F),             \
    GB_CAT3(TILE_FN(W), 4_##V, F), GB_CAT3(TILE_FN(W), 5_##V, F), GB_CAT3(TILE_FN(W), 6_##V, F),                   \
    GB_CAT3(TILE_FN(W), 7_##V, F), GB_CAT3(TILE_FN(W), 8_##V, F), GB_CAT3(TILE_FN(W), 9_##V, F),                   \
    GB_CAT3(TILE_FN(W), 10_##V, F), GB_CAT3(TILE_FN(W), 11_##V, F), GB_CAT3(TILE_FN(W), 12_##V, F) }
