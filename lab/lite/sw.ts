/**
 * The site's service worker (sw.js at the site's root), for two things:
 *
 * - Cross-origin isolation where the host cannot send headers (GitHub Pages, most static hosts):
 *   every same-origin response gets `Cross-Origin-Opener-Policy: same-origin` and
 *   `Cross-Origin-Embedder-Policy: require-corp` if it lacks them, so that the page, once this
 *   worker controls it, has SharedArrayBuffer (the engine's CPU threads, interrupting loops).
 *   The page reloads itself once when it is first taken over (see the page's start-up script).
 * - Working offline once loaded: every same-origin GET that succeeds is kept in Cache Storage.
 *   The build's files (content-hashed) and the data sets come from the cache first; everything
 *   else (the page, notebooks, listings) from the network first, the cache when offline. Once
 *   JupyterLab has started, the page asks for the rest of the site (precache.json: the app's
 *   chunks, schemas, themes, the notebooks; the data sets are kept when first loaded), so that a
 *   visit offline finds what the first visit did not open.
 */
/// <reference lib="webworker" />
declare const self: ServiceWorkerGlobalScope;

const CACHE = "gradbook-site-v1";

self.addEventListener("install", () => void self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

/** A response with the isolation headers (opaque or error responses are passed as they are). */
function isolated(res: Response): Response {
  if (res.status === 0 || res.type === "opaqueredirect") return res;
  const headers = new Headers(res.headers);
  if (headers.get("cross-origin-embedder-policy") && headers.get("cross-origin-opener-policy")) return res;
  headers.set("Cross-Origin-Embedder-Policy", "require-corp");
  headers.set("Cross-Origin-Opener-Policy", "same-origin");
  headers.set("Cross-Origin-Resource-Policy", "same-origin");
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

async function respond(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const scope = new URL(self.registration.scope);
  const rel = url.pathname.startsWith(scope.pathname) ? url.pathname.slice(scope.pathname.length) : url.pathname;
  const immutable = /^(build|data)\//.test(rel);
  const cache = await caches.open(CACHE);
  if (immutable) {
    const hit = await cache.match(req);
    if (hit) return isolated(hit);
  }
  try {
    const res = await fetch(req);
    if (res.ok && res.type === "basic") await cache.put(req, res.clone());
    return isolated(res);
  } catch (e) {
    const hit = await cache.match(req, { ignoreSearch: req.mode === "navigate" });
    if (hit) return isolated(hit);
    throw e;
  }
}

/** Fetches what precache.json lists and is not in the cache yet. */
async function precache(): Promise<void> {
  const scope = self.registration.scope;
  const cache = await caches.open(CACHE);
  const list: string[] = await (await fetch(new URL("precache.json", scope), { cache: "no-cache" })).json();
  for (const rel of list) {
    const url = new URL(rel, scope).href;
    if (await cache.match(url)) continue;
    const res = await fetch(url).catch(() => null);
    if (res?.ok) await cache.put(url, res);
  }
}

self.addEventListener("message", (e) => {
  if ((e.data as { kind?: string })?.kind === "precache") e.waitUntil(precache().catch((err) => console.warn(`gradbook: precache: ${err}`)));
});

self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET" || new URL(req.url).origin !== self.location.origin) return;
  // (a Range request for media is left to the browser)
  if (req.headers.has("range")) return;
  e.respondWith(respond(req));
});
