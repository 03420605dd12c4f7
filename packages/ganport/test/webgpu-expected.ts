/**
 * Whether the WebGPU tests must run here, decided without ganport's own WebGPU code: were they skipped
 * whenever ganport's loading failed, a regression in that loading would show as "skipped".
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { ROOT } from './helpers.js';

/** Debian's Chromium: its SwiftShader Vulkan driver (what .ci/run points Vulkan at) and its Vulkan loader. */
const CHROMIUM = { icd: '/usr/lib/chromium/vk_swiftshader_icd.json', libraries: '/usr/lib/chromium' };
const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];

/**
 * Plain Dawn (the `webgpu` package) in a child process asks for an adapter. Vulkan is set up as .ci/run
 * sets it up (SwiftShader where no driver is installed or configured), with Chromium's loader last on
 * the library path for machines without a system one.
 */
function dawnFindsAnAdapter(): boolean {
  const env = { ...process.env };
  const installed = ICD_DIRS.some((dir) => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.json')));
  if (process.platform === 'linux') {
    if (!env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES && !installed && existsSync(CHROMIUM.icd))
      env.VK_ICD_FILENAMES = CHROMIUM.icd;
    env.LD_LIBRARY_PATH = [env.LD_LIBRARY_PATH, CHROMIUM.libraries].filter(Boolean).join(':');
  }
  const script = `
    const { create } = await import('webgpu');
    const adapter = await create([]).requestAdapter();
    console.log(adapter ? 'adapter' : 'none');
    process.exit(0);`;
  const probe = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return probe.stdout.trim() === 'adapter';
}

/**
 * `false` (run the tests) where CI says an adapter is expected (.ci/run exports VK_ICD_FILENAMES when it
 * points Vulkan at SwiftShader) or where plain Dawn finds one; elsewhere the reason to skip.
 */
export function skipUnlessWebGpuExpected(): string | false {
  if (process.env.VK_ICD_FILENAMES) return false;
  if (dawnFindsAnAdapter()) return false;
  return 'no WebGPU adapter here: plain Dawn finds none, and VK_ICD_FILENAMES (.ci/run sets it) names no driver';
}
