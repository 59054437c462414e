// Import boundaries of src/ (run by `npm run lint`; docs/architecture.md draws them). Data flows
// kube -> plan -> router; the controller wires them, observe reports; net, model, logger and errors
// are the shared vocabulary at the base; the lab and the CLI sit on top.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Imports flow one way: no cycle, type-only and dynamic imports included.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      severity: 'error',
      scope: 'folder',
      comment:
        'Layers, not only files, flow one way: two folders that import each other (even through different files) are one layer in two places.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'plan-is-pure',
      severity: 'error',
      comment:
        'The plan decides from its inputs alone: no Kubernetes client, router, controller, observe, CLI, lab, no I/O.',
      from: { path: '^src/plan/' },
      to: {
        path: [
          '^src/(kube|router|controller|observe|cli|lab)/',
          '^(node:)?(fs|fs/promises|child_process|http|https|http2|net|dgram|dns|tls|worker_threads|cluster|os|process)$',
        ],
      },
    },
    {
      name: 'production-never-imports-lab',
      severity: 'error',
      comment:
        'The lab (API double, fabric) is for tests and `cosmolet lab`; the image leaves it out. Only cli/main.ts loads the lab command, on demand.',
      from: { path: '^src/', pathNot: ['^src/lab/', '^src/cli/main\\.ts$'] },
      to: { path: '^src/lab/' },
    },
    {
      name: 'lab-command-loaded-on-demand',
      severity: 'error',
      comment: 'cli/main.ts may reach the lab only through a dynamic import of src/lab/command.ts.',
      from: { path: '^src/cli/main\\.ts$' },
      to: { path: '^src/lab/', dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'lab-command-only',
      severity: 'error',
      from: { path: '^src/cli/main\\.ts$' },
      to: { path: '^src/lab/', pathNot: '^src/lab/command\\.ts$' },
    },
    {
      name: 'router-below-kube-plan-controller',
      severity: 'error',
      comment: 'The router installs prefixes; it knows nothing of Kubernetes, the plan or the controller.',
      from: { path: '^src/router/' },
      to: { path: '^src/(kube|plan|controller)/' },
    },
    {
      name: 'kube-below-router-controller',
      severity: 'error',
      from: { path: '^src/kube/' },
      to: { path: '^src/(router|controller)/' },
    },
    {
      name: 'observe-not-router',
      severity: 'error',
      comment: 'observe reports on what the controller hands it, in types of its own.',
      from: { path: '^src/observe/' },
      to: { path: '^src/router/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
