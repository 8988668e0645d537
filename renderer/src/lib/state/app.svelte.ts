/**
 * The renderer's composition root: connects to the host, subscribes to the engine's events once,
 * and owns navigation and the per-screen state objects (session, conversation list, settings, the
 * open chat, verification). Components get what they show as props and report what the person did
 * through callbacks that end up here; nothing else touches the bridge (DESIGN §6).
 *
 * Routes are a closed union so later screens (group info, files) are new members, not flags. The
 * search panel (issue 6) is not a route: it opens at the top of the sidebar, above the conversation
 * list (Ctrl/Cmd+F), so its results stay in view while a result's conversation opens in the content
 * pane at that message. The engine clock and the renderer's clock are the same system clock in
 * production; `now` ticks so day words ("Today", "Yesterday") and the list's compact times move on
 * at midnight.
 */
import { AttachmentsState } from './attachments.svelte.js';
import { AvatarsState } from './avatars.svelte.js';
import type { Bridge, ConnectionState, EngineState, MessageView, SearchHit, Settings } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { browserTimers, settle, type Timers } from './call.js';
import { ChatState } from './chat.svelte.js';
import { ConversationListState } from './conversations.svelte.js';
import { HostConnection } from './host.svelte.js';
import { browserNotificationApi, Notifier } from './notifier.js';
import { SearchState } from './search.svelte.js';
import { SessionState } from './session.svelte.js';
import { LinkingState } from './linking.svelte.js';
import { BackupsState } from './backups.svelte.js';
import { HistoryState } from './history.svelte.js';
import { GroupsState } from './groups.svelte.js';
import { SettingsState } from './settings.svelte.js';
import { acceptKeyChange, VerificationState } from './verification.svelte.js';
import { UserInputReporter } from './user-input.js';
import { WindowActivity } from './window-activity.svelte.js';

export type Route =
  | { readonly screen: 'home' }
  | { readonly screen: 'chat'; readonly conversationId: string }
  | { readonly screen: 'new-conversation' }
  | { readonly screen: 'settings' }
  | { readonly screen: 'verify'; readonly contactId: string; readonly conversationId: string | null }
  | { readonly screen: 'new-group' }
  | { readonly screen: 'group'; readonly groupId: string };

const NOW_TICK_MS = 15_000;

export type AppEnvironment = {
  readonly window: Window;
  readonly timers?: Timers;
};

export class AppState {
  readonly host = new HostConnection();
  readonly activity: WindowActivity;
  readonly locale: string;
  readonly timeZone: string;
  /** The relay address onboarding suggests (`?relay=` from the host), or ''. */
  readonly suggestedRelay: string;
  readonly #win: Window;
  readonly #timers: Timers;
  readonly #notifier: Notifier;
  #session = $state.raw<SessionState | null>(null);
  #conversations = $state.raw<ConversationListState | null>(null);
  #settings = $state.raw<SettingsState | null>(null);
  #linking = $state.raw<LinkingState | null>(null);
  #history = $state.raw<HistoryState | null>(null);
  #groups = $state.raw<GroupsState | null>(null);
  #backups = $state.raw<BackupsState | null>(null);
  /** The safety number of the message request on screen (its banner shows it). */
  #requestSafety = $state.raw<{ readonly contactId: string; readonly groups: readonly string[] } | null>(null);
  #chat = $state.raw<ChatState | null>(null);
  #verification = $state.raw<VerificationState | null>(null);
  #search = $state.raw<SearchState | null>(null);
  #attachments = $state.raw<AttachmentsState | null>(null);
  #avatars = $state.raw<AvatarsState | null>(null);
  #searchOpen = $state(false);
  /** Bumped whenever the search box should take focus. */
  #searchFocus = $state(0);
  /** The search result opened last (highlighted in the results). */
  #searchSelected = $state<string | null>(null);
  #route = $state.raw<Route>({ screen: 'home' });
  #connection = $state.raw<ConnectionState | null>(null);
  #now = $state(Date.now());
  #notice = $state<string | null>(null);

