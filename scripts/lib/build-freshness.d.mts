/** Types of build-freshness.mjs. */
export declare const BUILD_INPUT_DIRS: readonly string[];
export declare const BUILD_INPUT_FILES: readonly string[];
export declare const BUILD_OUTPUTS: readonly string[];
export declare const STAMP_FILE: string;
export declare function buildFingerprint(root: string, dirs?: readonly string[], files?: readonly string[]): string;
export declare function recordedFingerprint(root: string): string | null;
export declare function recordFingerprint(root: string, fingerprint: string): void;
export declare function buildNeeded(root: string, fingerprint?: string, outputs?: readonly string[]): 'no build recorded' | 'an output is missing' | 'sources changed' | null;
