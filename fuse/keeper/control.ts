// Asking the keeper over its control socket (fuse/keeper/native/control.c): one request line,
// one answer. Only root can connect (the socket is 0600 and the keeper checks the peer), and
// nothing is decided from a file: a forged status file cannot steer a reload.
import { createConnection } from "node:net";
import { parseStatus, type KeeperStatus } from "./status.js";
import { keeperSocketPath } from "../../core/paths.js";

/** Nobody answers on the socket: no keeper runs for this mountpoint (or not as root). */
export class KeeperUnreachable extends Error {
  override name = "KeeperUnreachable";
}

export function askKeeper(socketPath: string, request: "status" | "reload", timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let answer = "";
    let connected = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the keeper on ${socketPath} did not answer "${request}" within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      connected = true;
      socket.write(`${request}\n`);
    });
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === "EACCES" ? "permission denied: ask as root" : (err.code ?? err.message);
      reject(connected ? err : new KeeperUnreachable(`no procview keeper answers on ${socketPath} (${why})`));
    });
    socket.on("close", () => {
      clearTimeout(timer);
      if (connected) resolve(answer.trimEnd());
    });
  });
}

/** The live status of the keeper serving `mountPoint`; throws KeeperUnreachable when none answers. */
export async function keeperStatus(mountPoint: string, runtimeDir: string, timeoutMs = 2000): Promise<KeeperStatus> {
  const socket = keeperSocketPath(mountPoint, runtimeDir);
  return parseStatus(await askKeeper(socket, "status", timeoutMs), socket);
}
