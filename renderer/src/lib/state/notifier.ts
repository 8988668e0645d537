/**
 * Desktop notifications for messages that arrive while the window is not focused, worded by the
 * `notifications` setting: the sender's name and the message, the name only, or neither ("New
 * message" from Parley). The Notification API is injected (tests; a host without it gets none).
 */
import type { Settings } from '../../../../shared/api/types.js';

export type NotificationApi = {
  readonly permission: NotificationPermission;
  requestPermission(): Promise<NotificationPermission>;
  /** Shows a notification; the returned function closes it (a message that disappeared or was deleted). */
  show(title: string, body: string, onClick: () => void): unknown;
};

export function browserNotificationApi(win: Window): NotificationApi | null {
  const N = (win as Window & typeof globalThis).Notification as typeof Notification | undefined;
  if (N === undefined) return null;
  return {
    get permission() {
      return N.permission;
    },
    requestPermission: () => N.requestPermission(),
    show(title, body, onClick) {
      const n = new N(title, { body, silent: false });
      n.onclick = () => {
        win.focus();
        onClick();
        n.close();
      };
      return () => n.close();
    },
  };
}

/** `request`: from someone whose message request is not accepted — its text is never shown. */
export type IncomingNotice = { readonly sender: string; readonly body: string | null; readonly request?: boolean };

/** The title and body a notice is shown with under a setting. */
export function notificationText(notice: IncomingNotice, setting: Settings['notifications']): { title: string; body: string } {
  if (notice.request && setting !== 'nothing') return { title: notice.sender, body: 'Message request' };
  switch (setting) {
    case 'name-and-message':
      return { title: notice.sender, body: notice.body ?? 'New message' };
    case 'name-only':
      return { title: notice.sender, body: 'New message' };
    case 'nothing':
      return { title: 'Parley', body: 'New message' };
  }
}

/** Notifications kept closable by message id (the newest ones; older ones have long been dismissed). */
const MAX_OPEN_NOTIFICATIONS = 100;

export class Notifier {
  readonly #api: NotificationApi | null;
  readonly #open = new Map<string, () => void>();

  constructor(api: NotificationApi | null) {
    this.#api = api;
  }

  /**
   * Closes the notification of a message that left this device (expired, or deleted for
   * everyone), so its text does not outlive it on screen (DESIGN §3.8).
   */
  withdraw(messageId: string): void {
    const close = this.#open.get(messageId);
    this.#open.delete(messageId);
    close?.();
  }

  async notify(notice: IncomingNotice, setting: Settings['notifications'], onClick: () => void, messageId?: string): Promise<boolean> {
    const api = this.#api;
    if (api === null) return false;
    let permission = api.permission;
    if (permission === 'default') permission = await api.requestPermission();
    if (permission !== 'granted') return false;
    const { title, body } = notificationText(notice, setting);
    const close = api.show(title, body, onClick);
    if (messageId !== undefined && typeof close === 'function') {
      this.#open.set(messageId, close as () => void);
      if (this.#open.size > MAX_OPEN_NOTIFICATIONS) this.#open.delete(this.#open.keys().next().value!);
    }
    return true;
  }
}
