/**
 * The operating-system sandbox each graded kernel runs in: bubblewrap
 * (Debian `bubblewrap`) with new user, pid, mount, ipc, uts and network
 * namespaces.
 *
 * What the kernel sees: the system (/usr, /etc and the /bin, /lib links)
 * and the built package (dist/, node_modules/, package.json, engine/,
 * widgets/) read-only at their own paths; one folder of its own, its home
 * /home/student, holding its working folder `work` (this submission's files
 * and the instructor's data files, nothing else), its temporary folder
 * `tmp` (also mounted at /tmp) and its sockets (`.gradbook`); a minimal /dev
 * and its own /proc. No network at all (only its own loopback). The
 * instructor's notebooks, other submissions, --out and anyone else's home
 * are not there to read.
 *
 * The one folder the kernel can write is mounted noexec (the rest is
 * read-only), so it cannot load native code it wrote (process.dlopen of a
 * shared library it compiled or downloaded fails); the kernel then runs
 * without any capability and with no_new_privs. Doing that takes a second
 * step inside the namespaces: the sandbox starts as root of its own user
 * namespace, remounts its home (and /tmp) noexec with util-linux's mount, sets the
 * resource limits (prlimit) and drops every capability (setpriv) before it
 * executes node.
 *
 * Limits (prlimit, in the sandbox's own user namespace): threads and
 * processes (RLIMIT_NPROC), CPU time (RLIMIT_CPU), the size of a file
 * (RLIMIT_FSIZE), data memory (RLIMIT_DATA, a backstop twice the memory
 * limit: the limit itself is V8's heap limit and the client's RSS watchdog).
 * The sandbox ends with bwrap (--die-with-parent, pid namespace): killing
 * bwrap ends every process in it.
 */
import { spawn } from "node:child_process";
import { accessSync, chownSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, sep } from "node:path";

/** Paths inside the sandbox (all in the one folder the kernel may write, its home). */
export const SANDBOX = { home: "/home/student", work: "/home/student/work", tmp: "/home/student/tmp", ipc: "/home/student/.gradbook" } as const;

/** Limits of one kernel in its sandbox. */
export interface SandboxLimits {
  /** The kernel's memory, MiB (RLIMIT_DATA is set to twice this plus 1 GiB, a backstop; V8's heap limit and the RSS watchdog enforce it). */
  memoryMb: number;
  /** Most threads and processes (RLIMIT_NPROC). */
  maxTasks: number;
  /** Largest file it may write, MiB (RLIMIT_FSIZE; the working folder's total is watched by the client). */
  fileMb: number;
  /** CPU seconds (RLIMIT_CPU), all threads together. */
  cpuSeconds: number;
}

