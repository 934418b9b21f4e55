/**
 * Keystone's attribute-mapping schemas and their check (keystone/federation/utils.py:
 * IDP_ATTRIBUTE_MAPPING_SCHEMA_1_0 / 2_0 / 3_0 and validate_mapping_structure).
 *
 * Keystone runs jsonschema's Draft4Validator.iter_errors over the whole mapping and answers 400
 * with every error message, sorted, each followed by a newline. That is why this is not the ajv
 * registry of schemas/: ajv stops at the first error and words its messages differently. Only
 * the keywords these schemas use are implemented.
 *
 * jsonschema quotes the offending value; as everywhere in keystone-ts (decision 0003) the value
 * is named by its type instead, since no response may echo back what a client misplaced.
 */
import { ValidationError } from '../common/errors.js';
import { describeValue } from '../common/json.js';

type Schema = Readonly<Record<string, unknown>>;

export const DEFAULT_SCHEMA_VERSION = '1.0';

const ROLE_PROPERTIES = {
  type: 'array',
  items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } }, additionalProperties: false },
};

const DOMAIN_SCHEMA = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } }, additionalProperties: false };

function projectsSchema(version: string): Schema {
  const properties: Record<string, unknown> = { name: { type: 'string' }, roles: ROLE_PROPERTIES };
  // 2.0 lets a mapped project name its domain, as users and groups already could.
  if (version !== '1.0') properties['domain'] = DOMAIN_SCHEMA;
  return { type: 'array', items: { type: 'object', required: ['name', 'roles'], additionalProperties: false, properties } };
}

function remoteMatcher(keyword: string): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['type', keyword],
    properties: { type: { type: 'string' }, [keyword]: { type: 'array' }, regex: { type: 'boolean' } },
  };
}

function mappingSchema(version: string): Schema {
  const local: Record<string, unknown> = {
    user: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        name: { type: 'string' },
        email: { type: 'string' },
        domain: { $ref: '#/definitions/domain' },
        type: { type: 'string', enum: ['ephemeral', 'local'] },
      },
      additionalProperties: false,
    },
    projects: projectsSchema(version),
    group: { type: 'object', oneOf: [{ $ref: '#/definitions/group_by_id' }, { $ref: '#/definitions/group_by_name' }] },
    groups: { type: 'string' },
    group_ids: { type: 'string' },
    domain: { $ref: '#/definitions/domain' },
  };
  // 3.0 adds projects_json: the projects come from one assertion attribute holding JSON.
  if (version === '3.0') local['projects_json'] = { type: 'string' };
  return {
    type: 'object',
    required: ['rules'],
    properties: {
      rules: {
        minItems: 1,
        type: 'array',
        items: {
          type: 'object',
          required: ['local', 'remote'],
          additionalProperties: false,
          properties: {
            local: { type: 'array', items: { type: 'object', additionalProperties: false, properties: local } },
            remote: {
              minItems: 1,
              type: 'array',
              items: {
                type: 'object',
                oneOf: [
                  { $ref: '#/definitions/empty' },
                  { $ref: '#/definitions/any_one_of' },
                  { $ref: '#/definitions/not_any_of' },
                  { $ref: '#/definitions/blacklist' },
                  { $ref: '#/definitions/whitelist' },
                ],
              },
            },
          },
        },
      },
      schema_version: { type: 'string' },
    },
    definitions: {
      empty: { type: 'object', required: ['type'], properties: { type: { type: 'string' } }, additionalProperties: false },
      any_one_of: remoteMatcher('any_one_of'),
      not_any_of: remoteMatcher('not_any_of'),
      blacklist: remoteMatcher('blacklist'),
      whitelist: remoteMatcher('whitelist'),
      domain: DOMAIN_SCHEMA,
      group_by_id: { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false, required: ['id'] },
      group_by_name: {
        type: 'object',
        properties: { name: { type: 'string' }, domain: { $ref: '#/definitions/domain' } },
        additionalProperties: false,
        required: ['name', 'domain'],
      },
    },
  };
}

