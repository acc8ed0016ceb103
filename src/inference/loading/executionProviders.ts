import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InferenceError } from '../errors';
import type { DevicePreference } from '../protocol';

export interface ProviderChoice {
  /** The provider that runs the session. */
  readonly device: string;
  /** One line per provider that was tried before and failed (or skipped), saying why. */
  readonly notes: string[];
}

const KNOWN: readonly DevicePreference[] = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'];

/** GPU providers worth trying on this platform, most preferred first. */
export function gpuCandidates(platform: NodeJS.Platform = process.platform): string[] {
  switch (platform) {
    case 'win32':
      return ['cuda', 'dml', 'webgpu'];
    case 'darwin':
      return ['coreml', 'webgpu'];
    default:
      return ['cuda', 'webgpu'];
  }
}

/** The order in which providers are tried for a preference. */
export function providerOrder(preference: DevicePreference, platform: NodeJS.Platform = process.platform): string[] {
  if (!KNOWN.includes(preference)) {
    throw new InferenceError('unsupported-device', `Unknown device "${preference}". Use one of: ${KNOWN.join(', ')}.`);
  }
  if (preference === 'auto') return [...gpuCandidates(platform), 'cpu'];
  if (preference !== 'cpu' && !gpuCandidates(platform).includes(preference)) {
    throw new InferenceError('unsupported-device', `Device "${preference}" is not available on ${platform}. Available here: cpu, ${gpuCandidates(platform).join(', ')}.`);
  }
  return [preference];
}

function backendState(name: string): 'bundled' | 'installed' | 'absent' {
  const backends = ort.listSupportedBackends?.() ?? [];
  const found = backends.find((b) => b.name === name);
  if (!found) return name === 'cpu' ? 'bundled' : 'absent';
  if (found.bundled) return 'bundled';
  // CUDA and TensorRT are optional downloads of onnxruntime-node's install script.
  const binDir = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  const lib = process.platform === 'win32' ? `onnxruntime_providers_${name}.dll` : `libonnxruntime_providers_${name}.so`;
  return existsSync(join(binDir, lib)) ? 'installed' : 'absent';
}

/**
 * WebGPU on Linux runs on Vulkan (Dawn): without a Vulkan loader it cannot start, and trying prints
 * a native warning on every load. Looked up where the dynamic linker looks.
 */
function vulkanLoaderFound(): boolean {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/lib64', '/lib', '/usr/local/lib',
  ];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/** Why a provider that onnxruntime-node has cannot work on this machine, before trying it. */
function knownUnavailable(provider: string): string | undefined {
  if (provider === 'webgpu' && process.platform === 'linux' && !vulkanLoaderFound()) return 'no Vulkan driver (libvulkan.so.1 not found), which WebGPU needs on Linux';
  return undefined;
}

/**
 * Creates a session on the first provider of `preference` that works. `auto` falls back to CPU and
 * records why each GPU provider was not used; a forced provider that fails is an error.
 */
export async function createSessionWithFallback(
  model: string | Uint8Array,
  preference: DevicePreference,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<{ session: ort.InferenceSession } & ProviderChoice> {
  const notes: string[] = [];
  const order = providerOrder(preference);
  for (const provider of order) {
    const state = backendState(provider);
    if (state === 'absent') {
      notes.push(`${provider}: not installed with this onnxruntime-node`);
      if (preference !== 'auto') throw new InferenceError('unsupported-device', `Device "${provider}" is not installed with this onnxruntime-node (its CUDA provider is a separate download: in a clone of this repository, npm run install:cuda).`);
      continue;
    }
    const unavailable = knownUnavailable(provider);
    if (unavailable && preference === 'auto') {
      notes.push(`${provider}: ${unavailable}`);
      continue;
    }
    try {
      // GPU attempts that fail are expected on machines without one: keep onnxruntime quiet about them.
      const session = await createSession(model, { ...options, executionProviders: [provider], logSeverityLevel: provider === 'cpu' ? 2 : 4 });
      return { session, device: provider, notes };
    } catch (err) {
      const reason = (err as Error).message.split('\n')[0];
      if (preference !== 'auto') {
        if (isModelError(reason)) throw corruptModel(model, reason);
        throw new InferenceError('unsupported-device', `Device "${provider}" could not be used: ${reason}`);
      }
      if (provider === 'cpu' || isModelError(reason)) throw corruptModel(model, reason);
      notes.push(`${provider}: unavailable (${reason})`);
    }
  }
  throw new InferenceError('unsupported-device', `No execution provider could run the model: ${notes.join('; ')}`);
}

function isModelError(message: string): boolean {
  return /protobuf|Load model|parsing|Invalid model|ModelProto|graph|INVALID_GRAPH|INVALID_PROTOBUF/i.test(message);
}

function corruptModel(model: string | Uint8Array, reason: string): InferenceError {
  const where = typeof model === 'string' ? model : 'the ONNX graph';
  return new InferenceError('model-corrupt', `Could not load ${where}: the file is corrupt or truncated (${reason}).`);
}

function createSession(model: string | Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}
