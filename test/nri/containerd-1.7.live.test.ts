// procview's NRI plugin on containerd 1.7 (Debian trixie's 1.7.24, NRI 0.6), over CRI.
import { containerdSuite } from "./support/containerd-suite.js";

containerdSuite("1.7");
