import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/errors.js';
import { parseIni } from './ini.js';
import {
  ENV_DATA_DIR,
  ENV_PREFIX,
  PASSTHROUGH,
  REGISTRY,
  envVarName,
  optionSpec,
  type Config,
  type ConfigOverrides,
} from './registry.js';
import type { OptionSpec, RegistrySpec } from './schema.js';
import { checkValue, parseValue, splitList, type ValueResult } from './values.js';

export interface LoadConfigOptions {
  /** keystone.conf files in `--config-file` order: a later file overrides an earlier one. */
  readonly configFiles: readonly string[];
  /** Normally `process.env`. Only `KEYSTONE_TS_*` variables are read. */
  readonly env: NodeJS.ProcessEnv;
  /** Applied last, over files and environment. */
  readonly overrides?: ConfigOverrides;
  /**
   * Told about things that load but deserve an operator's eye: deprecated names, options that
   * have no effect in keystone-ts, ignored sections. Default: not reported.
   */
  readonly onWarning?: (message: string) => void;
  /** Reads one configuration file. Default: `fs.readFileSync(path, 'utf8')`. */
  readonly readFile?: (path: string) => string;
}

/** Every problem found while loading, each naming its file:line (or variable), section, option and value. */
export class ConfigLoadError extends ConfigError {
  constructor(readonly problems: readonly string[]) {
    super(
      problems.length === 1
        ? (problems[0] ?? '')
        : `${problems.length} configuration problems:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
    this.name = 'ConfigLoadError';
  }
}

/**
 * Builds the Config: registry defaults, then each file in order, then `KEYSTONE_TS_*` environment
 * variables, then `overrides`. Reads files synchronously: this runs once, at start-up, before
 * anything else can use the configuration. Throws ConfigLoadError listing every problem at once.
 */
export function loadConfig(options: LoadConfigOptions): Config {
  const run = new LoadRun(options.onWarning ?? (() => undefined));
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  options.configFiles.forEach((path, index) => run.readFile(path, index, readFile));
  run.readEnv(options.env, options.configFiles.length);
  run.readOverrides(options.overrides ?? {}, options.configFiles.length + 1);
  return run.finish();
}

/** The configuration with nothing but the registry defaults (and `overrides`): for tests and tools. */
export function defaultConfig(overrides?: ConfigOverrides): Config {
  return loadConfig({ configFiles: [], env: {}, overrides });
}

// ---------------------------------------------------------------------------------------------
// Name resolution, derived once from the registry (immutable, like the registry itself).

interface Target {
  readonly section: string;
  readonly option: string;
  readonly spec: OptionSpec;
  /** 0 for the option's own name; 1 + index in `deprecatedNames` for an old name. */
  readonly rank: number;
}

const SECTIONS = REGISTRY as RegistrySpec;

/** `section\0name` → the options that name sets; old names can set several (`[DEFAULT] bind_host`). */
const NAME_INDEX: ReadonlyMap<string, readonly Target[]> = (() => {
  const index = new Map<string, Target[]>();
  const add = (section: string, name: string, target: Target): void => {
    const key = `${section}\0${name}`;
    index.set(key, [...(index.get(key) ?? []), target]);
  };
  for (const [section, sectionSpec] of Object.entries(SECTIONS)) {
    for (const [option, spec] of Object.entries(sectionSpec.options)) {
      add(section, option, { section, option, spec, rank: 0 });
      spec.deprecatedNames?.forEach((old, i) => {
        add(old.section ?? section, old.name, { section, option, spec, rank: i + 1 });
      });
    }
  }
  return index;
})();

/** Sections that exist only as the home of old names, such as oslo.db's `[sql] connection`. */
const KNOWN_SECTIONS: ReadonlySet<string> = new Set([
  ...Object.keys(SECTIONS),
  ...Object.keys(PASSTHROUGH),
  ...[...NAME_INDEX.keys()].map((key) => key.slice(0, key.indexOf('\0'))),
]);

/** Sections operators sometimes copy into keystone.conf that belong to other programs. */
const FOREIGN_SECTIONS: Readonly<Record<string, string>> = {
  keystone_authtoken:
    "keystonemiddleware's section, read by services that validate Keystone tokens; Keystone itself does not read it",
};

/** oslo.config matches section names case-insensitively, except that DEFAULT must be upper-case. */
function normalizeSection(name: string): string {
  return name === 'DEFAULT' ? name : name.toLowerCase();
}

// ---------------------------------------------------------------------------------------------

/** One value for an option, with where it came from (for messages) and the name it was set by. */
interface Setting {
  readonly where: string;
  /** Sort key of messages: source index (file order, then env, then overrides) and line. */
  readonly order: readonly [number, number];
  /** `[section] name` as written, which for an old name is not the option's own. */
  readonly section: string;
  readonly name: string;
  readonly input: { readonly text: string; readonly listInEnv?: boolean } | { readonly value: unknown };
}

interface Problem {
  readonly order: readonly [number, number];
  readonly message: string;
}

class LoadRun {
  readonly #problems: Problem[] = [];
  readonly #settings = new Map<string, Setting[]>();
  /** `[auth] <name>` lines whose fate depends on the final `[auth] methods` list. */
  readonly #authPluginLines: Setting[] = [];
  readonly #warned = new Set<string>();
  /** Held back and reported in file and line order, like the problems. */
  readonly #warnings: Problem[] = [];

  constructor(readonly onWarning: (message: string) => void) {}

  readFile(path: string, fileIndex: number, read: (path: string) => string): void {
    let text: string;
    try {
      text = read(path);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      this.#problem([fileIndex, 0], `${path}: cannot read the configuration file (${reason})`);
      return;
    }
    const parsed = parseIni(text);
    for (const error of parsed.errors) {
      this.#problem([fileIndex, error.line], `${path}:${error.line}: ${error.message}`);
    }
    for (const header of parsed.sections) {
      const section = normalizeSection(header.section);
      const where = `${path}:${header.line}`;
      if (!KNOWN_SECTIONS.has(section)) {
        this.#problem([fileIndex, header.line], `${where}: [${header.section}]: ${unknownSection(section)}`);
      } else if (Object.hasOwn(PASSTHROUGH, section)) {
        const message = `${where}: [${section}] is accepted and ignored by keystone-ts`;
        this.#warnOnce(`passthrough:${section}`, [fileIndex, header.line], message);
      }
    }

    // Within one file the option's own name beats an old name, whatever the order of the lines;
    // then the last line of that name wins (or, for multi options, all of them count).
    const chosen = new Map<string, { rank: number; settings: Setting[] }>();
    for (const line of parsed.assignments) {
      const section = normalizeSection(line.section);
      if (!KNOWN_SECTIONS.has(section) || Object.hasOwn(PASSTHROUGH, section)) continue;
      const setting: Setting = {
        where: `${path}:${line.line}`,
        order: [fileIndex, line.line],
        section,
        name: line.key,
        input: { text: line.value },
      };
      const targets = NAME_INDEX.get(`${section}\0${line.key}`);
      if (targets === undefined) {
        if (section === 'auth') this.#authPluginLines.push(setting);
        else this.#problem(setting.order, `${describe(setting, undefined)}: ${unknownOption(section, line.key)}`);
        continue;
      }
      for (const target of targets) {
        if (target.rank > 0) {
          const current = `[${target.section}] ${target.option}`;
          this.#warn(setting.order, `${setting.where}: [${section}] ${line.key} is deprecated, use ${current}`);
        }
        const key = `${target.section}\0${target.option}`;
        const current = chosen.get(key);
        if (current === undefined || target.rank < current.rank) {
          chosen.set(key, { rank: target.rank, settings: [setting] });
        } else if (target.rank === current.rank) {
          current.settings.push(setting);
        }
      }
    }
    for (const [key, { settings }] of chosen) {
      const spec = targetSpec(key);
      if (spec.type === 'multi') this.#settings.set(key, [...(this.#settings.get(key) ?? []), ...settings]);
      else this.#settings.set(key, settings.slice(-1));
    }
  }

  readEnv(env: NodeJS.ProcessEnv, sourceIndex: number): void {
    const names = Object.keys(env)
      .filter((name) => name.startsWith(ENV_PREFIX) && env[name] !== undefined)
      .sort();
    names.forEach((name, i) => {
      const text = env[name] ?? '';
      const rest = name.slice(ENV_PREFIX.length);
      const separator = rest.indexOf('__');
      // Other KEYSTONE_TS_* variables (KEYSTONE_TS_DATA below, test settings) are not option overrides.
      if (separator < 0) return;
      const order = [sourceIndex, i] as const;
      const sectionPart = rest.slice(0, separator);
      const optionPart = rest.slice(separator + 2);
      if (sectionPart === '' || optionPart === '') {
        this.#problem(order, `${name}: not of the form ${ENV_PREFIX}<SECTION>__<OPTION>`);
        return;
      }
      const section = sectionPart.toUpperCase() === 'DEFAULT' ? 'DEFAULT' : sectionPart.toLowerCase();
      const option = optionPart.toLowerCase();
      const setting: Setting = { where: name, order, section, name: option, input: { text, listInEnv: true } };
      if (Object.hasOwn(PASSTHROUGH, section)) {
        this.#warnOnce(`passthrough:${section}`, order, `${name}: [${section}] is accepted and ignored by keystone-ts`);
      } else if (optionSpec(section, option) === undefined) {
        const why = KNOWN_SECTIONS.has(section) ? unknownOption(section, option) : unknownSection(section);
        this.#problem(order, `${describe(setting, undefined)}: ${why}`);
      } else {
        this.#settings.set(`${section}\0${option}`, [setting]);
      }
    });

    const dataDir = env[ENV_DATA_DIR];
    if (dataDir !== undefined) {
      const longName = envVarName('keystone_ts', 'data_dir');
      const longValue = env[longName];
      if (longValue !== undefined && longValue !== dataDir) {
        this.#problem(
          [sourceIndex, names.length],
          `${ENV_DATA_DIR}=${JSON.stringify(dataDir)} and ${longName}=${JSON.stringify(longValue)} disagree`,
        );
      } else if (longValue === undefined) {
        this.#settings.set('keystone_ts\0data_dir', [
          {
            where: ENV_DATA_DIR,
            order: [sourceIndex, names.length],
            section: 'keystone_ts',
            name: 'data_dir',
            input: { text: dataDir },
          },
        ]);
      }
    }
  }

  readOverrides(overrides: ConfigOverrides, sourceIndex: number): void {
    let i = 0;
    const bySection = overrides as Record<string, Record<string, unknown> | undefined>;
    for (const [section, options] of Object.entries(bySection)) {
      for (const [option, value] of Object.entries(options ?? {})) {
        if (value === undefined) continue;
        const order = [sourceIndex, i++] as const;
        const setting: Setting = { where: 'overrides', order, section, name: option, input: { value } };
        if (optionSpec(section, option) === undefined) {
          const why = KNOWN_SECTIONS.has(section) ? unknownOption(section, option) : unknownSection(section);
          this.#problem(setting.order, `${describe(setting, undefined)}: ${why}`);
        } else {
          this.#settings.set(`${section}\0${option}`, [setting]);
        }
      }
    }
  }

  finish(): Config {
    const config: Record<string, Record<string, unknown>> = {};
    for (const [section, sectionSpec] of Object.entries(SECTIONS)) {
      const values: Record<string, unknown> = {};
      for (const [option, spec] of Object.entries(sectionSpec.options)) {
        const settings = this.#settings.get(`${section}\0${option}`);
        values[option] = settings === undefined ? spec.default : this.#evaluate(spec, settings);
        const first = settings?.[0];
        if (first !== undefined && (spec.inert === true || sectionSpec.inert === true)) {
          this.#warnOnce(
            `inert:${section}\0${option}`,
            first.order,
            `${first.where}: [${section}] ${option} is accepted but has no effect in keystone-ts`,
          );
        }
      }
      config[section] = values;
    }
    this.#checkAuthPluginLines(config.auth?.methods);
    for (const message of inOrder(this.#warnings)) this.onWarning(message);
    if (this.#problems.length > 0) throw new ConfigLoadError(inOrder(this.#problems));
    return deepFreeze(config) as unknown as Config;
  }

  #evaluate(spec: OptionSpec, settings: readonly Setting[]): unknown {
    const results = settings.map((setting) => ({ setting, result: evaluateSetting(spec, setting) }));
    for (const { setting, result } of results) {
      if (!result.ok) this.#problem(setting.order, `${describe(setting, spec)}: ${result.problem}`);
    }
    if (results.some(({ result }) => !result.ok)) return spec.default;
    const values = results.map(({ result }) => (result as { value: unknown }).value);
    // Multi options collect the items of every assignment, across files, as oslo does.
    return spec.type === 'multi' ? values.flat() : values[values.length - 1];
  }

  /**
   * Keystone registers one extra `[auth]` option per method named in `methods` (the method's
   * plugin entry point), so `totp = ...` is valid exactly when `totp` is an enabled method.
   */
  #checkAuthPluginLines(methods: unknown): void {
    const enabled = Array.isArray(methods) ? (methods as string[]) : [];
    for (const setting of this.#authPluginLines) {
      if (enabled.includes(setting.name)) {
        this.#warnOnce(
          `inert:auth\0${setting.name}`,
          setting.order,
          `${setting.where}: [auth] ${setting.name} (a Python plugin entry point) is accepted ` +
            'but has no effect in keystone-ts',
        );
      } else {
        const why = `${unknownOption('auth', setting.name)}; [auth] only accepts extra options named after a method in [auth] methods`;
        this.#problem(setting.order, `${describe(setting, undefined)}: ${why}`);
      }
    }
  }

  #problem(order: readonly [number, number], message: string): void {
    this.#problems.push({ order, message });
  }

  #warn(order: readonly [number, number], message: string): void {
    this.#warnings.push({ order, message });
  }

  #warnOnce(key: string, order: readonly [number, number], message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#warn(order, message);
  }
}

/** Messages by source (files in order, then environment, then overrides) and line. */
function inOrder(messages: readonly Problem[]): string[] {
  return [...messages].sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]).map((m) => m.message);
}

function evaluateSetting(spec: OptionSpec, setting: Setting): ValueResult {
  const input = setting.input;
  if (!('text' in input)) return checkValue(spec, input.value);
  // One environment variable has to carry every item of a multi option: comma-separated, like a list.
  if (spec.type === 'multi' && input.listInEnv === true) return checkValue(spec, splitList(input.text));
  return parseValue(spec, input.text);
}

function targetSpec(key: string): OptionSpec {
  const [section = '', option = ''] = key.split('\0');
  const spec = optionSpec(section, option);
  if (spec === undefined) throw new Error(`internal: no option ${key}`);
  return spec;
}

/** `where: [section] name = "value"`, with secrets (and unknown names that look secret) hidden. */
function describe(setting: Setting, spec: OptionSpec | undefined): string {
  const input = setting.input;
  const raw = 'text' in input ? input.text : input.value;
  const hide = spec !== undefined ? spec.secret === true : looksSecret(setting.section, setting.name);
  const shown = hide ? '<hidden>' : JSON.stringify(raw);
  return `${setting.where}: [${setting.section}] ${setting.name} = ${shown}`;
}

/** A misspelt `conection = postgresql://user:password@...` must not print the password either. */
function looksSecret(section: string, name: string): boolean {
  if (/pass|secret|key|token|connection|url|credential/i.test(name)) return true;
  const options = SECTIONS[section]?.options ?? {};
  const near = closest(name, Object.keys(options));
  return near !== undefined && options[near]?.secret === true;
}

function unknownSection(section: string): string {
  const foreign = FOREIGN_SECTIONS[section];
  if (foreign !== undefined) return `unknown section (${foreign})`;
  if (section.toUpperCase() === 'DEFAULT') return 'unknown section (did you mean [DEFAULT]? it must be upper-case)';
  const near = closest(section, [...KNOWN_SECTIONS]);
  return near === undefined ? 'unknown section' : `unknown section (did you mean [${near}]?)`;
}

function unknownOption(section: string, option: string): string {
  if (option !== option.toLowerCase() && optionSpec(section, option.toLowerCase()) !== undefined) {
    return `unknown option (did you mean ${option.toLowerCase()}? option names are case-sensitive)`;
  }
  const sectionSpec = SECTIONS[section];
  const near = closest(option, sectionSpec === undefined ? [] : Object.keys(sectionSpec.options));
  if (near !== undefined) return `unknown option (did you mean ${near}?)`;
  const elsewhere = Object.keys(SECTIONS).filter((s) => s !== section && optionSpec(s, option) !== undefined);
  if (elsewhere.length > 0) {
    // Python's ConfigParser lets [DEFAULT] feed every section; oslo.config (and we) do not.
    const sections = elsewhere.map((s) => `[${s}]`).join(', ');
    const note = section === 'DEFAULT' ? '; [DEFAULT] values are not inherited by other sections' : '';
    return `unknown option (it belongs to ${sections}${note})`;
  }
  return 'unknown option';
}

/** The candidate within a small edit distance of `name`, to catch typos; undefined if none is close. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 4));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
