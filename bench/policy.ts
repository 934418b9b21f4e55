/**
 * In-process decision latency of each policy engine on the two shapes the issue names: a
 * project member reading their project, and a list call with a 20-role token. Each decision is
 * timed on its own (hrtime around one decide call), so p99 includes the GC pauses a server sees.
 */
import { loadPolicyRules } from '../src/policy/defaults.js';
import { buildPolicyEngine } from '../src/policy/engines.js';
import type { Credentials, PolicyEngine, PolicyInput } from '../src/policy/pdp.js';

export interface PolicyCaseFigures {
  readonly p50_us: number;
  readonly p99_us: number;
  /** CPU time of this process per decision: what other processes on the machine inflate least. */
  readonly cpu_us: number;
  readonly allow: boolean;
}

export type PolicyFigures = Record<string, Record<string, PolicyCaseFigures>>;

const PROJECT = 'b7a3c2d1e0f94a5b8c6d7e8f9a0b1c2d';
const DOMAIN = 'default';
const USER = '4f1e2d3c4b5a69788796a5b4c3d2e1f0';

function projectCredentials(roles: readonly string[]): Credentials {
  return {
    user_id: USER,
    user_domain_id: DOMAIN,
    project_id: PROJECT,
    project_domain_id: DOMAIN,
    domain_id: null,
    system_scope: null,
    roles,
    role_ids: roles.map((_, i) => `role-id-${i}`),
    methods: ['password'],
    audit_ids: ['V2hhdCBhIGxvdmVseSBk'],
    is_admin_project: false,
    trust_id: null,
    app_cred_id: null,
    identity_provider_id: null,
    protocol_id: null,
    service_user_id: null,
    service_roles: [],
    attributes: {},
    token: {
      user: { id: USER, domain: { id: DOMAIN } },
      project: { id: PROJECT, name: 'demo', domain: { id: DOMAIN, name: 'Default' } },
    },
    is_admin: false,
  };
}

/** The cases measured: action, input, and the answer Keystone's defaults give (checked first). */
export function policyBenchCases(): { name: string; action: string; input: PolicyInput; allow: boolean }[] {
  const twentyRoles = ['member', 'reader', ...Array.from({ length: 18 }, (_, i) => `custom-role-${i}`)];
  return [
    {
      name: 'member_get_project',
      action: 'identity:get_project',
      input: {
        credentials: projectCredentials(['member', 'reader']),
        path: { project_id: PROJECT },
        target: { project: { id: PROJECT, domain_id: DOMAIN, name: 'demo', enabled: true, parent_id: DOMAIN, is_domain: false } },
        request: { method: 'GET', path: `/v3/projects/${PROJECT}` },
      },
      allow: true,
    },
    {
      name: 'list_20_roles',
      action: 'identity:list_user_projects',
      input: {
        credentials: projectCredentials(twentyRoles),
        path: { user_id: USER },
        target: { user: { id: USER, domain_id: DOMAIN } },
        filter_attr: { enabled: 'true' },
        request: { method: 'GET', path: `/v3/users/${USER}/projects` },
      },
      allow: true,
    },
  ];
}

/** Each engine as a deployment builds it (engines.ts), over Keystone's rules and no overrides. */
export async function policyEngines(): Promise<Record<string, PolicyEngine>> {
  const engines: Record<string, PolicyEngine> = {};
  for (const kind of ['oslo', 'rego', 'cedar'] as const) {
    engines[kind] = await buildPolicyEngine({ kind, rules: loadPolicyRules(), overrides: {}, enforceScope: true, enforceNewDefaults: true });
  }
  return engines;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function measurePolicy(options: { decisions: number; warmup: number }): Promise<PolicyFigures> {
  const engines = await policyEngines();
  const figures: PolicyFigures = {};
  for (const [engineName, engine] of Object.entries(engines)) {
    figures[engineName] = {};
    for (const c of policyBenchCases()) {
      const first = engine.decide(c.action, c.input);
      // A benchmark of the wrong answer measures nothing.
      if (first.allow !== c.allow) throw new Error(`${engineName} ${c.name}: expected allow=${c.allow}, got ${JSON.stringify(first)}`);
      for (let i = 0; i < options.warmup; i += 1) engine.decide(c.action, c.input);
      const samples = new Float64Array(options.decisions);
      const cpuBefore = process.cpuUsage();
      for (let i = 0; i < options.decisions; i += 1) {
        const start = process.hrtime.bigint();
        engine.decide(c.action, c.input);
        samples[i] = Number(process.hrtime.bigint() - start) / 1000;
      }
      const cpu = process.cpuUsage(cpuBefore);
      samples.sort();
      figures[engineName][c.name] = {
        p50_us: Math.round(percentile(samples, 0.5) * 10) / 10,
        p99_us: Math.round(percentile(samples, 0.99) * 10) / 10,
        cpu_us: Math.round(((cpu.user + cpu.system) / options.decisions) * 10) / 10,
        allow: first.allow,
      };
    }
  }
  return figures;
}

// `node dist/bench/policy.js`: this stage alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await measurePolicy({ decisions: Number(process.env['BENCH_POLICY_DECISIONS'] ?? 50_000), warmup: 5_000 });
  console.log(JSON.stringify(figures));
}
