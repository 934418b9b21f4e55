import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { projectPath } from '../common/paths.js';
import {
  ATTRIBUTE_TARGET_PREFIX,
  CREDENTIAL_ATTRIBUTES,
  PRINCIPAL_TYPE,
  RESOURCE_TYPE,
  RESTRICTION_POLICY_IDS,
  SCOPE_GROUP_PREFIX,
  TARGET_VALUES_TYPE,
  TOKEN_ATTRIBUTES,
} from './cedar-compile.js';
import { compactPolicySet, PRINCIPAL_KEY_PREFIX } from './cedar-compact.js';
import { actionViolation, restrictionFacts, RESTRICTION_FACTS, sourceViolation } from './restriction.js';
import { pythonStr } from './oslo.js';
import { type Credentials, flattenTarget, type PolicyEngine, type PolicyInput, type Violation } from './pdp.js';

export interface CedarEngineOptions {
  /** Cedar policy text; each policy should carry an `@id` so decisions and errors can name it. */
  readonly policies: string;
  /** The schema in Cedar's human-readable format (or its JSON form as text). */
  readonly schema: string;
  readonly enforceScope: boolean;
  readonly enforceNewDefaults: boolean;
  /**
   * Check every request against the schema too. The policies are always validated at load; the
   * request shape is fixed by this adapter, and checking it doubles the cost of a decision
   * (~0.2 → ~0.4 ms), so tests turn it on and production leaves it off.
   */
  readonly validateRequests?: boolean;
}

export class CedarPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CedarPolicyError';
  }
}

/** The generated bundle in policies/cedar: every .cedar file (sorted) and the schema. */
export function loadCedarBundle(dir = projectPath('policies', 'cedar')): { policies: string; schema: string } {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.cedar'))
    .sort();
  return {
    policies: files.map((name) => readFileSync(path.join(dir, name), 'utf8')).join('\n'),
    schema: readFileSync(path.join(dir, 'keystone.cedarschema'), 'utf8'),
  };
}

function describe(errors: readonly cedar.DetailedError[]): string {
  return errors.map((e) => (e.help ? `${e.message} (${e.help})` : e.message)).join('; ');
}

interface ParsedPolicy {
  readonly text: string;
  readonly json: cedar.PolicyJson;
}

/**
 * Work a rebuild can reuse. A reload usually changes a few of Keystone's ~450 policies, and
 * reverting to an earlier bundle changes none, so each policy text is converted and validated
 * once per schema, and each per-action set preparsed once, whatever the number of reloads: a
 * new bundle then takes effect in tens of milliseconds instead of most of a second. The cedar-wasm
 * cache is per process and unbounded; these sets are cleared past a size no deployment reaches.
 */
const CACHE_LIMIT = 50_000;
const jsonByText = new Map<string, cedar.PolicyJson>();
const validatedBySchema = new Map<string, Set<string>>();
const preparsedIds = new Set<string>();

function remember<K, V>(map: Map<K, V>, key: K, value: V): V {
  if (map.size >= CACHE_LIMIT) map.clear();
  map.set(key, value);
  return value;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/** Splits policy text into policies keyed by their `@id`, so diagnostics name them. */
function policiesById(text: string): Map<string, ParsedPolicy> {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') throw new CedarPolicyError(`cedar policies do not parse: ${describe(parts.errors)}`);
  if (parts.policy_templates.length > 0) throw new CedarPolicyError('cedar policy templates are not supported');
  const byId = new Map<string, ParsedPolicy>();
  parts.policies.forEach((policy, i) => {
    let json = jsonByText.get(policy);
    if (!json) {
      const converted = cedar.policyToJson(policy);
      if (converted.type === 'failure') throw new CedarPolicyError(`cedar policy ${i} does not parse: ${describe(converted.errors)}`);
      json = remember(jsonByText, policy, converted.json);
    }
    const id = json.annotations?.['id'] ?? `policy${i}`;
    if (byId.has(id)) throw new CedarPolicyError(`two cedar policies have @id(${JSON.stringify(id)})`);
    byId.set(id, { text: policy, json });
  });
  return byId;
}

interface SchemaFacts {
  /** Actions a request may name, with the scope types their group allows (if any). */
  readonly actions: ReadonlyMap<string, readonly string[] | undefined>;
  /** Every action (groups too) → the groups it is in, transitively. */
  readonly ancestors: ReadonlyMap<string, ReadonlySet<string>>;
  readonly targetKeys: readonly string[];
}

function schemaFacts(schema: string): SchemaFacts {
  const answer = cedar.schemaToJson(schema);
  if (answer.type === 'failure') throw new CedarPolicyError(`cedar schema does not parse: ${describe(answer.errors)}`);
  const namespace = answer.json[''];
  if (!namespace) throw new CedarPolicyError('cedar schema: expected the empty namespace');
  const targetType = namespace.commonTypes?.[TARGET_VALUES_TYPE];
  if (!targetType || targetType.type !== 'Record' || !('attributes' in targetType)) {
    throw new CedarPolicyError(`cedar schema: expected a record type ${TARGET_VALUES_TYPE}`);
  }
  const actions = new Map<string, readonly string[] | undefined>();
  const parents = new Map<string, string[]>();
  for (const [name, action] of Object.entries(namespace.actions)) {
    parents.set(name, (action.memberOf ?? []).map((m) => m.id));
    if (!action.appliesTo) continue;
    const group = action.memberOf?.find((m) => m.id.startsWith(SCOPE_GROUP_PREFIX));
    actions.set(name, group ? group.id.slice(SCOPE_GROUP_PREFIX.length).split(',') : undefined);
  }
  const ancestors = new Map<string, Set<string>>();
  for (const name of parents.keys()) {
    const found = new Set<string>();
    const pending = [...(parents.get(name) ?? [])];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      if (found.has(next)) continue;
      found.add(next);
      pending.push(...(parents.get(next) ?? []));
    }
    ancestors.set(name, found);
  }
  return { actions, ancestors, targetKeys: Object.keys(targetType.attributes).sort() };
}

