/**
 * The guard's part in the protocol worker: the memory watcher and the death record, fed by the
 * server's few hooks (a request starts, a cell's execute_input goes out, a request ends, the
 * kernel shuts down cleanly).
 */
import { DeathRecord, type DeathFiles } from "./death.ts";
import { formatBytes, type Limit } from "./limits.ts";
import { StopState } from "./memory.ts";
import { MemoryWatch } from "./watch.ts";

export interface GuardConfig {
  memory: Limit;
  memoryHard: Limit;
  /** StopState's buffer, shared with the main thread. */
  stop: SharedArrayBuffer;
  /** Where the death record goes; null: none (GRADBOOK_DEATH_REPORT=off). */
  files: DeathFiles | null;
}

export interface GuardHooks {
  /** Stops the running cell (an interrupt). */
  interrupt(): void;
  /** Ends the kernel now: the running request gets an error saying `reason` first. */
  die(ename: string, reason: string): void;
  log(text: string): void;
}

export class ServerGuard {
  private watch: MemoryWatch;
  private record: DeathRecord | null;

  constructor(cfg: GuardConfig, hooks: GuardHooks) {
    this.record = cfg.files && new DeathRecord(cfg.files, cfg.memory.bytes);
    this.watch = new MemoryWatch({
      limit: cfg.memory.bytes,
      hard: cfg.memoryHard.bytes,
      stop: new StopState(cfg.stop),
      interrupt: hooks.interrupt,
      hardLimit: (rss) => {
        const reason =
          `its memory (${formatBytes(rss)} resident) passed the kernel's hard limit of ${formatBytes(cfg.memoryHard.bytes!)} (${cfg.memoryHard.source}), ` +
          "so it ended itself before the system's out-of-memory killer would end it or another process";
        this.watch.close();
        this.record?.dying(reason);
        hooks.log(`the kernel ends: ${reason}`);
        hooks.die("MemoryError", `the kernel died: ${reason}. It restarts without your variables: run the cells you need again, with less data at a time.`);
      },
      note: (used) => this.record?.note(used),
      log: hooks.log,
    });
  }

  /** A request was handed to the main thread. */
  started(): void {
    this.watch.started();
  }

  /** An iopub message went out (an execute_input names the cell now running). */
  published(msgType: string, content: any): void {
    if (msgType === "execute_input") this.record?.cellStarted(Number(content?.execution_count) || 0, String(content?.code ?? ""));
  }

  /** The request being handled ended. */
  ended(): void {
    this.watch.ended();
    this.record?.cellEnded();
  }

  /** The kernel ends in order (shutdown, a cell's process.exit, the parent gone): no death to report. */
  clean(): void {
    this.watch.close();
    this.record?.clean();
  }
}
