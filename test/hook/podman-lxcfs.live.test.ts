// Real podman + runc, the hook from a --hooks-dir, Debian's lxcfs as the source.
import { podmanSuite } from "../support/podman-suite.js";
import { startLxcfs } from "../../testbed/lxcfs.js";

podmanSuite("lxcfs", startLxcfs);
