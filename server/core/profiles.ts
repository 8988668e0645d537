/**
 * Encrypted profiles at the relay (issue 12, docs/protocol.md §18): an account replaces its own
 * profile, any authenticated device fetches anyone's. The relay holds no profile key: it checks the
 * length and version byte (shared/protocol parseEncryptedProfile), limits uploads per account, and
 * stores the bytes verbatim — it never sees a display name, an about line or an avatar. Fetches
 * count against the requester's lookup budget, like account lookups. Does not own storage
 * (RelayStore) or what a profile means (the clients).
 */
import { parseEncryptedProfile } from '../../shared/protocol/profile.js';
import type { AuthenticatedDevice, RelayContext } from './context.js';
import { RelayError, spend } from './errors.js';

export class ProfileService {
  constructor(private readonly ctx: RelayContext) {}

  async put(requester: AuthenticatedDevice, profile: Uint8Array): Promise<void> {
    try {
      parseEncryptedProfile(profile);
    } catch {
      throw new RelayError('MALFORMED', 'not an encrypted profile of a known version');
    }
    await spend(this.ctx.limits.profileUploads, requester.accountHex, 'profile uploads');
    const status = await this.ctx.store.putProfile({ accountId: requester.accountId, profile, now: this.ctx.clock() });
    if (status === 'no-account') throw new RelayError('NOT_FOUND', 'no such account');
  }

  async get(requester: AuthenticatedDevice, accountId: Uint8Array): Promise<{ profile: Uint8Array; updatedAt: number }> {
    await spend(this.ctx.limits.lookups, requester.accountHex, 'lookups');
    const stored = await this.ctx.store.getProfile(accountId);
    if (!stored) throw new RelayError('NOT_FOUND', 'no profile for that account');
    return stored;
  }
}
