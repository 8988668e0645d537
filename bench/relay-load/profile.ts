/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time per function and per component
 * (the relay's own code, each npm package, Node internals, GC, native), so the benchmark can name
 * its bottleneck from the top of the profile.
 */
import { readFileSync } from 'node:fs';

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
};
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

export type ProfileSummary = {
  readonly totalMs: number;
  readonly busyMs: number;
  readonly topFunctions: readonly { name: string; where: string; selfMs: number; percentOfBusy: number }[];
  readonly components: readonly { component: string; selfMs: number; percentOfBusy: number }[];
};

function component(url: string, name: string): string {
  if (name === '(idle)') return '(idle)';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return '(program: native/V8)';
  if (url === '') return 'native';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  const own = /dist\/(server|shared|electron|bench)\/([^/]+)/.exec(url);
  if (own) return `parley:${own[1]}/${own[2]!.replace(/\.js$/, '')}`;
  return url;
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('node_modules/');
  if (i >= 0) return url.slice(i + 'node_modules/'.length);
  const d = url.indexOf('/dist/');
  return d >= 0 ? url.slice(d + 1) : url;
}

export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const functions = new Map<string, { name: string; where: string; us: number }>();
  const components = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    total += us;
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const f = functions.get(key) ?? { name, where, us: 0 };
    f.us += us;
    functions.set(key, f);
    const c = component(url, name);
    components.set(c, (components.get(c) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => Math.round((1000 * us) / Math.max(1, busy)) / 10;
  return {
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    topFunctions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: Math.round(f.us / 1000), percentOfBusy: pct(f.us) })),
    components: [...components]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([c, us]) => ({ component: c, selfMs: Math.round(us / 1000), percentOfBusy: pct(us) })),
  };
}

if (process.argv[1]?.endsWith('profile.js') && process.argv[2]) {
  process.stdout.write(`${JSON.stringify(summariseProfile(process.argv[2]), null, 2)}\n`);
}
