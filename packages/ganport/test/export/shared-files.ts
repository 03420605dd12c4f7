/**
 * Where the tests find model files published in other repositories: data that is never committed
 * here, kept in shared/ beside the repository (sources, commits and licences in each folder's
 * SOURCES.md). Without the files a test is skipped, saying where it looked; with CI set it fails.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';

/** shared/ beside the repository (ROOT is packages/ganport). */
export const SHARED = join(ROOT, '..', '..', '..', 'shared');

/** The skip message for a test of `path`, or false: never under CI, where a missing file must fail. */
export function skipUnlessPresent(path: string | undefined, what: string): string | false {
  if ((path !== undefined && existsSync(path)) || process.env.CI) return false;
  return `${what} is not at ${path ?? 'any of the places looked in'}`;
}

/** Fails when `path` is missing (under CI, where the test was not skipped for it). */
export function assertPresent(path: string | undefined, what: string): asserts path is string {
  assert.ok(path !== undefined && existsSync(path), `${what} is missing (${path}); CI is set, so that is a failure`);
}
