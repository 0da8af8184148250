// The static tree under the mountpoint, in LXCFS's layout so that manifests written for
// /var/lib/lxcfs work unchanged against procview's mountpoint.
import type { DirEntry } from "../kernel/request-loop.js";
import type { NodeAttributes } from "../kernel/encode.js";
import { FUSE_ROOT_ID, S_IFDIR, S_IFREG } from "../kernel/protocol.js";

export const VIEW_NAMES = [
  "meminfo",
  "cpuinfo",
  "stat",
  "uptime",
  "loadavg",
  "diskstats",
  "swaps",
  "cpu-online",
  "cpu-possible",
  "cpu-present",
  "cpu-offline",
] as const;
export type ViewName = (typeof VIEW_NAMES)[number];

/** Relative path of each served file under the mountpoint. */
export const VIEW_PATHS: Readonly<Record<ViewName, string>> = {
  meminfo: "proc/meminfo",
  cpuinfo: "proc/cpuinfo",
  stat: "proc/stat",
  uptime: "proc/uptime",
  loadavg: "proc/loadavg",
  diskstats: "proc/diskstats",
  swaps: "proc/swaps",
  "cpu-online": "sys/devices/system/cpu/online",
  "cpu-possible": "sys/devices/system/cpu/possible",
  "cpu-present": "sys/devices/system/cpu/present",
  "cpu-offline": "sys/devices/system/cpu/offline",
};

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
const DIR_MODE = S_IFDIR | 0o555;

/** Node ids are assigned in a fixed order, so they are the same in every procview process. */
export function buildTree(): TreeNode[] {
  const nodes: TreeNode[] = [];
  const addNode = (parent: number, mode: number, view?: ViewName): number => {
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
        child = addNode(dir, index === parts.length - 1 ? FILE_MODE : DIR_MODE, index === parts.length - 1 ? view : undefined);
        children.set(part, child);
        if (index < parts.length - 1) byIno(dir).attr.nlink++;
      }
      dir = child;
    });
  }

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
