/**
 * Every schema migration, in version order (one file per version; a new version is a new file and
 * a new line here, never an edit of a shipped migration).
 */
import type { Migration } from '../migrate.js';
import { migration0001 } from './0001-initial.js';
import { migration0002 } from './0002-search.js';
import { migration0003 } from './0003-messaging.js';
import { migration0004 } from './0004-receipt-ids.js';
import { migration0005 } from './0005-relay-id.js';
import { migration0006 } from './0006-attachments.js';
import { migration0007 } from './0007-profiles.js';
import { migration0008 } from './0008-blocking.js';
import { migration0009 } from './0009-device-statuses.js';
import { migration0010 } from './0010-avatars.js';
import { migration0011 } from './0011-attachment-reveal.js';
import { migration0012 } from './0012-device-names.js';
import { migration0013 } from './0013-sync-clock.js';
import { migration0014 } from './0014-abandoned-uploads.js';
import { migration0015 } from './0015-own-profile-pending.js';
import { migration0016 } from './0016-sealed-sender.js';
import { migration0017 } from './0017-disappearing.js';
import { migration0019 } from './0019-backups.js';

export const MIGRATIONS: readonly Migration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
  migration0006,
  migration0007,
  migration0008,
  migration0009,
  migration0010,
  migration0011,
  migration0012,
  migration0013,
  migration0014,
  migration0015,
  migration0016,
  migration0017,
  migration0019,
];
