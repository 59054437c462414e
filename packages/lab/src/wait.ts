// Waiting for a condition with a deadline: how every lab step and test waits (never a fixed sleep).
import { LabError, LabErrorCodes } from './errors.js';

/** Polls `check` until it returns a value other than undefined/false, or throws at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new LabError(
        LabErrorCodes.LAB_FAILED,
        `timed out after ${timeoutMs} ms waiting for ${what}${why}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
