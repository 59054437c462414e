// The setup the controller benchmarks share: the fabric lab with the API double (kernel
// origination), the `cosmolet run` processes a benchmark starts in it, killed by pid at the end
// (also on failure), and the lab torn down.
import { ControllerLab, type CosmoletProcess } from '../test/e2e/controller/harness.js';

export type StartCosmolet = (config: Record<string, unknown>) => CosmoletProcess;

export async function inControllerLab(
  run: (lab: ControllerLab, startCosmolet: StartCosmolet) => Promise<void>,
): Promise<void> {
  const lab = new ControllerLab({ origination: 'kernel' });
  await lab.start();
  const started: CosmoletProcess[] = [];
  try {
    await run(lab, (config) => {
      const c = lab.startCosmolet(config);
      started.push(c);
      return c;
    });
  } finally {
    for (const c of started) c.kill('SIGKILL');
    await lab.teardown();
  }
}
