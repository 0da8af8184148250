// The static tree under the mountpoint (core/layout.ts), with node ids, attributes and
// directory listings, plus the per-container copies under containers/<id>/.
import type { DirEntry } from "../kernel/request-loop.js";
import type { NodeAttributes } from "../kernel/encode.js";
import { FUSE_ROOT_ID, S_IFDIR, S_IFREG } from "../kernel/protocol.js";
import { CONTAINERS_DIR, CONTAINER_ID, ROOT_ONLY_VIEWS, VIEW_NAMES, VIEW_PATHS, containerHash, type ViewName } from "../../core/layout.js";

export interface TreeNode {
  attr: NodeAttributes;
  parent: number;
  /** Set on files. */
  view?: ViewName;
  /** Set on directories: name → child ino. */
  children?: Map<string, number>;
  /** Set on directories: the READDIR listing, "." and ".." first. */
  entries?: DirEntry[];
}

const FILE_MODE = S_IFREG | 0o444;
const ROOT_ONLY_FILE_MODE = S_IFREG | 0o400;
const DIR_MODE = S_IFDIR | 0o555;

// Node ids are what the kernel caches (directory entries for an hour, on a connection that
// outlives the serving process): after a reload into newer code each id must still name the
// same node. containers/ keeps the id it was first given; views added since come after it.
const CONTAINERS_INO = 18;

// Dynamic node ids: BASE + hash(id) · SPAN + the static node id it mirrors. Decoding needs no
// state, so every serving thread, and every later serving process, reads them alike.
const DYNAMIC_BASE = 2 ** 45;
const DYNAMIC_SPAN = 32;
const HASH_SPACE = 2 ** 40;

// The hash is defined with the layout (core/layout.ts): the registry refuses an id whose hash a
// registered container holds already, so two registered ids never share their node ids.
export { containerHash };

/**
 * The served tree. The top level is LXCFS's layout (proc/…, sys/…), so manifests written for
 * /var/lib/lxcfs work unchanged. containers/<id>/ repeats it with inodes of its own for each
 * container: bind mounts taken from there never share an inode — and so never a page of the
 * page cache — with another container's (sendfile/splice readers go through the page cache).
 */
export class Tree {
  private readonly nodes: TreeNode[];
  private readonly containersIno: number;
  private readonly dynamic = new Map<number, TreeNode>();

  constructor() {
    this.nodes = buildStaticTree(CONTAINERS_INO);
    this.containersIno = CONTAINERS_INO;
    const root = this.nodes[0]!;
    const containers: TreeNode = {
      attr: { ino: this.containersIno, mode: DIR_MODE, nlink: 2, size: 0 },
      parent: FUSE_ROOT_ID,
      children: new Map(),
    };
    containers.entries = [
      { name: ".", attr: containers.attr },
      { name: "..", attr: root.attr },
    ];
    this.nodes[CONTAINERS_INO - FUSE_ROOT_ID] = containers;
    root.children!.set(CONTAINERS_DIR, this.containersIno);
    root.attr.nlink++;
    root.entries!.push({ name: CONTAINERS_DIR, attr: containers.attr });
    if (this.nodes.length > DYNAMIC_SPAN) throw new Error("the static tree outgrew the dynamic node id span");
  }

  node(ino: number): TreeNode | undefined {
    if (ino < DYNAMIC_BASE) return this.nodes[ino - FUSE_ROOT_ID];
    return this.dynamicNode(ino);
  }

  /** The node id of containers/<id>/ (the same on the per-container tree's own connection). */
  containerIno(id: string): number {
    return dynamicIno(containerHash(id), FUSE_ROOT_ID);
  }

  /** Every file of containers/<id>/: its node id and view. */
  containerFiles(id: string): { ino: number; view: ViewName }[] {
    const hash = containerHash(id);
    return this.nodes.flatMap((node) => (node.view ? [{ ino: dynamicIno(hash, node.attr.ino), view: node.view }] : []));
  }

  /** The container hash a node id of containers/<id>/ carries; undefined for the static tree. */
  hashOf(ino: number): number | undefined {
    return ino < DYNAMIC_BASE ? undefined : decode(ino).hash;
  }

  /** containers/ itself. */
  get containersDir(): number {
    return this.containersIno;
  }

