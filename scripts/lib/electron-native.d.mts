/** Types of electron-native.mjs. */
export declare const NATIVE_MODULE: string;
export declare const NATIVE_FILE: string;
export declare function electronNativeDir(root: string, electronVersion: string, platform?: string, arch?: string): string;
export declare function findNodeGyp(env?: NodeJS.ProcessEnv): string | null;
export declare function nodeGypArgs(options: { electronVersion: string; arch?: string; devdir: string }): string[];
export declare function ensureElectronNative(options: {
  root: string;
  electronVersion: string;
  log?: (line: string) => void;
  run?: (cmd: string, args: string[], cwd: string) => number;
}): { readonly ok: true; readonly path: string; readonly built: boolean } | { readonly ok: false; readonly reason: string };
