// What the kernel and static backends share around an apply: judging the batch by the read-back
// after it, and the result's timing and log line.
import { RouterApplyError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ApplyResult, Remark } from './router.js';

/** The changes the read-back does not show: removals still there, adds missing, re-marks not at their mark. */
export function notApplied(
  after: ReadonlyMap<string, number>,
  add: readonly string[],
  remove: readonly string[],
  remark: readonly Remark[],
): string[] {
  return [
    ...remove.filter((p) => after.has(p)),
    ...add.filter((p) => !after.has(p)),
    ...remark.filter((r) => after.get(r.prefix) !== r.to).map((r) => r.prefix),
  ];
}

/** The error for a batch of `changes` lines that `failed` says did not take effect, quoting the command's output. */
export function applyError(
  command: string,
  failed: string[],
  changes: number,
  output: string,
): RouterApplyError {
  const said = output.trim() ? `: ${output.trim().split('\n').slice(0, 4).join('; ')}` : '';
  return new RouterApplyError(
    `${command}: ${failed.length} of ${changes} route changes did not take effect${said}`,
    failed,
  );
}

/** Stamps the apply's duration (from `started`, a performance.now()) and logs it at debug. */
export function applied(log: Logger, result: ApplyResult, started: number): ApplyResult {
  result.durationMs = performance.now() - started;
  log.debug(
    {
      added: result.added,
      removed: result.removed,
      remarked: result.remarked,
      ms: Math.round(result.durationMs),
    },
    'applied',
  );
  return result;
}
