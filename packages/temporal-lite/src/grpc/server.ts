/**
 * gRPC plumbing: registers every method of every service; methods without a handler
 * answer UNIMPLEMENTED naming the RPC. Each handler runs inside try/catch so a bad
 * request can never take the server down.
 */
import * as grpc from '@grpc/grpc-js';
import * as zlib from 'zlib';
import { serviceDefinition, SERVICE_NAMES } from '../proto';
import { ApiError } from './errors';
import type { CallLike } from '../engine/updates';
import type { P } from '../engine/types';

export interface HandlerCall extends CallLike {
  cancelled(): boolean;
  metadata: grpc.Metadata;
}

export type Handler = (req: P, call: HandlerCall) => P | Promise<P>;
export type HandlerMap = Record<string, Handler>;

const DEFAULT_DEADLINE_MS = 70_000;

function toHandlerCall(call: grpc.ServerUnaryCall<P, P>): HandlerCall {
  let cancelled = false;
  const listeners: Array<() => void> = [];
  call.on('cancelled', () => {
    cancelled = true;
    for (const l of listeners.splice(0)) l();
  });
  return {
    metadata: call.metadata,
    cancelled: () => cancelled || call.cancelled,
    onCancel: (cb) => {
      if (cancelled) cb();
      else listeners.push(cb);
    },
    deadlineMs: () => {
      const d = call.getDeadline();
      const at = d instanceof Date ? d.getTime() : Number(d);
      return Number.isFinite(at) && at > 0 ? at - Date.now() : DEFAULT_DEADLINE_MS;
    },
  };
}

function toGrpcError(e: unknown, rpc: string): Partial<grpc.StatusObject> {
  try {
    if (e instanceof ApiError) return e.toServiceError();
    console.error(`temporal-lite: ${rpc} failed`, e);
    return { code: grpc.status.INTERNAL, details: `${rpc}: ${(e as Error)?.message ?? String(e)}` };
  } catch {
    return { code: grpc.status.INTERNAL, details: `${rpc} failed` };
  }
}

/** Answers a call, swallowing anything grpc-js throws (e.g. a reply that cannot be serialized). */
function reply(callback: grpc.sendUnaryData<P>, rpc: string, err: Partial<grpc.StatusObject> | null, res?: P): void {
  try {
    if (err) callback(err);
    else callback(null, res ?? {});
  } catch (e) {
    console.error(`temporal-lite: could not answer ${rpc}`, e);
    try {
      callback({ code: grpc.status.INTERNAL, details: `${rpc}: could not encode the reply: ${(e as Error)?.message}` });
    } catch {
      // the call is gone
    }
  }
}

/**
 * The SDK's core sends gzip-compressed requests. grpc-js inflates each message through a zlib
 * stream (object setup, events, a thread-pool round trip), which was the server's largest CPU cost
 * (~23 % under load). Requests are small, so a one-shot synchronous inflate is much cheaper. This
 * replaces grpc-js's server-side `decompressMessage` (same limits, same error statuses); if that
 * internal method is not where we expect it (another grpc-js version), nothing is changed.
 */
function installSyncInflate(): void {
  let proto: { decompressMessage?: (m: Buffer, enc: string) => unknown; __temporalLiteSyncInflate?: boolean } | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- grpc-js internal, not in its typings
    proto = require('@grpc/grpc-js/build/src/server-interceptors').BaseServerInterceptingCall?.prototype;
  } catch {
    return;
  }
  const original = proto?.decompressMessage;
  if (!proto || typeof original !== 'function' || proto.__temporalLiteSyncInflate) return;
  proto.__temporalLiteSyncInflate = true;
  proto.decompressMessage = function (this: { maxReceiveMessageSize: number }, message: Buffer, encoding: string): unknown {
    if (encoding !== 'gzip' && encoding !== 'deflate') return original.call(this, message, encoding);
    const max = this.maxReceiveMessageSize;
    const opts: zlib.ZlibOptions = max > 0 ? { maxOutputLength: max } : {};
    try {
      const body = message.subarray(5);
      return encoding === 'gzip' ? zlib.gunzipSync(body, opts) : zlib.inflateSync(body, opts);
    } catch (e) {
      const tooLarge = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError;
      return Promise.reject(tooLarge
        ? { code: grpc.status.RESOURCE_EXHAUSTED, details: `Received message that decompresses to a size larger than ${max}` }
        : { code: grpc.status.INTERNAL, details: 'Failed to decompress message' });
    }
  };
}

export function createGrpcServer(handlers: Record<string, HandlerMap>): grpc.Server {
  installSyncInflate();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 128 * 1024 * 1024, 'grpc.max_send_message_length': 128 * 1024 * 1024 });
  for (const serviceName of Object.values(SERVICE_NAMES)) {
    const def = serviceDefinition(serviceName);
    const own = handlers[serviceName] ?? {};
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [method, m] of Object.entries(def)) {
      const rpc = `${serviceName.split('.').pop()}.${method}`;
      if (m.requestStream || m.responseStream) {
        impl[method] = (call: grpc.ServerWritableStream<P, P> | grpc.ServerDuplexStream<P, P>) => {
          call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: `${rpc} is not implemented by temporal-lite` });
        };
        continue;
      }
      const h = own[method];
      impl[method] = (call: grpc.ServerUnaryCall<P, P>, callback: grpc.sendUnaryData<P>) => {
        if (!h) {
          callback({ code: grpc.status.UNIMPLEMENTED, details: `${method} is not implemented by temporal-lite (${rpc})` });
          return;
        }
        let hc: HandlerCall;
        try {
          hc = toHandlerCall(call);
          Promise.resolve(h(call.request ?? {}, hc)).then(
            (res) => reply(callback, rpc, null, res),
            (e) => reply(callback, rpc, toGrpcError(e, rpc)),
          );
        } catch (e) {
          reply(callback, rpc, toGrpcError(e, rpc));
        }
      };
    }
    server.addService(def, impl);
  }
  return server;
}
