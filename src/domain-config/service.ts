/**
 * The domain configuration API with Keystone's semantics (keystone/resource/core.py
 * DomainConfigManager): identity and LDAP options stored per domain, sensitive ones (the LDAP
 * password) stored apart and never served, defaults read from this process's configuration.
 * keystone-ts has no per-domain identity drivers, so a stored configuration is served, not used.
 */
import { KeystoneError, NotFound } from '../common/errors.js';
import type { Config } from '../config/registry.js';
import type { ConfigOption, DomainConfigStore } from './store.js';

/** Keystone's InvalidDomainConfig: a Forbidden (403). */
export class InvalidDomainConfig extends KeystoneError {
  constructor(reason: string) {
    super(403, 'Forbidden', `Invalid domain specific configuration: ${reason}.`);
  }
}

const WHITELISTED: Readonly<Record<string, readonly string[]>> = {
  identity: ['driver', 'list_limit'],
  ldap: [
    'url', 'user', 'suffix', 'query_scope', 'page_size', 'alias_dereferencing', 'debug_level', 'chase_referrals',
    'user_tree_dn', 'user_filter', 'user_objectclass', 'user_id_attribute', 'user_name_attribute', 'user_mail_attribute',
    'user_description_attribute', 'user_pass_attribute', 'user_enabled_attribute', 'user_enabled_invert',
    'user_enabled_mask', 'user_enabled_default', 'user_attribute_ignore', 'user_default_project_id_attribute',
    'user_enabled_emulation', 'user_enabled_emulation_dn', 'user_enabled_emulation_use_group_config',
    'user_additional_attribute_mapping', 'group_tree_dn', 'group_filter', 'group_objectclass', 'group_id_attribute',
    'group_name_attribute', 'group_members_are_ids', 'group_member_attribute', 'group_desc_attribute',
    'group_attribute_ignore', 'group_additional_attribute_mapping', 'tls_cacertfile', 'tls_cacertdir', 'use_tls',
    'tls_req_cert', 'use_pool', 'pool_size', 'pool_retry_max', 'pool_retry_delay', 'pool_connection_timeout',
    'pool_connection_lifetime', 'use_auth_pool', 'auth_pool_size', 'auth_pool_connection_lifetime',
  ],
};
const SENSITIVE: Readonly<Record<string, readonly string[]>> = { identity: [], ldap: ['password'] };
/** The only [security_compliance] options any authenticated user may read, for the default domain. */
const READABLE_COMPLIANCE = ['password_regex', 'password_regex_description'];

type Tree = Record<string, Record<string, unknown>>;

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function place(option: string | undefined, group: string | undefined): string {
  if (option) return `option ${option} in group ${group}`;
  return group ? `group ${group}` : 'any options';
}

function notFound(domainId: string, what: string): NotFound {
  return new NotFound(`Could not find ${what} in domain configuration for domain ${domainId}.`);
}

/** Keystone's _list_to_config: `{group: {option: value}}`, or `{option: value}` for one option. */
function toConfig(options: readonly Pick<ConfigOption, 'group' | 'option' | 'value'>[], requestedOption?: string): Tree | Record<string, unknown> {
  if (options.length === 0) return {};
  if (requestedOption) return { [options[0]!.option]: options[0]!.value };
  const config: Tree = {};
  for (const o of options) (config[o.group] ??= {})[o.option] = o.value;
  return config;
}

export type DomainConfigService = ReturnType<typeof createDomainConfigService>;

