#!/usr/bin/env node
// The `edgec` command. TypeScript sources are compiled on the fly by swc, so a fresh
// `npm ci` is enough to run every command without a build step.
require('@swc-node/register');
require('../apps/cli/src/main.ts');
