// NRI's side of one CreateContainer across several plugins, reduced to mounts, as
// containerd/nri's pkg/adaptation does it in every release procview speaks to (0.6 to 0.12):
// adaptation.go CreateContainer calls the plugins one at a time, in invocation order, under the
// adaptation's lock, each with the same request object; result.go adjustMounts appends each
// mount a plugin adds to that request's container mounts (replacing a mount of the same
// destination), so a later plugin sees it; owners.claimMount fails the whole container when a
// second plugin sets a destination another one has set. A plugin whose connection closes, or
// whose deadline passes, before it answers is dropped and counts as having answered nothing
// (plugin.go createContainer, isFatalError).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  CreateContainerRequestSchema,
  CreateContainerResponseSchema,
  MountSchema,
  type CreateContainerRequest,
} from "../../../nri/gen/nri/pkg/api/api_pb.js";

export interface AdaptedPlugin {
  /** As NRI names it: <index>-<name>. */
  name: string;
  /** The plugin's answer to the request, or "gone" when its connection closed (or its deadline passed) first. */
  createContainer(payload: Uint8Array): Promise<Uint8Array | "gone">;
}

export interface AddedMount {
  destination: string;
  source: string;
  plugin: string;
}

export type Adapted = { ok: true; mounts: AddedMount[]; dropped: string[] } | { ok: false; error: string };

/** The outcome of one CreateContainer: the mounts the container gets, or NRI's refusal. */
export async function adaptCreateContainer(plugins: readonly AdaptedPlugin[], request: CreateContainerRequest): Promise<Adapted> {
  const container = request.container;
  if (!container) throw new Error("a CreateContainerRequest needs a container");
  const owners = new Map<string, string>();
  const mounts: AddedMount[] = [];
  const dropped: string[] = [];
  for (const plugin of plugins) {
    const answer = await plugin.createContainer(toBinary(CreateContainerRequestSchema, request));
    if (answer === "gone") {
      dropped.push(plugin.name);
      continue;
    }
    for (const m of fromBinary(CreateContainerResponseSchema, answer).adjust?.mounts ?? []) {
      const other = owners.get(m.destination);
      if (other !== undefined)
        return { ok: false, error: `plugins "${plugin.name}" and "${other}" both tried to set mount ${m.destination}` };
      owners.set(m.destination, plugin.name);
      mounts.push({ destination: m.destination, source: m.source, plugin: plugin.name });
      container.mounts = [...container.mounts.filter((x) => x.destination !== m.destination), create(MountSchema, m)];
    }
  }
  return { ok: true, mounts, dropped };
}
