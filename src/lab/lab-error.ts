// The lab's error class (fabric, `cosmolet lab`): a prerequisite missing, or a step that failed.
import { CosmoletError, ErrorCodes } from '../errors.js';

export class LabError extends CosmoletError {
  constructor(code: typeof ErrorCodes.LAB_PREREQUISITE | typeof ErrorCodes.LAB_FAILED, message: string) {
    super(code, message);
  }
}
