// Kubernetes resource quantities ("500m", "2", "4Gi", "1e3"), read the way
// apimachinery reads them, so what validates here is what the API server
// accepts. Values are kept as exact decimal strings would be too heavy for a
// spec tool: millicores and bytes fit comfortably in a double.

import { patterns } from './patterns';

const quantityPattern = new RegExp(patterns.quantity);

const binary: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const decimal: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The quantity's value in base units (cores, bytes), or undefined when it is not a quantity. */
export function parseQuantity(input: string | number): number | undefined {
  const text = typeof input === 'number' ? String(input) : input.trim();
  if (!quantityPattern.test(text)) return undefined;
  const match = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$/.exec(text);
  if (!match) return undefined;
  const [, num, suffix = ''] = match;
  const value = Number(num);
  let scale: number | undefined;
  if (suffix in binary) scale = binary[suffix];
  else if (suffix in decimal) scale = decimal[suffix];
  else if (/^[eE][+-]?[0-9]+$/.test(suffix)) scale = 10 ** Number(suffix.slice(1));
  if (scale === undefined || !Number.isFinite(value)) return undefined;
  return value * scale;
}

/** Millicores, rounded up the way Kubernetes rounds CPU (1m is the finest unit). */
export function cpuToMillis(cores: number): number {
  return Math.ceil(Math.round(cores * 1e6) / 1e3);
}

/** "2", "1500m": the shortest exact Kubernetes form of a CPU amount in millicores. */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** "4Gi", "1536Mi", or plain bytes: the largest binary suffix that keeps the value whole. */
export function formatBytes(bytes: number): string {
  const whole = Math.ceil(bytes);
  for (const suffix of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki']) {
    const unit = binary[suffix]!;
    if (whole >= unit && whole % unit === 0) return `${whole / unit}${suffix}`;
  }
  return String(whole);
}

/** Human-friendly size for messages ("1.5 GiB"); not a Kubernetes quantity. */
export function describeBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
