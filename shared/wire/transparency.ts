/**
 * Key transparency on the wire (docs/protocol.md §26, ADR 0034): what every device-list and bundle
 * lookup carries (`KeyTransparencySchema`), how a client names the tree size it last saw (the
 * `Parley-Tree-Size` request header), and the four public, unauthenticated monitoring routes an
 * owner device, an auditor or `npm run kt` reads — the signed head with a consistency proof, pages of
 * leaves with the compact range before them, an inclusion proof and a consistency proof between any
 * two sizes. Byte fields are base64url (§1.2). Does not own the bytes (shared/protocol/transparency.ts)
 * or the relay's log (server/transparency/).
 */
import { z } from 'zod';
import { KT_HASH_LENGTH, KT_LEAF_LENGTH, KT_MAX_PROOF_LENGTH, SIGNED_TREE_HEAD_LENGTH } from '../protocol/constants.js';
import { bytesField } from './primitives.js';

/** Request header of a lookup: the tree size of the newest head the client holds (a decimal integer). */
export const KT_TREE_SIZE_HEADER = 'Parley-Tree-Size';
/** Leaves per page of GET /v1/transparency/leaves/:start. */
export const MAX_KT_LEAVES_PAGE = 512;

export const KtHashSchema = bytesField({ length: KT_HASH_LENGTH });
export const KtProofSchema = z.array(KtHashSchema).max(KT_MAX_PROOF_LENGTH);
export const SignedTreeHeadSchema = bytesField({ length: SIGNED_TREE_HEAD_LENGTH });
export const KtLeafSchema = bytesField({ length: KT_LEAF_LENGTH });
const TreeSizeSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * With every lookup of a device list or of bundles: the signed head, the current list's leaf and its
 * inclusion proof under that head, and the consistency proof from the size the client sent in
 * `Parley-Tree-Size` (empty without one, for size 0, or when it is not smaller than the head's).
 */
export const KeyTransparencySchema = z.object({
  head: SignedTreeHeadSchema,
  leafIndex: TreeSizeSchema,
  leaf: KtLeafSchema,
  inclusion: KtProofSchema,
  consistency: KtProofSchema,
});
export type KeyTransparency = z.output<typeof KeyTransparencySchema>;

/** GET /v1/transparency/head/:since — the current signed head and the consistency proof from `since`. */
export const KtHeadResponseSchema = z.object({ head: SignedTreeHeadSchema, consistency: KtProofSchema });
export type KtHeadResponse = z.output<typeof KtHeadResponseSchema>;

/**
 * GET /v1/transparency/leaves/:start — up to MAX_KT_LEAVES_PAGE leaves from `start`, and the compact
 * range of the tree of `start` leaves (its perfect nodes, left to right), so a monitor can check the
 * page against a head without the leaves before it (§26.1).
 */
export const KtLeavesResponseSchema = z.object({
  start: TreeSizeSchema,
  treeSize: TreeSizeSchema,
  range: KtProofSchema,
  leaves: z.array(KtLeafSchema).max(MAX_KT_LEAVES_PAGE),
});
export type KtLeavesResponse = z.output<typeof KtLeavesResponseSchema>;

/** GET /v1/transparency/inclusion/:index/:size — leaf `index` in the tree of `size`. */
export const KtInclusionResponseSchema = z.object({
  index: TreeSizeSchema,
  treeSize: TreeSizeSchema,
  leaf: KtLeafSchema,
  leafHash: KtHashSchema,
  root: KtHashSchema,
  proof: KtProofSchema,
});
export type KtInclusionResponse = z.output<typeof KtInclusionResponseSchema>;

/** GET /v1/transparency/consistency/:from/:to — from the tree of `from` leaves to the tree of `to`. */
export const KtConsistencyResponseSchema = z.object({
  from: TreeSizeSchema,
  to: TreeSizeSchema,
  root1: KtHashSchema,
  root2: KtHashSchema,
  proof: KtProofSchema,
});
export type KtConsistencyResponse = z.output<typeof KtConsistencyResponseSchema>;

/** In /.well-known/parley: the tree-head key's id (the key itself is `treeHeadKey`). */
export const TransparencyAnnouncementSchema = z.object({ treeHeadKeyId: z.number().int().min(0), maxHeadAgeMs: z.number().int() });
