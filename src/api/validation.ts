import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ValidationError } from '../common/errors.js';
import { describeValue } from '../common/json.js';
import { projectPath } from '../common/paths.js';

function pythonRepr(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  return typeof value === 'string' ? `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'` : describeValue(value);
}

function jsonschemaMessage(error: ErrorObject, value: unknown): string {
  switch (error.keyword) {
    case 'type': {
      const types = ([] as string[]).concat(error.params['type'] as string | string[]);
      return `${describeValue(value)} is not of type ${types.map((t) => `'${t}'`).join(', ')}`;
    }
    case 'required':
      return `'${String(error.params['missingProperty'])}' is a required property`;
    case 'additionalProperties':
      return `Additional properties are not allowed ('${String(error.params['additionalProperty'])}' was unexpected)`;
    case 'enum':
      return `${describeValue(value)} is not one of ${pythonRepr(error.params['allowedValues'])}`;
    case 'maxLength':
      return `${describeValue(value)} is too long`;
    case 'minLength':
      return `${describeValue(value)} is too short`;
    case 'maxItems':
      return `${describeValue(value)} is too long`;
    case 'minItems':
      return `${describeValue(value)} is too short`;
    case 'uniqueItems':
      return `${describeValue(value)} has non-unique elements`;
    case 'minProperties':
      return `${describeValue(value)} does not have enough properties`;
    case 'pattern':
      return `${describeValue(value)} does not match '${String(error.params['pattern'])}'`;
    default:
      return error.message ?? 'is invalid';
  }
}

function valueAt(root: unknown, pointer: string): unknown {
  let value = root;
  for (const part of pointer.split('/').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return value;
}

export type SchemaRegistry = ReturnType<typeof createSchemaRegistry>;

/** Every schema in schemas/, compiled once at start-up. */
export function createSchemaRegistry(dir = projectPath('schemas')) {
  const ajv = new Ajv({ allErrors: false, strict: true, strictTypes: false });
  const compiled = new Map<string, ValidateFunction>();
  const sources = new Map<string, Readonly<Record<string, unknown>>>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const schema = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { $id?: string };
    const id = schema.$id ?? file.replace(/\.json$/, '');
    compiled.set(id, ajv.compile(schema));
    sources.set(id, schema);
  }
  return {
    has: (id: string) => compiled.has(id),
    /** The schema as written (for the OpenAPI document). */
    source: (id: string) => sources.get(id),
    /**
     * Throws Keystone's 400: `Invalid input for field '<path>': <jsonschema message>`. `at` is
     * where `value` sits in the request body, for a member validated on its own.
     */
    validate(id: string, value: unknown, at = ''): void {
      const validate = compiled.get(id);
      if (!validate) throw new Error(`unknown schema ${id}`);
      if (validate(value)) return;
      const error = validate.errors![0]!;
      const message = jsonschemaMessage(error, valueAt(value, error.instancePath));
      const field = [at, error.instancePath.slice(1)].filter((part) => part !== '').join('/');
      throw new ValidationError(field ? `Invalid input for field '${field}': ${message}` : message);
    },
  };
}
