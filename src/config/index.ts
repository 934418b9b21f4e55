/**
 * Configuration: keystone.conf (INI, oslo.config semantics) + `KEYSTONE_TS_*` environment +
 * program overrides, validated against one declarative registry and returned as one typed,
 * frozen Config. See docs/configuration.md (generated from the registry).
 */
export { loadConfig, defaultConfig, ConfigLoadError, type LoadConfigOptions } from './load.js';
export {
  REGISTRY,
  PASSTHROUGH,
  ENV_PREFIX,
  ENV_DATA_DIR,
  envVarName,
  optionSpec,
  type Config,
  type ConfigValue,
  type ConfigOverrides,
  type Registry,
  type SectionName,
  type OptionName,
} from './registry.js';
export type { OptionSpec, OptionType, SectionSpec, DeprecatedName } from './schema.js';
export { parseIni, type ParsedIni, type IniAssignment } from './ini.js';
export { renderConfigurationDoc } from './docs.js';
