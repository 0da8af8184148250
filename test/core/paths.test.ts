// Names procview gives its runtime files (registry, status file, keeper and hook sockets).
import test from "ava";
import { hookSocketPath, keeperSocketPath, registryDir, runtimeName, statusPath } from "../../core/paths.js";

test("every mountpoint gets a name of its own: /a/b-c and /a-b/c no longer share a registry, status file or socket", (t) => {
  const paths = ["/a/b-c", "/a-b/c", "/a/b_c", "/a_b/c", "/a/b/c", "/a/b c", "/a/b.c", "/ab/c", "/"];
  const names = paths.map(runtimeName);
  t.is(new Set(names).size, paths.length, names.join(" "));
  for (const of of [registryDir, statusPath, keeperSocketPath, hookSocketPath]) {
    t.not(of("/a/b-c"), of("/a-b/c"));
  }
});

test("the default mountpoint's names are the ones earlier versions used; one directory, one name", (t) => {
  t.is(runtimeName("/var/lib/procview"), "var-lib-procview");
  t.is(registryDir("/var/lib/procview", "/run/procview"), "/run/procview/containers/var-lib-procview");
  t.is(hookSocketPath("/var/lib/procview", "/run/procview"), "/run/procview/hook/var-lib-procview.sock");
  t.is(runtimeName("/var//lib/./procview/"), "var-lib-procview");
  t.is(runtimeName("/a/b-c"), "a-b_2dc");
});