export function createDomainConfigService(deps: { store: DomainConfigStore; config: Config }) {
  const { store } = deps;
  const settings = deps.config as unknown as Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  const configured = (group: string, option: string) => ({ group, option, value: settings[group]?.[option] ?? null });

  function checkGroupAndOption(group?: string, option?: string): void {
    if (!group) return;
    if (!(group in WHITELISTED) && !(group in SENSITIVE)) throw new InvalidDomainConfig(`Group ${group} is not supported for domain specific configurations`);
    if (option && !WHITELISTED[group]?.includes(option) && !SENSITIVE[group]?.includes(option)) {
      throw new InvalidDomainConfig(`Option ${option} in group ${group} is not supported for domain specific configurations`);
    }
  }

  function checkConfig(config: Record<string, unknown>): asserts config is Tree {
    if (Object.keys(config).length === 0) throw new InvalidDomainConfig('No options specified');
    for (const [group, options] of Object.entries(config)) {
      if (!isObject(options) || Object.keys(options).length === 0) {
        throw new InvalidDomainConfig(`The value of group ${group} specified in the config should be a dictionary of options`);
      }
      for (const option of Object.keys(options)) checkGroupAndOption(group, option);
    }
  }

  const toOptions = (config: Tree): ConfigOption[] =>
    Object.entries(config).flatMap(([group, options]) =>
      Object.entries(options).map(([option, value]) => ({ group, option, value, sensitive: SENSITIVE[group]?.includes(option) ?? false })),
    );

  async function stored(domainId: string, group?: string, option?: string): Promise<ConfigOption[]> {
    return [...(await store.list(domainId, false, group, option)), ...(await store.list(domainId, true, group, option))];
  }

  return {
    /** PUT: replaces the whole configuration; `created` is false when one existed (200, not 201). */
    async create(domainId: string, config: Record<string, unknown>): Promise<{ config: Record<string, unknown>; created: boolean }> {
      checkConfig(config);
      const created = (await stored(domainId)).length === 0;
      await store.replace(domainId, toOptions(config));
      return { config: toConfig(await store.list(domainId, false)), created };
    },

    async get(domainId: string, group?: string, option?: string): Promise<Record<string, unknown>> {
      checkGroupAndOption(group, option);
      const found = await store.list(domainId, false, group, option);
      if (found.length === 0) throw notFound(domainId, place(option, group));
      return toConfig(found, option);
    },

    async update(domainId: string, body: Record<string, unknown>, group?: string, option?: string): Promise<Record<string, unknown>> {
      // For one option the body is `{option: value}`; otherwise groups of options.
      const config = group && option ? { [group]: body } : body;
      checkConfig(config);
      checkGroupAndOption(group, option);
      if (group) {
        const groups = Object.keys(config);
        if (groups.length !== 1 || (option && Object.keys(config[groups[0]!]!).length !== 1)) {
          throw new InvalidDomainConfig(
            option
              ? `Trying to update option ${option} in group ${group}, so that, and only that, option must be specified  in the config`
              : `Trying to update group ${group}, so that, and only that, group must be specified in the config`,
          );
        }
        if (!(group in config)) throw new InvalidDomainConfig(`request to update group ${group}, but config provided contains group ${groups[0]} instead`);
        if (option && !(option in config[group]!)) {
          throw new InvalidDomainConfig(`Trying to update option ${option} in group ${group}, but config provided contains option ${Object.keys(config[group]!)[0]} instead`);
        }
        if ((await stored(domainId, group, option)).length === 0) throw notFound(domainId, place(option, group));
      }
      await store.merge(domainId, toOptions(config));
      return this.get(domainId);
    },

    async remove(domainId: string, group?: string, option?: string): Promise<void> {
      checkGroupAndOption(group, option);
      if (group) {
        const current = await stored(domainId, group);
        if (current.length === 0) throw notFound(domainId, place(undefined, group));
        // Keystone tests the value's truth, so an option set to 0 or "" could never be deleted alone.
        if (option && !current.some((o) => o.option === option)) throw notFound(domainId, place(option, group));
      }
      await store.remove(domainId, group, option);
    },

    /** [security_compliance] password_regex(_description), readable for the default domain only. */
    securityCompliance(domainId: string, option?: string): Record<string, unknown> {
      if (domainId !== deps.config.identity.default_domain_id) {
        throw new InvalidDomainConfig('Reading security compliance information for any domain other than the default domain is not allowed or supported.');
      }
      if (option && !READABLE_COMPLIANCE.includes(option)) {
        throw new InvalidDomainConfig('Reading security compliance values other than password_regex and password_regex_description is not allowed.');
      }
      return toConfig((option ? [option] : READABLE_COMPLIANCE).map((o) => configured('security_compliance', o)), option);
    },

    /** The defaults this process runs with, for the whitelisted options. */
    defaults(group?: string, option?: string): Record<string, unknown> {
      checkGroupAndOption(group, option);
      if (group && option && !WHITELISTED[group]!.includes(option)) {
        throw new InvalidDomainConfig(`Reading the default for option ${option} in group ${group} is not supported`);
      }
      const groups = group ? [group] : Object.keys(WHITELISTED);
      const options = groups.flatMap((g) => (option ? [option] : WHITELISTED[g]!).map((o) => configured(g, o)));
      return toConfig(options, option);
    },
  };
}
