/**
 * A browser page that runs the gradbook kernel's widgets the way JupyterLab 4 does:
 * @jupyterlab/services talks to a Jupyter server, @jupyter-widgets/html-manager (the
 * ipywidgets 8 widget manager: base 2.x, controls 2.x, protocol 2.1.0) renders widget views.
 * Bundled with esbuild for the browser by tests/widgets/browser.test.ts.
 */
import { KernelManager, ServerConnection, type Kernel, type KernelMessage } from "@jupyterlab/services";
// lib/htmlmanager directly: the package index also pulls in the webpack-only embed helpers
import { HTMLManager } from "@jupyter-widgets/html-manager/lib/htmlmanager.js";
import { shims } from "@jupyter-widgets/base";

const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";

/** HTMLManager wired to a live kernel: comms from the kernel create models, models send state back. */
class KernelWidgetManager extends HTMLManager {
  constructor(readonly kernel: Kernel.IKernelConnection) {
    super();
    kernel.registerCommTarget(this.comm_target_name, async (comm, msg) => {
      const c = new shims.services.Comm(comm);
      await this.handle_comm_open(c, msg as any);
    });
  }
  override async _create_comm(targetName: string, modelId: string, data?: any, metadata?: any, buffers?: any): Promise<any> {
    const comm = this.kernel.createComm(targetName, modelId);
    if (data || metadata) comm.open(data, metadata, buffers);
    return new shims.services.Comm(comm);
  }
  override async _get_comm_info(): Promise<any> {
    const reply = await this.kernel.requestCommInfo({ target_name: this.comm_target_name });
    return (reply.content as any).comms;
  }
}

const log: string[] = [];
(window as any).gbLog = log;
let kernel: Kernel.IKernelConnection;
let manager: KernelWidgetManager;

async function start(baseUrl: string, token: string, kernelName: string): Promise<void> {
  const serverSettings = ServerConnection.makeSettings({ baseUrl, wsUrl: baseUrl.replace(/^http/, "ws"), token, appendToken: true });
  const km = new KernelManager({ serverSettings });
  kernel = await km.startNew({ name: kernelName });
  manager = new KernelWidgetManager(kernel);
  await kernel.info;
  log.push(`kernel ${kernel.id} ready`);
}

/** Runs code; widget views and other outputs go into a new cell div. Resolves on execute_reply. */
async function run(code: string, cellId: string): Promise<string> {
  const cell = document.createElement("div");
  cell.className = "cell";
  cell.id = cellId;
  const pre = document.createElement("pre");
  pre.className = "code";
  pre.textContent = code;
  cell.appendChild(pre);
  const out = document.createElement("div");
  out.className = "outputs";
  cell.appendChild(out);
  document.getElementById("cells")!.appendChild(cell);
  const future = kernel.requestExecute({ code });
  const pending: Promise<void>[] = [];
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    const t = msg.header.msg_type;
    if (t === "display_data" || t === "execute_result") {
      const data = (msg.content as any).data as Record<string, any>;
      const el = document.createElement("div");
      el.className = "output";
      out.appendChild(el);
      if (data[WIDGET_MIME]) {
        pending.push(
          (async () => {
            const model = await manager.get_model(data[WIDGET_MIME].model_id);
            const view = await manager.create_view(model);
            await manager.display_view(view, el);
          })().catch((e) => {
            el.textContent = `widget error: ${e}`;
            log.push(String(e));
          }),
        );
      } else if (data["text/plain"]) {
        el.textContent = data["text/plain"];
      }
    } else if (t === "stream") {
      const el = document.createElement("pre");
      el.className = "stream";
      el.textContent = (msg.content as any).text;
      out.appendChild(el);
    } else if (t === "error") {
      const el = document.createElement("pre");
      el.className = "error";
      el.textContent = `${(msg.content as any).ename}: ${(msg.content as any).evalue}`;
      out.appendChild(el);
      log.push(el.textContent);
    }
  };
  const reply = await future.done;
  await Promise.all(pending);
  return (reply.content as any).status;
}

(window as any).gb = { start, run };
