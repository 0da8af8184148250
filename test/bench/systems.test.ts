// Reading /proc/self/mountinfo for the bench's leftover-mount safety net (bench/systems.ts).
import test from "ava";
import { mountPoints } from "../../bench/systems.js";

test("mount points are field 5 of mountinfo, octal escapes undone", (t) => {
  const info = [
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
    "412 22 0:52 / /tmp/procview-lxcfs-Og06kh/mnt rw,nosuid,nodev,relatime shared:230 - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other",
    "413 22 0:53 / /tmp/with\\040space rw - fuse.procview procview rw",
    "",
  ].join("\n");
  t.deepEqual(mountPoints(info), ["/", "/tmp/procview-lxcfs-Og06kh/mnt", "/tmp/with space"]);
});
