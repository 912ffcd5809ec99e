/**
 * Output steps run in order: a step that returns a Promise (a bundle still being made, e.g. a
 * GPU tensor being read) holds back the steps after it. A display host keeps its outputs in
 * order with one of these (the kernel's host, Output.capture). No imports: the kernel bundles it.
 */
export class OutputQueue {
  private tail: Promise<void> | null = null;
  constructor(private readonly onError: (e: unknown) => void) {}

  run(step: () => void | Promise<void>): void {
    if (!this.tail) {
      const r = step();
      if (!(r instanceof Promise)) return;
      this.tail = r;
    } else this.tail = this.tail.then(step);
    const mine: Promise<void> = (this.tail = this.tail.catch(this.onError));
    mine.then(() => {
      if (this.tail === mine) this.tail = null;
    });
  }

  /** Resolves once every step so far has run. */
  settled(): Promise<void> {
    return this.tail ?? Promise.resolve();
  }
}
