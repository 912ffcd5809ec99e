// The kernel through @jupyterlab/services (the client library JupyterLab uses) against Debian's jupyter server:
// start through the REST API, execute over the WebSocket, display data, comms, completion, interrupt, restart.
import { afterAll, beforeAll, expect, onTestFailed, test, vi } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
// @ts-expect-error -- ws ships no type declarations (no @types/ws installed)
import WebSocket from "ws";
import { KernelManager, ServerConnection, KernelSpecAPI } from "@jupyterlab/services";
import { freePort, makeJupyterEnv, type JupyterEnv } from "./helpers.ts";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

let env: JupyterEnv;
let server: ChildProcess;
let settings: ServerConnection.ISettings;
let manager: KernelManager;
let serverLog = "";

beforeAll(async () => {
  env = makeJupyterEnv();
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  server = spawn(
    "/usr/bin/jupyter-server",
    ["--no-browser", "--allow-root", `--port=${port}`, "--ServerApp.ip=127.0.0.1", `--ServerApp.token=${token}`, `--ServerApp.root_dir=${join(env.dir, "notebooks")}`, "--ServerApp.port_retries=0"],
    { env: env.env, cwd: join(env.dir, "notebooks"), stdio: ["ignore", "pipe", "pipe"] },
  );
  server.stdout!.on("data", (d) => (serverLog += d));
  server.stderr!.on("data", (d) => (serverLog += d));
  const base = `http://127.0.0.1:${port}/`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${base}api/status?token=${token}`);
      if (r.ok) break;
    } catch {}
    if (i > 600 || server.exitCode !== null) throw new Error(`jupyter server did not start:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  settings = ServerConnection.makeSettings({ baseUrl: base, wsUrl: `ws://127.0.0.1:${port}/`, token, appendToken: true, WebSocket: WebSocket as any });
  manager = new KernelManager({ serverSettings: settings });
  await manager.ready;
});

afterAll(async () => {
  try {
    await manager?.shutdownAll();
    manager?.dispose();
  } catch {}
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((r) => {
      const t = setTimeout(() => (server.kill("SIGKILL"), r(null)), 5000);
      server.on("exit", () => (clearTimeout(t), r(null)));
    });
  }
  env?.cleanup();
});

// Which step the test is in, and the server's log (the kernel's stderr goes there), printed if it fails.
let stepName = "start";
const step = (name: string) => void (stepName = name);
function reportOnFailure() {
  onTestFailed(() => console.error(`failed or hung at step: ${stepName}\n--- jupyter server log (last 6000 characters) ---\n${serverLog.slice(-6000)}`));
}

async function execute(kernel: any, code: string) {
  const outputs: any[] = [];
  const future = kernel.requestExecute({ code });
  future.onIOPub = (msg: any) => {
    const t = msg.header.msg_type;
    if (t !== "status" && t !== "execute_input" && !t.startsWith("comm_")) outputs.push({ type: t, content: msg.content });
  };
  const reply = await future.done;
  return { reply: reply.content, outputs };
}

test("kernelspecs through the REST API list gradbook", async () => {
  const specs = await KernelSpecAPI.getSpecs(settings);
  expect(specs.kernelspecs.gradbook?.language).toBe("typescript");
  expect(Object.keys(specs.kernelspecs.gradbook?.resources ?? {})).toEqual(expect.arrayContaining(["logo-32x32", "logo-64x64"]));
});

