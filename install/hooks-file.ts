// The containers/common hooks file (pkg/hooks, schema version 1.0.0) that
// makes podman and CRI-O add procview-hook to every container's config.
import { z } from "zod";

// runc runs a hook with exactly this env (libcontainer/configs Command.Run
// sets cmd.Env = hook env), so no PATH unless we give one. The hook itself
// uses absolute paths for nsenter/mount; PATH is for anything node spawns.
export const HOOK_ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"];

// runc kills a hook that runs past this; the hook's own watchdog (20 s)
// should always answer first.
export const HOOK_TIMEOUT_S = 30;

// "prestart", not "createRuntime": containers/common v0.50 (podman 4.3, Debian 12)
// copies prestart entries to the spec's prestart list and v0.58+ (commit
// dc0f2633, "hooks: handle prestart as createRuntime") moves them to
// createRuntime; runc v1.1 runs prestart and createRuntime back to back at the
// same point (process_linux.go, procHooks), so either way the hook runs once,
// before pivot_root. Listing both stages would run it twice.
export const HOOK_STAGES = ["prestart"];

export const HooksFileSchema = z
  .object({
    version: z.literal("1.0.0"),
    hook: z.object({
      path: z.string().startsWith("/"),
      args: z.array(z.string()).min(1),
      env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=/)).optional(),
      timeout: z.number().int().positive().optional(),
    }),
    when: z.object({
      always: z.boolean().optional(),
      annotations: z.record(z.string()).optional(),
      commands: z.array(z.string()).optional(),
      hasBindMounts: z.boolean().optional(),
    }),
    stages: z.array(z.enum(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])).min(1),
  })
  .strict();
export type HooksFile = z.infer<typeof HooksFileSchema>;

export interface HookInvocation {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of dist/procview-hook.mjs. */
  hook: string;
  /** Extra hook flags baked into the entry, e.g. ["--source", "/var/lib/lxcfs"]. */
  hookArgs?: string[];
  /** Run procview-hook (the C client, dist/native/procview-hook), which has the running serving process
   * do the work over `socket` and runs `node hook` itself when nobody answers there. Without
   * it, the runtime runs the Node hook directly (~50-75 ms of Node start-up per container). */
  client?: { path: string; socket: string };
}

/** The hook's argv as the hooks file gives it to the runtime. */
export function hookCommand(inv: HookInvocation): { path: string; args: string[] } {
  const hookArgs = inv.hookArgs ?? [];
  if (!inv.client) return { path: inv.node, args: ["node", inv.hook, ...hookArgs] };
  return {
    path: inv.client.path,
    args: ["procview-hook", "--socket", inv.client.socket, "--node", inv.node, "--bundle", inv.hook, "--", ...hookArgs],
  };
}

export function buildHooksFile(inv: HookInvocation): HooksFile {
  return HooksFileSchema.parse({
    version: "1.0.0",
    hook: {
      ...hookCommand(inv),
      env: HOOK_ENV,
      timeout: HOOK_TIMEOUT_S,
    },
    when: { always: true },
    stages: HOOK_STAGES,
  });
}

/** The files a hooks entry needs to run: the program, and the Node hook it runs (directly, or
 * from procview-hook's --node/--bundle when the serving process does not answer). */
export function hookPrograms(hook: HooksFile["hook"]): string[] {
  const valueOf = (flag: string): string | undefined => {
    const at = hook.args.indexOf(flag);
    return at >= 0 ? hook.args[at + 1] : undefined;
  };
  if (hook.args[0] === "procview-hook") return [hook.path, valueOf("--node") ?? "", valueOf("--bundle") ?? ""];
  return [hook.path, hook.args[1] ?? ""];
}
