#!/usr/bin/env node
// Thin entry point: the CLI lives in src/cli (compiled to dist/ at install).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`upkeep: ${err?.stack ?? err}`); process.exitCode = 1; },
);