test("start, execute, display, complete, inspect, comms, interrupt and restart through jupyter server", async () => {
  reportOnFailure();
  step("start the kernel");
  const kernel = await manager.startNew({ name: "gradbook" });
  try {
    const info = await kernel.info;
    expect(info.language_info.name).toBe("typescript");
    expect(info.implementation).toBe("gradbook");

    step("execute");
    const r1 = await execute(kernel, "const n: number = 20; n + 1");
    expect(r1.reply.status).toBe("ok");
    expect(r1.outputs).toContainEqual({ type: "execute_result", content: expect.objectContaining({ data: { "text/plain": "21" } }) });

    const r2 = await execute(kernel, 'console.log("streamed"); display.markdown("**md**"); display.svg("<svg/>")');
    expect(r2.outputs.map((o) => o.type)).toEqual(["stream", "display_data", "display_data"]);
    expect(r2.outputs[1].content.data["text/markdown"]).toBe("**md**");

    step("complete");
    const c = await kernel.requestComplete({ code: "n.toFix", cursor_pos: 7 });
    expect(c.content.status).toBe("ok");
    expect((c.content as any).matches).toEqual(["toFixed"]);
    expect((c.content as any).cursor_start).toBe(2);
    step("inspect");
    const i = await kernel.requestInspect({ code: "n", cursor_pos: 1, detail_level: 0 });
    expect((i.content as any).found).toBe(true);
    expect((i.content as any).data["text/plain"]).toMatch(/const n: number/);

    // comms: a target registered by a cell, opened from the front end
    step("comm target cell");
    await execute(
      kernel,
      `widgets.getDisplayHost()!.registerCommTarget("lab-echo", (comm: any, data: any) => {
         comm.onMsg((d: any) => comm.send({ got: d, opened: data }));
       })`,
    );
    const comm = kernel.createComm("lab-echo");
    const got = new Promise<any>((resolve) => {
      comm.onMsg = (msg: any) => resolve(msg.content.data);
    });
    step("comm open and send");
    await comm.open({ hello: "lab" }).done;
    await comm.send({ ping: 1 }).done;
    expect(await got).toEqual({ got: { ping: 1 }, opened: { hello: "lab" } });
    const commInfo = await kernel.requestCommInfo({ target_name: "lab-echo" });
    expect(Object.keys((commInfo.content as any).comms)).toEqual([comm.commId]);

    // a Jupyter widget from gradbook/widgets: the kernel opens a jupyter.widget comm, the front end updates it
    const widgetComm = new Promise<any>((resolve) => {
      kernel.registerCommTarget("jupyter.widget", (c: any, msg: any) => resolve({ comm: c, data: msg.content.data }));
    });
    step("widget");
    const w = await execute(kernel, "const slider = new widgets.IntSlider({ value: 3, min: 0, max: 10 });\nslider");
    expect(w.reply.status).toBe("ok");
    step("widget: the comm_open reaches the front end");
    const opened = await widgetComm;
    expect(opened.data.state._model_name).toBe("IntSliderModel");
    expect(opened.data.state.value).toBe(3);
    const view = w.outputs.find((o) => o.type === "execute_result");
    expect(view.content.data["application/vnd.jupyter.widget-view+json"].model_id).toBe(opened.comm.commId);
    step("widget update");
    await opened.comm.send({ method: "update", state: { value: 7 }, buffer_paths: [] }).done;
    const value = await execute(kernel, "slider.value");
    expect(value.outputs).toEqual([{ type: "execute_result", content: expect.objectContaining({ data: { "text/plain": "7" } }) }]);

    // interrupt a busy loop through the server
    step("interrupt a busy loop");
    const loop = kernel.requestExecute({ code: "while (true) {}" });
    // as a user would: interrupt again while the loop runs on (under load the first interrupt can
    // arrive before the cell has started, when there is nothing to interrupt)
    let finished = false;
    void loop.done.then(() => (finished = true), () => (finished = true));
    await new Promise((r) => setTimeout(r, 1000));
    for (let tries = 0; !finished && tries < 10; tries++) {
      await kernel.interrupt();
      await Promise.race([loop.done, new Promise((r) => setTimeout(r, 3000))]);
    }
    const lr = await loop.done;
    expect((lr.content as any).ename).toBe("KeyboardInterrupt");
    step("execute after the interrupt");
    const after = await execute(kernel, "n");
    expect(after.outputs).toEqual([{ type: "execute_result", content: expect.objectContaining({ data: { "text/plain": "20" } }) }]);

    // restart: state gone, kernel works
    step("restart");
    await kernel.restart();
    step("execute after the restart");
    const r3 = await execute(kernel, "typeof (globalThis as any).n");
    expect(r3.outputs).toEqual([{ type: "execute_result", content: expect.objectContaining({ data: { "text/plain": "'undefined'" } }) }]);
  } finally {
    await kernel.shutdown();
  }
});
