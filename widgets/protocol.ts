/**
 * The Jupyter widgets message protocol 2.1.0 on the kernel side (comm target `jupyter.widget`,
 * the `jupyter.widget.control` comm of ipywidgets 8 front ends): the `Widget` base class whose
 * state syncs both ways over a comm, buffers, model references, and the registry of live
 * widgets. The controls (controls.ts), the Output widget (output.ts) and `interact`
 * (interact.ts) are built on it.
 *
 * State syncs both ways: `slider.value = 2` updates the front end; moving the slider updates
 * `slider.value` and calls observers. Comms go through the DisplayHost's `openComm` /
 * `registerCommTarget`; with no host (plain Node) widgets still work as observable objects.
 */
import { getDisplayHost, type Comm, type DisplayHost, type MimeBundle } from "./host.js";
import { escapeHtml, hexId } from "./util.js";

export const WIDGET_PROTOCOL_VERSION = "2.1.0";
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";
const CONTROLS = "@jupyter-widgets/controls";
const STATIC_NOTE =
  "Interactive control: it needs a front end with Jupyter widgets (JupyterLab 4, Notebook 7, VS Code, or ipywidgets 8). Showing a static view.";

export interface Change<T = unknown> {
  name: string;
  old: T;
  new: T;
  owner: Widget;
}
type Observer = (change: Change<any>) => void;

/** All live widgets by model id (for the control channel and reconnecting front ends). */
const registry = new Map<string, Widget>();
const hostsWithTargets = new WeakSet<object>();

function ensureTargets(host: DisplayHost): void {
  if (hostsWithTargets.has(host)) return;
  hostsWithTargets.add(host);
  // ipywidgets 8 front ends fetch all widget states at once through the control comm.
  host.registerCommTarget("jupyter.widget.control", (comm) => {
    comm.onMsg((data) => {
      if (data?.method !== "request_states") return;
      const states: Record<string, unknown> = {};
      const bufferPaths: (string | number)[][] = [];
      const buffers: ArrayBufferView[] = [];
      for (const [id, w] of registry) {
        if (!w.comm) continue;
        const s = w.serializedState();
        states[id] = s.state;
        s.bufferPaths.forEach((p, i) => {
          bufferPaths.push([id, ...p]);
          buffers.push(s.buffers[i]);
        });
      }
      comm.send({ method: "update_states", states, buffer_paths: bufferPaths }, undefined, buffers);
    });
  });
  // A front end that re-creates a model opens a comm with the model id: attach it.
  host.registerCommTarget("jupyter.widget", (comm) => {
    const w = registry.get(comm.commId);
    if (w) w._attach(comm);
  });
}

function serializeValue(v: unknown): unknown {
  if (v instanceof Widget) return `IPY_MODEL_${v.modelId}`;
  if (Array.isArray(v)) return v.map(serializeValue);
  return v;
}

function deserializeValue(v: unknown): unknown {
  if (typeof v === "string" && v.startsWith("IPY_MODEL_")) return registry.get(v.slice(10)) ?? v;
  if (Array.isArray(v)) return v.map(deserializeValue);
  return v;
}

/** Splits binary values out of a state (buffer_paths, as the protocol wants). */
function extractBuffers(state: Record<string, unknown>): { state: Record<string, unknown>; bufferPaths: (string | number)[][]; buffers: ArrayBufferView[] } {
  const bufferPaths: (string | number)[][] = [];
  const buffers: ArrayBufferView[] = [];
  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (ArrayBuffer.isView(v)) {
      bufferPaths.push(path);
      buffers.push(v);
      return null;
    }
    if (v instanceof ArrayBuffer) {
      bufferPaths.push(path);
      buffers.push(new Uint8Array(v));
      return null;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x, [...path, k]);
      return o;
    }
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(state)) out[k] = walk(v, [k]);
  return { state: out, bufferPaths, buffers };
}

function putBuffers(state: Record<string, any>, paths: (string | number)[][] | undefined, buffers: DataView[]): void {
  (paths ?? []).forEach((path, i) => {
    let o: any = state;
    for (let j = 0; j < path.length - 1; j++) o = o[path[j]];
    o[path[path.length - 1]] = buffers[i];
  });
}

