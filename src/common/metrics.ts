/**
 * Prometheus metrics in the text exposition format, without a client library: a handful of
 * counters and histograms is all this service exposes, and the format is small and stable.
 */

const LATENCY_BUCKETS_SECONDS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 2.5];

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

function labelText(names: readonly string[], values: readonly string[]): string {
  return names.length === 0 ? '' : `{${names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`).join(',')}}`;
}

class Counter {
  readonly #values = new Map<string, { labels: string[]; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  inc(...labels: string[]): void {
    const key = labels.join('\u0000');
    const entry = this.#values.get(key);
    if (entry) entry.value += 1;
    else this.#values.set(key, { labels, value: 1 });
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.#values.values()) lines.push(`${this.name}${labelText(this.labelNames, labels)} ${value}`);
    return lines.join('\n');
  }
}

class Histogram {
  readonly #counts = new Array<number>(LATENCY_BUCKETS_SECONDS.length).fill(0);
  #sum = 0;
  #count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  observe(seconds: number): void {
    this.#sum += seconds;
    this.#count += 1;
    for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i += 1) {
      if (seconds <= LATENCY_BUCKETS_SECONDS[i]!) this.#counts[i]! += 1;
    }
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    LATENCY_BUCKETS_SECONDS.forEach((bound, i) => lines.push(`${this.name}_bucket{le="${bound}"} ${this.#counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`, `${this.name}_sum ${this.#sum}`, `${this.name}_count ${this.#count}`);
    return lines.join('\n');
  }
}

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const decisions = new Counter('keystone_ts_policy_decisions_total', 'Policy decisions by action and result.', ['action', 'result']);
  const decisionLatency = new Histogram('keystone_ts_policy_decision_seconds', 'Time to reach a policy decision, in process.');
  const httpRequests = new Counter('keystone_ts_http_requests_total', 'HTTP requests by method, route and status.', ['method', 'route', 'status']);
  let bundleRevision = 0;
  return {
    decisions,
    decisionLatency,
    httpRequests,
    setBundleRevision(revision: number): void {
      bundleRevision = revision;
    },
    render(): string {
      const revision = [
        '# HELP keystone_ts_policy_bundle_revision Revision of the policy bundle in force.',
        '# TYPE keystone_ts_policy_bundle_revision gauge',
        `keystone_ts_policy_bundle_revision ${bundleRevision}`,
      ].join('\n');
      return `${[decisions.render(), decisionLatency.render(), httpRequests.render(), revision].join('\n')}\n`;
    },
  };
}
