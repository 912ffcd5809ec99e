/**
 * Runs a notebook, cell by cell, in a fresh gradbook kernel process with a
 * time limit per cell (its CPU time, and apart from it its time spent
 * waiting: client.ts, execute) and per notebook (wall clock) and a memory
 * limit. A cell that runs
 * too long, or that ends the kernel (process.exit, a crash, too much memory),
 * gets an error output; the kernel is then started again, the cells that had
 * run (test cells excepted) are run again, and grading goes on with the next
 * cell: the student loses that cell and nothing more.
 *
 * The instructor's cells (read-only and test cells: restore.ts puts the
 * instructor's version of them in the notebook) are compiled here, in the
 * grader, and sent compiled: the kernel runs them as given, so nothing a
 * submission's cell did to the kernel's compiler or to the built-ins it uses
 * can change their code (kernel/intrinsics.ts keeps how they run and what
 * is reported).
 *
 * With `files`, the kernel's working folder starts with copies of those
 * files (files.ts). Before a restart the kernel's folder (home, working
 * folder, temporary folder) is emptied and the copies made again, so that the cells run again see what
 * they saw the first time (not what they wrote then). All of it is removed
 * with the rest of the scratch folder afterwards.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CHECKS_GRADE_ID } from "./checks.ts";
import { homeFolder, KernelProcess, workFolder, type KernelLimits } from "./client.ts";
import { changedFiles, copyFileSets, listNames, type FileSet } from "./files.ts";
import { gradeId, isLocked, isTestCell, type Cell, type Notebook, type Output } from "./notebook.ts";
import { CellSyntaxError, compileCell, type CompiledCell } from "../ts/compile.ts";
import { isSyncSpecifier } from "../ts/node.ts";

export interface ExecuteOptions {
  kernelScript: string;
  /** Where scratch directories are made (one per notebook run, removed afterwards). */
  scratchRoot: string;
  /** CPU time of one cell (the kernel and what it started), and apart from it its time spent waiting (KernelProcess.execute). */
  cellTimeoutMs: number;
  /** Wall-clock time of the whole notebook. */
  notebookTimeoutMs: number;
  memoryMb: number;
  maxOutputChars?: number;
  /** The sandbox's other limits (threads, disk, CPU time, /tmp; client.ts's defaults when not given). */
  limits?: Pick<KernelLimits, "maxTasks" | "diskMb" | "fileMb" | "cpuSeconds" | "maxOutputBytes">;
  /** Run each kernel in its operating-system sandbox (bubblewrap; default false: the grader asks for it). */
  isolate?: boolean;
  /** Node's permission model for the kernel (default true). */
  permissions?: boolean;
  /** When root, run kernels as this user (default nobody); null keeps root. */
  user?: { uid: number; gid: number } | null;
  /** The kernel's working folder (default: a scratch folder). */
  cwd?: string;
  /**
   * Copied, in order, into the scratch working folder before the kernel
   * starts (a later set replaces an earlier one's files). Afterwards the
   * files of the instructor's sets (not `untrusted`, hashed) that the
   * notebook changed in its copy are reported in `messages`.
   */
  files?: FileSet[];
  /** Most kernel restarts in one notebook (default 5). */
  maxRestarts?: number;
  startTimeoutMs?: number;
  /** Stops the run (kernels killed, no restarts); executeNotebook then throws. */
  signal?: AbortSignal;
  /** Called with every kernel started, so an interrupted grader can stop them all. */
  onKernel?: (k: KernelProcess, started: boolean) => void;
}

export type CellStatus = "ok" | "error" | "timeout" | "died" | "not-run";

export interface Executed {
  notebook: Notebook;
  /** Per cell (same indices as the notebook; markdown cells "ok"). */
  status: CellStatus[];
  messages: string[];
  restarts: number;
  durationMs: number;
}

const errorOutput = (ename: string, evalue: string): Output => ({ output_type: "error", ename, evalue, traceback: [`${ename}: ${evalue}`] });

/** Instructor cells compiled, by source (null: not compilable as a plain cell, e.g. a %%magic one or a syntax error: the kernel compiles and reports it). */
const compiledCells = new Map<string, CompiledCell | null>();