function uidId(uid: cedar.EntityUidJson): string {
  return '__entity' in uid ? uid.__entity.id : uid.id;
}

/** Whether a policy's action constraint can match `action` (a policy that cannot never matters). */
function appliesTo(constraint: cedar.ActionConstraint, action: string, facts: SchemaFacts): boolean {
  if (constraint.op === 'All') return true;
  if (constraint.op === '==') return !('entity' in constraint) || uidId(constraint.entity) === action;
  const groups = 'entity' in constraint ? [constraint.entity] : constraint.entities;
  const ancestors = facts.ancestors.get(action);
  return groups.some((group) => uidId(group) === action || (ancestors?.has(uidId(group)) ?? false));
}

function tokenScope(creds: Credentials): 'system' | 'domain' | 'project' {
  // The same order as oslo (pdp.ts): system, then domain; anything else, unscoped too, is project.
  if (creds.system_scope) return 'system';
  if (creds.domain_id) return 'domain';
  return 'project';
}

function principalAttributes(creds: Credentials): Record<string, cedar.CedarValueJson> {
  const attrs: Record<string, cedar.CedarValueJson> = { scope: tokenScope(creds) };
  for (const [name, kind] of Object.entries(CREDENTIAL_ATTRIBUTES)) {
    const value = creds[name as keyof Credentials];
    if (kind === 'set') {
      const values = (value as readonly string[] | undefined) ?? [];
      // oslo compares role names case-insensitively; Cedar compares exactly, so both sides are lower-cased.
      attrs[name] = name === 'roles' ? values.map((r) => r.toLowerCase()) : [...values];
    } else if (kind === 'bool') {
      attrs[name] = value === true;
    } else if (value !== null && value !== undefined) {
      attrs[name] = String(value);
    }
  }
  const token = creds.token;
  if (token) {
    const values: Record<string, string | undefined> = {
      'token.user.id': token.user.id,
      'token.user.domain.id': token.user.domain.id,
      'token.domain.id': token.domain?.id,
      'token.domain.name': token.domain?.name,
      'token.project.id': token.project?.id,
      'token.project.name': token.project?.name,
      'token.project.domain.id': token.project?.domain.id,
      'token.project.domain.name': token.project?.domain.name,
    };
    for (const [path, name] of Object.entries(TOKEN_ATTRIBUTES)) {
      const value = values[path];
      if (value !== undefined) attrs[name] = value;
    }
  }
  return attrs;
}

const SET_ATTRIBUTES: ReadonlySet<string> = new Set(Object.entries(CREDENTIAL_ATTRIBUTES).filter(([, kind]) => kind === 'set').map(([name]) => name));

/**
 * Set attributes that the policies only ever test with `principal.X.contains("literal")`: for
 * those only the literals can change a decision, so a 20-role token sends the one or two roles
 * the rule names instead of twenty. Any other use of the set (containsAny, isEmpty, ...) keeps it whole.
 */
