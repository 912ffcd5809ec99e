/**
 * `gradbook validate` in the page: a Validate button on notebooks of the JupyterLite site (and
 * the command "gradbook:validate"). As the command line's validate does (kernel/grader/validate.ts),
 * it runs the notebook as it is now, top to bottom, in a fresh gradbook kernel of its own (the
 * student's kernel and outputs are left alone), scores the visible tests with the grader's own
 * scoring (kernel/grader/score.ts: nbgrader's rules, unanswered solutions by their checksum), and
 * shows which tests pass and fail, with the points, the errors of other cells and the warnings.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { Dialog, showDialog, ToolbarButton } from "@jupyterlab/apputils";
import type { KernelMessage } from "@jupyterlab/services";
import type { NotebookPanel } from "@jupyterlab/notebook";
import { Widget } from "@lumino/widgets";
import { gradeId, isTestCell, parseNotebook, type Notebook, type Output } from "../../kernel/grader/notebook.ts";
import { checkAnswers, round2, scoreNotebook, stripAnsi, type TestResult } from "../../kernel/grader/score.ts";

/** As the command line's default (gradbook validate --cell-timeout). */
const CELL_TIMEOUT_MS = 60_000;

export interface BrowserValidation {
  tests: TestResult[];
  cellErrors: { cell: number; id?: string; error: string }[];
  warnings: string[];
  passed: boolean;
}

/** Runs one cell's code; resolves to its outputs (as nbformat writes them) and whether it failed. */
async function runCode(kernel: import("@jupyterlab/services").Kernel.IKernelConnection, code: string): Promise<{ outputs: Output[]; status: "ok" | "error" | "timeout" }> {
  const outputs: Output[] = [];
  let clearOnNext = false;
  const future = kernel.requestExecute({ code, stop_on_error: false, store_history: true, allow_stdin: false });
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    const t = msg.header.msg_type;
    const c = msg.content as any;
    if (t === "clear_output") return void (c.wait ? (clearOnNext = true) : (outputs.length = 0));
    if (!["stream", "execute_result", "display_data", "error"].includes(t)) return;
    if (clearOnNext) (outputs.length = 0), (clearOnNext = false);
    if (t === "stream") outputs.push({ output_type: "stream", name: c.name, text: c.text });
    else if (t === "error") outputs.push({ output_type: "error", ename: c.ename, evalue: c.evalue, traceback: c.traceback });
    else outputs.push({ output_type: t, data: c.data, metadata: c.metadata ?? {}, ...(t === "execute_result" ? { execution_count: c.execution_count } : {}) } as Output);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), CELL_TIMEOUT_MS)));
  const reply = await Promise.race([future.done, timedOut]);
  clearTimeout(timer);
  if (reply === "timeout") {
    await kernel.interrupt();
    await future.done.catch(() => {});
    return { outputs, status: "timeout" };
  }
  return { outputs, status: (reply.content as { status: string }).status === "ok" ? "ok" : "error" };
}

/** Validates a notebook (its JSON as saved) in a new kernel of this page. */
export async function validateInBrowser(app: JupyterFrontEnd, nbJson: unknown, name: string): Promise<BrowserValidation> {
  const nb: Notebook = parseNotebook(JSON.stringify(nbJson), name);
  const { warnings, unanswered } = checkAnswers(nb);
  const kernel = await app.serviceManager.kernels.startNew({ name: "gradbook" });
  const cellErrors: BrowserValidation["cellErrors"] = [];
  try {
    // (a new kernel's connection opens after startNew resolves)
    if (kernel.connectionStatus !== "connected") {
      await new Promise<void>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error("the new kernel did not connect within 60 s")), 60_000);
        kernel.connectionStatusChanged.connect((_, status) => {
          if (status === "connected") clearTimeout(timer), ok();
        });
      });
    }
    await kernel.requestKernelInfo();
    for (const [i, c] of nb.cells.entries()) {
      if (c.cell_type !== "code") continue;
      const { outputs, status } = await runCode(kernel, c.source);
      c.outputs = outputs;
      if (isTestCell(c) || status === "ok") continue;
      const err = outputs.find((o) => o.output_type === "error");
      cellErrors.push({ cell: i + 1, id: gradeId(c), error: err ? stripAnsi(`${err.ename}: ${err.evalue}`) : status });
    }
  } finally {
    await kernel.shutdown().catch(() => {});
  }
  const tests = scoreNotebook(nb, name, unanswered);
  return { tests, cellErrors, warnings, passed: tests.every((t) => t.status === "passed" || t.status === "manual") };
}