  /** The child's node id, or undefined. */
  child(parent: number, name: string): number | undefined {
    if (parent === this.containersIno) {
      return CONTAINER_ID.test(name) ? dynamicIno(containerHash(name), FUSE_ROOT_ID) : undefined;
    }
    if (parent < DYNAMIC_BASE) return this.nodes[parent - FUSE_ROOT_ID]?.children?.get(name);
    const { hash, mirrored } = decode(parent);
    // Only the top-level layout repeats inside a container's directory, not containers/ itself.
    const child = this.nodes[mirrored - FUSE_ROOT_ID]?.children?.get(name);
    return child === undefined || child === this.containersIno ? undefined : dynamicIno(hash, child);
  }

  private dynamicNode(ino: number): TreeNode | undefined {
    const cached = this.dynamic.get(ino);
    if (cached) return cached;
    const { hash, mirrored } = decode(ino);
    const template = this.nodes[mirrored - FUSE_ROOT_ID];
    if (!template || mirrored === this.containersIno || hash >= HASH_SPACE) return undefined;
    const parent = mirrored === FUSE_ROOT_ID ? this.containersIno : dynamicIno(hash, template.parent);
    const node: TreeNode = { attr: { ...template.attr, ino }, parent };
    if (template.view) node.view = template.view;
    if (template.children) {
      node.children = new Map();
      node.entries = [
        { name: ".", attr: node.attr },
        { name: "..", attr: this.node(parent)!.attr },
      ];
      for (const entry of template.entries!.slice(2)) {
        if (entry.attr.ino === this.containersIno) continue;
        node.entries.push({ name: entry.name, attr: { ...entry.attr, ino: dynamicIno(hash, entry.attr.ino) } });
      }
      if (mirrored === FUSE_ROOT_ID) node.attr.nlink--; // no containers/ inside
    }
    // Bounded: a node is rebuilt on demand, so forgetting them all costs nothing but time.
    if (this.dynamic.size >= 16_384) this.dynamic.clear();
    this.dynamic.set(ino, node);
    return node;
  }
}

function dynamicIno(hash: number, mirrored: number): number {
  return DYNAMIC_BASE + hash * DYNAMIC_SPAN + mirrored;
}

function decode(ino: number): { hash: number; mirrored: number } {
  const offset = ino - DYNAMIC_BASE;
  return { hash: Math.floor(offset / DYNAMIC_SPAN), mirrored: offset % DYNAMIC_SPAN };
}

/** Node ids are assigned in a fixed order, so they are the same in every procview process;
 * `reserved` is left to the caller (a placeholder stands there). */
function buildStaticTree(reserved: number): TreeNode[] {
  const nodes: TreeNode[] = [];
  const skipReserved = () => {
    if (nodes.length + FUSE_ROOT_ID === reserved)
      nodes.push({ attr: { ino: reserved, mode: DIR_MODE, nlink: 2, size: 0 }, parent: FUSE_ROOT_ID });
  };
  const addNode = (parent: number, mode: number, view?: ViewName): number => {
    skipReserved();
    const ino = nodes.length === 0 ? FUSE_ROOT_ID : nodes.length + FUSE_ROOT_ID;
    const node: TreeNode = { attr: { ino, mode, nlink: mode === DIR_MODE ? 2 : 1, size: 0 }, parent };
    if (view) node.view = view;
    else node.children = new Map();
    nodes.push(node);
    return ino;
  };
  const byIno = (ino: number): TreeNode => nodes[ino - FUSE_ROOT_ID]!;
  addNode(FUSE_ROOT_ID, DIR_MODE);

  for (const view of VIEW_NAMES) {
    const parts = VIEW_PATHS[view].split("/");
    let dir = FUSE_ROOT_ID;
    parts.forEach((part, index) => {
      const children = byIno(dir).children!;
      let child = children.get(part);
      if (child === undefined) {
        const file = index === parts.length - 1;
        const mode = !file ? DIR_MODE : ROOT_ONLY_VIEWS.has(view) ? ROOT_ONLY_FILE_MODE : FILE_MODE;
        child = addNode(dir, mode, file ? view : undefined);
        children.set(part, child);
        if (index < parts.length - 1) byIno(dir).attr.nlink++;
      }
      dir = child;
    });
  }

  skipReserved();
  if (nodes.length < reserved) throw new Error("the static tree ends before the reserved node id");
  for (const node of nodes) {
    if (!node.children) continue;
    node.entries = [
      { name: ".", attr: node.attr },
      { name: "..", attr: byIno(node.parent).attr },
      ...[...node.children].sort(([a], [b]) => a.localeCompare(b)).map(([name, ino]) => ({ name, attr: byIno(ino).attr })),
    ];
  }
  return nodes;
}
