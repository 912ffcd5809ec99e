// Protocol behaviour through Debian's jupyter_client: signing, bad input,
// stop_on_error, interrupts (message and signal), stdin, comms, display ids,
// shutdown/restart with history, memory over 1,000 executions.
import { afterAll, beforeAll, expect, test, vi } from "vitest";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeJupyterEnv, runScenario, stripAnsi, type JupyterEnv } from "./helpers.ts";

let env: JupyterEnv;
beforeAll(() => {
  env = makeJupyterEnv([["--name", "gradbook-signal", "--interrupt-mode", "signal"]]);
});
afterAll(() => env?.cleanup());

test("badly signed, malformed and unknown messages: dropped or answered with an error, never a crash", async () => {
  const log = join(env.dir, "kernel-stderr.log");
  const r = await runScenario(
    `
import time
from jupyter_client.session import Session
from jupyter_client.manager import start_new_kernel
errlog = open(${JSON.stringify(log)}, "w")
km, kc = start_new_kernel(kernel_name="gradbook", stderr=errlog)
d = Driver.__new__(Driver); d.km, d.kc, d.pending = km, kc, {}
res = {}
# a message signed with the wrong key: no reply
bad = Session(key=b"not-the-key", username="evil")
msg = bad.msg("execute_request", {"code": "globalThis.pwned = 1", "silent": False})
bad.send(kc.shell_channel.socket, msg)
res["bad_reply"] = None
deadline = time.time() + 1.5
while time.time() < deadline:
    try:
        m = kc.get_shell_msg(timeout=0.2)
    except Exception:
        continue
    if m["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
        res["bad_reply"] = m["msg_type"]
# garbage frames, no delimiter, bad JSON with a valid signature
kc.shell_channel.socket.send_multipart([b"garbage"])
kc.shell_channel.socket.send_multipart([b"<IDS|MSG>", b"sig", b"{", b"{}", b"{}", b"{}"])
parts = [b"not json", b"{}", b"{}", b"{}"]
kc.shell_channel.socket.send_multipart([b"<IDS|MSG>", kc.session.sign(parts).encode() if isinstance(kc.session.sign(parts), str) else kc.session.sign(parts)] + parts)
# an unknown message type
um = kc.session.msg("frobnicate_request", {})
kc.shell_channel.send(um)
r = d.reply(um["header"]["msg_id"])
res["unknown"] = r["content"]
res["unknown_type"] = r["msg_type"]
# execute with a non-string code
em = kc.session.msg("execute_request", {"code": 42})
kc.shell_channel.send(em)
res["badcode"] = d.reply(em["header"]["msg_id"])["content"]
res["pwned"] = d.text(d.execute("typeof (globalThis as any).pwned"))
res["alive"] = d.text(d.execute("1 + 2"))
d.close()
errlog.close()
emit(res)
`,
    env,
  );
  expect(r.bad_reply).toBeNull();
  expect(r.pwned).toBe("'undefined'");
  expect(r.alive).toBe("3");
  expect(r.unknown_type).toBe("frobnicate_reply");
  expect(r.unknown.status).toBe("error");
  expect(r.badcode.status).toBe("error");
  const stderr = readFileSync(log, "utf8");
  expect(stderr).toMatch(/invalid HMAC signature/);
  expect(stderr).toMatch(/no <IDS\|MSG> delimiter/);
});

test("stop_on_error aborts the queued requests; silent and store_history; user_expressions", async () => {
  const r = await runScenario(
    `
d = Driver()
kc = d.kc
res = {}
ids = [kc.execute("throw new Error('first')"), kc.execute("globalThis.ranSecond = true"), kc.execute("3")]
res["queued"] = [d.reply(i)["content"]["status"] for i in ids]
res["ranSecond"] = d.text(d.execute("typeof (globalThis as any).ranSecond"))
# a request sent right after the error reply arrived is not aborted
res["after_error"] = []
for k in range(5):
    e = kc.execute("throw new Error('again')")
    d.reply(e)
    res["after_error"].append(d.execute(str(k))["reply"]["status"])
ids = [kc.execute("throw new Error('first')", stop_on_error=False), kc.execute("4")]
res["noStop"] = [d.reply(i)["content"]["status"] for i in ids]
c0 = d.execute("1")["reply"]["execution_count"]
s = d.execute("console.log('quiet'); 5", silent=True)
res["silent_outputs"] = s["outputs"]
nh = d.execute("6", store_history=False)
res["counts"] = [c0, nh["reply"]["execution_count"], d.execute("7")["reply"]["execution_count"]]
ue = d.execute("const ux = 21", user_expressions={"twice": "ux * 2", "bad": "nope()"})
res["ue"] = ue["reply"]["user_expressions"]
d.close()
emit(res)
`,
    env,
  );
  expect(r.queued).toEqual(["error", "aborted", "aborted"]);
  expect(r.ranSecond).toBe("'undefined'");
  expect(r.after_error).toEqual(["ok", "ok", "ok", "ok", "ok"]);
  expect(r.noStop).toEqual(["error", "ok"]);
  expect(r.silent_outputs).toEqual([]);
  expect(r.counts[1]).toBe(r.counts[0]);
  expect(r.counts[2]).toBe(r.counts[0] + 1);
  expect(r.ue.twice).toEqual({ status: "ok", data: { "text/plain": "42" }, metadata: {} });
  expect(r.ue.bad.status).toBe("error");
});

