/** `ganport/runtime`, kept for code written against ganport 0.1: the runtime's own API, object for object. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as runtime from '@ganport/runtime';

test('ganport/runtime re-exports @ganport/runtime for code written against ganport 0.1: the same objects', async () => {
  const specifier = 'ganport/runtime'; // the package's own export, resolved as a user's import would be
  const reexport = (await import(specifier)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(reexport).sort(), Object.keys(runtime).sort());
  for (const [name, value] of Object.entries(runtime)) assert.equal(reexport[name], value, name);
});
