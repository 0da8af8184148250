// An OCI image archive (an oci-layout: oci-layout, index.json, blobs/sha256/…, in one tar) of a
// single gzipped layer made from a directory, as `ctr images import` loads it (the index
// carries the name it registers). Used by `npm run image` and by the tests' busybox image.
// Reproducible: entries in sorted order, owned by root, with one fixed mtime. The archive is
// "portable" (no owner recorded: everything is root's), which also drops group and other write
// bits: an image made this way has no world-writable directory (none is wanted).
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { create as createTar } from "tar";

export interface ImageSpec {
  /** Directory to become the single layer (its entries must be root's: the layer keeps no owner). */
  rootfs: string;
  /** Full reference, e.g. localhost/procview:0.1.0. */
  name: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  labels?: Record<string, string>;
  workingDir?: string;
}

export interface WrittenImage {
  /** The archive's size, what a registry or `ctr images import` moves. */
  archiveBytes: number;
  /** The layer before compression, what a node unpacks. */
  layerBytes: number;
  /** The image's identity (its manifest's digest). */
  digest: string;
}

const EPOCH = new Date(0);
const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const gzipAsync = promisify(gzip);

/** Every path under `root`, relative, sorted, each directory before what it holds. */
async function entries(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(path.join(root, rel))).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    out.push(r);
    if ((await lstat(path.join(root, r))).isDirectory()) out.push(...(await entries(root, r)));
  }
  return out;
}

/** A tar of `files` (relative to `cwd`), portable (no owner, no host-specific fields), fixed mtime. */
async function tarOf(cwd: string, files: string[], recurse: boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createTar({ cwd, portable: true, mtime: EPOCH, noDirRecurse: !recurse, follow: false }, files))
    chunks.push(chunk);
  return Buffer.concat(chunks);
}

export async function writeOciImage(spec: ImageSpec, out: string): Promise<WrittenImage> {
  const layer = await tarOf(spec.rootfs, await entries(spec.rootfs), false);
  const compressed = await gzipAsync(layer, { level: 9 });
  const config = Buffer.from(
    JSON.stringify({
      created: EPOCH.toISOString(),
      architecture: process.arch === "x64" ? "amd64" : process.arch,
      os: "linux",
      config: {
        ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        Env: spec.env ?? ["PATH=/bin"],
        WorkingDir: spec.workingDir ?? "/",
        ...(spec.labels ? { Labels: spec.labels } : {}),
      },
      rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layer)}`] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha256(config)}`, size: config.length },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${sha256(compressed)}`, size: compressed.length },
      ],
      ...(spec.labels ? { annotations: spec.labels } : {}),
    }),
  );
  const digest = `sha256:${sha256(manifest)}`;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest,
          size: manifest.length,
          annotations: { "io.containerd.image.name": spec.name, "org.opencontainers.image.ref.name": spec.name.split(":").pop()! },
        },
      ],
    }),
  );
  const layout = await mkdtemp(path.join(tmpdir(), "procview-oci-"));
  try {
    await mkdir(path.join(layout, "blobs", "sha256"), { recursive: true });
    await writeFile(path.join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(path.join(layout, "index.json"), index);
    for (const blob of [config, manifest, compressed]) await writeFile(path.join(layout, "blobs", "sha256", sha256(blob)), blob);
    const archive = await tarOf(layout, ["oci-layout", "index.json", "blobs"], true);
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, archive);
    return { archiveBytes: archive.length, layerBytes: layer.length, digest };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}
