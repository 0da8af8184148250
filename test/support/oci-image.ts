// An OCI image tarball built in TypeScript from a directory: an oci-layout
// (oci-layout, index.json, blobs/sha256/{manifest,config,layer}) in a ustar
// archive, with one uncompressed layer tar of the directory. Enough for
// `ctr images import` (the index carries the image name annotation it uses).
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import path from "node:path";

interface Entry {
  name: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  data?: Buffer;
  linkname?: string;
}

function header(e: Entry): Buffer {
  const h = Buffer.alloc(512);
  let name = e.name;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 154);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`tar: path too long for ustar: ${name}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  const put = (s: string, off: number, len: number): void => void h.write(s, off, len, "utf8");
  const oct = (n: number, off: number, len: number): void => put(n.toString(8).padStart(len - 1, "0") + "\0", off, len);
  put(name, 0, 100);
  oct(e.mode & 0o7777, 100, 8);
  oct(0, 108, 8);
  oct(0, 116, 8);
  oct(e.type === "file" ? e.data!.length : 0, 124, 12);
  oct(0, 136, 12); // mtime: reproducible
  h.fill(" ", 148, 156);
  put(e.type === "file" ? "0" : e.type === "dir" ? "5" : "2", 156, 1);
  if (e.linkname) put(e.linkname, 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

export function tar(entries: readonly Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e));
    if (e.type === "file") {
      parts.push(e.data!);
      const pad = (512 - (e.data!.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

async function walk(root: string, rel = ""): Promise<Entry[]> {
  const out: Entry[] = [];
  const names = (await readdir(path.join(root, rel))).sort();
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    const full = path.join(root, r);
    const st = await lstat(full);
    if (st.isSymbolicLink()) out.push({ name: r, type: "symlink", mode: 0o777, linkname: await readlink(full) });
    else if (st.isDirectory()) {
      out.push({ name: r + "/", type: "dir", mode: st.mode });
      out.push(...(await walk(root, r)));
    } else if (st.isFile()) out.push({ name: r, type: "file", mode: st.mode, data: await readFile(full) });
  }
  return out;
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

export interface ImageSpec {
  /** Directory to become the single layer. */
  rootfs: string;
  /** Full reference, e.g. docker.io/procview/busybox:test. */
  name: string;
  cmd: string[];
}

/** Writes the image tarball to `out`. */
export async function writeOciImage(spec: ImageSpec, out: string): Promise<void> {
  const layer = tar(await walk(spec.rootfs));
  const layerDigest = sha(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === "x64" ? "amd64" : process.arch,
      os: "linux",
      config: { Cmd: spec.cmd, Env: ["PATH=/bin"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha(config)}`, size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${layerDigest}`, size: layer.length }],
    }),
  );
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: `sha256:${sha(manifest)}`,
          size: manifest.length,
          annotations: { "io.containerd.image.name": spec.name, "org.opencontainers.image.ref.name": spec.name.split(":").pop()! },
        },
      ],
    }),
  );
  const blob = (b: Buffer): Entry => ({ name: `blobs/sha256/${sha(b)}`, type: "file", mode: 0o644, data: b });
  await writeFile(
    out,
    tar([
      { name: "oci-layout", type: "file", mode: 0o644, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
      { name: "index.json", type: "file", mode: 0o644, data: index },
      { name: "blobs/", type: "dir", mode: 0o755 },
      { name: "blobs/sha256/", type: "dir", mode: 0o755 },
      blob(config),
      blob(manifest),
      blob(layer),
    ]),
  );
}
