/**
 * Builds the notebook that is graded from a student's submission and the
 * instructor's source, as nbgrader's autograde does, with the order fixed by
 * the instructor:
 * - every locked cell (test cells included, hidden tests and all) is the
 *   instructor's, whatever the student did to it; an edited one is reported
 *   (checksum against the released cell), a deleted one is put back;
 * - every solution cell is the student's (found by grade id), with the
 *   instructor's metadata; a missing one is the released stub;
 * - cells the student added (no or unknown grade id) stay after the graded
 *   cell they followed;
 * - graded and locked cells come in the instructor's order, so a test cell
 *   runs only after every cell before it in the instructor's notebook.
 */
import { CHECKS_GRADE_ID } from "./checks.ts";
import { cloneNotebook, computeChecksum, gradeId, isLocked, isSolution, type Cell, type Notebook } from "./notebook.ts";

export interface Restored {
  notebook: Notebook;
  /** What was found and done, one line each (shown in the feedback). */
  messages: string[];
  /** Grade ids of solution cells left as released (not attempted). */
  unanswered: string[];
}

const START = "\u0000start";

export function restoreSubmission(source: Notebook, release: Notebook, student: Notebook): Restored {
  const messages: string[] = [];
  const unanswered: string[] = [];
  const known = new Map<string, { src: Cell; rel: Cell }>();
  source.cells.forEach((c, i) => {
    const id = gradeId(c);
    if (id) known.set(id, { src: c, rel: release.cells[i] });
  });

  // The student's cells: graded ones by id (first copy wins), the others attached to the graded cell before them.
  const byId = new Map<string, Cell>();
  const attached = new Map<string, Cell[]>();
  let anchor = START;
  for (const original of student.cells) {
    const c: Cell = JSON.parse(JSON.stringify(original));
    const id = gradeId(c);
    if (id && known.has(id) && !byId.has(id)) {
      byId.set(id, c);
      anchor = id;
      continue;
    }
    if (id && known.has(id)) messages.push(`A second copy of cell "${id}" was found; it was run as an ordinary cell and not graded.`);
    if (c.metadata.nbgrader) delete c.metadata.nbgrader;
    if (!attached.has(anchor)) attached.set(anchor, []);
    attached.get(anchor)!.push(c);
  }

  const out: Cell[] = [...(attached.get(START) ?? [])];
  for (const [id, { src, rel }] of known) {
    const mine = byId.get(id);
    let cell: Cell;
    if (isLocked(src)) {
      cell = JSON.parse(JSON.stringify(src));
      if (!mine) {
        if (id !== CHECKS_GRADE_ID) messages.push(`Cell "${id}" was missing from the submission; the instructor's version was put back.`);
      } else if (id !== CHECKS_GRADE_ID && (computeChecksum({ ...mine, metadata: rel.metadata }) !== computeChecksum(rel) || mine.cell_type !== rel.cell_type)) {
        // (the helpers cell is gradbook's own: it differs whenever gradbook was updated after the release, and is always replaced)
        messages.push(`Cell "${id}" is read-only but was changed; the changes were discarded and the instructor's version was used.`);
      }
    } else if (isSolution(src)) {
      if (mine) {
        cell = { ...mine, cell_type: src.cell_type, metadata: JSON.parse(JSON.stringify(src.metadata)) };
        if (computeChecksum(cell) === computeChecksum(rel)) unanswered.push(id);
      } else {
        cell = JSON.parse(JSON.stringify(rel));
        delete cell.metadata.nbgrader!.checksum;
        unanswered.push(id);
        messages.push(`Answer cell "${id}" was missing from the submission; it was graded as unanswered.`);
      }
    } else {
      cell = mine ? { ...mine, metadata: JSON.parse(JSON.stringify(src.metadata)) } : JSON.parse(JSON.stringify(src));
    }
    if (cell.metadata.nbgrader) delete cell.metadata.nbgrader.checksum;
    out.push(cell);
    out.push(...(attached.get(id) ?? []));
  }
  for (const c of out) {
    if (c.cell_type === "code") {
      c.outputs = [];
      c.execution_count = null;
    }
  }
  const notebook = cloneNotebook({ ...student, cells: [] });
  notebook.metadata = { ...source.metadata, ...(student.metadata ?? {}), kernelspec: source.metadata.kernelspec ?? student.metadata?.kernelspec, language_info: source.metadata.language_info ?? student.metadata?.language_info };
  notebook.cells = out;
  return { notebook, messages, unanswered };
}
