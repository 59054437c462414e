// A persistent fabric's state on disk (`<dir>/fabric.json`): enough for another process
// (`cosmolet lab status|node|down`) to attach to the fabric that `lab up` started.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FabricAddressing } from './config.js';

export interface FabricState {
  prefix: string;
  dir: string;
  /** Namespaces by router key: `node` or `node1`..`nodeN`, `leaf`, `ext`. */
  ns: Record<string, string>;
  addressing: FabricAddressing;
  daemons: Record<string, { pid: number | undefined; argv: string[] }>;
}

export function fabricStateFile(dir: string): string {
  return join(dir, 'fabric.json');
}

export function writeFabricState(state: FabricState): void {
  writeFileSync(fabricStateFile(state.dir), JSON.stringify(state, null, 2) + '\n');
}

export function readFabricState(dir: string): FabricState {
  return JSON.parse(readFileSync(fabricStateFile(dir), 'utf8')) as FabricState;
}
