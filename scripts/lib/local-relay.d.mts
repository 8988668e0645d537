/** Types of local-relay.mjs. */
export declare function relayAnswers(url: string, timeoutMs?: number): Promise<boolean>;
export declare function ensureLocalRelay(options: {
  root: string;
  dataRoot: string;
  log?: (line: string) => void;
}): Promise<{ readonly url: string; readonly started: boolean; stop(): Promise<void> }>;
