export async function benchKernel(): Promise<void> {
  throw new Error("not yet");
}
