/**
 * Every schema migration, in version order (one file per version; a new version is a new file and
 * a new line here, never an edit of a shipped migration).
 */
import type { Migration } from '../migrate.js';
import { migration0001 } from './0001-initial.js';

export const MIGRATIONS: readonly Migration[] = [migration0001];
