// One NRI connection: the multiplexed trunk socket with a ttrpc server on
// PLUGIN_SERVICE_CONN (the runtime calls us) and a ttrpc client on
// RUNTIME_SERVICE_CONN (we call the runtime), both unary only.
import type { Socket } from "node:net";
import {
  encodeMuxFrame,
  encodeTtrpcMessage,
  MuxReader,
  PLUGIN_SERVICE_CONN,
  RUNTIME_MESSAGE_MAX,
  RUNTIME_SERVICE_CONN,
  TtrpcReader,
  TtrpcType,
  type TtrpcMessage,
} from "./framing.js";
import { Code, decodeTtrpcRequest, decodeTtrpcResponse, encodeTtrpcRequest, encodeTtrpcResponse, type TtrpcRequest } from "./messages.js";

/** A failed call, as a gRPC status the peer sees. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Serves one request; returns the response payload or throws (RpcError for a chosen status). */
export type RequestHandler = (req: TtrpcRequest) => Promise<Uint8Array>;

interface Pending {
  resolve: (payload: Uint8Array) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class NriConnection {
  private readonly mux = new MuxReader();
  // Everything read comes from the runtime, which may send more than ttrpc's 4 MiB (see RUNTIME_MESSAGE_MAX).
  private readonly serverReader = new TtrpcReader(RUNTIME_MESSAGE_MAX);
  private readonly clientReader = new TtrpcReader(RUNTIME_MESSAGE_MAX);
  private readonly pending = new Map<number, Pending>();
  private nextStreamId = 1;
  private closeReason: Error | undefined;
  private isClosed = false;
  /** Requests of the runtime being answered. */
  private answering = 0;
  private finishing = false;
  /** Resolves once the socket is gone, with why (undefined: the peer closed it). */
  readonly closed: Promise<Error | undefined>;

  constructor(
    private readonly socket: Socket,
    private readonly handler: RequestHandler,
  ) {
    let done!: (why: Error | undefined) => void;
    this.closed = new Promise((resolve) => (done = resolve));
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const frame of this.mux.push(chunk)) {
          if (frame.connId === PLUGIN_SERVICE_CONN) for (const m of this.serverReader.push(frame.payload)) this.onServerMessage(m);
          else if (frame.connId === RUNTIME_SERVICE_CONN) for (const m of this.clientReader.push(frame.payload)) this.onClientMessage(m);
          // Frames for connection ids nobody opened are dropped, as the Go mux does.
        }
      } catch (err) {
        this.close(err as Error);
      }
    });
    socket.on("error", (err) => this.close(err));
    socket.on("close", () => {
      this.isClosed = true;
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(this.closeReason ?? new Error("connection closed"));
      }
      this.pending.clear();
      done(this.closeReason);
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  private send(connId: number, m: TtrpcMessage): void {
    if (this.isClosed || this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(encodeMuxFrame(connId, encodeTtrpcMessage(m)));
  }

  private onServerMessage(m: TtrpcMessage): void {
    if (m.type !== TtrpcType.REQUEST) return; // streams are not part of the NRI plugin API
    // Past finish(): the reply could not be sent, and the runtime has been told this plugin left.
    if (this.socket.writableEnded) return;
    const reply = (res: { code?: number; message?: string; payload?: Uint8Array }): void =>
      this.send(PLUGIN_SERVICE_CONN, { streamId: m.streamId, type: TtrpcType.RESPONSE, flags: 0, payload: encodeTtrpcResponse(res) });
    let req: TtrpcRequest;
    try {
      req = decodeTtrpcRequest(m.payload);
    } catch (err) {
      reply({ code: Code.INVALID_ARGUMENT, message: `undecodable ttrpc request: ${(err as Error).message}` });
      return;
    }
    this.answering++;
    this.handler(req)
      .then(
        (payload) => reply({ payload }),
        (err: unknown) => reply({ code: err instanceof RpcError ? err.code : Code.INTERNAL, message: (err as Error).message }),
      )
      .finally(() => {
        this.answering--;
        if (this.finishing) this.endIfIdle();
      });
  }

  private onClientMessage(m: TtrpcMessage): void {
    if (m.type !== TtrpcType.RESPONSE) return;
    const p = this.pending.get(m.streamId);
    if (!p) return; // answered after we gave up on it
    this.pending.delete(m.streamId);
    clearTimeout(p.timer);
    try {
      const res = decodeTtrpcResponse(m.payload);
      if (res.status.code !== Code.OK) p.reject(new RpcError(res.status.code, res.status.message || `status ${res.status.code}`));
      else p.resolve(res.payload);
    } catch (err) {
      p.reject(err as Error);
    }
  }

  /** A unary call to the runtime's services. */
  call(service: string, method: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.isClosed) return Promise.reject(new Error("connection closed"));
    const streamId = this.nextStreamId;
    this.nextStreamId += 2;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(streamId);
        reject(new Error(`${method} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(streamId, { resolve, reject, timer });
      const body = encodeTtrpcRequest({ service, method, payload, timeoutNano: BigInt(timeoutMs) * 1_000_000n });
      this.send(RUNTIME_SERVICE_CONN, { streamId, type: TtrpcType.REQUEST, flags: 0, payload: body });
    });
  }

  /**
   * Leave gracefully: once no request is being answered (now, or as soon as the ones under way
   * are), end the socket after the replies already written. The runtime reads that end as the
   * plugin closing and drops it; a request it sends meanwhile fails at once as on a closed
   * plugin, which NRI treats as no answer and passes on to the next plugin (see plugin.ts).
   */
  finish(graceMs: number): void {
    this.finishing = true;
    this.endIfIdle();
    // A runtime that never closes its side, or a handler that never returns: closed anyway.
    setTimeout(() => this.close(), graceMs).unref();
  }

  private endIfIdle(): void {
    if (this.answering === 0 && !this.socket.destroyed) this.socket.end();
  }

  close(why?: Error): void {
    if (why && !this.closeReason) this.closeReason = why;
    this.socket.destroy();
  }
}
