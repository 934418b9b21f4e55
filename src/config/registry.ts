import type { ConfigOf, OptionSpec, OptionValue, PassthroughSectionSpec, RegistrySpec } from './schema.js';
import { DEFAULT_SECTIONS } from './sections/default.js';
import { KEYSTONE_TS_SECTIONS } from './sections/keystone-ts.js';
import { KEYSTONE_SECTIONS } from './sections/keystone.js';
import { OSLO_SECTIONS, PASSTHROUGH_SECTIONS } from './sections/oslo.js';

/**
 * Every section and option keystone-ts accepts, in documentation order. This constant is the
 * single source of the parser's rules, of the `Config` type and of docs/configuration.md.
 */
export const REGISTRY = {
  ...DEFAULT_SECTIONS,
  ...KEYSTONE_TS_SECTIONS,
  ...KEYSTONE_SECTIONS,
  ...OSLO_SECTIONS,
} as const satisfies RegistrySpec;

/** Library sections accepted whole and ignored (see sections/oslo.ts). */
export const PASSTHROUGH: Readonly<Record<string, PassthroughSectionSpec>> = PASSTHROUGH_SECTIONS;

export type Registry = typeof REGISTRY;
export type SectionName = keyof Registry;
export type OptionName<S extends SectionName> = keyof Registry[S]['options'] & string;

/**
 * The loaded configuration: `config.token.expiration`, `config.fernet_tokens.key_repository`,
 * `config.DEFAULT.public_endpoint`, ... Keystone's own section and option names, so that operators
 * and the spec's `[section] option` references map one to one. Deeply readonly (and frozen).
 */
export type Config = ConfigOf<Registry>;

/** The value type of `[S] O`, e.g. `ConfigValue<'token', 'provider'>` is `'fernet' | 'jws'`. */
export type ConfigValue<S extends SectionName, O extends OptionName<S>> = OptionValue<Registry[S]['options'][O]>;

/**
 * Values set by the program, applied over files and environment: the typed value, or its
 * keystone.conf spelling as a string (parsed and validated like a file value).
 */
export type ConfigOverrides = {
  readonly [S in SectionName]?: {
    readonly [O in OptionName<S>]?: ConfigValue<S, O> | string;
  };
};

/** The registry entry of `[section] option`, or undefined; for code that walks sections by name. */
export function optionSpec(section: string, option: string): OptionSpec | undefined {
  const sectionSpec = (REGISTRY as RegistrySpec)[section];
  return sectionSpec !== undefined && Object.hasOwn(sectionSpec.options, option)
    ? sectionSpec.options[option]
    : undefined;
}

/** `KEYSTONE_TS_<SECTION>__<OPTION>`, the environment variable that overrides `[section] option`. */
export function envVarName(section: string, option: string): string {
  return `${ENV_PREFIX}${section.toUpperCase()}__${option.toUpperCase()}`;
}

export const ENV_PREFIX = 'KEYSTONE_TS_';
/** Short form of `[keystone_ts] data_dir`, the name used in the project's issue tracker and scripts. */
export const ENV_DATA_DIR = 'KEYSTONE_TS_DATA';
