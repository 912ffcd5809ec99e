/**
 * The Assignments panel (left sidebar) of a course's JupyterLab on gradbook hub: the released
 * assignments with their deadlines; fetch, open, validate (the visible tests), submit (as often
 * as wanted; late ones said), and the returned feedback. Instructors also release (with a
 * deadline), collect, grade and return. It talks to its own server's handlers
 * (kernel/class/python/gradbook_hub/assignments.py, `{base}gradbook/assignments`), which run
 * `gradbook assignment ... --json` with the server's hub token. Those handlers set the page
 * config's `gradbookAssignments`; without it (plain `npm start`, JupyterLite) the panel is not
 * added and makes no request.
 */
import "./assignments.css";
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { PageConfig, URLExt } from "@jupyterlab/coreutils";
import { IDocumentManager } from "@jupyterlab/docmanager";
import { ServerConnection } from "@jupyterlab/services";
import { LabIcon } from "@jupyterlab/ui-components";
import { Widget } from "@lumino/widgets";

interface Submission {
  timestamp: string;
  late: boolean;
  lateBySeconds: number;
}
interface Assignment {
  name: string;
  deadline: string | null;
  notebooks: string[];
  submissions: Submission[];
  feedback: { score: number; maxScore: number; returnedAt: string; late: boolean } | null;
  fetched: boolean;
}
interface Listing {
  role: "student" | "instructor";
  assignments: Assignment[];
  unreleased?: string[];
}
interface TestResult {
  gradeId: string;
  score: number;
  maxScore: number;
  status: string;
  hidden?: boolean;
  output: string;
}

const ICON = new LabIcon({
  name: "gradbook:assignments",
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm-1 7V3.5L18.5 9zM10.6 18 7 14.4l1.4-1.4 2.2 2.2 5-5 1.4 1.4z"/></svg>',
});

class ApiError extends Error {}

/** A call to this server's Assignments handlers. */
async function call<T>(settings: ServerConnection.ISettings, path: string, body?: unknown): Promise<T> {
  const url = path ? URLExt.join(settings.baseUrl, "gradbook/assignments", path) : URLExt.join(settings.baseUrl, "gradbook/assignments");
  const init: RequestInit = body === undefined ? { method: "GET" } : { method: "POST", body: JSON.stringify(body) };
  const r = await ServerConnection.makeRequest(url, init, settings);
  let data: any = null;
  try {
    data = await r.json();
  } catch {}
  if (!r.ok) throw new ApiError(data?.error ?? data?.message ?? `${r.status} ${r.statusText}`);
  return data as T;
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) k === "class" ? (e.className = v) : e.setAttribute(k, v);
  e.append(...children);
  return e;
};

