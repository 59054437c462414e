// The lab's errors: test tooling, so out of the product's catalogue (src/errors.ts) and not a
// CosmoletError; coded the same way, so callers branch on `code`.
import { CodedError } from 'cosmolet/errors';

export const LabErrorCodes = {
  /** The lab cannot start: missing packages, not root, no network namespaces. Exit status 2. */
  LAB_PREREQUISITE: 'COSMOLET_LAB_PREREQUISITE',
  /** A lab step failed (a daemon did not start, a session did not come up in time). */
  LAB_FAILED: 'COSMOLET_LAB_FAILED',
} as const;

export type LabErrorCode = (typeof LabErrorCodes)[keyof typeof LabErrorCodes];

/** The lab (fabric, `cosmolet lab`): a prerequisite missing, or a step that failed. */
export class LabError extends CodedError<LabErrorCode> {}
