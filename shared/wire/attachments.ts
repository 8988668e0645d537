/**
 * The relay's attachment endpoints (issue 13, docs/adr/0015-attachment-blobs.md): uploads with the
 * tus protocol 1.0.0 under ATTACHMENTS_PATH (creation, core, termination; a session token), and
 * downloads with GET and HTTP range requests on the upload URL (no token). An attachment is named by
 * a random 16-byte id, base64url in the path; what it holds is ciphertext of docs/protocol.md §17.
 * Owns the wire names and sizes. The relay's limits (size, quota, uploads at once, retention) are
 * configurable and announced in /.well-known/parley (`WellKnownSchema.attachments`).
 */
import { z } from 'zod';
import { bytesField } from './primitives.js';

/** Attachment ids are 128 random bits, chosen by the relay. */
export const ATTACHMENT_ID_LENGTH = 16;
/** tus creation endpoint; an upload's URL is `${ATTACHMENTS_PATH}/<base64url id>`. */
export const ATTACHMENTS_PATH = '/v1/attachments';
/** The one tus version the relay speaks (`Tus-Resumable`). */
export const TUS_VERSION = '1.0.0';

export const AttachmentIdSchema = bytesField({ length: ATTACHMENT_ID_LENGTH });

/** What /.well-known/parley announces under `attachments`. */
export const AttachmentLimitsSchema = z.object({
  path: z.string(),
  tusVersion: z.string(),
  /** The largest ciphertext an upload may declare (Upload-Length). */
  maxBytes: z.number().int().positive(),
  /** Ciphertext one account may keep stored (finished and unfinished uploads). */
  quotaBytes: z.number().int().positive(),
  /** Unfinished uploads one account may have at once. */
  maxConcurrentUploads: z.number().int().positive(),
  /** A finished attachment is deleted this long after its upload completed. */
  retentionMs: z.number().int().positive(),
  /** An unfinished upload is discarded this long after it was created. */
  partialUploadMaxAgeMs: z.number().int().positive(),
});
export type AttachmentLimits = z.output<typeof AttachmentLimitsSchema>;
