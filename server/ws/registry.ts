/**
 * Which connections this relay instance holds: by device (delivery, the per-device connection cap,
 * closing a removed device) and by account (typing and presence fan-out, online state). Reports an
 * account's first connection and the close of its last one, for presence announcements.
 * Does not own connection behaviour (connection.ts) or cross-instance presence (scale-out issue).
 */
import { MAX_CONNECTIONS_PER_DEVICE } from '../../shared/wire/limits.js';

export type RegisteredConnection = {
  readonly deviceKey: number;
  readonly accountHex: string;
};

export class ConnectionRegistry<C extends RegisteredConnection> {
  private readonly byDevice = new Map<number, Set<C>>();
  private readonly byAccount = new Map<string, Set<C>>();
  private open = 0;
  private authenticated = 0;

  constructor(private readonly onAccountOnline: (accountHex: string, online: boolean) => void) {}

  /** Counts a socket from upgrade to close, authenticated or not. */
  opened(): void {
    this.open++;
  }

  closed(): void {
    this.open--;
  }

  get openConnections(): number {
    return this.open;
  }

  get authenticatedConnections(): number {
    return this.authenticated;
  }

  /** Adds an authenticated connection unless its device already holds the maximum. */
  add(connection: C): boolean {
    let device = this.byDevice.get(connection.deviceKey);
    if (device && device.size >= MAX_CONNECTIONS_PER_DEVICE) return false;
    if (!device) this.byDevice.set(connection.deviceKey, (device = new Set()));
    device.add(connection);
    this.authenticated++;
    let account = this.byAccount.get(connection.accountHex);
    if (!account) this.byAccount.set(connection.accountHex, (account = new Set()));
    account.add(connection);
    if (account.size === 1) this.onAccountOnline(connection.accountHex, true);
    return true;
  }

  remove(connection: C): void {
    const device = this.byDevice.get(connection.deviceKey);
    if (!device?.delete(connection)) return;
    this.authenticated--;
    if (device.size === 0) this.byDevice.delete(connection.deviceKey);
    const account = this.byAccount.get(connection.accountHex);
    if (account?.delete(connection) && account.size === 0) {
      this.byAccount.delete(connection.accountHex);
      this.onAccountOnline(connection.accountHex, false);
    }
  }

  ofDevice(deviceKey: number): ReadonlySet<C> | undefined {
    return this.byDevice.get(deviceKey);
  }

  ofAccount(accountHex: string): ReadonlySet<C> | undefined {
    return this.byAccount.get(accountHex);
  }

  isOnline(accountHex: string): boolean {
    return this.byAccount.has(accountHex);
  }

  *all(): IterableIterator<C> {
    for (const set of this.byDevice.values()) yield* set;
  }
}
