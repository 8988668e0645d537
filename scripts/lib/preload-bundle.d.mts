/** Types of preload-bundle.mjs (the scripts are plain JS; tests import them from TypeScript). */
export declare const SANDBOX_REQUIRABLE: ReadonlySet<string>;
export declare const PRELOAD_SOURCES: ReadonlySet<string>;
export declare const PRELOAD_BUDGET_BYTES: number;
export declare function preloadTable(root: string): Promise<{ channels: { channel: string; method: string }[]; eventNames: string[] }>;
export declare function bundlePreloadWithInputs(root: string): Promise<{ code: string; inputs: string[] }>;
export declare function bundlePreload(root: string): Promise<string>;
