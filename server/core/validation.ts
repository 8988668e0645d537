/**
 * Turns a failed zod parse into a short, safe error message: the paths and kinds of the first few
 * issues, never the offending values (they may be ciphertext, keys or tokens).
 */
import type { z } from 'zod';
import { MAX_ERROR_MESSAGE_LENGTH } from '../../shared/wire/errors.js';
import { RelayError } from './errors.js';

const MAX_ISSUES_DESCRIBED = 3;

export function describeIssues(error: z.ZodError): string {
  const parts = error.issues.slice(0, MAX_ISSUES_DESCRIBED).map((issue) => {
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    return `${where}: ${issue.code === 'custom' ? issue.message : issue.code}`;
  });
  const text = `invalid ${parts.join('; ')}`;
  return text.length > MAX_ERROR_MESSAGE_LENGTH ? `${text.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1)}…` : text;
}

/** Parses `value` with `schema` or throws MALFORMED. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new RelayError('MALFORMED', describeIssues(result.error));
  return result.data;
}
