// The one mountinfo parser: fields 3 (device), 4 (root), 5 (mount point), 6 (options) and the two after
// the separator, octal escapes undone.
import test from "ava";
import { mountsAt, parseMountinfo } from "../../core/mountinfo.js";

const INFO = [
  "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
  "412 22 0:52 / /tmp/procview-lxcfs-Og06kh/mnt rw,nosuid,nodev,relatime shared:230 - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other",
  "413 22 0:53 / /tmp/with\\040space rw - fuse.procview procview rw",
  "900 850 0:53 /containers/abc/proc/meminfo /proc/meminfo ro,nosuid,nodev master:1 - fuse.procview procview rw",
  "",
].join("\n");

test("mount points are field 5, octal escapes undone", (t) => {
  t.deepEqual(
    parseMountinfo(INFO).map((m) => m.mountPoint),
    ["/", "/tmp/procview-lxcfs-Og06kh/mnt", "/tmp/with space", "/proc/meminfo"],
  );
});

test("a bind's device, root, options, type and source", (t) => {
  t.deepEqual(mountsAt("/proc/meminfo", parseMountinfo(INFO)), [
    {
      device: "0:53",
      root: "/containers/abc/proc/meminfo",
      mountPoint: "/proc/meminfo",
      options: "ro,nosuid,nodev",
      fstype: "fuse.procview",
      source: "procview",
      superOptions: "rw",
    },
  ]);
});

test("a cgroup mount's root and the controllers in its super options", (t) => {
  const [v1, v2] = parseMountinfo(
    "30 25 0:26 /kubepods/pod1/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n" +
      "31 25 0:27 /machine.slice/libpod-1.scope/container /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
  );
  t.like(v1, { root: "/kubepods/pod1/abc", fstype: "cgroup", superOptions: "rw,cpu,cpuacct" });
  t.like(v2, { root: "/machine.slice/libpod-1.scope/container", fstype: "cgroup2", superOptions: "rw,nsdelegate" });
});

test("lines without the separator are ignored", (t) => {
  t.deepEqual(parseMountinfo("garbage line\n1 2 3\n"), []);
});

test("the device (field 3) tells one FUSE connection's mounts from another's", (t) => {
  t.deepEqual(
    parseMountinfo(INFO).map((m) => m.device),
    ["8:1", "0:52", "0:53", "0:53"],
  );
});
