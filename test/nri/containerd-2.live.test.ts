// procview's NRI plugin on containerd 2 (Debian sid's 2.1.9, NRI 0.8), unpacked into a private prefix, over CRI.
import { containerdSuite } from "./support/containerd-suite.js";

containerdSuite("2");
