/**
 * WebGPU in Node: Dawn's Node bindings (the optional `webgpu` package) give the process a
 * `navigator.gpu`, on Vulkan (Linux), Metal (macOS) or D3D12 (Windows). Set up lazily, once.
 *
 * On Linux Dawn needs the Vulkan loader (libvulkan.so.1) and a driver (an ICD). Where the
 * system has no loader, the one Debian's Chromium ships is used; where no driver is
 * configured or installed, Chromium's SwiftShader (a CPU implementation of Vulkan) is
 * pointed at, so that WebGPU works, slowly, on machines without a GPU. onnxruntime-node's
 * WebGPU execution provider brings its own Dawn but needs the same loader and driver, so
 * `prepareVulkan()` is also what `generate --provider webgpu` and parity call first.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { constants, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** Chromium's SwiftShader Vulkan driver and Vulkan loader, as Debian's `chromium` package installs them. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const CHROMIUM_VULKAN_LOADER = '/usr/lib/chromium/libvulkan.so.1';
/** dlopen's RTLD_NODELETE (glibc): the library stays loaded although node closes the handle. */
const RTLD_NODELETE = 0x1000;

const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];

export interface VulkanSetup {
  /** The Vulkan loader: 'system', Chromium's copy (a path), or undefined where there is none (or not Linux). */
  loader?: string;
  /** The ICD (driver) list in effect: VK_ICD_FILENAMES / VK_DRIVER_FILES, else the installed drivers. */
  drivers: string;
  /** What ganport changed, one line each (empty when it changed nothing). */
  notes: string[];
}

let vulkan: VulkanSetup | undefined;

/**
 * Makes Vulkan usable by Dawn in this process (Linux only; elsewhere a no-op): loads the
 * loader (the system's, else Chromium's) and, when no driver is configured or installed,
 * sets VK_ICD_FILENAMES to SwiftShader's. Idempotent.
 */
export function prepareVulkan(): VulkanSetup {
  if (vulkan) return vulkan;
  if (process.platform !== 'linux') {
    vulkan = { drivers: 'the platform API (Metal / D3D12)', notes: [] };
    return vulkan;
  }
  const notes: string[] = [];
  if (!isRuntimeDir(process.env.XDG_RUNTIME_DIR)) {
    // Vulkan drivers with a Wayland surface (SwiftShader's) connect through libwayland, which prints
    // "XDG_RUNTIME_DIR is invalid or not set" without one (CI containers, cron, ssh without a login)
    process.env.XDG_RUNTIME_DIR = privateRuntimeDir();
    notes.push(`XDG_RUNTIME_DIR was unset or invalid: set to ${process.env.XDG_RUNTIME_DIR}`);
  }
  let loader: string | undefined;
  if (preload('libvulkan.so.1')) loader = 'system';
  else if (existsSync(CHROMIUM_VULKAN_LOADER) && preload(CHROMIUM_VULKAN_LOADER)) {
    loader = CHROMIUM_VULKAN_LOADER;
    notes.push(`no system Vulkan loader (libvulkan.so.1): using Chromium's ${CHROMIUM_VULKAN_LOADER}`);
  }
  const configured = process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES;
  const installed = ICD_DIRS.flatMap((dir) => jsonFiles(dir));
  if (!configured && installed.length === 0 && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    notes.push(`no Vulkan driver installed or configured: set VK_ICD_FILENAMES=${SWIFTSHADER_ICD} (SwiftShader, CPU)`);
  }
  const drivers = process.env.VK_ICD_FILENAMES
    ? `VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES}`
    : process.env.VK_DRIVER_FILES
      ? `VK_DRIVER_FILES=${process.env.VK_DRIVER_FILES}`
      : installed.length
        ? installed.join(', ')
        : 'none';
  vulkan = { loader, drivers, notes };
  return vulkan;
}

/** A directory only this user may use, in the role of XDG_RUNTIME_DIR (created once, mode 0700). */
export function privateRuntimeDir(): string {
  const dir = join(tmpdir(), `ganport-runtime-${userInfo().uid}`);
  if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700, recursive: true });
  return dir;
}

