/**
 * The `sql` tagged template: the only way queries are written. Interpolated values become bound
 * parameters (`?`), never SQL text, so user data cannot change a statement; a nested `sql` fragment
 * is spliced with its own parameters (for optional clauses). Identifiers are never interpolated:
 * table and column names are written in the template — except names the engine generates itself
 * (the search index's numbered trash tables), spliced with `identifier()`, which accepts only
 * lower-case letters, digits and underscores. Bytes are bound as Buffers at this edge.
 */

export type SqlValue = string | number | bigint | Uint8Array | null;

export type SqlQuery = {
  readonly text: string;
  readonly params: readonly SqlValue[];
  /** Brand: only `sql` makes these. */
  readonly [SQL_BRAND]: true;
};

const SQL_BRAND: unique symbol = Symbol('sql');

function isQuery(v: unknown): v is SqlQuery {
  return typeof v === 'object' && v !== null && (v as { [SQL_BRAND]?: unknown })[SQL_BRAND] === true;
}

/**
 * The text of a template whose values are all plain values, per call site (a template's strings
 * array is the same object at every call of that site): built once, and the same string object
 * every time, so the statement cache's lookup finds it without hashing the text again.
 */
const plainText = new WeakMap<TemplateStringsArray, string>();

export function sql(strings: TemplateStringsArray, ...values: readonly (SqlValue | boolean | SqlQuery)[]): SqlQuery {
  if (!values.some(isQuery)) {
    let text = plainText.get(strings);
    if (text === undefined) {
      text = strings.join('?');
      plainText.set(strings, text);
    }
    const params = values.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : (value as SqlValue)));
    return { text, params, [SQL_BRAND]: true };
  }
  let text = strings[0]!;
  const params: SqlValue[] = [];
  values.forEach((value, i) => {
    if (isQuery(value)) {
      text += value.text;
      params.push(...value.params);
    } else {
      text += '?';
      params.push(typeof value === 'boolean' ? (value ? 1 : 0) : value);
    }
    text += strings[i + 1]!;
  });
  return { text, params, [SQL_BRAND]: true };
}

/** Converts parameters for better-sqlite3 (bytes as Buffers viewing the same memory). */
export function bindable(params: readonly SqlValue[]): unknown[] {
  return params.map((p) =>
    p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p,
  );
}

const IDENTIFIER_RE = /^[a-z_][a-z0-9_]*$/;

/**
 * A quoted identifier as a fragment for `sql`, for names the engine builds (never user input);
 * anything but `[a-z_][a-z0-9_]*` is a bug and throws.
 */
export function identifier(name: string): SqlQuery {
  if (!IDENTIFIER_RE.test(name)) throw new Error(`not an engine-generated identifier: ${JSON.stringify(name)}`);
  return { text: `"${name}"`, params: [], [SQL_BRAND]: true };
}
