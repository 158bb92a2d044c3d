/**
 * Loads the Temporal service definitions once. The protobufjs root shipped by
 * @temporalio/proto contains WorkflowService, OperatorService, TestService, grpc
 * health and google.rpc.Status, so one JSON descriptor serves every service.
 */
import type * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the JSON root module is CommonJS only
export const root: protobuf.Root = require('@temporalio/proto/protos/json-module.js');

/**
 * Conversion options (the same conventions as @grpc/proto-loader's), chosen so messages round-trip exactly:
 * - longs as strings: event ids / durations never lose precision; protobufjs accepts strings when encoding.
 * - enums as strings: readable and accepted by fromObject on the way out.
 * - bytes stay Buffers (payload data).
 * - defaults off: a missing field is `undefined`, so "not set" is distinguishable from zero.
 * - oneofs on: the virtual oneof name (e.g. `attributes: 'startTimerCommandAttributes'`) tells which arm is set.
 */
export const toObjectOptions: protobuf.IConversionOptions = { longs: String, enums: String, oneofs: true, defaults: false };

/**
 * Service definitions for grpc-js, built straight from the protobufjs root. This is what
 * proto-loader's fromJSON produces, but only for the services we serve: fromJSON builds
 * serializers for every message of the whole Temporal API up front, which alone costs about
 * a second of startup, and the SDK gives a launched server little time to answer.
 */
export function serviceDefinition(serviceName: string): grpc.ServiceDefinition {
  const svc = root.lookupService(serviceName);
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of svc.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    def[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestSerialize: (obj: object) => Buffer.from(req.encode(req.fromObject(obj)).finish()),
      requestDeserialize: (buf: Buffer) => ownBytes(req.toObject(req.decode(buf), toObjectOptions)),
      responseSerialize: (obj: object) => Buffer.from(res.encode(res.fromObject(obj)).finish()),
      responseDeserialize: (buf: Buffer) => res.toObject(res.decode(buf), toObjectOptions),
      originalName: method.name[0]!.toLowerCase() + method.name.slice(1),
    } as grpc.MethodDefinition<object, object>;
  }
  return def as grpc.ServiceDefinition;
}

/**
 * Decoded `bytes` fields are views into the request's buffer, which is often a slice of a much
 * larger network or allocation-pool buffer: a stored 9-byte payload would keep kilobytes alive.
 * Every bytes field of a request gets its own exact-size copy (requests are what the server stores).
 */
export function ownBytes<T>(v: T, depth = 0): T {
  if (v instanceof Uint8Array) {
    const copy = Buffer.allocUnsafeSlow(v.length);
    copy.set(v);
    return copy as unknown as T;
  }
  if (depth > 64 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = ownBytes(v[i], depth + 1);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const x = o[k];
    if (x !== null && typeof x === 'object') o[k] = ownBytes(x, depth + 1);
  }
  return v;
}

export const SERVICE_NAMES = {
  workflow: 'temporal.api.workflowservice.v1.WorkflowService',
  operator: 'temporal.api.operatorservice.v1.OperatorService',
  test: 'temporal.api.testservice.v1.TestService',
  health: 'grpc.health.v1.Health',
} as const;

/** Encodes a message into a google.protobuf.Any ({type_url, value}). */
export function packAny(typeName: string, obj: Record<string, unknown>): { type_url: string; value: Buffer } {
  const t = root.lookupType(typeName);
  return { type_url: `type.googleapis.com/${typeName}`, value: Buffer.from(t.encode(t.fromObject(obj)).finish()) };
}

/** Decodes a google.protobuf.Any into a plain object using the same conventions as the gRPC loader. */
export function unpackAny(any: { type_url?: string; value?: Uint8Array } | undefined): { typeName: string; value: Record<string, unknown> } | undefined {
  if (!any?.type_url) return undefined;
  const typeName = any.type_url.replace(/^.*\//, '');
  try {
    const t = root.lookupType(typeName);
    const msg = t.decode(any.value ?? new Uint8Array());
    return { typeName, value: t.toObject(msg, { longs: String, enums: String, oneofs: true, bytes: Buffer }) as Record<string, unknown> };
  } catch {
    return undefined; // unknown type or undecodable bytes: treated as an unknown message
  }
}
