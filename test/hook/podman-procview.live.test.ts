// Real podman + runc, the hook from a --hooks-dir, procview's own service as
// the source (fails until `procview serve` exists).
import { podmanSuite } from "../support/podman-suite.js";
import { startProcview } from "../../testbed/procview.js";

podmanSuite("procview", startProcview);