export interface WidgetSpec {
  modelName: string;
  viewName: string | null;
  modelModule?: string;
  modelModuleVersion?: string;
  viewModule?: string | null;
  viewModuleVersion?: string;
}

/** Base class of all widget models. */
export class Widget {
  readonly modelId: string;
  comm: Comm | null = null;
  protected state: Record<string, unknown>;
  private observers: { names: Set<string> | null; fn: Observer }[] = [];
  private customHandlers: ((content: any, buffers: DataView[]) => void)[] = [];
  private closed = false;

  constructor(spec: WidgetSpec, state: Record<string, unknown>) {
    this.state = {
      _model_name: spec.modelName,
      _model_module: spec.modelModule ?? CONTROLS,
      _model_module_version: spec.modelModuleVersion ?? "2.0.0",
      _view_name: spec.viewName,
      _view_module: spec.viewModule === undefined ? CONTROLS : spec.viewModule,
      _view_module_version: spec.viewModuleVersion ?? "2.0.0",
      _view_count: null,
      ...state,
    };
    const host = getDisplayHost();
    let comm: Comm | null = null;
    if (host && host.supportsComms) {
      ensureTargets(host);
      const s = this.serializedState();
      comm = host.openComm("jupyter.widget", { state: s.state, buffer_paths: s.bufferPaths }, { version: WIDGET_PROTOCOL_VERSION }, s.buffers);
    }
    this.modelId = comm?.commId ?? hexId();
    registry.set(this.modelId, this);
    if (comm) this._attach(comm);
  }

  /** @internal binds a comm (ours, or one a front end opened for this model id). */
  _attach(comm: Comm): void {
    this.comm = comm;
    comm.onMsg((data, buffers) => this.handleMsg(data, buffers));
    comm.onClose(() => {
      if (this.comm === comm) this.comm = null;
    });
  }