function containsOnlySets(text: string): Map<string, ReadonlySet<string>> {
  const filters = new Map<string, ReadonlySet<string>>();
  for (const [name, kind] of Object.entries(CREDENTIAL_ATTRIBUTES)) {
    if (kind !== 'set') continue;
    const uses = text.split(`principal.${name}`).length - 1;
    if (uses === 0 || text.includes(`principal has ${name}`) || text.includes(`principal["${name}"]`)) continue;
    const literals = [...text.matchAll(new RegExp(`principal\\.${name}\\.contains\\("((?:[^"\\\\]|\\\\.)*)"\\)`, 'g'))];
    // Escaped literals would need Cedar's unescaping; keep such sets whole.
    if (literals.length !== uses || literals.some((m) => m[1]!.includes('\\'))) continue;
    filters.set(name, new Set(literals.map((m) => m[1]!)));
  }
  return filters;
}

interface ActionPlan {
  readonly policySetId: string;
  /** The action entity, for requests that carry entities; absent in the compact form. */
  readonly entity: cedar.EntityJson | undefined;
  /** Principal attributes the action's policies mention. */
  readonly attributes: readonly string[];
  /** Target keys the action's policies mention. */
  readonly targetKeys: readonly string[];
  /** Set attributes reduced to the members the policies test for. */
  readonly setFilters: ReadonlyMap<string, ReadonlySet<string>>;
  /** Whether the action's policies read the restriction's facts (restriction.cedar). */
  readonly restrictionFacts: boolean;
}

/** Every principal attribute is built once per credentials object (they live as long as their token). */
const builtAttributes = new WeakMap<Credentials, Record<string, cedar.CedarValueJson>>();

/** Writes the attributes the plan needs into `into`, each name prefixed with `prefix`. */
function addAttributes(creds: Credentials, plan: ActionPlan, into: Record<string, cedar.CedarValueJson>, prefix: string) {
  let all = builtAttributes.get(creds);
  if (!all) builtAttributes.set(creds, (all = principalAttributes(creds)));
  for (const name of plan.attributes) {
    const value = all[name];
    if (value === undefined) continue;
    const filter = plan.setFilters.get(name);
    into[prefix + name] = filter && Array.isArray(value) ? value.filter((member) => filter.has(member as string)) : value;
  }
  return into;
}

/**
 * A PolicyEngine over cedar-wasm. The policies are validated against the schema (strict mode)
 * when the engine is created, and both are preparsed into cedar-wasm's cache (thread-local, in
 * the wasm instance) under ids derived from their text, so a decision sends only the request;
 * engines over the same text share one cached copy, and reloading a changed bundle adds one.
 */