for (const [kernel, how] of [
  ["gradbook", "an interrupt_request on the control channel"],
  ["gradbook-signal", "SIGINT (interrupt_mode signal)"],
] as const) {
  test(`a synchronous infinite loop is interrupted by ${how}; state survives; heartbeat and control stay alive`, async () => {
    const r = await runScenario(
      `
import time
d = Driver(kernel_name=${JSON.stringify(kernel)})
kc, km = d.kc, d.km
res = {"mode": km.kernel_spec.interrupt_mode}
d.execute("let keep = 41; let arr = [1, 2, 3]")
loop = kc.execute("let i = 0; while (true) { i++ }")
time.sleep(1.0)
res["beating"] = kc.is_alive()
t = time.time()
ci = kc.session.msg("kernel_info_request", {})
kc.control_channel.send(ci)
res["control_reply"] = kc.get_control_msg(timeout=5)["msg_type"]
res["control_latency"] = time.time() - t
km.interrupt_kernel()
r = d.reply(loop, timeout=10)
res["loop"] = {"status": r["content"]["status"], "ename": r["content"].get("ename")}
d.collect(loop)
res["keep"] = d.text(d.execute("keep + 1"))
res["arr"] = d.text(d.execute("arr.length"))
# an asynchronous cell that never settles
pend = kc.execute("await new Promise(() => {})")
time.sleep(0.5)
km.interrupt_kernel()
r = d.reply(pend, timeout=10)
res["async"] = {"status": r["content"]["status"], "ename": r["content"].get("ename")}
res["flag"] = d.text(d.execute("(globalThis as any).__gradbookInterrupt"))
if km.kernel_spec.interrupt_mode == "message":
    # a loop entered after an await: beyond breakOnSigint, stopped through the inspector
    late = kc.execute("await null; keep = 100; while (true) {}")
    time.sleep(1.0)
    km.interrupt_kernel()
    r = d.reply(late, timeout=20)
    res["after_await"] = {"status": r["content"]["status"], "ename": r["content"].get("ename")}
    res["after_await_keep"] = d.text(d.execute("keep - 59"))
res["after"] = d.text(d.execute("keep"))
d.close()
emit(res)
`,
      env,
    );
    expect(r.mode).toBe(kernel === "gradbook" ? "message" : "signal");
    expect(r.beating).toBe(true);
    expect(r.control_reply).toBe("kernel_info_reply");
    expect(r.control_latency).toBeLessThan(1);
    expect(r.loop).toEqual({ status: "error", ename: "KeyboardInterrupt" });
    expect(r.keep).toBe("42");
    expect(r.arr).toBe("3");
    expect(r.async).toEqual({ status: "error", ename: "KeyboardInterrupt" });
    expect(r.flag).toBe("false");
    if (kernel === "gradbook") {
      expect(r.after_await).toEqual({ status: "error", ename: "KeyboardInterrupt" });
      expect(r.after_await_keep).toBe("41");
    }
    expect(r.after).toBe(kernel === "gradbook" ? "100" : "41"); // the cell interrupted after its await had set keep = 100
  });
}