/** bwrap: $GRADBOOK_BWRAP, else the first on PATH (then /usr/bin, /bin); null when there is none. */
export function findBwrap(): string | null {
  const env = process.env.GRADBOOK_BWRAP;
  if (env) return existsSync(env) ? env : null;
  for (const d of [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/bin"]) {
    if (!d) continue;
    const p = join(d, "bwrap");
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

/**
 * What of the package the kernel reads: dist/ (the kernel, engine and
 * widgets bundles), package.json (the `gradbook` self-reference),
 * node_modules (zeromq, typescript, webgpu, ...; also the folders holding
 * them when a dependency resolves elsewhere), engine/ and widgets/ (the
 * language service's fallback for types).
 */
export function kernelReadPaths(kernelScript: string): string[] {
  const root = dirname(dirname(kernelScript));
  const paths = [dirname(kernelScript), join(root, "package.json"), join(root, "node_modules"), join(root, "engine"), join(root, "widgets")];
  const req = createRequire(kernelScript);
  for (const dep of ["zeromq", "typescript", "webgpu"]) {
    try {
      const pj = req.resolve(`${dep}/package.json`);
      const nm = pj.slice(0, pj.lastIndexOf(`${sep}node_modules${sep}`) + `${sep}node_modules`.length);
      if (!paths.some((p) => nm === p || nm.startsWith(p + sep))) paths.push(nm);
    } catch {}
  }
  return [...new Set(paths.filter((p) => existsSync(p)))];
}

/** The system, read-only: /usr, /etc, /bin, /sbin, /lib* (links stay links), and node's own folder when it is elsewhere. */
function systemArgs(): string[] {
  const args: string[] = [];
  const bound: string[] = [];
  for (const d of ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    let st;
    try {
      st = lstatSync(d);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push("--symlink", readlinkSync(d), d);
    else if (st.isDirectory()) args.push("--ro-bind", d, d), bound.push(d);
  }
  const node = realpathSync(process.execPath);
  if (!bound.some((d) => node.startsWith(d + "/"))) {
    const prefix = dirname(dirname(node)); // e.g. /opt/node-v20/bin/node -> /opt/node-v20
    args.push("--ro-bind", prefix, prefix);
  }
  return args;
}

export interface SandboxCommand {
  /** The host folder mounted at SANDBOX.home (holding work/, tmp/ and .gradbook/): all the kernel may write. */
  home: string;
  /** Package paths mounted read-only at their own paths. */
  readOnly: string[];
  limits: SandboxLimits;
  /** The command to run, and its arguments (paths as the sandbox sees them). */
  argv: string[];
  /** An fd of the spawned bwrap on which it writes {"child-pid": N} (the sandbox's init, as the host numbers it: the kernel is its child). */
  infoFd?: number;
}

const MiB = 1 << 20;

/** bwrap's arguments for `c` (run bwrap with them). */
export function sandboxArgs(c: SandboxCommand): string[] {
  const l = c.limits;
  const cpu = Math.max(1, Math.ceil(l.cpuSeconds));
  const args = [
    "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup-try",
    // (bwrap's own init is pid 1 there: pid 1 would not get SIGXCPU, nor a signal it has no handler for)
    "--die-with-parent", "--new-session", "--hostname", "gradbook",
    // root of its own user namespace, with the capabilities the remounts below need; setpriv drops them all
    "--uid", "0", "--gid", "0", "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP",
    ...systemArgs(),
    "--dev", "/dev",
    "--proc", "/proc",
    "--bind", c.home, SANDBOX.home,
    // /tmp: the same folder as its home's tmp, mounted a second time (not a link: a package
    // that lives under the host's /tmp, as in a CI's clone, is mounted read-only inside it
    // below, and keeps its real path)
    "--bind", join(c.home, "tmp"), "/tmp",
    ...c.readOnly.flatMap((p) => ["--ro-bind", p, p]),
    "--chdir", SANDBOX.work,
    "--remount-ro", "/dev",
    "--remount-ro", "/",
  ];
  if (c.infoFd !== undefined) args.push("--info-fd", String(c.infoFd));
  // a remount must keep the atime flag of the host's mount (it is locked in a user namespace): the usual one first
  const remount = (dir: string) => `{ ${["relatime", "noatime", "strictatime"].map((a) => `mount -o remount,bind,noexec,nosuid,nodev,${a} ${dir} 2>/dev/null`).join(" || ")} || mount -o remount,bind,noexec,nosuid,nodev ${dir}; }`;
  const script = [
    remount(SANDBOX.home),
    remount("/tmp"),
    // util-linux's prlimit, then setpriv, then node (each executes the next). CPU: SIGXCPU at the
    // limit (the kernel ends, the client names the cause), SIGKILL 5 s after.
    `exec prlimit --nproc=${Math.floor(l.maxTasks)} --cpu=${cpu}:${cpu + 5} --fsize=${Math.floor(l.fileMb * MiB)} --data=${(2 * Math.floor(l.memoryMb) + 1024) * MiB} --core=0 -- ` +
      'setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all --no-new-privs "$@"',
  ].join(" && ");
  return [...args, "/bin/sh", "-c", script, "sh", ...c.argv];
}

/** Why a sandbox failed to start, as one line with the fix, from what bwrap (or the spawn) said. */
export function explainSandboxFailure(detail: string): string {
  const d = detail.trim().split("\n").filter(Boolean).slice(-3).join(" | ");
  // bwrap's words: "No permissions to creating new namespace" (EPERM), "Creating new namespace failed: ..." (ENOSPC:
  // max_user_namespaces is 0), "setting up uid map: Permission denied" (Ubuntu's AppArmor restriction)
  if (/namespace|uid map/i.test(d))
    return (
      `the sandbox cannot start: this machine does not let an unprivileged user create user namespaces (bwrap: ${d}). ` +
      "Allow them (Debian: sysctl -w kernel.unprivileged_userns_clone=1; Ubuntu 24.04: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0; everywhere: user.max_user_namespaces > 0), " +
      "or grade with --no-sandbox (no isolation from the submissions)"
    );
  return `the sandbox cannot start (bwrap: ${d}); grade with --no-sandbox to grade without it (no isolation from the submissions)`;
}

/**
 * Starts a sandbox that runs `true` the way a kernel's would be run (as
 * `user` when given), so that grading stops before it starts, with one line
 * naming the cause and the fix, when the sandbox cannot work here. Null when
 * it works.
 */
export async function checkSandbox(user: { uid: number; gid: number } | null, scratchRoot = tmpdir()): Promise<string | null> {
  const bwrap = findBwrap();
  if (!bwrap)
    return "the sandbox cannot start: bubblewrap (bwrap) is not installed. Install it (apt-get install bubblewrap), or grade with --no-sandbox (no isolation from the submissions)";
  const dir = mkdtempSync(join(scratchRoot, "sandbox-check-"));
  try {
    const home = join(dir, "home");
    for (const d of ["work", "tmp"]) mkdirSync(join(home, d), { recursive: true });
    if (user) for (const d of [dir, home, join(home, "work"), join(home, "tmp")]) chownSync(d, user.uid, user.gid);
    const args = sandboxArgs({ home, readOnly: [], limits: { memoryMb: 256, maxTasks: 64, fileMb: 1, cpuSeconds: 10 }, argv: ["/bin/true"] });
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      let err = "";
      const p = spawn(bwrap, args, { stdio: ["ignore", "ignore", "pipe"], uid: user?.uid, gid: user?.gid, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
      p.stderr!.on("data", (d: Buffer) => (err += d.toString("utf8")));
      p.on("error", (e) => resolve({ code: null, err: e.message }));
      p.on("exit", (code) => resolve({ code, err }));
    });
    return r.code === 0 ? null : explainSandboxFailure(r.err || `bwrap exited with code ${r.code}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Bytes and entries under `dir` (links not followed), counting stops past
 * `maxBytes` or `maxEntries` (the answer is then "over").
 */
export function folderUsage(dir: string, maxBytes: number, maxEntries: number): { bytes: number; entries: number; over: boolean } {
  let bytes = 0, entries = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (++entries > maxEntries) return { bytes, entries, over: true };
      const p = join(d, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) stack.push(p);
      else bytes += Math.max(st.size, st.blocks * 512);
      if (bytes > maxBytes) return { bytes, entries, over: true };
    }
  }
  return { bytes, entries, over: false };
}
