/**
 * The import rules that keep the layers apart. `npm run lint:structure` checks them (and .ci/run runs it):
 * the domain (src/core) depends on nothing above it, the database layer not on the domain, commands not on
 * the platforms that register them, and no file is part of an import cycle.
 */
const CHAT_SDKS = '^(discord\\.js|@discordjs/|@slack/)';
const CHART_LIBRARIES = '^(vega|vega-lite|@resvg/)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle (even through type-only imports) means two modules cannot be read or tested apart.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-nothing-above-it',
      severity: 'error',
      comment:
        'The domain is handed its providers and charts through ports (src/core/ports.ts); it keeps its queries next to it, on the drizzle schema in src/db.',
      from: { path: '^src/core/' },
      to: { path: '^(src/(platforms|providers|eval|charts|app|main|health|prometheus-metrics)|commands)' },
    },
    {
      name: 'core-uses-no-chat-sdk-chart-library-or-provider-client',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: [CHAT_SDKS, CHART_LIBRARIES, '^(openai|replicate|@huggingface/|sharp)'].join('|'), dependencyTypesNot: ['local'] },
    },
    {
      name: 'db-does-not-know-the-domain',
      severity: 'error',
      from: { path: '^src/db/' },
      to: { path: '^(src/(core|platforms|providers|eval|charts)|commands)' },
    },
    {
      name: 'commands-do-not-know-platforms',
      severity: 'error',
      comment: 'Commands are declared once and every platform registers them; they speak to platforms only through the command kit.',
      from: { path: '^commands/' },
      to: { path: '^src/(platforms|providers|eval|charts|db|app|main)' },
    },
    {
      name: 'providers-do-not-know-platforms',
      severity: 'error',
      from: { path: '^src/providers/' },
      to: { path: '^(src/(platforms|eval|app|main)|commands)' },
    },
    {
      name: 'only-the-chart-worker-and-eval-load-chart-libraries',
      severity: 'error',
      comment: 'vega-lite patches Set.prototype, which breaks discord.js: charts are drawn in their own worker thread.',
      from: { path: '^src/', pathNot: '^src/(charts|eval)/' },
      to: { path: CHART_LIBRARIES },
    },
    {
      name: 'no-unresolvable-imports',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    exclude: { path: '^(node_modules|data)' },
  },
};
