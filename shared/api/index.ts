/**
 * shared/api: the renderer↔engine contract (DESIGN §2, §4). Values (zod schemas, limits) are for
 * Node hosts and the engine; the renderer imports only types (types.ts, or `import type` from here).
 */
export * from './contract.js';
export * from './errors.js';
export * from './events.js';
export * from './primitives.js';
export * from './view-models.js';
export type { Bridge, ChannelOf, EngineEvent, EventPayload, MethodName, RequestOf, ResponseOf } from './types.js';
