// Which cgroup an OCI linux.cgroupsPath names, the way runc reads it (fuse/cgroup/registered.ts).
import test from "ava";
import { cgroupOfPath } from "../../fuse/cgroup/registered.js";

test("cgroupfs paths: absolute or relative to the root", (t) => {
  t.is(cgroupOfPath("/kubepods/besteffort/pod1234/ctr"), "/kubepods/besteffort/pod1234/ctr");
  t.is(cgroupOfPath("k8s.io/abc"), "/k8s.io/abc");
  t.is(cgroupOfPath("/machine.slice/libpod-abc.scope/container"), "/machine.slice/libpod-abc.scope/container");
});

test("systemd's slice:prefix:name: the slice nested by its dashes, the unit a scope", (t) => {
  t.is(
    cgroupOfPath("kubepods-besteffort-pod1234.slice:cri-containerd:abc"),
    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/cri-containerd-abc.scope",
  );
  t.is(cgroupOfPath("machine.slice:libpod:abc"), "/machine.slice/libpod-abc.scope");
  t.is(cgroupOfPath(":crio:abc"), "/system.slice/crio-abc.scope", "no slice: system.slice");
  t.is(cgroupOfPath("-.slice::abc"), "/abc.scope", "the root slice, no prefix");
  t.is(cgroupOfPath("user.slice::my.slice"), "/user.slice/my.slice", "a name that is a slice is the unit itself");
});

test("nothing for a path that climbs, is empty, or has a malformed slice", (t) => {
  for (const bad of ["", "/", "/a/../b", "../x", "/a/./b", "bad-.slice:p:n", "a--b.slice:p:n", "notaslice:p:n", "x.slice:p:", "/a b"]) {
    t.is(cgroupOfPath(bad), null, bad);
  }
});