/** The result as the page shows it (the command line's table, as HTML). */
function resultNode(v: BrowserValidation, name: string): HTMLElement {
  const el = (tag: string, text = "", cls = "") => Object.assign(document.createElement(tag), { textContent: text, className: cls });
  const root = el("div", "", "gb-Validation");
  const auto = v.tests.filter((t) => t.status !== "manual");
  const got = auto.reduce((s, t) => s + t.score, 0), max = auto.reduce((s, t) => s + t.maxScore, 0);
  root.append(el("p", `${name}: ${auto.filter((t) => t.status === "passed").length} of ${auto.length} visible tests pass (${round2(got)} of ${round2(max)} points)`, "gb-Validation-summary"));
  const table = el("table");
  for (const t of v.tests) {
    const mark = t.status === "passed" ? "PASS" : t.status === "partial" ? "PART" : t.status === "manual" ? "HAND" : "FAIL";
    const row = el("tr", "", `gb-Validation-${t.status}`);
    row.append(el("td", mark, "gb-Validation-mark"), el("td", t.gradeId), el("td", `${round2(t.score)}/${round2(t.maxScore)}`), el("td", t.status === "passed" ? "" : t.output.split("\n")[0]));
    table.append(row);
  }
  root.append(table);
  for (const e of v.cellErrors) root.append(el("p", `error in cell ${e.cell}${e.id ? ` (${e.id})` : ""}: ${e.error.split("\n")[0]}`, "gb-Validation-error"));
  for (const w of v.warnings) root.append(el("p", `warning: ${w}`, "gb-Validation-warning"));
  root.append(el("p", "Hidden tests are not included: passing every visible test does not guarantee full points."));
  return root;
}

async function validatePanel(app: JupyterFrontEnd, panel: NotebookPanel): Promise<void> {
  const name = panel.context.path.split("/").pop()!;
  const running = showDialog({ title: `Validating ${name}`, body: "Running the notebook from the top in a new kernel…", buttons: [Dialog.cancelButton({ label: "Close" })] });
  let body: Widget;
  try {
    const v = await validateInBrowser(app, panel.content.model!.toJSON(), name);
    body = new Widget({ node: resultNode(v, name) });
  } catch (e) {
    const node = Object.assign(document.createElement("div"), { className: "gb-Validation" });
    node.append(Object.assign(document.createElement("p"), { className: "gb-Validation-failed", textContent: `Validate could not run the notebook: ${(e as Error).message}` }));
    body = new Widget({ node });
  }
  Dialog.flush();
  await running.catch(() => {});
  await showDialog({ title: `Validate: ${name}`, body, buttons: [Dialog.okButton()] });
}

export const validatePlugin: JupyterFrontEndPlugin<void> = {
  id: "@gradbook/lite:validate",
  description: "Validate: a notebook's visible tests, run in a new kernel of the page, pass or fail.",
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    const current = () => app.shell.currentWidget as NotebookPanel | null;
    app.commands.addCommand("gradbook:validate", {
      label: "Validate (run the visible tests in a new kernel)",
      isEnabled: () => !!current()?.content?.model,
      execute: () => validatePanel(app, current()!),
    });
    app.docRegistry.addWidgetExtension("Notebook", {
      createNew: (panel: NotebookPanel) => {
        const button = new ToolbarButton({ label: "Validate", tooltip: "Run the notebook in a new kernel and show which visible tests pass", onClick: () => void validatePanel(app, panel) });
        button.addClass("gb-ValidateButton");
        panel.toolbar.insertItem(10, "gradbook-validate", button);
        return button;
      },
    });
  },
};