// @jupyterlab/services drops an iopub message still being handled when a message with another
// header.session arrives; a kernel answering with the client's session lost comm_opens that way.
test("as ipykernel: one session id on every message the kernel sends; the fields of execute_reply, ok and error", async () => {
  const scenario = (kernel: string, inputCode: string, errorCode: string) => `
d = Driver(kernel_name=${JSON.stringify(kernel)})
kc = d.kc
seen = {}
def note(channel, m):
    seen.setdefault(channel, set()).add(m["header"]["session"])
mid = kc.execute("1 + 1")
note("shell", d.reply(mid))
while True:
    m = kc.get_iopub_msg(timeout=30)
    note("iopub", m)
    if m["parent_header"].get("msg_id") == mid and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
        break
mid = kc.execute(${JSON.stringify(inputCode)}, allow_stdin=True)
note("stdin", kc.get_stdin_msg(timeout=30))
kc.input("x")
note("shell", d.reply(mid))
cm = kc.session.msg("kernel_info_request", {})
kc.control_channel.send(cm)
note("control", kc.get_control_msg(timeout=30))
sessions = set().union(*seen.values())
replies = {}
for name, code in [("ok", "1"), ("error", ${JSON.stringify(errorCode)})]:
    r = d.reply(kc.execute(code))
    replies[name] = {"content": sorted(r["content"]), "status": r["metadata"]["status"], "started": "started" in r["metadata"]}
d.close()
emit({"channels": sorted(seen), "one_session": len(sessions) == 1, "client_session": kc.session.session in sessions, "replies": replies})
`;
  const ours = await runScenario(scenario("gradbook", "await input('?')", "throw new Error('x')"), env);
  const ipykernel = await runScenario(scenario("python3", "input('?')", "1/0"), env);
  expect(ipykernel).toMatchObject({ channels: ["control", "iopub", "shell", "stdin"], one_session: true, client_session: false });
  expect(ipykernel.replies.error.status).toBe("error");
  // ipykernel's error reply also names its engine (engine_info, for ipyparallel)
  ipykernel.replies.error.content = ipykernel.replies.error.content.filter((k: string) => k !== "engine_info");
  expect(ours).toEqual(ipykernel);
});

test("input() asks on the stdin channel", async () => {
  const r = await runScenario(
    `
d = Driver()
kc = d.kc
res = {}
mid = kc.execute("const name = await input('Your name? '); name.toUpperCase()", allow_stdin=True)
req = kc.get_stdin_msg(timeout=10)
res["prompt"] = req["content"]["prompt"]
res["password"] = req["content"]["password"]
kc.input("ada")
res["reply"] = d.reply(mid)["content"]["status"]
res["out"] = d.text({"outputs": d.collect(mid)})
res["nostdin"] = d.execute("await input('x')", allow_stdin=False)["reply"]["ename"]
d.close()
emit(res)
`,
    env,
  );
  expect(r.prompt).toBe("Your name? ");
  expect(r.password).toBe(false);
  expect(r.reply).toBe("ok");
  expect(r.out).toBe("'ADA'");
  expect(r.nostdin).toBe("StdinNotImplementedError");
});

test("comms: open from the front end and from the kernel, messages both ways, comm_info, close", async () => {
  const r = await runScenario(
    `
d = Driver()
kc = d.kc
res = {}
d.execute("""
const host = widgets.getDisplayHost()!;
host.registerCommTarget("echo", (comm: any, data: any) => {
  comm.send({ opened: data });
  comm.onMsg((msg: any) => comm.send({ echo: msg }));
  comm.onClose(() => console.log("closed by front end"));
});
""")
def send(t, content):
    m = kc.session.msg(t, content)
    kc.shell_channel.send(m)
    return m["header"]["msg_id"]
mid = send("comm_open", {"comm_id": "c1", "target_name": "echo", "data": {"hello": 1}})
res["open"] = d.collect(mid)
ci = send("comm_info_request", {"target_name": "echo"})
res["info"] = d.reply(ci)["content"]
mid = send("comm_msg", {"comm_id": "c1", "data": {"n": 2}})
res["msg"] = d.collect(mid)
mid = send("comm_open", {"comm_id": "c2", "target_name": "no-such-target", "data": {}})
res["unknown_target"] = d.collect(mid)
mid = send("comm_close", {"comm_id": "c1", "data": {}})
res["close"] = d.collect(mid)
ci = send("comm_info_request", {})
res["info_after"] = d.reply(ci)["content"]
res["kernel_open"] = d.execute("const c = widgets.getDisplayHost()!.openComm('from-kernel', { x: 1 })!; c.send({ y: 2 }); c.close()")["outputs"]
d.close()
emit(res)
`,
    env,
  );
  expect(r.open).toEqual([{ type: "comm_msg", content: { comm_id: "c1", data: { opened: { hello: 1 } } } }]);
  expect(r.info.comms).toEqual({ c1: { target_name: "echo" } });
  expect(r.msg).toEqual([{ type: "comm_msg", content: { comm_id: "c1", data: { echo: { n: 2 } } } }]);
  expect(r.unknown_target[0].type).toBe("comm_close");
  expect(r.close[0].content.text).toMatch(/closed by front end/);
  expect(r.info_after.comms).toEqual({});
  expect(r.kernel_open.map((o: any) => o.type)).toEqual(["comm_open", "comm_msg", "comm_close"]);
  expect(r.kernel_open[0].content.target_name).toBe("from-kernel");
});