export function createCedarEngine(options: CedarEngineOptions): PolicyEngine {
  const parsed = policiesById(options.policies);
  const schemaDigest = sha(options.schema);
  // Strict validation judges each policy against the schema alone, so policies already
  // validated against this very schema need not be judged again.
  const validated = validatedBySchema.get(schemaDigest) ?? remember(validatedBySchema, schemaDigest, new Set<string>());
  const unvalidated = Object.fromEntries([...parsed].filter(([, policy]) => !validated.has(policy.text)).map(([id, policy]) => [id, policy.text]));
  if (Object.keys(unvalidated).length > 0) {
    const validation = cedar.validate({ schema: options.schema, policies: { staticPolicies: unvalidated }, validationSettings: { mode: 'strict' } });
    if (validation.type === 'failure') throw new CedarPolicyError(`cedar validation failed: ${describe(validation.errors)}`);
    if (validation.validationErrors.length > 0) {
      const details = validation.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`).join('; ');
      throw new CedarPolicyError(`cedar policies do not match the schema: ${details}`);
    }
    for (const text of Object.values(unvalidated)) validated.add(text);
  }
  const schema = schemaFacts(options.schema);

  const schemaName = `keystone-ts-schema-${schemaDigest}`;
  if (!preparsedIds.has(schemaName)) {
    const preparsedSchema = cedar.preparseSchema(schemaName, options.schema);
    if (preparsedSchema.type === 'failure') throw new CedarPolicyError(`cedar schema: ${describe(preparsedSchema.errors)}`);
    preparsedIds.add(schemaName);
  }
  // Cedar evaluates every policy of a set on each request (2 ms for Keystone's ~450), so each
  // action gets its own set holding only the policies that can match it (a few, ~0.1 ms).
  const plans = new Map<string, ActionPlan>();
  const allAttributes = [...Object.keys(CREDENTIAL_ATTRIBUTES), ...Object.values(TOKEN_ATTRIBUTES), 'scope'];
  const switches = { enforce_scope: options.enforceScope, enforce_new_defaults: options.enforceNewDefaults };
  for (const action of schema.actions.keys()) {
    const relevant = [...parsed].filter(([, policy]) => appliesTo(policy.json.action, action, schema));
    const compact = options.validateRequests
      ? undefined
      : compactPolicySet(relevant.map(([id, policy]) => [id, policy.json] as const), action, switches, SET_ATTRIBUTES);
    const policies = compact?.policies ?? Object.fromEntries(relevant.map(([id, policy]) => [id, policy.text]));
    const policySetId = `keystone-ts-policies-${sha(JSON.stringify(policies))}`;
    if (!preparsedIds.has(policySetId)) {
      const preparsed = cedar.preparsePolicySet(policySetId, { staticPolicies: policies });
      if (preparsed.type === 'failure') throw new CedarPolicyError(`cedar policies for ${action}: ${describe(preparsed.errors)}`);
      if (preparsedIds.size >= CACHE_LIMIT) preparsedIds.clear();
      preparsedIds.add(policySetId);
    }
    if (compact) {
      plans.set(action, { policySetId, entity: undefined, ...compact });
      continue;
    }
    // Without the schema in the request, Cedar learns an action's groups (scope_types) only from
    // the action entity sent with it, so each action's entity is built once here.
    const parents = [...(schema.ancestors.get(action) ?? [])].map((id) => ({ type: 'Action', id }));
    // Each field of a request costs, so it carries only the attributes and target keys this
    // action's policies mention. Mention is a plain substring test: it can only include too
    // much, never too little.
    const text = relevant.map(([, policy]) => policy.text).join('\n');
    plans.set(action, {
      policySetId,
      entity: compact ? undefined : { uid: { type: 'Action', id: action }, attrs: {}, parents },
      attributes: options.validateRequests ? allAttributes : allAttributes.filter((name) => text.includes(name)),
      targetKeys: schema.targetKeys.filter((key) => text.includes(key)),
      setFilters: options.validateRequests ? new Map() : containsOnlySets(text),
      restrictionFacts: Object.values(RESTRICTION_FACTS).some((key) => text.includes(key)),
    });
  }

  const renderTarget = (input: PolicyInput, keys: readonly string[]): Record<string, string> => {
    const rendered: Record<string, string> = {};
    if (keys.length === 0) return rendered;
    const flat = flattenTarget(input);
    const attributes = input.credentials.attributes ?? {};
    for (const key of keys) {
      if (key.startsWith(ATTRIBUTE_TARGET_PREFIX)) {
        // From the credentials only: a request's own path or target values can never pose as them.
        const name = key.slice(ATTRIBUTE_TARGET_PREFIX.length);
        const value = Object.prototype.hasOwnProperty.call(attributes, name) ? attributes[name] : undefined;
        if (value !== undefined && value !== null && typeof value !== 'object') rendered[key] = pythonStr(value);
      } else if (Object.prototype.hasOwnProperty.call(flat, key)) rendered[key] = pythonStr(flat[key]);
    }
    return rendered;
  };

  return {
    decide(action, input) {
      const decisionId = randomUUID();
      const plan = plans.get(action);
      if (plan === undefined) {
        return { allow: false, decisionId, violations: [{ field: 'action', message: `no policy rule named ${action}` }] };
      }
      const creds = input.credentials;
      const principal = { type: PRINCIPAL_TYPE, id: creds.user_id };
      const target = renderTarget(input, plan.targetKeys);
      const facts = plan.restrictionFacts && creds.restriction ? restrictionFacts(creds.restriction, action, input.request?.source) : undefined;
      const request = plan.entity
        ? {
            context: { ...switches, target, ...facts },
            entities: [{ uid: principal, attrs: addAttributes(creds, plan, {}, ''), parents: [] }, plan.entity],
          }
        : { context: addAttributes(creds, plan, facts ? { ...target, ...facts } : target, PRINCIPAL_KEY_PREFIX), entities: [] };
      const answer = cedar.statefulIsAuthorized({
        principal,
        action: { type: 'Action', id: action },
        resource: { type: RESOURCE_TYPE, id: input.request?.path ?? '' },
        ...request,
        preparsedPolicySetId: plan.policySetId,
        ...(options.validateRequests ? { preparsedSchemaName: schemaName, validateRequest: true } : {}),
      });
      if (answer.type === 'failure') {
        return { allow: false, decisionId, violations: [{ field: 'policy', message: `cedar could not decide ${action}: ${describe(answer.errors)}` }] };
      }
      const { decision, diagnostics } = answer.response;
      if (decision === 'allow') return { allow: true, decisionId, violations: [] };
      const violations: Violation[] = [];
      if (creds.restriction && diagnostics.reason.includes(RESTRICTION_POLICY_IDS.actions)) violations.push(actionViolation(creds.restriction, action));
      else if (creds.restriction && diagnostics.reason.includes(RESTRICTION_POLICY_IDS.sourceCidrs)) violations.push(sourceViolation(creds.restriction, input.request?.source));
      if (violations.length > 0) return { allow: false, decisionId, violations };
      const scopeTypes = schema.actions.get(action);
      if (diagnostics.reason.some((id) => id.startsWith(SCOPE_GROUP_PREFIX)) && scopeTypes) {
        const scope = tokenScope(creds);
        violations.push({
          field: 'credentials.scope',
          message: `${scope}-scoped tokens are not allowed; ${action} accepts ${scopeTypes.join(', ')}`,
        });
      }
      for (const error of diagnostics.errors) {
        violations.push({ field: 'policy', message: `cedar policy ${error.policyId} failed: ${error.error.message}` });
      }
      if (violations.length === 0) violations.push({ field: 'credentials', message: `no cedar policy permits ${action} for these credentials` });
      return { allow: false, decisionId, violations };
    },
  };
}

/**
 * One-off policy sets decided on the entity-carrying request against the shipped schema, as a
 * restriction's inline policy is (restriction-policy.ts): validated in strict mode once per text,
 * preparsed once per text, every principal attribute and target key the schema knows sent.
 */
export function createCedarPolicyEvaluator(options: { readonly schema: string; readonly enforceScope: boolean; readonly enforceNewDefaults: boolean }) {
  const schema = schemaFacts(options.schema);
  const switches = { enforce_scope: options.enforceScope, enforce_new_defaults: options.enforceNewDefaults };
  const allAttributes = [...Object.keys(CREDENTIAL_ATTRIBUTES), ...Object.values(TOKEN_ATTRIBUTES), 'scope'];
  const plan = (action: string): ActionPlan => ({
    policySetId: '',
    entity: { uid: { type: 'Action', id: action }, attrs: {}, parents: [...(schema.ancestors.get(action) ?? [])].map((id) => ({ type: 'Action', id })) },
    attributes: allAttributes,
    targetKeys: schema.targetKeys,
    setFilters: new Map(),
    restrictionFacts: true,
  });
  return {
    /** Problems with `text` as a policy set for this schema: parse errors or strict validation errors. */
    problems(text: string): string[] {
      let parsed: Map<string, ParsedPolicy>;
      try {
        parsed = policiesById(text);
      } catch (error) {
        return [(error as Error).message];
      }
      if (parsed.size === 0) return ['no policy: an inline policy must permit what it allows'];
      const validation = cedar.validate({ schema: options.schema, policies: { staticPolicies: text }, validationSettings: { mode: 'strict' } });
      if (validation.type === 'failure') return [describe(validation.errors)];
      return validation.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`);
    },

    /** Whether the policies permit `action` for `input` (default deny, forbid wins, as Cedar decides). */
    decide(text: string, action: string, input: PolicyInput): { allow: boolean; errors: string[] } {
      const policySetId = `keystone-ts-inline-${sha(text)}`;
      if (!preparsedIds.has(policySetId)) {
        const preparsed = cedar.preparsePolicySet(policySetId, { staticPolicies: text });
        if (preparsed.type === 'failure') return { allow: false, errors: [describe(preparsed.errors)] };
        if (preparsedIds.size >= CACHE_LIMIT) preparsedIds.clear();
        preparsedIds.add(policySetId);
      }
      const creds = input.credentials;
      const actionPlan = plan(action);
      const flat = flattenTarget(input);
      const target: Record<string, string> = {};
      for (const key of schema.targetKeys) if (Object.prototype.hasOwnProperty.call(flat, key)) target[key] = pythonStr(flat[key]);
      const facts = creds.restriction ? restrictionFacts(creds.restriction, action, input.request?.source) : {};
      const principal = { type: PRINCIPAL_TYPE, id: creds.user_id };
      const answer = cedar.statefulIsAuthorized({
        principal,
        action: { type: 'Action', id: action },
        resource: { type: RESOURCE_TYPE, id: input.request?.path ?? '' },
        context: { ...switches, target, ...facts },
        entities: [{ uid: principal, attrs: addAttributes(creds, actionPlan, {}, ''), parents: [] }, actionPlan.entity!],
        preparsedPolicySetId: policySetId,
      });
      if (answer.type === 'failure') return { allow: false, errors: [describe(answer.errors)] };
      return { allow: answer.response.decision === 'allow', errors: answer.response.diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`) };
    },
  };
}
