/** `n` floats in [-1, 1) from a 32-bit xorshift generator seeded with `seed` (the kernel tests' inputs; bench/cpu-kernels.ts uses it too). */
export function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    a[i] = (s / 4294967296) * 2 - 1;
  }
  return a;
}
