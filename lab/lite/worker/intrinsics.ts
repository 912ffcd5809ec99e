/**
 * kernel/intrinsics.ts in the browser kernel's worker (scripts/lite.mjs puts this file in its
 * place): what the kernel's core takes before any cell runs. The Node kernel's other intrinsics
 * (vm.Script, the channel to its protocol thread, process.exit) have no counterpart here: a
 * worker's cells run through the Platform's eval (platform.ts) and talk to the page by postMessage.
 */
export const jsonStringify: typeof JSON.stringify = JSON.stringify;
export const jsonParse: typeof JSON.parse = JSON.parse;
