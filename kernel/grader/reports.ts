/**
 * The grader's reports: the class gradebook (CSV), Gradescope's
 * results.json, and the per-student feedback (notebook and HTML).
 */
import { CHECKS_GRADE_ID } from "./checks.ts";
import { cloneNotebook, isTestCell, type Cell, type Notebook, type Output } from "./notebook.ts";
import { hasHiddenTests, maskHiddenTests } from "./release.ts";
import { round2, stripAnsi, type TestResult } from "./score.ts";

export interface SubmissionResult {
  /** Format version of this record. */
  version: 1;
  student: string;
  /** "graded": ran; "invalid": the submission could not be read (not JSON, not a notebook, a link...); "error": the grader failed (retried on resume). */
  status: "graded" | "invalid" | "error";
  score: number;
  maxScore: number;
  tests: TestResult[];
  /** Messages about the whole submission (tampering, restored cells, stopped cells, unreadable files). */
  messages: string[];
  /** sha256 over the grader version, the sources, the options that change scores and the submission's files: resume key. */
  inputHash: string;
  durationMs: number;
  restarts: number;
  gradedAt: string;
}

export const testName = (t: TestResult, multi: boolean) => (multi ? `${t.notebook.replace(/\.ipynb$/, "")}:${t.gradeId}` : t.gradeId);

