/**
 * Which connections this relay instance holds: those not authenticated yet, by client address (the
 * pre-auth caps, per address and in all); authenticated ones by device (delivery, the per-device
 * connection cap, closing a removed device) and by account (typing and presence fan-out, online
 * state). Reports an account's first connection and the close of its last one, for presence
 * announcements.
 * Also reports a device's first connection and the close of its last one (the bus listens to the
 * device's channel meanwhile). Does not own connection behaviour (connection.ts) or who is connected
 * on other instances (bus/cluster.ts).
 */
import { MAX_CONNECTIONS_PER_DEVICE } from '../../shared/wire/limits.js';

export type RegisteredConnection = {
  /** The client's address key (server/limits/address.ts). */
  readonly address: string;
  readonly deviceKey: number;
  readonly accountHex: string;
};

export class ConnectionRegistry<C extends RegisteredConnection> {
  private readonly byDevice = new Map<number, Set<C>>();
  private readonly byAccount = new Map<string, Set<C>>();
  private readonly preAuth = new Set<C>();
  private readonly preAuthByAddress = new Map<string, number>();
  private authenticated = 0;

  constructor(
    private readonly onAccountOnline: (accountHex: string, online: boolean) => void,
    private readonly onDevicePresent: (deviceKey: number, present: boolean) => void = () => undefined,
  ) {}

  /** Counts a new socket as not authenticated, under its address. */
  opened(connection: C): void {
    this.preAuth.add(connection);
    this.preAuthByAddress.set(connection.address, (this.preAuthByAddress.get(connection.address) ?? 0) + 1);
  }

  /** The socket is gone: forgets it if it never authenticated (authenticated ones leave by remove()). */
  closed(connection: C): void {
    this.leavePreAuth(connection);
  }

  private leavePreAuth(connection: C): void {
    if (!this.preAuth.delete(connection)) return;
    const n = (this.preAuthByAddress.get(connection.address) ?? 1) - 1;
    if (n > 0) this.preAuthByAddress.set(connection.address, n);
    else this.preAuthByAddress.delete(connection.address);
  }

  get preAuthConnections(): number {
    return this.preAuth.size;
  }

  preAuthFrom(address: string): number {
    return this.preAuthByAddress.get(address) ?? 0;
  }

  get authenticatedConnections(): number {
    return this.authenticated;
  }

  /**
   * Moves a connection from pre-auth to authenticated, unless its device already holds the maximum
   * (`device-full`) or this instance holds `maxAuthenticated` (`relay-full`).
   */
  add(connection: C, maxAuthenticated: number): 'added' | 'device-full' | 'relay-full' {
    let device = this.byDevice.get(connection.deviceKey);
    if (device && device.size >= MAX_CONNECTIONS_PER_DEVICE) return 'device-full';
    if (this.authenticated >= maxAuthenticated) return 'relay-full';
    this.leavePreAuth(connection);
    if (!device) this.byDevice.set(connection.deviceKey, (device = new Set()));
    device.add(connection);
    if (device.size === 1) this.onDevicePresent(connection.deviceKey, true);
    this.authenticated++;
    let account = this.byAccount.get(connection.accountHex);
    if (!account) this.byAccount.set(connection.accountHex, (account = new Set()));
    account.add(connection);
    if (account.size === 1) this.onAccountOnline(connection.accountHex, true);
    return 'added';
  }

  remove(connection: C): void {
    const device = this.byDevice.get(connection.deviceKey);
    if (!device?.delete(connection)) return;
    this.authenticated--;
    if (device.size === 0) {
      this.byDevice.delete(connection.deviceKey);
      this.onDevicePresent(connection.deviceKey, false);
    }
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

  /** Those of the accounts with a connection here (the one-instance OnlineDirectory). */
  online(accountHexes: readonly string[]): Promise<ReadonlySet<string>> {
    return Promise.resolve(new Set(accountHexes.filter((h) => this.byAccount.has(h))));
  }

  /** This instance's connections per device and per account (what the cluster directory restores). */
  counts(): { devices: Map<number, number>; accounts: Map<string, number> } {
    return {
      devices: new Map([...this.byDevice].map(([k, set]) => [k, set.size])),
      accounts: new Map([...this.byAccount].map(([k, set]) => [k, set.size])),
    };
  }

  *all(): IterableIterator<C> {
    for (const set of this.byDevice.values()) yield* set;
  }
}
