import type { CommandIO } from './render.js';
import { UsageError } from '../errors.js';

export function runCommand(_argv: string[], _io: CommandIO): number {
  throw new UsageError('cosmolet run: not built yet');
}