/** One CSV field (RFC 4180), with spreadsheet formula injection neutralized. */
export function csvField(v: string | number): string {
  let s = typeof v === "number" ? String(round2(v)) : v;
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The class gradebook: one row per student, one column per test (by points), total, status and messages. */
export function gradebookCsv(results: SubmissionResult[], columns: { name: string; maxScore: number }[]): string {
  const header = ["student", "score", "max_score", ...columns.map((c) => `${c.name} (${round2(c.maxScore)})`), "status", "messages"];
  const rows = [header.map(csvField).join(",")];
  const multi = columns.some((c) => c.name.includes(":"));
  for (const r of [...results].sort((a, b) => (a.student < b.student ? -1 : a.student > b.student ? 1 : 0))) {
    const by = new Map(r.tests.map((t) => [testName(t, multi), t.score]));
    const cells = [r.student, r.score, r.maxScore, ...columns.map((c) => by.get(c.name) ?? 0), r.status, r.messages.join(" | ")];
    rows.push(cells.map((x) => csvField(x as string | number)).join(","));
  }
  return rows.join("\r\n") + "\r\n";
}

/** Gradescope's autograder results.json for one submission. */
export function gradescopeResults(r: SubmissionResult): Record<string, unknown> {
  const multi = new Set(r.tests.map((t) => t.notebook)).size > 1;
  return {
    score: round2(r.score),
    execution_time: Math.round(r.durationMs / 1000),
    output: r.messages.length ? r.messages.join("\n") : r.status === "graded" ? "Graded." : "",
    stdout_visibility: "hidden",
    tests: r.tests.map((t, i) => ({
      name: testName(t, multi),
      number: String(i + 1),
      score: round2(t.score),
      max_score: round2(t.maxScore),
      status: t.score >= t.maxScore && t.maxScore > 0 ? "passed" : t.status === "passed" ? "passed" : "failed",
      output: t.output,
      visibility: t.hidden ? "after_published" : "visible",
    })),
  };
}

/**
 * A test cell as the student sees it: the code of its hidden tests masked,
 * and, in a cell with hidden tests, tracebacks cut to the error's name and
 * message (a traceback quotes the lines around the failing one).
 */
function maskHidden(c: Cell) {
  if (!isTestCell(c)) return;
  if (hasHiddenTests(c)) for (const o of c.outputs ?? []) if (o.output_type === "error") o.traceback = [`${o.ename ?? "Error"}: ${o.evalue ?? ""}`];
  c.source = maskHiddenTests(c.source);
}

/** The executed notebook as shown to the student: hidden-test code masked (unless revealed), a score summary on top. */
export function feedbackNotebook(executed: Notebook, tests: TestResult[], messages: string[], revealHidden: boolean): Notebook {
  const nb = cloneNotebook(executed);
  if (!revealHidden) for (const c of nb.cells) maskHidden(c);
  const score = tests.reduce((s, t) => s + t.score, 0), max = tests.reduce((s, t) => s + t.maxScore, 0);
  const lines = [`# Feedback: ${round2(score)} / ${round2(max)} points`, "", "| test | score | result |", "| --- | --- | --- |"];
  for (const t of tests) lines.push(`| ${t.gradeId}${t.hidden ? " (hidden)" : ""} | ${round2(t.score)} / ${round2(t.maxScore)} | ${t.output.replace(/\|/g, "\\|").replace(/\n/g, " ")} |`);
  if (messages.length) lines.push("", ...messages.map((m) => `- ${m}`));
  nb.cells.unshift({ cell_type: "markdown", id: "gradbook-feedback", source: lines.join("\n"), metadata: { gradbook: { feedback: true } } });
  return nb;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function outputHtml(o: Output): string {
  switch (o.output_type) {
    case "stream":
      return `<pre class="${o.name === "stderr" ? "stderr" : "stdout"}">${esc(stripAnsi(o.text ?? ""))}</pre>`;
    case "error":
      return `<pre class="error">${esc(stripAnsi((o.traceback?.length ? o.traceback.join("\n") : `${o.ename}: ${o.evalue}`) ?? ""))}</pre>`;
    case "display_data":
    case "execute_result": {
      const d = o.data ?? {};
      // Images as data URLs only; HTML/JS from student code is never embedded (shown as text).
      for (const mime of ["image/png", "image/jpeg", "image/gif"]) {
        const v = d[mime];
        if (typeof v === "string" && /^[A-Za-z0-9+/=\s]+$/.test(v)) return `<img alt="output" src="data:${mime};base64,${v.replace(/\s/g, "")}">`;
      }
      const t = d["text/plain"];
      return t === undefined ? "" : `<pre class="result">${esc(stripAnsi(String(Array.isArray(t) ? t.join("") : t)))}</pre>`;
    }
    default:
      return "";
  }
}

/** A self-contained HTML page (no scripts; student output escaped) with the score table and the executed cells. */
export function feedbackHtml(student: string, notebookName: string, executed: Notebook, tests: TestResult[], messages: string[], revealHidden: boolean): string {
  const score = tests.reduce((s, t) => s + t.score, 0), max = tests.reduce((s, t) => s + t.maxScore, 0);
  const rows = tests
    .map((t) => `<tr class="${t.status}"><td>${esc(t.gradeId)}${t.hidden ? " <small>(hidden)</small>" : ""}</td><td>${round2(t.score)} / ${round2(t.maxScore)}</td><td>${esc(t.output)}</td></tr>`)
    .join("\n");
  const cells = (revealHidden ? executed : cloneNotebook(executed)).cells
    .map((c) => {
      if (!revealHidden) maskHidden(c);
      const src = c.source;
      const id = c.metadata.nbgrader?.grade_id;
      if (id === CHECKS_GRADE_ID) return `<div class="cell code"><div class="tag">${esc(String(id))}</div><pre class="src">// the test helpers (assert, assertEqual, assertClose, assertThrows)</pre></div>`;
      const tag = id ? `<div class="tag">${esc(String(id))}${c.metadata.nbgrader?.points ? ` · ${esc(String(c.metadata.nbgrader.points))} pt` : ""}</div>` : "";
      if (c.cell_type !== "code") return `<div class="cell md">${tag}<pre>${esc(src)}</pre></div>`;
      return `<div class="cell code">${tag}<pre class="src">${esc(src)}</pre>${(c.outputs ?? []).map(outputHtml).join("")}</div>`;
    })
    .join("\n");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(notebookName)}: feedback for ${esc(student)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
tr.passed td:nth-child(2){color:#176b28}tr.failed td:nth-child(2){color:#a31515}tr.partial td:nth-child(2){color:#8a5a00}
.cell{border-left:3px solid #ddd;margin:1rem 0;padding-left:.7rem}.cell.code .src{background:#f6f8fa;padding:.5rem;overflow:auto}
pre{white-space:pre-wrap;word-break:break-word;margin:.3rem 0}.error{color:#a31515}.stderr{color:#8a5a00}.tag{font-size:.8rem;color:#666}
img{max-width:100%}
</style></head><body>
<h1>${esc(notebookName)}</h1>
<p><strong>${esc(student)}</strong>: ${round2(score)} / ${round2(max)} points</p>
<table><thead><tr><th>test</th><th>score</th><th>result</th></tr></thead><tbody>
${rows}
</tbody></table>
${messages.length ? `<ul>${messages.map((m) => `<li>${esc(m)}</li>`).join("")}</ul>` : ""}
<h2>Your notebook, as graded</h2>
${cells}
</body></html>
`;
}
