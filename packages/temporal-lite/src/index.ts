/** temporal-lite: an in-memory Temporal-compatible gRPC server for tests and offline runs. */
export { startServer } from './server';
export type { ServerOptions, RunningServer } from './server';
export type { SearchAttributeType } from './visibility';
