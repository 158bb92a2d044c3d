/**
 * Summarises a V8 `.cpuprofile` (as written by `node --cpu-prof`): self time by function and by file,
 * so the benchmark can say where the server spends its CPU. Usage: tsx bench/profile-summary.ts <file>.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] }

export function summariseProfile(file: string, top = 15): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const totalHits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0) || 1;
  const msPerHit = (profile.endTime - profile.startTime) / 1000 / totalHits;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = shortUrl(url);
    const fn = `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
    // Functions compiled from strings (protobufjs's generated encoders/decoders) have no URL.
    const fileKey = where || (functionName && functionName !== '(anonymous)' ? functionName : '(no source URL: generated code)');
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + hits);
    const area = areaOf(fileKey);
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  const lines = [`profile ${path.basename(file)}: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s sampled`];
  const busy = totalHits - (byFunction.get('(idle)') ?? 0);
  const row = (name: string, hits: number): string =>
    `  ${((100 * hits) / busy).toFixed(1).padStart(5)}% of busy  ${(hits * msPerHit).toFixed(0).padStart(7)} ms  ${name}`;
  lines.push(`busy (non-idle) CPU: ${((busy * msPerHit) / 1000).toFixed(1)} s; top functions by self time:`);
  for (const [name, hits] of top_(byFunction, top)) if (name !== '(idle)') lines.push(row(name, hits));
  lines.push('by area:');
  for (const [name, hits] of top_(byArea, top)) if (name !== '(idle)') lines.push(row(name, hits));
  lines.push('top files by self time:');
  for (const [name, hits] of top_(byFile, top)) if (name !== '(idle)') lines.push(row(name, hits));
  return lines;
}

/** Coarse owner of a file: this package's code, a dependency, a Node subsystem, or V8 itself. */
function areaOf(fileKey: string): string {
  if (fileKey.startsWith('src/')) return 'temporal-lite src/ (engine, handlers, proto helpers)';
  if (fileKey.startsWith('node:zlib')) return 'node:zlib (gzip of the SDK core\'s requests)';
  if (fileKey.startsWith('node:internal/http2') || fileKey.startsWith('node:http2')) return 'node http2';
  if (fileKey.startsWith('node:')) return 'node other (events, streams, buffers, timers)';
  const pkg = /^((?:@[^/]+\/)?[^/]+)\//.exec(fileKey);
  if (pkg) return `dependency ${pkg[1]}`;
  return fileKey;
}

function top_(map: Map<string, number>, n: number): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** Keeps the part of a file URL that says which package or source file it is. */
function shortUrl(url: string): string {
  if (!url) return '';
  const p = url.replace(/^file:\/\//, '');
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) return p.slice(nm + 'node_modules/'.length);
  const pkg = p.indexOf('packages/temporal-lite/');
  return pkg >= 0 ? p.slice(pkg + 'packages/temporal-lite/'.length) : p;
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile>');
    process.exit(2);
  }
  console.log(summariseProfile(file).join('\n'));
}
