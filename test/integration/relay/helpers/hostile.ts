/**
 * fast-check generators of hostile relay input: WebSocket frames (garbage text, arbitrary JSON,
 * frames with known and unknown types whose fields have wrong types, wrong lengths, bad base64url,
 * non-canonical encodings, out-of-range numbers and unknown keys, mutations of valid frames, binary
 * frames) and REST requests (every route, with and without a token, hostile path parameters, bodies,
 * content types). Generation is seeded, so a failure names a reproducible case.
 */
import fc from 'fast-check';
import { toBase64Url } from '../../../../shared/crypto/bytes.js';
import { CLIENT_FRAME_TYPES } from '../../../../shared/wire/frames.js';
import { ROUTES, type RouteName } from '../../../../shared/wire/rest.js';

export type HostileFrame = { readonly kind: 'text'; readonly data: string } | { readonly kind: 'binary'; readonly data: Uint8Array };

const bytesB64 = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map(toBase64Url);

/** Strings aimed at byte fields and ids: near-miss lengths, padding, foreign alphabets, non-canonical tails. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 16 }),
  fc.string({ unit: 'binary', maxLength: 16 }),
  bytesB64(16),
  bytesB64(15),
  bytesB64(17),
  bytesB64(32),
  bytesB64(48),
  bytesB64(64),
  bytesB64(16).map((s) => `${s}==`),
  bytesB64(16).map((s) => s.replace(/.$/, '+')),
  bytesB64(16).map((s) => s.replace(/.$/, '/')),
  bytesB64(16).map((s) => ` ${s}`),
  // 22 chars decode to 16 bytes only if the last char's low 4 bits are zero: these are not canonical.
  fc.constantFrom('AAAAAAAAAAAAAAAAAAAAAB', 'AAAAAAAAAAAAAAAAAAAAAP', '_________________________w'),
  fc.constantFrom('', '=', 'null', 'undefined', '__proto__', 'constructor', '../../etc/passwd', '%00', '\u0000', '\ud800', 'A'.repeat(5_000)),
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 1, 0.5, -0, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e308, 5e-324),
);

const { value: hostileValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 8 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'type', 'id')), tie('value'), { maxKeys: 4 }),
  ),
}));
export { hostileValue };

/** Frame objects: a known or unknown type, each plausible field present or not, each value hostile. */
function structuredFrame(valid: ValidParts): fc.Arbitrary<Record<string, unknown>> {
  const message = fc.record(
    { deviceId: fc.oneof(hostileNumber, hostileValue), content: fc.oneof(hostileString, bytesB64(1), hostileValue) },
    { requiredKeys: [] },
  );
  return fc
    .record(
      {
        type: fc.oneof(fc.constantFrom(...CLIENT_FRAME_TYPES), fc.string({ maxLength: 12 }), hostileValue),
        id: fc.oneof(fc.constantFrom('r1', 'x'.repeat(64), 'x'.repeat(65), 'a b', ''), hostileValue),
        to: fc.oneof(fc.constant(valid.to), hostileString, hostileValue),
        messages: fc.oneof(fc.array(message, { maxLength: 8 }), hostileValue),
        seqs: fc.oneof(fc.array(hostileNumber, { maxLength: 5 }), fc.constant([]), hostileValue),
        state: fc.oneof(fc.constantFrom('started', 'stopped', 'STARTED'), hostileValue),
        accounts: fc.oneof(fc.array(fc.oneof(fc.constant(valid.to), hostileString), { maxLength: 5 }), fc.constant([]), hostileValue),
        token: fc.oneof(hostileString, hostileValue),
        extra: hostileValue,
      },
      { requiredKeys: ['type'] },
    )
    .map((f) => {
      const out: Record<string, unknown> = { ...f };
      if ('extra' in out && typeof out.type === 'string' && out.type.length % 2 === 0) delete out.extra;
      return out;
    });
}

export type ValidParts = { readonly to: string };

