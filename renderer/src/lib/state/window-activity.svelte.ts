/**
 * Whether the person can see this window right now: focused and visible (issue 5: "a message is
 * read only when its conversation is open and the window is focused and visible"; notifications
 * only while it is not).
 */
export type ActivitySource = Pick<Window, 'addEventListener'> & { readonly document: Pick<Document, 'hasFocus' | 'visibilityState' | 'addEventListener'> };

export class WindowActivity {
  #focused = $state(false);
  #visible = $state(true);
  // Subscribers, not rendered state.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #listeners = new Set<(active: boolean) => void>();

  constructor(source: ActivitySource) {
    this.#focused = source.document.hasFocus();
    this.#visible = source.document.visibilityState === 'visible';
    const update = () => {
      const before = this.active;
      this.#focused = source.document.hasFocus();
      this.#visible = source.document.visibilityState === 'visible';
      if (this.active !== before) for (const listener of this.#listeners) listener(this.active);
    };
    source.addEventListener('focus', update);
    source.addEventListener('blur', update);
    source.document.addEventListener('visibilitychange', update);
  }

  get focused(): boolean {
    return this.#focused;
  }

  get visible(): boolean {
    return this.#visible;
  }

  /** Focused and visible. */
  get active(): boolean {
    return this.#focused && this.#visible;
  }

  onChange(listener: (active: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