  /** The full state as sent on the wire. */
  serializedState(): { state: Record<string, unknown>; bufferPaths: (string | number)[][]; buffers: ArrayBufferView[] } {
    const s: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.state)) s[k] = serializeValue(v);
    return extractBuffers(s);
  }

  get(name: string): unknown {
    return this.state[name];
  }

  /** Sets state (kernel side): syncs the changed keys to the front end and notifies observers. */
  set(values: Record<string, unknown>): this {
    const changes: Change[] = [];
    for (const [k, v] of Object.entries(values)) {
      const old = this.state[k];
      const nv = this.validate(k, v);
      if (sameValue(old, nv)) continue;
      this.state[k] = nv;
      changes.push({ name: k, old, new: nv, owner: this });
    }
    if (changes.length === 0) return this;
    const partial: Record<string, unknown> = {};
    for (const c of changes) partial[c.name] = serializeValue(this.state[c.name]);
    this.sendUpdate(partial);
    for (const c of changes) this.notify(c);
    return this;
  }

  /** Checks/coerces a value set from the kernel or the front end. */
  protected validate(_name: string, value: unknown): unknown {
    return value;
  }

  protected sendUpdate(partial: Record<string, unknown>): void {
    if (!this.comm || this.closed) return;
    const e = extractBuffers(partial);
    this.comm.send({ method: "update", state: e.state, buffer_paths: e.bufferPaths }, undefined, e.buffers);
  }

  /**
   * Calls `fn({ name, old, new, owner })` when the named state (default: "value"; null: any) changes,
   * from either side. Returns a function that removes the observer.
   */
  observe<T = any>(fn: (change: Change<T>) => void, names: string | string[] | null = "value"): () => void {
    const entry = { names: names === null ? null : new Set(Array.isArray(names) ? names : [names]), fn: fn as Observer };
    this.observers.push(entry);
    return () => {
      this.observers = this.observers.filter((o) => o !== entry);
    };
  }

  protected notify(change: Change): void {
    for (const o of [...this.observers]) {
      if (o.names && !o.names.has(change.name)) continue;
      try {
        const r = o.fn(change) as unknown;
        if (r && typeof (r as Promise<unknown>).catch === "function") (r as Promise<unknown>).catch((e) => reportError(e));
      } catch (e) {
        reportError(e);
      }
    }
  }

  /** Handles a comm message from the front end. */
  handleMsg(data: any, buffers: DataView[] = []): void {
    switch (data?.method) {
      case "update": {
        const st: Record<string, unknown> = { ...(data.state ?? {}) };
        putBuffers(st, data.buffer_paths, buffers);
        const changes: Change[] = [];
        const corrected: Record<string, unknown> = {};
        for (const [k, raw] of Object.entries(st)) {
          const old = this.state[k];
          const given = this.fromFrontEnd(k, deserializeValue(raw));
          let v: unknown;
          try {
            v = this.validate(k, given);
          } catch (e) {
            reportError(e);
            corrected[k] = serializeValue(old); // refuse: put the front end back
            continue;
          }
          if (!sameValue(v, given)) corrected[k] = serializeValue(v); // coerced (clamped, rounded): tell the front end
          if (sameValue(old, v)) continue;
          this.state[k] = v;
          changes.push({ name: k, old, new: v, owner: this });
        }
        if (Object.keys(corrected).length) this.sendUpdate(corrected);
        this.afterFrontEndUpdate(changes);
        for (const c of changes) this.notify(c);
        break;
      }
      case "request_state": {
        const s = this.serializedState();
        this.comm?.send({ method: "update", state: s.state, buffer_paths: s.bufferPaths }, undefined, s.buffers);
        break;
      }
      case "custom":
        for (const h of this.customHandlers) h(data.content, buffers);
        break;
    }
  }

  /** Hook: converts a value that came from the front end. */
  protected fromFrontEnd(_name: string, value: unknown): unknown {
    return value;
  }
  /** Hook: after the front end changed state (before observers run). */
  protected afterFrontEndUpdate(_changes: Change[]): void {}

  /** Handles custom messages (`{ method: "custom", content }`) from the front end. */
  onCustom(handler: (content: any, buffers: DataView[]) => void): void {
    this.customHandlers.push(handler);
  }

  /** Sends a custom message to the front-end view. */
  sendCustom(content: unknown, buffers?: ArrayBufferView[]): void {
    this.comm?.send({ method: "custom", content }, undefined, buffers);
  }

  /** Closes the comm: the front-end views go away. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.comm?.close();
    this.comm = null;
    registry.delete(this.modelId);
  }

  /** The static stand-in: HTML without interactivity. */
  staticHtml(): string | Promise<string> {
    return `<span>${escapeHtml(this.describe())}</span>`;
  }

  /** One line of text/plain. */
  describe(): string {
    const name = String(this.state._model_name).replace(/Model$/, "");
    const d = this.state.description ? ` description=${JSON.stringify(this.state.description)}` : "";
    const v = "value" in this.state ? ` value=${JSON.stringify(this.state.value)}` : "";
    return `${name}(${(d + v).trim()})`;
  }

  /** widget-view+json (the live control) with text/plain and a static text/html fallback carrying a note. */
  async toMimeBundle(): Promise<MimeBundle> {
    const inner = await this.staticHtml();
    const note = `<div class="gb-widget-note" style="font:11px sans-serif;color:#777;margin-top:4px">${escapeHtml(STATIC_NOTE)}</div>`;
    const bundle: MimeBundle = {
      "text/plain": this.describe(),
      "text/html": `<div class="gb-widget-static" data-model-id="${this.modelId}">${inner}${note}</div>`,
    };
    if (this.comm) bundle[WIDGET_VIEW_MIME] = { model_id: this.modelId, version_major: 2, version_minor: 1 };
    return bundle;
  }
}

/** Deep equality of widget values (plain values and arrays). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return false;
}

let errorReporter: (e: unknown) => void = (e) => console.error(e);
/** Where errors thrown by observers and callbacks go (the kernel may route them to the cell's stderr). */
export function setWidgetErrorReporter(f: (e: unknown) => void): void {
  errorReporter = f;
}
/** Reports an error thrown by an observer or callback (see setWidgetErrorReporter). */
export function reportError(e: unknown): void {
  errorReporter(e);
}

/** Live widgets by model id (tests, the kernel). */
export function widgetRegistry(): ReadonlyMap<string, Widget> {
  return registry;
}