/** What libwayland accepts as XDG_RUNTIME_DIR: an existing directory of this user's, closed to others. */
function isRuntimeDir(dir: string | undefined): boolean {
  if (!dir) return false;
  try {
    const stat = statSync(dir);
    return stat.isDirectory() && stat.uid === userInfo().uid && (stat.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** Loads a shared library for the rest of the process; false when it cannot be found. */
function preload(library: string): boolean {
  try {
    process.dlopen({ exports: {} }, library, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL | RTLD_NODELETE);
    return true;
  } catch (err) {
    // dlopen succeeded; node then found no addon in it, which is expected
    return /did not self-register/.test((err as Error).message);
  }
}

function jsonFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** What the adapter says about itself, and whether it is a software one. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter calls itself a fallback adapter (WebGPU's isFallbackAdapter). */
  fallback: boolean;
  /** A CPU implementation (SwiftShader, lavapipe/llvmpipe, WARP): correct, but slower than the CPU backends. */
  software: boolean;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|warp|basic render|software/i;

export function summarizeAdapter(info: Partial<Record<string, unknown>>, isFallbackAdapter?: boolean): AdapterSummary {
  const text = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : '');
  const fallback = info.isFallbackAdapter === true || isFallbackAdapter === true;
  const summary = {
    vendor: text('vendor'),
    architecture: text('architecture'),
    device: text('device'),
    description: text('description'),
    fallback,
  };
  const software = fallback || SOFTWARE.test(`${summary.architecture} ${summary.device} ${summary.description}`);
  return { ...summary, software };
}

/** "google swiftshader (SwiftShader driver 5.0.0; software)" */
export function describeAdapter(a: AdapterSummary): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
  const details = [a.description || a.device, a.fallback ? 'fallback' : '', a.software ? 'software' : 'hardware'];
  return `${name} (${details.filter(Boolean).join('; ')})`;
}

/** Minimal shape of what Dawn's `navigator.gpu` gives back; the full types are @webgpu/types'. */
interface GpuAdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

export interface WebGpu {
  adapter: AdapterSummary;
  vulkan: VulkanSetup;
}

let setup: Promise<WebGpu> | undefined;

/**
 * Loads Dawn (the `webgpu` package), installs `navigator.gpu` and the WebGPU globals
 * (GPUBufferUsage, …) that tfjs-backend-webgpu reads, and asks for a high-performance
 * adapter. Throws one line when the package is missing or there is no adapter.
 */
export function setUpWebGpu(): Promise<WebGpu> {
  setup ??= (async () => {
    const vulkanSetup = prepareVulkan();
    let dawn: { create(options: string[]): GpuLike; globals: object };
    try {
      const pkg = 'webgpu'; // optional dependency, resolved at run time
      dawn = await import(pkg);
    } catch (err) {
      const message = (err as Error).message;
      throw new Error(
        /Cannot find (package|module)/.test(message)
          ? 'not installed (npm install webgpu@0.6.2)'
          : `the webgpu package did not load: ${message.split('\n')[0]}`,
      );
    }
    for (const [key, value] of Object.entries(dawn.globals)) {
      if (!(key in globalThis)) Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
    }
    const gpu = dawn.create([]);
    const scope = globalThis as { navigator?: object };
    if (!scope.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true });
    if (!('gpu' in (scope.navigator as object))) {
      Object.defineProperty(scope.navigator, 'gpu', { value: gpu, configurable: true });
    }
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      const hint =
        process.platform === 'linux'
          ? `Vulkan loader: ${vulkanSetup.loader ?? 'none'}, drivers: ${vulkanSetup.drivers}`
          : 'no Metal/D3D12 device';
      throw new Error(`no WebGPU adapter (${hint})`);
    }
    return { adapter: summarizeAdapter(adapter.info ?? {}, adapter.isFallbackAdapter), vulkan: vulkanSetup };
  })();
  // a failure is final for this process too: the same packages and drivers would fail again
  return setup;
}
