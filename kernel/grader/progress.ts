/** A progress line for long runs: counts, rate and time left; redrawn in place on a terminal, a line every few seconds otherwise. */
export class Progress {
  private done = 0;
  private failed = 0;
  private resumed = 0;
  private started = Date.now();
  private lastPrint = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private total: number,
    private out: NodeJS.WriteStream | null = process.stderr,
    private label = "graded",
  ) {
    if (out?.isTTY) {
      this.timer = setInterval(() => this.render(), 1000);
      this.timer.unref();
    }
  }

  resume(n: number) {
    this.resumed += n;
    this.render(true);
  }

  tick(ok: boolean) {
    this.done++;
    if (!ok) this.failed++;
    this.render();
  }

  line(): string {
    const n = this.done + this.resumed;
    const width = 24;
    const frac = this.total ? n / this.total : 1;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, "-");
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = this.done && elapsed >= 5 ? (this.done / elapsed) * 60 : 0;
    const left = this.total - n;
    const eta = rate && left > 0 ? ` ~${fmt((left / rate) * 60)} left` : "";
    const extra = [this.failed ? `${this.failed} not gradable` : "", this.resumed ? `${this.resumed} from an earlier run` : ""].filter(Boolean).join(", ");
    return `[${bar}] ${n}/${this.total} ${this.label}${extra ? ` (${extra})` : ""}${rate ? `, ${rate.toFixed(1)}/min` : ""}${eta}, ${fmt(elapsed)} elapsed`;
  }

  private render(force = false) {
    if (!this.out) return;
    const now = Date.now();
    if (this.out.isTTY) this.out.write(`\r\x1b[K${this.line()}`);
    else if (force || now - this.lastPrint > 5000 || this.done + this.resumed === this.total) {
      this.lastPrint = now;
      this.out.write(this.line() + "\n");
    }
  }

  finish() {
    if (this.timer) clearInterval(this.timer);
    if (this.out?.isTTY) this.out.write(`\r\x1b[K${this.line()}\n`);
  }
}

function fmt(s: number): string {
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
