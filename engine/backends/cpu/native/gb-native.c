// The N-API glue of gradbook's native kernels (see README.md): the module exports
//   isa: "avx512" | "avx2" | "none"; names: the exports it has for this CPU;
//   bind(view: Uint8Array over a WebAssembly memory's buffer, fma: boolean) -> { rebind(view), <name>(...args) }
// Each bound function converts its arguments as WebAssembly does (ToInt32; f32 arguments as
// numbers), runs the kernel on the memory at view's base, and throws a RangeError naming the
// export, its arguments and the range when a range it would touch lies outside the memory.
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb-native.h"

static gb_export* exports_list = NULL;

void gb_register(gb_export* e) {
  e->next = exports_list;
  exports_list = e;
}

static int detected_isa = -1;

static int detect_isa(void) {
  if (detected_isa >= 0) return detected_isa;
  __builtin_cpu_init();
  const char* force = getenv("GB_CPU_NATIVE_ISA"); /* "avx2": for tests of the AVX2 path on an AVX-512 machine */
  int isa = GB_ISA_NONE;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = GB_ISA_AVX2;
  if (isa == GB_ISA_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) isa = GB_ISA_AVX512;
  if (force && strcmp(force, "avx2") == 0 && isa > GB_ISA_AVX2) isa = GB_ISA_AVX2;
  detected_isa = isa;
  return isa;
}

static const char* isa_name(int isa) { return isa == GB_ISA_AVX512 ? "avx512" : isa == GB_ISA_AVX2 ? "avx2" : "none"; }

static int args_text(const gb_call* c, int nargs, char* out, size_t n) {
  int w = snprintf(out, n, "%s(", c->name);
  for (int i = 0; i < nargs && w > 0 && (size_t)w < n; i++) w += snprintf(out + w, n - w, i ? ", %d" : "%d", c->i[i]);
  if (w > 0 && (size_t)w < n) w += snprintf(out + w, n - w, ")");
  return w;
}

static int nargs_of(const char* name) {
  for (gb_export* e = exports_list; e; e = e->next)
    if (strcmp(e->name, name) == 0) return e->nargs;
  return 0;
}

int gb_fail(gb_call* c, const char* message) {
  char head[200];
  args_text(c, nargs_of(c->name), head, sizeof head);
  snprintf(c->err, sizeof c->err, "native %s: %s", head, message);
  return 1;
}

/** A 128-bit bound as text (beyond 64 bits: its approximate value). */
static void wide_text(gb_wide v, char* out, size_t n) {
  if (v >= -(gb_wide)INT64_MAX && v <= (gb_wide)INT64_MAX) snprintf(out, n, "%lld", (long long)v);
  else snprintf(out, n, "%.6g", (double)v);
}

int gb_range(gb_call* c, const char* what, gb_wide lo, gb_wide hi) {
  if (lo >= 0 && lo <= hi && hi <= (gb_wide)c->mem->len) return 0;
  char msg[240], a[48], b[48];
  wide_text(lo, a, sizeof a);
  wide_text(hi, b, sizeof b);
  snprintf(msg, sizeof msg, "%s bytes [%s, %s) outside the WebAssembly memory of %llu bytes", what, a, b, (unsigned long long)c->mem->len);
  return gb_fail(c, msg);
}

typedef struct bound {
  gb_export* e;
  gb_mem* mem;
} bound;

static napi_value throw_range(napi_env env, const char* msg) {
  napi_throw_range_error(env, "GB_NATIVE_RANGE", msg);
  return NULL;
}

static int view_of(napi_env env, napi_value v, gb_mem* m) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type t;
  size_t len;
  void* data;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off) != napi_ok || t != napi_uint8_array || off != 0 || !data) return 0;
  m->base = (uint8_t*)data;
  m->len = len;
  return 1;
}

