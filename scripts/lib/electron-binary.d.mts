/** Types of electron-binary.mjs. */
export declare function findElectronBinary(
  electronDir: string,
  env?: NodeJS.ProcessEnv,
): { readonly found: true; readonly path: string } | { readonly found: false; readonly reason: string };
export declare function electronVersion(electronDir: string): string;