/** IDP_ATTRIBUTE_MAPPING_SCHEMAS: the versions Keystone knows. */
export const MAPPING_SCHEMAS: ReadonlyMap<string, Schema> = new Map(['1.0', '2.0', '3.0'].map((v) => [v, mappingSchema(v)]));

// ---- how messages print schema constants (Python's repr) and instances (their type) -------------

function reprString(text: string): string {
  // Python prefers single quotes, and switches to double quotes when only ' occurs.
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

/** Python's repr of a JSON value, for the schema's own constants (enum values). */
function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return reprString(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${reprString(k)}: ${pythonRepr(v)}`)
    .join(', ')}}`;
}

// ---- Draft 4 iter_errors over the keywords above ------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return false;
  }
}

function resolve(root: Schema, ref: string): Schema {
  const name = ref.replace(/^#\/definitions\//, '');
  return (root['definitions'] as Record<string, Schema>)[name]!;
}

function* errorsOf(root: Schema, schema: Schema, value: unknown): Generator<string> {
  // Draft 4: a schema with $ref is that reference and nothing else.
  if (typeof schema['$ref'] === 'string') {
    yield* errorsOf(root, resolve(root, schema['$ref']), value);
    return;
  }
  const type = schema['type'] as string | undefined;
  if (type !== undefined && !hasType(value, type)) yield `${describeValue(value)} is not of type ${reprString(type)}`;
  const enumeration = schema['enum'] as unknown[] | undefined;
  if (enumeration && !enumeration.includes(value)) yield `${describeValue(value)} is not one of ${pythonRepr(enumeration)}`;
  if (isObject(value)) {
    const properties = (schema['properties'] ?? {}) as Record<string, Schema>;
    for (const name of (schema['required'] ?? []) as string[]) if (!(name in value)) yield `${reprString(name)} is a required property`;
    for (const [name, sub] of Object.entries(properties)) if (name in value) yield* errorsOf(root, sub, value[name]);
    if (schema['additionalProperties'] === false) {
      const extras = Object.keys(value)
        .filter((name) => !(name in properties))
        .sort();
      if (extras.length > 0) {
        yield `Additional properties are not allowed (${extras.map(reprString).join(', ')} ${extras.length === 1 ? 'was' : 'were'} unexpected)`;
      }
    }
  }
  if (Array.isArray(value)) {
    const minItems = schema['minItems'] as number | undefined;
    // jsonschema ≥ 4.21 (2026's) words minItems 1 this way.
    if (minItems !== undefined && value.length < minItems) yield `${describeValue(value)} ${minItems === 1 ? 'should be non-empty' : 'is too short'}`;
    const items = schema['items'] as Schema | undefined;
    if (items) for (const item of value) yield* errorsOf(root, items, item);
  }
  const oneOf = schema['oneOf'] as Schema[] | undefined;
  if (oneOf) {
    const valid = oneOf.filter((sub) => errorsOf(root, sub, value).next().done === true);
    if (valid.length === 0) yield `${describeValue(value)} is not valid under any of the given schemas`;
    // The remote and group alternatives exclude each other, so this cannot happen with Keystone's schemas.
    else if (valid.length > 1) yield `${describeValue(value)} is valid under more than one of the given schemas`;
  }
}

/**
 * utils.validate_mapping_structure: the mapping (rules and schema_version, after the default
 * version was filled in) against its version's schema.
 */
export function validateMappingStructure(mapping: Readonly<Record<string, unknown>>): void {
  const version = mapping['schema_version'];
  const schema = typeof version === 'string' ? MAPPING_SCHEMAS.get(version) : undefined;
  if (!schema) {
    // Keystone looks the version up in a dict and fails with a KeyError (a 500); a 400 that
    // names the known versions says what is wrong.
    throw new ValidationError(`Invalid schema_version: expected one of ${[...MAPPING_SCHEMAS.keys()].join(', ')}.`);
  }
  const messages = [...errorsOf(schema, schema, mapping)].sort();
  if (messages.length > 0) throw new ValidationError(messages.map((m) => `${m}\n`).join(''));
}