/** Valid frames of every type, each with exactly one thing broken. */
function mutatedFrame(valid: ValidParts): fc.Arbitrary<Record<string, unknown>> {
  const templates: Record<string, unknown>[] = [
    { type: 'send', id: 's1', to: valid.to, messages: [{ deviceId: 1, content: 'AAAA' }] },
    { type: 'ack', id: 'a1', seqs: [1, 2, 3] },
    { type: 'presence-query', id: 'p1', accounts: [valid.to] },
    { type: 'ping', id: 'g1' },
  ];
  return fc
    .tuple(fc.constantFrom(...templates), fc.nat(), fc.oneof(hostileValue, hostileString, hostileNumber), fc.constantFrom('replace', 'delete', 'add', 'nest'))
    .map(([template, pick, value, how]) => {
      const frame: Record<string, unknown> = structuredClone(template);
      const keys = Object.keys(frame).filter((k) => k !== 'type');
      const key = keys[pick % keys.length]!;
      if (how === 'replace') frame[key] = value;
      else if (how === 'delete') delete frame[key];
      else if (how === 'add') frame[`x${pick % 7}`] = value;
      else if (Array.isArray(frame[key])) (frame[key] as unknown[]).push(value);
      else frame[key] = [frame[key], value];
      return frame;
    });
}

export function hostileFrames(valid: ValidParts): fc.Arbitrary<HostileFrame> {
  const text = (a: fc.Arbitrary<unknown>) => a.map((v): HostileFrame => ({ kind: 'text', data: JSON.stringify(v) }));
  return fc.oneof(
    { arbitrary: text(structuredFrame(valid)), weight: 5 },
    { arbitrary: text(mutatedFrame(valid)), weight: 5 },
    { arbitrary: fc.json({ maxDepth: 3 }).map((data): HostileFrame => ({ kind: 'text', data })), weight: 2 },
    { arbitrary: fc.string({ maxLength: 64 }).map((data): HostileFrame => ({ kind: 'text', data })), weight: 1 },
    {
      arbitrary: fc
        .tuple(text(structuredFrame(valid)), fc.nat(), fc.string({ maxLength: 3 }))
        .map(([f, at, junk]): HostileFrame => {
          const s = f.data as string;
          const i = at % (s.length + 1);
          return { kind: 'text', data: s.slice(0, i) + junk + s.slice(i + 1) };
        }),
      weight: 2,
    },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((data): HostileFrame => ({ kind: 'binary', data })), weight: 1 },
  );
}

export type HostileRequest = {
  readonly route: RouteName | 'unknown';
  readonly method: string;
  readonly path: string;
  readonly body: string | undefined;
  readonly contentType: string;
  readonly withToken: boolean;
};

const BODY_ROUTES = (Object.keys(ROUTES) as RouteName[]).filter((r) => ROUTES[r].method !== 'GET');

export function hostileRequests(valid: ValidParts): fc.Arbitrary<HostileRequest> {
  const segment = fc.oneof(fc.constant(valid.to), hostileString.map((s) => encodeURIComponent(Buffer.from(s, 'utf8').toString('utf8'))), fc.constantFrom('%', '%E0%A4%A', '%00', '..', '%2F', 'me', '1', '0'));
  const bodyFor = fc.oneof(
    { arbitrary: fc.json({ maxDepth: 3 }), weight: 2 },
    { arbitrary: fc.oneof(hostileValue, fc.dictionary(fc.string({ maxLength: 12 }), hostileValue, { maxKeys: 6 })).map((v) => JSON.stringify(v) ?? 'null'), weight: 4 },
    { arbitrary: fc.string({ maxLength: 80 }), weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
  const known = fc
    .tuple(fc.constantFrom(...(Object.keys(ROUTES) as RouteName[]).filter((r) => r !== 'metrics')), segment, segment, bodyFor, fc.boolean(), fc.constantFrom('application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'))
    .map(([route, a, b, body, withToken, contentType]): HostileRequest => {
      const { method, path } = ROUTES[route];
      return {
        route,
        method,
        path: path.replace(':accountId', a).replace(':username', a).replace(':deviceId', b),
        body: BODY_ROUTES.includes(route) ? body : undefined,
        contentType,
        withToken,
      };
    });
  const unknown = fc
    .tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), fc.array(segment, { maxLength: 4 }), bodyFor, fc.boolean())
    .map(([method, segs, body, withToken]): HostileRequest => ({
      route: 'unknown',
      method,
      path: `/${segs.join('/')}`,
      body: method === 'GET' ? undefined : body,
      contentType: 'application/json',
      withToken,
    }));
  return fc.oneof({ arbitrary: known, weight: 6 }, { arbitrary: unknown, weight: 1 });
}
