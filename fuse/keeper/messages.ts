// What the keeper and a serving process tell each other over the IPC channel, and the config a
// serving process is started with. Both sides validate: they may run different installed
// versions during an upgrade (`procview reload`).
import { z } from "zod";
import { fitsSocketPath } from "../../core/paths.js";
import { RenderOptionsSchema } from "../server/worker-protocol.js";
import { ShareLimitsSchema } from "../server/share.js";

export const ServingConfigSchema = z.object({
  /** The inherited /dev/fuse descriptor. */
  fd: z.number().int().min(3),
  epoch: z.number().int().min(1).max(4095),
  threads: z.number().int().min(1).max(64),
  loadIntervalSeconds: z.number().positive(),
  /** The mountpoint served (the hook probes it in-process). */
  mountPoint: z.string().startsWith("/"),
  /** Where procview-hook (the C client) finds us; null: no hook socket. */
  hookSocket: z.string().startsWith("/").refine(fitsSocketPath, "too long for a unix socket path").nullable(),
  render: RenderOptionsSchema,
  share: ShareLimitsSchema,
});
export type ServingConfig = z.infer<typeof ServingConfigSchema>;

export const FromServingSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready") }),
  z.object({
    type: z.literal("stats"),
    opens: z.number(),
    rerendered: z.number(),
    renderFailures: z.number(),
    containers: z.number(),
    hooksServed: z.number(),
  }),
]);
export type FromServing = z.infer<typeof FromServingSchema>;

export const ToServingSchema = z.discriminatedUnion("type", [z.object({ type: z.literal("resend") })]);
export type ToServing = z.infer<typeof ToServingSchema>;

/** fd 3 of a serving process is the /dev/fuse descriptor; fd 4 the IPC channel. */
export const SERVING_FUSE_FD = 3;