function when(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function span(seconds: number): string {
  const s = Math.abs(seconds);
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function due(deadline: string | null): string {
  if (!deadline) return "No deadline";
  const left = (Date.parse(deadline) - Date.now()) / 1000;
  return `Due ${when(deadline)} (${left > 0 ? `in ${span(left)}` : `${span(left)} ago`})`;
}

export class AssignmentsPanel extends Widget {
  private list = el("div", { class: "gb-list" });
  private status = el("div", { class: "gb-status", role: "status" });
  private listing: Listing | null = null;

  constructor(
    private app: JupyterFrontEnd,
    private docs: IDocumentManager | null,
    private settings = ServerConnection.makeSettings(),
  ) {
    super();
    this.id = "gradbook-assignments";
    this.addClass("gb-assignments");
    this.title.icon = ICON;
    this.title.caption = "Assignments";
    const refresh = el("button", { class: "gb-button", title: "Refresh the list", "data-action": "refresh" }, "Refresh");
    refresh.onclick = () => void this.refresh();
    this.node.append(el("header", {}, el("h2", {}, "Assignments"), refresh), this.status, this.list);
  }

  async refresh(): Promise<void> {
    try {
      this.listing = await call<Listing>(this.settings, "");
      this.render();
    } catch (e) {
      this.say(`The assignments could not be listed: ${(e as Error).message}`, true);
    }
  }

  private say(text: string, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("gb-error", error);
  }

  private render() {
    const l = this.listing!;
    this.list.replaceChildren();
    if (!l.assignments.length && !l.unreleased?.length) this.list.append(el("p", { class: "gb-empty" }, "No assignments have been released yet."));
    for (const a of l.assignments) this.list.append(this.card(a));
    if (l.role === "instructor" && l.unreleased?.length) {
      const box = el("section", { class: "gb-assignment gb-unreleased" }, el("h3", {}, "Not released"));
      for (const name of l.unreleased) box.append(this.releaseRow(name));
      this.list.append(box);
    }
  }

  private button(label: string, action: string, run: () => Promise<void>, title = ""): HTMLButtonElement {
    const b = el("button", { class: "gb-button", "data-action": action, title }, label);
    b.onclick = async () => {
      const all = [...this.node.querySelectorAll("button")] as HTMLButtonElement[];
      all.forEach((x) => (x.disabled = true));
      try {
        await run();
      } catch (e) {
        this.say((e as Error).message, true);
      } finally {
        all.forEach((x) => (x.disabled = false));
      }
    };
    return b;
  }

  private card(a: Assignment): HTMLElement {
    const last = a.submissions.at(-1);
    const state = !a.fetched ? "Not fetched" : a.submissions.length ? `${a.submissions.length} submission${a.submissions.length > 1 ? "s" : ""}, latest ${when(last!.timestamp)}${last!.late ? ` (late by ${span(last!.lateBySeconds)})` : " (on time)"}` : "Fetched, not submitted";
    const result = el("div", { class: "gb-result" });
    const card = el(
      "section",
      { class: "gb-assignment", "data-assignment": a.name },
      el("h3", {}, a.name),
      el("div", { class: "gb-due" + (a.deadline && Date.parse(a.deadline) < Date.now() ? " gb-past" : "") }, due(a.deadline)),
      el("div", { class: "gb-state" }, state),
    );
    if (a.feedback) card.append(el("div", { class: "gb-score" }, `Feedback: ${a.feedback.score} / ${a.feedback.maxScore} points`));
    const actions = el("div", { class: "gb-actions" });
    const act = (label: string, action: string, run: () => Promise<void>, title = "") => actions.append(this.button(label, action, run, title));
    act(a.fetched ? "Fetch missing" : "Fetch", "fetch", async () => {
      this.say(`Fetching ${a.name} …`);
      const r = await call<{ written: string[]; kept: string[] }>(this.settings, `${a.name}/fetch`, {});
      this.say(`Fetched ${a.name}: ${r.written.length} file${r.written.length === 1 ? "" : "s"} written${r.kept.length ? `, ${r.kept.length} of yours kept as they are` : ""}.`);
      await this.refresh();
      await this.open(a);
    }, "Copy the assignment into assignments/ (your files are never overwritten)");
    if (a.fetched) {
      act("Open", "open", () => this.open(a));
      act("Validate", "validate", async () => {
        await this.app.commands.execute("docmanager:save-all").catch(() => {});
        this.say(`Running ${a.notebooks.join(", ")} in a fresh kernel …`);
        const r = await call<{ notebook: string; passed: boolean; tests: TestResult[]; cellErrors: { cell: number; error: string }[] }[]>(this.settings, `${a.name}/validate`, {});
        result.replaceChildren(...r.map((nb) => this.tests(nb.notebook, nb.tests, nb.cellErrors.map((c) => `cell ${c.cell}: ${c.error}`))));
        const passed = r.every((x) => x.passed);
        this.say(passed ? "Every visible test passes (hidden tests are graded after you submit)." : "Some visible tests fail: see below.", !passed);
      }, "Run your notebook from the top and check the visible tests");
      act("Submit", "submit", async () => {
        await this.app.commands.execute("docmanager:save-all").catch(() => {});
        this.say(`Submitting ${a.name} …`);
        const r = await call<{ timestamp: string; late: boolean; lateBySeconds: number; submissions: number; files: number; notSent: string[] }>(this.settings, `${a.name}/submit`, {});
        this.say(`Submitted ${r.files} file${r.files === 1 ? "" : "s"} at ${when(r.timestamp)}${r.late ? `, late by ${span(r.lateBySeconds)}` : ", on time"} (submission ${r.submissions}).${r.notSent.length ? ` Not sent: ${r.notSent.join(", ")}.` : ""}`, r.late);
        await this.refresh();
      }, "Hand in the notebooks and your files beside them (you may submit again)");
    }
    if (a.feedback)
      act("Feedback", "feedback", async () => {
        const r = await call<{ score: number; maxScore: number; tests: TestResult[]; messages: string[]; saved: string[] }>(this.settings, `${a.name}/feedback`, {});
        result.replaceChildren(this.tests(`Feedback: ${r.score} / ${r.maxScore}`, r.tests, r.messages));
        const html = r.saved.find((f) => f.endsWith(".html"));
        if (html && this.docs) this.docs.openOrReveal(`assignments/${html}`);
        this.say(`Your feedback is in assignments/${a.name}/feedback/.`);
      }, "Your graded notebook and scores");
    card.append(actions);
    if (this.listing?.role === "instructor") card.append(this.instructorRow(a, result));
    card.append(result);
    return card;
  }

  private instructorRow(a: Assignment, result: HTMLElement): HTMLElement {
    const row = el("div", { class: "gb-actions gb-instructor" });
    const post = async (action: string, body: unknown = {}) => call<any>(this.settings, `${a.name}/${action}`, body);
    row.append(
      this.button("Collect", "collect", async () => {
        const r = await post("collect");
        this.say(`Collected ${Object.keys(r.students).length} submissions${r.missing.length ? `; none from ${r.missing.join(", ")}` : ""}.`);
      }),
      this.button("Grade", "grade", async () => {
        this.say(`Grading ${a.name} (sandboxed) …`);
        const r = await post("grade");
        result.replaceChildren(el("ul", {}, ...(r.students ?? []).map((s: any) => el("li", {}, `${s.student}: ${s.score} / ${s.maxScore}`))));
        this.say(`Graded ${r.graded} submission${r.graded === 1 ? "" : "s"}.`);
      }),
      this.button("Return", "return", async () => {
        const r = await post("return");
        this.say(`Returned feedback to ${r.returned.length} student${r.returned.length === 1 ? "" : "s"}.`);
      }),
    );
    return row;
  }

  private releaseRow(name: string): HTMLElement {
    const input = el("input", { type: "datetime-local", "aria-label": `deadline of ${name}` });
    return el(
      "div",
      { class: "gb-actions", "data-assignment": name },
      el("span", { class: "gb-name" }, name),
      input,
      this.button("Release", "release", async () => {
        // the browser's local time, sent with its offset
        const deadline = input.value ? new Date(input.value).toISOString() : null;
        await call(this.settings, `${name}/release`, { deadline });
        this.say(`Released ${name}.`);
        await this.refresh();
      }),
    );
  }

  private tests(title: string, tests: TestResult[], notes: string[]): HTMLElement {
    const rows = tests.map((t) =>
      el(
        "tr",
        { class: `gb-${t.status}` },
        el("td", {}, t.gradeId + (t.hidden ? " (hidden)" : "")),
        el("td", {}, `${t.score} / ${t.maxScore}`),
        el("td", {}, t.status === "passed" ? "passed" : t.output.split("\n")[0]),
      ),
    );
    return el("div", { class: "gb-tests" }, el("h4", {}, title), el("table", {}, el("tbody", {}, ...rows)), ...notes.map((n) => el("p", { class: "gb-note" }, n)));
  }

  private async open(a: Assignment) {
    if (!this.docs) return;
    for (const nb of a.notebooks) this.docs.openOrReveal(`assignments/${a.name}/${nb}`);
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: "@gradbook/assignments:panel",
  description: "The Assignments panel of a gradbook course hub",
  autoStart: true,
  optional: [IDocumentManager],
  activate: async (app: JupyterFrontEnd, docs: IDocumentManager | null) => {
    // set by the handlers' server extension: elsewhere (npm start, JupyterLite) not a request is made
    if (PageConfig.getOption("gradbookAssignments") !== "true") return;
    const panel = new AssignmentsPanel(app, docs, app.serviceManager.serverSettings);
    app.shell.add(panel, "left", { rank: 150 });
    await panel.refresh();
  },
};

export default plugin;
