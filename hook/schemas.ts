// Schemas for everything the hook reads from outside. Unknown fields are
// passed through on the OCI documents on purpose: runtimes disagree (crun
// reports status "created" plus extra fields where runc says "creating"), and
// the spec keeps growing. Only the hook's own config file is strict, so that a
// typo in it is reported instead of silently ignored.
import { z } from "zod";

const absolutePath = z
  .string()
  .min(1)
  .refine((p) => p.startsWith("/"), { message: "must be an absolute path" })
  .refine((p) => !p.includes("\0"), { message: "must not contain NUL" });

export const OciStateSchema = z
  .object({
    ociVersion: z.string(),
    id: z.string().min(1),
    status: z.string(),
    pid: z.number().int().positive(),
    bundle: absolutePath,
    annotations: z.record(z.string()).optional(),
  })
  .passthrough();
export type OciState = z.infer<typeof OciStateSchema>;

const MountSchema = z
  .object({
    destination: z.string().min(1),
    type: z.string().optional(),
    source: z.string().optional(),
    options: z.array(z.string()).optional(),
  })
  .passthrough();
export type OciMount = z.infer<typeof MountSchema>;

const NamespaceSchema = z.object({ type: z.string(), path: z.string().optional() }).passthrough();

export const OciConfigSchema = z
  .object({
    ociVersion: z.string().optional(),
    root: z.object({ path: z.string().min(1), readonly: z.boolean().optional() }).passthrough(),
    mounts: z.array(MountSchema).optional(),
    annotations: z.record(z.string()).optional(),
    linux: z
      .object({
        maskedPaths: z.array(z.string()).optional(),
        readonlyPaths: z.array(z.string()).optional(),
        namespaces: z.array(NamespaceSchema).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type OciConfig = z.infer<typeof OciConfigSchema>;

export const PolicySchema = z.enum(["fail", "ignore"]);
export type Policy = z.infer<typeof PolicySchema>;

// /etc/procview/hook.json
export const HookConfigFileSchema = z
  .object({
    source: absolutePath.optional(),
    policy: PolicySchema.optional(),
    probeTimeoutMs: z.number().int().min(50).max(30_000).optional(),
    runtimeDir: absolutePath.optional(),
  })
  .strict();
export type HookConfigFile = z.infer<typeof HookConfigFileSchema>;
