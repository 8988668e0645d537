/** Fails fast, with the fix, when the app has not been built (`npm test` builds first). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BUILD_OUTPUTS, ROOT } from './helpers/paths.js';

export default function globalSetup(): void {
  const missing = BUILD_OUTPUTS.filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw new Error(`The e2e specs run the built app; missing: ${missing.map((f) => path.relative(ROOT, f)).join(', ')}. Run: npm run build`);
  }
}
