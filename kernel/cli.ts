/**
 * `gradbook <command>`: the command-line entry (bin/gradbook.js runs this).
 * Sub-commands live in one table; add an entry to add a command.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { installKernelSpec } from "./kernelspec.ts";
import { ENV, parseSize } from "./guard/limits.ts";
import { graderCommands } from "./grader/index.ts";
import { classCommands } from "./class/index.ts";

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number> | number;
}

const root = dirname(dirname(fileURLToPath(import.meta.url)));

export const commands: Record<string, Command> = {
  install: {
    summary: "install the gradbook Jupyter kernelspec",
    usage:
      "gradbook install [--user | --sys-prefix | --prefix DIR] [--name NAME] [--display-name NAME] [--interrupt-mode message|signal] " +
      "[--memory-limit SIZE] [--output-limit SIZE] [--display-limit SIZE] [--gpu-memory-limit SIZE] (SIZE: 512M, 2G, 75%, off)",
    run(args) {
      let where: Parameters<typeof installKernelSpec>[0]["where"] = { kind: "user" };
      let name: string | undefined, displayName: string | undefined, interruptMode: "message" | "signal" | undefined;
      const env: Record<string, string> = {};
      const limitOptions: Record<string, string> = { "--memory-limit": ENV.memory, "--memory-hard-limit": ENV.memoryHard, "--output-limit": ENV.stream, "--display-limit": ENV.display, "--gpu-memory-limit": ENV.gpu };
      for (let i = 0; i < args.length; i++) {
        const a = args[i];
        const value = () => {
          const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i];
          if (!v) throw new UsageError(`${a.split("=")[0]} needs a value`);
          return v;
        };
        if (a === "--user") where = { kind: "user" };
        else if (a === "--sys-prefix") where = { kind: "sys-prefix" };
        else if (a === "--prefix" || a.startsWith("--prefix=")) where = { kind: "prefix", dir: value() };
        else if (a === "--name" || a.startsWith("--name=")) name = value();
        else if (a === "--display-name" || a.startsWith("--display-name=")) displayName = value();
        else if (a === "--interrupt-mode" || a.startsWith("--interrupt-mode=")) {
          const v = value();
          if (v !== "message" && v !== "signal") throw new UsageError(`--interrupt-mode must be message or signal, not ${v}`);
          interruptMode = v;
        } else if (a.split("=")[0] in limitOptions) {
          const option = a.split("=")[0], v = value();
          try {
            parseSize(v, 1);
          } catch (e) {
            throw new UsageError(`${option}: ${(e as Error).message}`);
          }
          env[limitOptions[option]] = v;
        } else throw new UsageError(`unknown option ${a}`);
      }
      if (!existsSync(join(root, "dist", "kernel.js"))) throw new Error(`${join(root, "dist", "kernel.js")} is missing: run npm run build`);
      const dir = installKernelSpec({ where, name, displayName, interruptMode, root, env });
      console.log(`Installed the gradbook kernelspec in ${dir}`);
      return 0;
    },
  },
};

// release, validate, grade (kernel/grader/).
Object.assign(commands, graderCommands);
// hub, class, assignment, exchange (kernel/class/).
Object.assign(commands, classCommands);

class UsageError extends Error {}

function help(): string {
  const lines = ["usage: gradbook <command> [options]", "", "commands:"];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "-h" || cmd === "--help" || cmd === "help") {
    console.log(help());
    return cmd ? 0 : 1;
  }
  const c = commands[cmd];
  if (!c) {
    console.error(`gradbook: unknown command ${JSON.stringify(cmd)}\n\n${help()}`);
    return 2;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    console.log(`usage: ${c.usage}`);
    return 0;
  }
  try {
    return await c.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`gradbook ${cmd}: ${e.message}\nusage: ${c.usage}`);
      return 2;
    }
    console.error(`gradbook ${cmd}: ${(e as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
