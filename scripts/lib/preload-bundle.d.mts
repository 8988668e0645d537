/** Types of preload-bundle.mjs (the scripts are plain JS; tests import them from TypeScript). */
export declare const SANDBOX_REQUIRABLE: ReadonlySet<string>;
export declare function bundlePreload(root: string): Promise<string>;
