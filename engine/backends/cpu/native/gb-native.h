// gradbook's native kernels for Node (see README.md in this folder): the N-API glue's contract
// with the kernel files. A kernel is a C function with the arguments of the SIMD module's export
// of the same name (wasm/module.ts), byte addresses in the WebAssembly memory included, and the
// same bits; it is registered with GB_EXPORT and reached through gb_call.
#ifndef GB_NATIVE_H
#define GB_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define GB_MAX_ARGS 10

/**
 * The SIMD module's configuration the kernels are written for (wasm/runtime.ts CONFIG: MR 6, NV 2):
 * the rows of a packed A panel and the columns of a packed B panel. The library exports them as
 * `mr` / `nr`, and the runtime routes only instances of that configuration.
 */
#define GB_MR 6
#define GB_NR 8

/**
 * Range arithmetic: 128-bit, so that no product of i32 arguments (a panel count times a stride
 * times ...) wraps around into a range that passes the check. Compute every bound in it.
 */
typedef __int128 gb_wide;

/** The instruction sets a native kernel may use (chosen once, at load, by __builtin_cpu_supports). */
enum gb_isa { GB_ISA_NONE = 0, GB_ISA_AVX2 = 1, GB_ISA_AVX512 = 2 };

/** A WebAssembly memory as the kernels see it: its base and current length (bytes), and the mode. */
typedef struct gb_mem {
  uint8_t* base;
  uint64_t len;
  /** fused multiply-add (the module's relaxed_madd); 0: multiply, round, add (setWasmFma(false)) */
  int fma;
} gb_mem;

/** One call: the memory, the arguments as the WASM export gets them (i32; f: as f64 where fmask says), the result, an error. */
typedef struct gb_call {
  const char* name;
  gb_mem* mem;
  int32_t i[GB_MAX_ARGS];
  double f[GB_MAX_ARGS];
  int32_t ret; /* the export's i32 result, where it has one */
  int isa;
  char err[320];
} gb_call;

/** A kernel: 0 when done; else nonzero with call->err set (thrown as a RangeError naming the export). */
typedef int (*gb_fn)(gb_call* call);

typedef struct gb_export {
  const char* name;
  gb_fn fn;
  int nargs;
  unsigned fmask;   /* bit i: argument i is an f32 in the WASM export (read as a double) */
  int returns;      /* 1: the export returns an i32 */
  int min_isa;      /* below this, the export is not offered (the WASM one runs) */
  struct gb_export* next;
} gb_export;

void gb_register(gb_export* e);

/**
 * GB_EXPORT(name, fn, nargs, fmask, returns, min_isa): registers `fn` as the native version of the
 * SIMD module's export `name` (at load, by a constructor: each kernel file registers its own).
 */
#define GB_EXPORT(NAME, FN, NARGS, FMASK, RETURNS, MIN_ISA)                                          \
  static gb_export gb_export_##FN = {NAME, FN, NARGS, FMASK, RETURNS, MIN_ISA, NULL};                \
  __attribute__((constructor)) static void gb_register_##FN(void) { gb_register(&gb_export_##FN); }

/**
 * Checks that bytes [lo, hi) lie in the memory (hi <= its length, lo <= hi, lo >= 0: bounds computed
 * in gb_wide from the arguments, never in 32 or 64 bits); else sets
 * call->err ("<export>(args): <what> bytes [lo, hi) outside the memory of N bytes") and returns 1.
 * Every kernel checks every range it touches before it touches any.
 */
int gb_range(gb_call* call, const char* what, gb_wide lo, gb_wide hi);

/** Sets call->err to "<export>(args): <message>" and returns 1. */
int gb_fail(gb_call* call, const char* message);

/** Runs `iters` steps of 12 independent FMA chains of the widest vectors of `isa`; returns the flops (the bench's peak). */
long gb_peak(int isa, long iters, double* sink);

/** An address argument (the WASM i32, unsigned) as a pointer into the memory. */
static inline uint8_t* gb_ptr(const gb_call* c, uint32_t addr) { return c->mem->base + addr; }

#endif
