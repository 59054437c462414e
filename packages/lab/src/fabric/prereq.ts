// What the fabric needs on the machine (root, iproute2, FRR's daemons, GoBGP).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';
import { FRR_DAEMONS, FRR_DIR } from './processes.js';

function which(bin: string): boolean {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin', FRR_DIR].some((d) => existsSync(join(d, bin)));
}

/** Throws LAB_PREREQUISITE with the exact thing missing. */
export function checkPrerequisites(): void {
  if (process.getuid?.() !== 0)
    throw new LabError(LabErrorCodes.LAB_PREREQUISITE, 'the fabric lab needs root');
  const missing: string[] = [];
  if (!which('ip')) missing.push('ip (apt install iproute2)');
  for (const d of FRR_DAEMONS)
    if (!existsSync(join(FRR_DIR, d))) missing.push(`${FRR_DIR}/${d} (apt install frr)`);
  if (!which('vtysh')) missing.push('vtysh (apt install frr)');
  if (!which('gobgpd') || !which('gobgp')) missing.push('gobgpd, gobgp (apt install gobgpd)');
  if (missing.length > 0)
    throw new LabError(LabErrorCodes.LAB_PREREQUISITE, `missing: ${missing.join(', ')}`);
}