static napi_value call_bound(napi_env env, napi_callback_info info) {
  size_t argc = GB_MAX_ARGS;
  napi_value argv[GB_MAX_ARGS];
  bound* b;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void**)&b) != napi_ok) return NULL;
  gb_call c;
  c.name = b->e->name;
  c.mem = b->mem;
  c.isa = detect_isa();
  c.ret = 0;
  c.err[0] = 0;
  for (int i = 0; i < b->e->nargs; i++) {
    c.i[i] = 0;
    c.f[i] = 0;
    if ((size_t)i >= argc) continue; /* missing: 0, as WebAssembly's ToInt32(undefined) */
    if (b->e->fmask & (1u << i)) {
      if (napi_get_value_double(env, argv[i], &c.f[i]) != napi_ok) c.f[i] = 0;
    } else if (napi_get_value_int32(env, argv[i], &c.i[i]) != napi_ok) {
      c.i[i] = 0;
    }
  }
  if (!c.mem->base) return throw_range(env, "native kernels: no memory bound");
  if (b->e->fn(&c)) return throw_range(env, c.err);
  if (!b->e->returns) return NULL;
  napi_value r;
  napi_create_int32(env, c.ret, &r);
  return r;
}

static napi_value rebind(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value v;
  gb_mem* m;
  napi_get_cb_info(env, info, &argc, &v, NULL, (void**)&m);
  gb_mem next = *m;
  if (argc < 1 || !view_of(env, v, &next)) {
    napi_throw_type_error(env, NULL, "native kernels: rebind(view) wants a Uint8Array over a whole WebAssembly memory");
    return NULL;
  }
  *m = next;
  return NULL;
}

static napi_value bind(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  gb_mem probe = {0};
  if (argc < 1 || !view_of(env, argv[0], &probe)) {
    napi_throw_type_error(env, NULL, "native kernels: bind(view, fma) wants a Uint8Array over a whole WebAssembly memory");
    return NULL;
  }
  bool fma = true;
  if (argc > 1) napi_get_value_bool(env, argv[1], &fma);
  // (kept for the process's life: a few bytes a memory bound, and the functions may outlive the object)
  gb_mem* m = calloc(1, sizeof *m);
  if (!m) return NULL;
  *m = probe;
  m->fma = fma ? 1 : 0;
  napi_value obj, f;
  napi_create_object(env, &obj);
  napi_create_function(env, "rebind", NAPI_AUTO_LENGTH, rebind, m, &f);
  napi_set_named_property(env, obj, "rebind", f);
  int isa = detect_isa();
  for (gb_export* e = exports_list; e; e = e->next) {
    if (isa < e->min_isa) continue;
    bound* b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->e = e;
    b->mem = m;
    napi_create_function(env, e->name, NAPI_AUTO_LENGTH, call_bound, b, &f);
    napi_set_named_property(env, obj, e->name, f);
  }
  return obj;
}

/** peak(iters): the flops of gb_peak (the caller times it). */
static napi_value peak(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value v;
  napi_get_cb_info(env, info, &argc, &v, NULL, NULL);
  int64_t iters = 0;
  if (argc > 0) napi_get_value_int64(env, v, &iters);
  double sink = 0;
  long flops = gb_peak(detect_isa(), iters > 0 ? (long)iters : 0, &sink);
  napi_value r;
  napi_create_double(env, (double)flops + (sink == 12345.678 ? 1 : 0), &r);
  return r;
}

NAPI_MODULE_INIT() {
  int isa = detect_isa();
  napi_value v, names;
  napi_create_string_utf8(env, isa_name(isa), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "isa", v);
  napi_create_array(env, &names);
  uint32_t n = 0;
  for (gb_export* e = exports_list; e; e = e->next) {
    if (isa < e->min_isa) continue;
    napi_create_string_utf8(env, e->name, NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, names, n++, v);
  }
  napi_set_named_property(env, exports, "names", names);
  // the SIMD module's layout the kernels assume (gb-native.h): MR rows, NR columns a panel
  napi_create_int32(env, GB_MR, &v);
  napi_set_named_property(env, exports, "mr", v);
  napi_create_int32(env, GB_NR, &v);
  napi_set_named_property(env, exports, "nr", v);
  napi_create_function(env, "peak", NAPI_AUTO_LENGTH, peak, NULL, &v);
  napi_set_named_property(env, exports, "peak", v);
  napi_create_function(env, "bind", NAPI_AUTO_LENGTH, bind, NULL, &v);
  napi_set_named_property(env, exports, "bind", v);
  return exports;
}
