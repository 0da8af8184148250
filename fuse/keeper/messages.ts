// What the keeper (fuse/keeper/native, C) and a serving process tell each other, and the config
// a serving process is started with. The keeper starts `COMMAND... EPOCH` with fd 3 a unix
// stream socket to itself (one line of text per message, each way) and fds 4, 5, … its FUSE
// connections. Both sides ignore what they do not know: during an upgrade (`procview reload`)
// the keeper may be older than the serving code.
import { z } from "zod";
import { fitsSocketPath } from "../../core/paths.js";
import { RenderOptionsSchema } from "../server/worker-protocol.js";
import { ShareLimitsSchema } from "../server/share.js";

/** The channel to the keeper. */
export const KEEPER_CHANNEL_FD = 3;
/** The first FUSE connection (the tree at the mountpoint); later ones follow. */
export const SERVING_FUSE_FD = 4;

export const ServingConfigSchema = z.object({
  /** The inherited /dev/fuse descriptor. */
  fd: z.number().int().min(SERVING_FUSE_FD),
  threads: z.number().int().min(1).max(64),
  loadIntervalSeconds: z.number().positive(),
  /** The mountpoint served (the hook probes it in-process). */
  mountPoint: z.string().startsWith("/"),
  /** Where procview-hook (the C client) finds us; null: no hook socket. */
  hookSocket: z.string().startsWith("/").refine(fitsSocketPath, "too long for a unix socket path").nullable(),
  /** Where this instance records its connections, for the restore of its own dead views. */
  connections: z.string().startsWith("/"),
  render: RenderOptionsSchema,
  share: ShareLimitsSchema,
});
export type ServingConfig = z.infer<typeof ServingConfigSchema>;

/** Set by the keeper per process: distinguishes its file handles from its predecessors'. */
export const EpochSchema = z.coerce.number().int().min(1).max(4095);

/** keeper → serving: serve now; have the kernel queue again what a predecessor left
 * unanswered; bring back the views of running containers (the first serving process after a
 * fresh mount). */
export const ToServingSchema = z.enum(["activate", "resend", "restore"]);
export type ToServing = z.infer<typeof ToServingSchema>;

/** serving → keeper. */
export type FromServing =
  /** Loaded; a serving thread waits at its gate. */
  | { type: "standby" }
  /** Answering requests. */
  | { type: "ready" }
  | { type: "stats"; opens: number; rerendered: number; renderFailures: number; containers: number; hooksServed: number }
  | { type: "restored"; views: number };

export function formatFromServing(message: FromServing): string {
  switch (message.type) {
    case "stats":
      return `stats ${message.opens} ${message.rerendered} ${message.renderFailures} ${message.containers} ${message.hooksServed}\n`;
    case "restored":
      return `restored ${message.views}\n`;
    default:
      return `${message.type}\n`;
  }
}
