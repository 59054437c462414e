import type { CommandIO } from './render.js';
import { UsageError } from '../errors.js';

export function labCommand(_argv: string[], _io: CommandIO): number {
  throw new UsageError('cosmolet lab: not built yet');
}
