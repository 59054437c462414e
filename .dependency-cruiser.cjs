// Import boundaries of src/ and packages/ (run by `npm run lint`; docs/architecture.md draws them).
// Data flows kube -> plan -> router; the controller wires them, observe reports; net, model, logger
// and errors are the shared vocabulary at the base; the CLI sits on top. Beside the product, two
// private workspace packages: the API double (packages/kube-double) and the lab (packages/lab), which
// reach the product only by its package name (`cosmolet/...`, the root package.json's exports).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Imports flow one way: no cycle, type-only and dynamic imports included.',
      from: { path: '^(src|packages)/' },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      severity: 'error',
      scope: 'folder',
      comment:
        'Layers, not only files, flow one way: two folders that import each other (even through different files) are one layer in two places.',
      from: { path: '^(src|packages)/' },
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
          '^src/(kube|router|controller|observe|cli)/',
          '^(node:)?(fs|fs/promises|child_process|http|https|http2|net|dgram|dns|tls|worker_threads|cluster|os|process)$',
        ],
      },
    },
    {
      name: 'product-never-imports-packages',
      severity: 'error',
      comment:
        'The product (what the image and `npm pack` ship) has no lab and no API double; cli/main.ts loads the lab command by a name in a variable, which no import rule sees.',
      from: { path: '^src/' },
      to: { path: '^packages/' },
    },
    {
      name: 'packages-reach-the-product-by-name',
      severity: 'error',
      comment:
        "The packages import the product as `cosmolet/...` (the root package.json's exports), never by a relative path into src/.",
      from: { path: '^packages/' },
      to: { path: '^src/', dependencyTypes: ['local'] },
    },
    {
      name: 'double-takes-only-the-vocabulary',
      severity: 'error',
      comment:
        'The API double speaks Kubernetes in the product vocabulary (model, errors, logging) and knows nothing of the lab or of what the product does with the API.',
      from: { path: '^packages/kube-double/' },
      to: {
        path: ['^packages/lab/', '^src/'],
        pathNot: ['^src/model/', '^src/(errors|logger)\\.ts$', '^src/observe/log\\.ts$'],
      },
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
    // The workspace packages and the product resolve to their sources, as the type checker sees them.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['source', 'import', 'default'],
      extensions: ['.ts', '.js'],
    },
    exclude: { path: '(^|/)(dist|dist-types|node_modules)/' },
  },
};
