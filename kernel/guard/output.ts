/**
 * Output floods: a request's stream output past a limit is dropped (its last lines kept) and a
 * notice at the end says how much; a rich output too large for a front end to show (a 100 MB
 * image) is replaced by a notice with a suggestion.
 */
import { formatBytes, type Limit } from "./limits.ts";

/** Characters of a flood's end kept to show after the notice. */
const TAIL_CHARS = 4096;

export class OutputLimits {
  private sent = 0;
  private dropped = 0;
  private tail: { name: "stdout" | "stderr"; text: string } | null = null;

  constructor(
    private stream: Limit,
    private display: Limit,
  ) {}

  /** The part of `text` that may be sent now (all of it, a head, or ""). */
  streamText(name: "stdout" | "stderr", text: string): string {
    const limit = this.stream.bytes;
    if (limit === null) return text;
    const room = limit - this.sent;
    if (text.length <= room) {
      this.sent += text.length;
      return text;
    }
    const head = room > 0 ? text.slice(0, room) : "";
    this.sent += head.length;
    const rest = head.length ? text.slice(head.length) : text;
    this.dropped += rest.length;
    const keep = rest.length >= TAIL_CHARS ? rest.slice(-TAIL_CHARS) : (this.tail?.name === name ? this.tail.text : "") + rest;
    this.tail = { name, text: keep.slice(-TAIL_CHARS) };
    return head;
  }

  /**
   * The end of a request (or of what it printed later): the notice of what was dropped, followed by
   * the stream's last lines, or null; the count starts again.
   */
  finish(): { notice: string; tail: { name: "stdout" | "stderr"; text: string } | null } | null {
    const dropped = this.dropped, tail = this.tail;
    this.sent = 0;
    this.dropped = 0;
    this.tail = null;
    if (!dropped) return null;
    // the tail starts at a line
    let shown = tail;
    if (tail) {
      const nl = tail.text.indexOf("\n");
      const text = tail.text.length === TAIL_CHARS && nl >= 0 && nl < tail.text.length - 1 ? tail.text.slice(nl + 1) : tail.text;
      shown = { name: tail.name, text };
    }
    const more = shown && shown.text.length < dropped ? " (its end follows)" : "";
    const notice =
      `\n[output cut: ${chars(dropped)} of printed output were not shown${more}: a cell may print ${formatBytes(this.stream.bytes!)} (${this.stream.source}). ` +
      "Print less (a summary, every n-th step), or write the full output to a file.]\n";
    return { notice, tail: shown && shown.text.length < dropped ? shown : null };
  }

  /** A rich output's bundle as sent: itself, or a notice in its place when it is too large. */
  bundle(data: Record<string, unknown>): Record<string, unknown> {
    const limit = this.display.bytes;
    if (limit === null) return data;
    let total = 0;
    let largest = "", largestSize = -1;
    for (const [mime, v] of Object.entries(data)) {
      const n = typeof v === "string" ? v.length : jsonLength(v);
      total += n;
      if (n > largestSize) (largest = mime), (largestSize = n);
    }
    if (total <= limit) return data;
    const hint = /^image\//.test(largest)
      ? "show a smaller image (resize, crop or subsample it)"
      : /plotly|vega|html|json|svg/.test(largest)
        ? "plot fewer points (a sample, or aggregate them first)"
        : "show a summary (the first rows, a slice)";
    return {
      "text/plain": `[output not shown: a ${largest} output of ${formatBytes(total)}, over the ${formatBytes(limit)} that one output may have (${this.display.source}). To see it, ${hint}, or save it to a file and open that.]`,
    };
  }
}

/** Text sizes as byte sizes (a character of ASCII is a byte: what people picture). */
function chars(n: number): string {
  return `${formatBytes(n)} (${n.toLocaleString("en-US")} characters)`;
}

function jsonLength(v: unknown): number {
  try {
    return JSON.stringify(v)?.length ?? 0;
  } catch {
    return 0;
  }
}