/** The execute_request metadata for a cell: the compiled code of an instructor's (locked) cell. */
export function cellMetadata(cell: Cell): Record<string, unknown> | undefined {
  if (!isLocked(cell)) return undefined;
  let c = compiledCells.get(cell.source);
  if (c === undefined) {
    try {
      c = compileCell(cell.source, "cell.ts", isSyncSpecifier);
    } catch (e) {
      if (!(e instanceof CellSyntaxError)) throw e;
      c = null;
    }
    if (compiledCells.size >= 1000) compiledCells.clear();
    compiledCells.set(cell.source, c);
  }
  return c ? { gradbook: { compiled: c } } : undefined;
}

export class KernelStartError extends Error {
  override name = "KernelStartError";
}

export async function executeNotebook(input: Notebook, o: ExecuteOptions): Promise<Executed> {
  const t0 = Date.now();
  const nb: Notebook = JSON.parse(JSON.stringify(input));
  const status: CellStatus[] = nb.cells.map(() => "ok");
  const messages: string[] = [];
  const scratch = mkdtempSync(join(o.scratchRoot, "run-"));
  const limits: KernelLimits = { ...o.limits, memoryMb: o.memoryMb, maxOutputChars: o.maxOutputChars ?? 200_000 };
  const maxRestarts = o.maxRestarts ?? 5;
  const deadline = t0 + o.notebookTimeoutMs;
  let kernel: KernelProcess | null = null;
  let restarts = 0;
  const replay: number[] = [];
  /** The cells that finished, by the msg_id of their request (a second reply to one of them revokes its result). */
  const finishedBy = new Map<string, number>();
  /** A kernel stopped for a second reply to an earlier cell's request: that cell scores nothing, with the reason. */
  const revoke = (k: KernelProcess) => {
    const j = k.violation?.requestId ? finishedBy.get(k.violation.requestId) : undefined;
    if (j === undefined) return;
    finishedBy.delete(k.violation!.requestId!);
    status[j] = "error";
    nb.cells[j].outputs = [...(nb.cells[j].outputs ?? []), errorOutput("ProtocolError", `the kernel was not trusted after this cell: ${k.violation!.reason}`)];
    messages.push(`${label(j)} scored nothing: ${k.violation!.reason}.`);
  };
  const user = o.user === undefined ? { uid: 65534, gid: 65534 } : o.user;
  const label = (i: number) => (gradeId(nb.cells[i]) ? `Cell ${i + 1} ("${gradeId(nb.cells[i])}")` : `Cell ${i + 1}`);

  const start = async (): Promise<KernelProcess> => {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      let k: KernelProcess | null = null;
      try {
        k = await KernelProcess.start(o.kernelScript, { dir: scratch, permissions: o.permissions ?? true, user, cwd: o.cwd, isolate: o.isolate }, limits, o.startTimeoutMs ?? 120_000);
        o.onKernel?.(k, true);
        return k;
      } catch (e) {
        lastErr = e;
        if (k) {
          k.kill();
          o.onKernel?.(k, false);
        }
      }
    }
    throw new KernelStartError(`the kernel could not be started: ${(lastErr as Error)?.message ?? lastErr}`);
  };
  const stop = (k: KernelProcess | null) => {
    if (!k) return;
    k.kill();
    o.onKernel?.(k, false);
  };
  const owner = user && typeof process.getuid === "function" && process.getuid() === 0 ? user : null;
  /** The kernel's folders as they were before the first cell (the kernel has exited). */
  const resetFolders = () => {
    if (o.cwd) return; // the caller's own folder (validate): left as it is
    rmSync(homeFolder(scratch), { recursive: true, force: true, maxRetries: 3 });
    if (o.files?.length) copyFileSets(o.files, workFolder(scratch), owner);
  };

  try {
    if (o.files?.length && !o.cwd) copyFileSets(o.files, workFolder(scratch), owner);
    kernel = await start();
    for (let i = 0; i < nb.cells.length; i++) {
      if (o.signal?.aborted) throw new Error("interrupted");
      const cell = nb.cells[i];
      if (cell.cell_type !== "code") continue;
      cell.outputs = [];
      cell.execution_count = null;
      if (!cell.source.trim()) continue;
      // The helpers cell of older notebooks: the kernel has the helpers already.
      if (gradeId(cell) === CHECKS_GRADE_ID) continue;
      const left = deadline - Date.now();
      if (!kernel || left <= 0) {
        status[i] = "not-run";
        cell.outputs.push(
          !kernel
            ? errorOutput("KernelError", "not run: the kernel could not be restarted")
            : errorOutput("TimeoutError", `not run: the notebook's time limit of ${Math.round(o.notebookTimeoutMs / 1000)} s was used up`),
        );
        continue;
      }
      const r = await kernel.execute(cell.source, left, { metadata: cellMetadata(cell), cpuMs: o.cellTimeoutMs });
      cell.outputs = r.outputs;
      revoke(kernel);
      if (r.status === "ok" || r.status === "error") {
        if (r.requestId) finishedBy.set(r.requestId, i);
        cell.execution_count = r.executionCount;
        status[i] = r.status;
        if (r.status === "ok" && !isTestCell(cell)) replay.push(i);
        continue;
      }
      status[i] = r.status;
      const why =
        r.status === "timeout"
          ? r.limit === "cpu"
            ? `the cell used more than its CPU time limit of ${o.cellTimeoutMs / 1000} s`
            : r.limit === "wait"
              ? `the cell waited longer than its time limit of ${o.cellTimeoutMs / 1000} s (not running: an await or a sleep that did not end)`
              : `the notebook's time limit of ${Math.round(o.notebookTimeoutMs / 1000)} s ran out while this cell was running`
          : `the kernel stopped while running this cell: ${r.reason}`;
      cell.outputs.push(errorOutput(r.status === "timeout" ? "TimeoutError" : "KernelDied", why));
      const dead = kernel;
      stop(dead);
      kernel = null;
      const more = nb.cells.slice(i + 1).some((c) => c.cell_type === "code" && c.source.trim());
      if (!more) {
        messages.push(`${label(i)} was stopped: ${why}.`);
        break;
      }
      if (restarts >= maxRestarts || Date.now() >= deadline) {
        messages.push(`${label(i)} was stopped: ${why}. The kernel was not restarted (${restarts >= maxRestarts ? `${maxRestarts} restarts already` : "no time left"}).`);
        continue;
      }
      if (o.signal?.aborted) throw new Error("interrupted");
      restarts++;
      try {
        await dead.exited();
        resetFolders();
        kernel = await start();
      } catch (e) {
        messages.push(`${label(i)} was stopped: ${why}. A new kernel could not be started (${(e as Error).message}); the remaining cells were not run.`);
        continue;
      }
      let replayed = 0;
      for (const j of replay) {
        const rr = await kernel.execute(nb.cells[j].source, Math.max(1, deadline - Date.now()), { metadata: cellMetadata(nb.cells[j]), cpuMs: o.cellTimeoutMs });
        if (rr.status === "ok") replayed++;
        else if (rr.status === "timeout" || rr.status === "died") {
          stop(kernel);
          kernel = null;
          break;
        }
      }
      messages.push(
        `${label(i)} was stopped: ${why}. A new kernel was started` +
          (replay.length ? ` and ${replay.length > 1 ? `the ${replay.length} earlier cells that had run were` : "the earlier cell that had run was"} run again${replayed < replay.length ? ` (${replay.length - replayed} failed this time)` : ""}` : "") +
          ".",
      );
    }
    if (o.files?.length && !o.cwd) {
      const k = kernel;
      stop(k);
      kernel = null;
      await k?.exited();
      const changed = o.files.filter((set) => !set.untrusted).flatMap((set) => changedFiles(set, workFolder(scratch)));
      if (changed.length)
        messages.push(
          `The notebook changed the assignment's file${changed.length > 1 ? "s" : ""} ${listNames(changed, 10)} in its working folder while it ran; ` +
            "that was its own copy (the instructor's files and other submissions' copies are separate), and the cells after the change saw the changed file.",
        );
    }
  } finally {
    stop(kernel);
    try {
      rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
    } catch {}
  }
  return { notebook: nb, status, messages, restarts, durationMs: Date.now() - t0 };
}
