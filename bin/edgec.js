#!/usr/bin/env node
// The `edgec` command. TypeScript sources are compiled on the fly by swc, so a fresh
// `npm ci` is enough to run every command without a build step.
const { join } = require('node:path');
// swc looks for tsconfig.json (and with it the @edgecompress/* paths) in the working
// directory; point it at the repository's so the command runs from any directory.
process.env.SWC_NODE_PROJECT ??= join(__dirname, '..', 'tsconfig.json');
require('@swc-node/register');
require('../apps/cli/src/main.ts');
