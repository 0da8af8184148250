// How the handle store (open files and the memory of their rendered text) is shared between
// the tenants of a node: every container is a tenant, and so is the host. The sizes come from
// the node, each can be set by a flag of `procview serve`; what is derived from them is here.
import { totalmem } from "node:os";
import { z } from "zod";
import { PAGE_SIZE, type ShareRules } from "./handle-store.js";

export type { ShareRules };

export const ShareLimitsSchema = z
  .object({
    /** Open files at once, every tenant together. */
    handles: z.number().int().min(64).max(1_000_000),
    /** 4 KiB pages of rendered text, every tenant together: the store's memory bound. */
    pages: z
      .number()
      .int()
      .min(64)
      .max(1 << 22),
    /** At most this many open files per container. */
    containerHandles: z.number().int().min(1),
    /** At most this many pages per container. */
    containerPages: z.number().int().min(1),
  })
  .strict();
export type ShareLimits = z.infer<typeof ShareLimitsSchema>;

const MiB = 1024 * 1024;

/** Defaults from the node: the store's memory is 1/128 of RAM, between 32 and 256 MiB (only
 * what is used is ever touched); a container may hold 1024 files and 4 MiB of it. */
export function defaultShareLimits(memoryBytes = totalmem()): ShareLimits {
  const storeMiB = Math.min(256, Math.max(32, Math.floor(memoryBytes / 128 / MiB)));
  return { handles: 16_384, pages: (storeMiB * MiB) / PAGE_SIZE, containerHandles: 1024, containerPages: (4 * MiB) / PAGE_SIZE };
}

export function shareRules(limits: ShareLimits): ShareRules {
  const containerHandles = Math.min(limits.containerHandles, limits.handles);
  const containerPages = Math.min(limits.containerPages, limits.pages);
  return {
    ...limits,
    containerHandles,
    containerPages,
    floorHandles: Math.min(32, containerHandles),
    floorPages: Math.min(64, containerPages),
    hostHandles: Math.min(256, Math.floor(limits.handles / 8)),
    hostPages: Math.min(1024, Math.floor(limits.pages / 8)),
    // Twice the handles: a tenant holds a handle, or has refusals waiting to be reported.
    tenants: 2 * limits.handles,
  };
}
