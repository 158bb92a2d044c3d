/**
 * Loads the Temporal service definitions once. The protobufjs root shipped by
 * @temporalio/proto contains WorkflowService, OperatorService, TestService, grpc
 * health and google.rpc.Status, so one JSON descriptor serves every service.
 */
import * as protoLoader from '@grpc/proto-loader';
import type * as protobuf from 'protobufjs';

// eslint-disable-next-line @typescript-eslint/no-var-requires
export const root: protobuf.Root = require('@temporalio/proto/protos/json-module.js');

/**
 * Loader options, chosen so messages round-trip exactly:
 * - longs as strings: event ids / durations never lose precision; protobufjs accepts strings when encoding.
 * - enums as strings: readable and accepted by fromObject on the way out.
 * - bytes stay Buffers (payload data).
 * - defaults off: a missing field is `undefined`, so "not set" is distinguishable from zero.
 * - oneofs on: the virtual oneof name (e.g. `attributes: 'startTimerCommandAttributes'`) tells which arm is set.
 */
export const loaderOptions: protoLoader.Options = { longs: String, enums: String, oneofs: true, defaults: false };

export const packageDefinition = protoLoader.fromJSON(root.toJSON(), loaderOptions);

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
  const t = root.lookupType(typeName);
  const msg = t.decode(any.value ?? new Uint8Array());
  return { typeName, value: t.toObject(msg, { longs: String, enums: String, oneofs: true, bytes: Buffer }) as Record<string, unknown> };
}