test("display ids update in place, clearOutput(wait), async toMimeBundle, tensors display", async () => {
  const r = await runScenario(
    `
d = Driver()
res = {}
res["ids"] = d.execute("const h = display('epoch 1', { displayId: 'loss' }); display('epoch 2', { displayId: 'loss', update: true }); h!.update('epoch 3')")["outputs"]
res["auto"] = d.execute("const h2 = display(1, { displayId: true }); h2!.displayId")["outputs"]
res["clear"] = d.execute("clearOutput({ wait: true }); console.log('x')")["outputs"]
res["async"] = d.execute("display({ toMimeBundle: async () => ({ 'text/html': '<b>late</b>', 'text/plain': 'late' }) }); console.log('after')")["outputs"]
res["result_async"] = d.execute("({ toMimeBundle: () => Promise.resolve({ 'text/plain': 'from promise' }) })")["outputs"]
res["png"] = d.execute("display.png(new Uint8Array([137, 80, 78, 71]))")["outputs"]
res["tensor"] = d.execute("gb.tensor([[1, 2], [3, 4]])")["outputs"]
d.close()
emit(res)
`,
    env,
  );
  const ids = r.ids;
  expect(ids.map((o: any) => o.type)).toEqual(["display_data", "update_display_data", "update_display_data"]);
  expect(ids.map((o: any) => o.content.transient.display_id)).toEqual(["loss", "loss", "loss"]);
  expect(ids[2].content.data["text/plain"]).toBe("'epoch 3'");
  expect(r.auto[0].content.transient.display_id).toMatch(/^gb-/);
  expect(r.clear[0]).toEqual({ type: "clear_output", content: { wait: true } });
  expect(r.async.map((o: any) => o.type)).toEqual(["display_data", "stream"]);
  expect(r.async[0].content.data["text/html"]).toBe("<b>late</b>");
  expect(r.result_async[0].content.data["text/plain"]).toBe("from promise");
  expect(r.png[0].content.data["image/png"]).toBe("iVBORw==");
  const t = r.tensor[0];
  expect(t.type).toBe("execute_result");
  expect(t.content.data["text/plain"]).toMatch(/tensor/);
});

test("shutdown with restart keeps history (tail, range, search); shutdown without restart exits cleanly", async () => {
  const r = await runScenario(
    `
import time
d = Driver()
kc, km = d.kc, d.km
res = {}
d.execute("const marker = 'before restart'; marker")
h = kc.history(hist_access_type="tail", n=1, output=True)
res["tail1"] = d.reply(h)["content"]["history"]
km.restart_kernel(now=False)
kc.wait_for_ready(timeout=30)
res["after_restart"] = d.execute("typeof marker")["reply"]["status"]
h = kc.history(hist_access_type="search", pattern="*before restart*", n=5)
res["search"] = d.reply(h)["content"]["history"]
h = kc.history(hist_access_type="tail", n=3)
res["tail"] = d.reply(h)["content"]["history"]
h = kc.history(hist_access_type="range", session=-1, start=1, stop=None)
res["range_prev"] = d.reply(h)["content"]["history"]
msg = kc.session.msg("shutdown_request", {"restart": False})
kc.control_channel.send(msg)
rep = kc.get_control_msg(timeout=10)
res["shutdown_reply"] = rep["content"]
t = time.time()
while km.is_alive() and time.time() - t < 10:
    time.sleep(0.05)
res["exited_in"] = time.time() - t
res["alive"] = km.is_alive()
res["exit_code"] = km.provisioner.process.returncode if km.provisioner and km.provisioner.process else None
kc.stop_channels()
emit(res)
`,
    env,
  );
  const [s1, l1, [src, out]] = r.tail1[0];
  expect(src).toBe("const marker = 'before restart'; marker");
  expect(out).toBe("'before restart'");
  expect(r.search.some((e: any) => e[0] === s1 && e[1] === l1)).toBe(true);
  const newSession = r.tail[r.tail.length - 1][0];
  expect(newSession).toBe(s1 + 1);
  expect(r.range_prev.some((e: any) => e[2].includes("before restart"))).toBe(true);
  expect(r.shutdown_reply).toEqual({ status: "ok", restart: false });
  expect(r.alive).toBe(false);
  expect(r.exited_in).toBeLessThan(3);
  expect(r.exit_code).toBe(0);
});