  constructor(env: AppEnvironment) {
    this.#win = env.window;
    this.#timers = env.timers ?? browserTimers;
    this.activity = new WindowActivity(env.window);
    this.locale = env.window.navigator.language || 'en-US';
    this.timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // Read once at start-up; nothing renders the URL.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity
    this.suggestedRelay = new URLSearchParams(env.window.location.search).get('relay') ?? '';
    this.#notifier = new Notifier(browserNotificationApi(env.window));
    this.activity.onChange((active) => void this.#chat?.markReadIfActive(active));
  }

  get session(): SessionState | null {
    return this.#session;
  }
  get conversations(): ConversationListState | null {
    return this.#conversations;
  }
  get settings(): SettingsState | null {
    return this.#settings;
  }
  /** Device linking: the new device's link, and Settings → Linked devices. */
  get linking(): LinkingState | null {
    return this.#linking;
  }
  /** History transfers to or from a newly linked device (either role). */
  get history(): HistoryState | null {
    return this.#history;
  }
  /** Groups (issue 16): the list, "New group", the open group. */
  get groups(): GroupsState | null {
    return this.#groups;
  }

  /** Settings → Backups and onboarding's restore (ADR 0033). */
  get backups(): BackupsState | null {
    return this.#backups;
  }
  get chat(): ChatState | null {
    return this.#chat;
  }
  get verification(): VerificationState | null {
    return this.#verification;
  }
  get search(): SearchState | null {
    return this.#search;
  }
  get attachments(): AttachmentsState | null {
    return this.#attachments;
  }
  /**
   * The avatar URL for a view's contact and `avatarId` (null: none yet, or none at all); for this
   * account's own id (the note to self) the own avatar.
   */
  avatarUrl(contactId: string, avatarId: string | null): string | null {
    if (contactId === this.#session?.engine?.account?.accountId) return this.#settings?.avatarUrl ?? null;
    return this.#avatars?.url(contactId, avatarId) ?? null;
  }
  /** The search panel is showing (in the sidebar). */
  get searchOpen(): boolean {
    return this.#searchOpen;
  }
  get searchFocus(): number {
    return this.#searchFocus;
  }
  get searchSelected(): string | null {
    return this.#searchSelected;
  }
  get route(): Route {
    return this.#route;
  }
  get connection(): ConnectionState | null {
    return this.#connection;
  }
  get now(): number {
    return this.#now;
  }
  /** A short confirmation for a live region ("Settings saved"), or null. */
  get notice(): string | null {
    return this.#notice;
  }

  async start(): Promise<void> {
    await this.host.connect(this.#win);
    const bridge = this.host.bridge;
    if (bridge === null) return;
    this.#win.setInterval(() => (this.#now = Date.now()), NOW_TICK_MS);
    // The app lock counts only the person's input, never the requests made here on their own.
    new UserInputReporter(this.#win, () => void settle(bridge.reportActivity({})), this.#timers);
    const session = new SessionState(bridge);
    this.#conversations = new ConversationListState(bridge, this.#timers);
    this.#settings = new SettingsState(bridge);
    this.#linking = new LinkingState(bridge);
    this.#history = new HistoryState(bridge);
    this.#groups = new GroupsState(bridge);
    this.#backups = new BackupsState(bridge);
    this.#search = new SearchState(bridge, { timers: this.#timers, enabled: () => this.#settings?.value?.searchEnabled ?? null });
    this.#attachments = new AttachmentsState(bridge);
    this.#avatars = new AvatarsState(bridge);
    session.onChange((state) => void this.#lifecycle(state));
    this.#subscribe(bridge, session);
    this.#session = session;
    await session.refresh();
  }

  async #lifecycle(state: EngineState): Promise<void> {
    if (state.state === 'ready') {
      await Promise.all([
        this.#conversations?.load(),
        this.#settings?.load(),
        this.#linking?.loadDevices(),
        this.#history?.load(),
        this.#groups?.load(),
        this.#backups?.load(),
      ]);
      return;
    }
    this.#closeChat();
    this.#verification = null;
    this.#search?.clear();
    this.#searchOpen = false;
    this.#searchSelected = null;
    this.#conversations?.clear();
    this.#settings?.clear();
    this.#linking?.clear();
    this.#history?.clear();
    this.#groups?.clear();
    this.#backups?.clear();
    this.#avatars?.clear();
    this.#connection = null;
    this.#route = { screen: 'home' };
  }

  #subscribe(bridge: Bridge, session: SessionState): void {
    bridge.on('engine:state', (state) => session.apply(state));
    bridge.on('link:status', (status) => this.#linking?.onStatus(status));
    // Linked, removed or renamed here or on another device of the account.
    bridge.on('devices:changed', () => void this.#linking?.loadDevices());
    bridge.on('history:status', (view) => this.#history?.onStatus(view));
    bridge.on('backup:progress', (p) => this.#backups?.onProgress(p));
    bridge.on('message:added', (p) => this.#messageAdded(p.message));
    bridge.on('message:updated', (p) => this.#chat?.onUpdated(p.message));
    bridge.on('message:removed', (p) => {
      this.#notifier.withdraw(p.messageId);
      if (this.#chat?.conversationId === p.conversationId) this.#chat.onRemoved(p.messageId);
    });
    bridge.on('message:status', (p) => {
      if (this.#chat?.conversationId === p.conversationId) this.#chat.onStatus(p.messageId, p.status);
      this.#groups?.onStatus(p.conversationId, p.messageId, p.status);
    });
    bridge.on('group:updated', (p) => this.#groups?.upsert(p.group));
    bridge.on('conversation:updated', (p) => this.#conversations?.upsert(p.conversation));
    bridge.on('conversation:removed', (p) => {
      this.#conversations?.remove(p.conversationId);
      if (this.#chat?.conversationId === p.conversationId) this.goHome();
    });
    bridge.on('typing', (p) => this.#conversations?.setTyping(p.conversationId, p.typing));
    bridge.on('presence', (p) => this.#conversations?.setPresence(p.contactId, p.presence));
    bridge.on('connection', (state) => (this.#connection = state));
    bridge.on('contact:keyChanged', () => void this.#conversations?.load());
    // Synced from another device of this account: the settings shown follow.
    bridge.on('settings:changed', (p) => this.#settings?.changed(p.settings));
    bridge.on('profile:changed', (p) => this.#settings?.profileChanged(p.profile));
    bridge.on('search:indexProgress', (p) => this.#search?.onProgress(p));
    bridge.on('account:rekeyProgress', (p) => session.onRekeyProgress(p));
    bridge.on('attachment:progress', (p) => this.#attachments?.onProgress(p.messageId, p));
  }

  #messageAdded(message: MessageView): void {
    const group = this.#groups?.byConversation(message.conversationId);
    if (group) {
      this.#groups?.onAdded(message);
      if (message.direction === 'incoming' && message.kind === 'text' && !this.activity.active) {
        const setting = this.#settings?.value?.notifications ?? 'name-only';
        const sender = group.members.find((m) => m.id === message.senderId)?.name ?? 'Someone';
        void this.#notifier.notify({ sender: `${sender} in ${group.name}`, body: message.body, request: false }, setting, () => this.openGroup(group.id), message.id);
      }
      return;
    }
    const chat = this.#chat;
    if (chat?.conversationId === message.conversationId) {
      chat.onAdded(message);
      void chat.markReadIfActive(this.activity.active);
    }
    if (message.direction === 'incoming' && message.kind === 'text') {
      this.#conversations?.setTyping(message.conversationId, false);
      if (!this.activity.active) {
        // Until the settings are loaded: the engine's default, the sender's name only.
        const setting = this.#settings?.value?.notifications ?? 'name-only';
        const conversation = this.#conversations?.byId(message.conversationId);
        const sender = conversation?.title ?? 'Someone';
        // A message request's text is never shown in a notification (issue 12).
        const request = conversation === undefined || conversation.request;
        void this.#notifier.notify({ sender, body: message.body, request }, setting, () => this.openConversation(message.conversationId), message.id);
      }
    }
  }

  // ── Navigation ────────────────────────────────────────────────────────────

  #closeChat(): void {
    this.#chat?.dispose();
    this.#chat = null;
  }

  goHome(): void {
    this.#closeChat();
    this.#groups?.closeGroup();
    this.#route = { screen: 'home' };
  }

  openNewGroup(): void {
    this.#closeChat();
    this.#groups?.closeGroup();
    this.#groups?.clearError();
    void this.#groups?.loadContacts();
    this.#route = { screen: 'new-group' };
  }

  openGroup(groupId: string): void {
    this.#closeChat();
    void this.#groups?.openGroup(groupId);
    this.#route = { screen: 'group', groupId };
  }

  async createGroup(name: string, description: string, memberIds: readonly string[]): Promise<void> {
    const group = await this.#groups?.create(name, description, memberIds);
    if (group) {
      this.say(`Group “${group.name}” created.`);
      this.openGroup(group.id);
    }
  }

  openConversation(conversationId: string): void {
    this.#openChat(conversationId, null);
  }

  /** Opens a search result's conversation at that message (anywhere in its history); the panel stays. */
  openSearchResult(hit: SearchHit): void {
    this.#searchSelected = hit.messageId;
    this.#openChat(hit.conversationId, hit.messageId);
  }

  #openChat(conversationId: string, aroundMessageId: string | null): void {
    const bridge = this.host.bridge;
    if (bridge === null) return;
    // A group's conversation (a search result in it) opens the group.
    const group = this.#groups?.byConversation(conversationId);
    if (group) {
      this.openGroup(group.id);
      return;
    }
    this.#groups?.closeGroup();
    this.#verification = null;
    if (this.#chat?.conversationId !== conversationId) {
      this.#closeChat();
      const chat = new ChatState(bridge, conversationId, {
        timers: this.#timers,
        typingEnabled: () => this.#settings?.value?.typingIndicators ?? true,
      });
      this.#chat = chat;
      const conversation = this.#conversations?.byId(conversationId);
      if (conversation?.request) void this.#loadRequestSafety(bridge, conversation.contactId);
      const opened = aroundMessageId === null ? chat.open() : chat.openAround(aroundMessageId);
      void opened.then(() => chat.markReadIfActive(this.activity.active));
    } else if (aroundMessageId !== null) {
      void this.#chat.openAround(aroundMessageId);
    }
    this.#route = { screen: 'chat', conversationId };
  }

  /** Shows the search panel (Ctrl/Cmd+F, the toolbar) and puts the focus in its box. */
  openSearch(): void {
    this.#searchOpen = true;
    this.#searchFocus += 1;
  }

  closeSearch(): void {
    this.#searchOpen = false;
  }

  /** Saves settings; a change of searchEnabled reaches the search panel at once. */
  async saveSettings(patch: Partial<Settings>): Promise<void> {
    const ok = await this.#settings?.set(patch);
    if (!ok) return;
    if (patch.searchEnabled !== undefined) this.#search?.onEnabledChanged(patch.searchEnabled);
    this.say('Settings saved.');
  }

  /** Saves the own profile (display name, about line). */
  async saveProfile(displayName: string, about: string): Promise<boolean> {
    const ok = (await this.#settings?.setProfile(displayName, about)) ?? false;
    if (ok) this.say('Profile saved.');
    return ok;
  }

  /** Sets (or, with null, removes) the own avatar. */
  async saveAvatar(file: File | null): Promise<boolean> {
    const ok = (await this.#settings?.setAvatar(file)) ?? false;
    if (ok) this.say(file === null ? 'Profile photo removed.' : 'Profile photo saved.');
    return ok;
  }

  openNewConversation(): void {
    this.#closeChat();
    this.#route = { screen: 'new-conversation' };
  }

  /** The new device accepts its link; once linked, the engine is ready (no restart). */
  async acceptLink(deviceName: string, passphrase?: string): Promise<void> {
    if (await this.#linking?.accept(deviceName, passphrase)) await this.#session?.refresh();
  }

  openSettings(): void {
    void this.#linking?.loadDevices();
    this.#closeChat();
    this.#route = { screen: 'settings' };
  }

  openVerification(contactId: string, conversationId: string | null): void {
    const bridge = this.host.bridge;
    if (bridge === null) return;
    this.#closeChat();
    const verification = new VerificationState(bridge, contactId);
    this.#verification = verification;
    void verification.load();
    this.#route = { screen: 'verify', contactId, conversationId };
  }

  /** Leaves verification for the conversation it was opened from (or the list). */
  closeVerification(): void {
    const route = this.#route;
    this.#verification = null;
    if (route.screen === 'verify' && route.conversationId !== null) this.openConversation(route.conversationId);
    else this.goHome();
  }

  async startConversation(username: string): Promise<string | null> {
    const result = await this.#conversations?.startConversation(username);
    if (result === undefined) return 'Parley is not ready.';
    if (!result.ok) return result.message;
    this.openConversation(result.conversationId);
    return null;
  }

  async acceptKeyChange(contactId: string): Promise<string | null> {
    const bridge = this.host.bridge;
    if (bridge === null) return 'Parley is not connected.';
    const error = await acceptKeyChange(bridge, contactId);
    if (error === null) await this.#conversations?.load();
    return error;
  }

  async setVerified(verified: boolean): Promise<void> {
    const contact = await this.#verification?.setVerified(verified);
    if (contact) {
      await this.#conversations?.load();
      this.say(verified ? `${contact.username} is marked as verified.` : `${contact.username} is no longer marked as verified.`);
    }
  }

  // ── Message requests and blocking ─────────────────────────────────────────

  /** The safety number of a message request's person, once loaded (null before). */
  requestSafetyNumber(contactId: string): readonly string[] | null {
    return this.#requestSafety?.contactId === contactId ? this.#requestSafety.groups : null;
  }

  async #loadRequestSafety(bridge: Bridge, contactId: string): Promise<void> {
    const result = await settle(bridge.getSafetyNumber({ contactId }));
    if (result.ok) this.#requestSafety = { contactId, groups: result.value.groups };
  }

  /** Accepts a message request: the person can see receipts, typing and presence, and gets the profile. */
  async acceptRequest(contactId: string): Promise<void> {
    const bridge = this.host.bridge;
    if (bridge === null) return;
    const result = await settle(bridge.acceptRequest({ contactId }));
    if (!result.ok) return this.say(describeError(result.error));
    this.#conversations?.upsert(result.value);
    this.say(`You accepted ${result.value.title}’s message request.`);
  }

  /** Deletes a message request and its messages. */
  async deleteRequest(contactId: string, title: string): Promise<void> {
    const bridge = this.host.bridge;
    if (bridge === null) return;
    const result = await settle(bridge.deleteRequest({ contactId }));
    if (!result.ok) return this.say(describeError(result.error));
    await this.#conversations?.load();
    this.goHome();
    this.say(`The message request from ${title} was deleted.`);
  }

  /** Deletes a conversation from this device (the person confirmed in the list); it leaves the list. */
  async deleteConversation(conversationId: string, title: string): Promise<void> {
    const bridge = this.host.bridge;
    if (bridge === null) return;
    const result = await settle(bridge.deleteConversation({ conversationId }));
    if (!result.ok) return this.say(describeError(result.error));
    await this.#conversations?.load();
    if (this.#route.screen === 'chat' && this.#route.conversationId === conversationId) this.goHome();
    this.say(`The conversation with ${title} was deleted.`);
  }

  /** Blocks or unblocks a person; the blocked list in Settings follows. */
  async setBlocked(contactId: string, blocked: boolean, name: string): Promise<void> {
    const bridge = this.host.bridge;
    if (bridge === null) return;
    const result = await settle(bridge.setBlocked({ contactId, blocked }));
    if (!result.ok) return this.say(describeError(result.error));
    await Promise.all([this.#conversations?.load(), this.#settings?.loadBlocked()]);
    if (blocked && this.#route.screen === 'chat' && this.#conversations?.byId(this.#route.conversationId) === undefined) this.goHome();
    this.say(blocked ? `${name} is blocked.` : `${name} is no longer blocked.`);
  }

  /** Copies text to the clipboard (a message's context menu) and says so. */
  async copy(text: string): Promise<void> {
    try {
      await this.#win.navigator.clipboard.writeText(text);
      this.say('Copied.');
    } catch {
      this.say('Parley could not copy to the clipboard.');
    }
  }

  /** Marks a conversation read up to `upToMessageId` (its context menu), whether or not it is open. */
  async markConversationRead(conversationId: string, upToMessageId: string): Promise<void> {
    const error = await this.#conversations?.markRead(conversationId, upToMessageId);
    if (error) this.say(error);
  }

  /** Puts a short confirmation in the live region. */
  say(text: string): void {
    this.#notice = text;
  }
}