test("1,000 executions do not grow the kernel's memory without bound", async () => {
  // a kernelspec that runs node with --expose-gc, so that heap sizes are measured after a collection
  const spec = JSON.parse(readFileSync(join(env.env.JUPYTER_PATH!, "kernels", "gradbook", "kernel.json"), "utf8"));
  spec.argv.splice(1, 0, "--expose-gc");
  mkdirSync(join(env.env.JUPYTER_PATH!, "kernels", "gradbook-gc"), { recursive: true });
  writeFileSync(join(env.env.JUPYTER_PATH!, "kernels", "gradbook-gc", "kernel.json"), JSON.stringify(spec));
  const r = await runScenario(
    `
import json
d = Driver(kernel_name="gradbook-gc")
def memory():
    x = d.execute("console.log(JSON.stringify(await (globalThis as any).__gradbook.memory()))")
    return json.loads(d.text(x))
def batch(n, start):
    for i in range(start, start + n):
        x = d.execute(f"const v{i % 20} = new Array(1000).fill({i}); console.log(v{i % 20}.length); v{i % 20}.length + {i}")
        assert x["reply"]["status"] == "ok", x
batch(200, 0)
m200 = memory()
batch(800, 200)
m1000 = memory()
d.close()
emit({"m200": m200, "m1000": m1000})
`,
    env,
    600_000,
  );
  const mib = (b: number) => b / 2 ** 20;
  const growth = mib(r.m1000.main - r.m200.main + r.m1000.language - r.m200.language);
  console.log(
    `heap after 200 executions: main ${mib(r.m200.main).toFixed(1)} MiB, language service ${mib(r.m200.language).toFixed(1)} MiB; ` +
      `after 1,000: ${mib(r.m1000.main).toFixed(1)} + ${mib(r.m1000.language).toFixed(1)} MiB (RSS ${mib(r.m1000.rss).toFixed(0)} MiB)`,
  );
  expect(growth).toBeLessThan(20);
}, 900_000);

test("display() inside widgets.Output.capture lands in the output widget, not in the cell", async () => {
  const r = await runScenario(
    `
d = Driver()
res = d.execute("const out = new widgets.Output(); await out.capture(() => { display('inside'); display.html('<b>x</b>'); }); display('outside'); console.log(JSON.stringify(out.outputs.map((o: any) => o.data['text/plain'])))")["outputs"]
d.close()
emit(res)
`,
    env,
  );
  const shown = r.filter((o: any) => o.type === "display_data").map((o: any) => o.content.data["text/plain"]);
  expect(shown).toEqual(["'outside'"]);
  const printed = r.find((o: any) => o.type === "stream");
  expect(JSON.parse(printed.content.text)).toEqual(["'inside'", "<HTML>"]);
});

test("process.exit(3) in a cell: the cell's output goes out, then the kernel exits with code 3 (no abort)", async () => {
  const r = await runScenario(
    `
d = Driver()
kc = d.kc
mid = kc.execute('console.log("bye"); process.exit(3)')
texts = []
deadline = time.time() + 30
while time.time() < deadline and d.km.provisioner.process.poll() is None:
    try:
        m = kc.get_iopub_msg(timeout=0.2)
    except Empty:
        continue
    if m["parent_header"].get("msg_id") == mid and m["msg_type"] == "stream":
        texts.append(m["content"]["text"])
for _ in range(50):
    try:
        m = kc.get_iopub_msg(timeout=0.1)
        if m["parent_header"].get("msg_id") == mid and m["msg_type"] == "stream":
            texts.append(m["content"]["text"])
    except Empty:
        break
code = d.km.provisioner.process.wait(timeout=30)
kc.stop_channels()
emit({"texts": texts, "code": code})
`,
    env,
  );
  expect(r).toEqual({ texts: ["bye\n"], code: 3 });
});
