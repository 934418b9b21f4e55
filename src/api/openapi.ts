/**
 * The OpenAPI 3.1 document of the route table: every route's method and path, its policy rule,
 * its request schema (the files in schemas/, under components) and the statuses it answers.
 * Generated from the same table that drives validation and policy, so it cannot drift from
 * what the server does. Served at GET /openapi.json.
 */
import { STATUS_CODES } from 'node:http';
import type { Route } from './http.js';
import type { SchemaRegistry } from './validation.js';

const ERROR_BODY = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'title'],
      properties: { code: { type: 'integer' }, message: { type: 'string' }, title: { type: 'string' } },
    },
  },
};

/** `{project_id}` path parameters, each a string. */
function pathParameters(path: string) {
  return [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
}

/** Method and path: unique, where one policy rule often serves several routes (the grant family). */
function operationId(route: Route): string {
  return `${route.method.toLowerCase()}${route.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+/g, '_').replace(/_$/, '')}`;
}

export function openApiDocument(routes: readonly Route[], schemas: SchemaRegistry, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const components: Record<string, unknown> = { KeystoneError: ERROR_BODY };
  const seen = new Set<string>();
  for (const route of routes) {
    const method = route.method.toLowerCase();
    const key = `${method} ${route.path}`;
    // Express answers HEAD with the GET handler; a route table may also list it explicitly.
    if (seen.has(key)) continue;
    seen.add(key);
    const responses: Record<string, unknown> = {};
    for (const status of route.statuses) {
      responses[String(status)] = {
        description: STATUS_CODES[status] ?? String(status),
        ...(status >= 400 ? { content: { 'application/json': { schema: { $ref: '#/components/schemas/KeystoneError' } } } } : {}),
      };
    }
    const operation: Record<string, unknown> = {
      operationId: operationId(route),
      summary: route.action ? `Policy rule ${route.action}` : 'No policy rule (unenforced, as in Keystone)',
      ...(route.action ? { 'x-policy-action': route.action } : {}),
      parameters: pathParameters(route.path),
      responses,
      ...(route.authenticated ? { security: [{ 'X-Auth-Token': [] }] } : {}),
    };
    if (route.requestSchema) {
      const source = schemas.source(route.requestSchema);
      if (!source) throw new Error(`${key}: unknown request schema ${route.requestSchema}`);
      const { $id: _id, ...schema } = source;
      components[route.requestSchema] = schema;
      const ref = { $ref: `#/components/schemas/${route.requestSchema}` };
      operation['requestBody'] = {
        required: true,
        content: { 'application/json': { schema: route.bodyMember ? { type: 'object', properties: { [route.bodyMember]: ref } } : ref } },
      };
    }
    (paths[route.path] ??= {})[method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'keystone-ts', version, description: 'OpenStack Identity API v3 as Keystone serves it, and the keystone-ts policy decision APIs.' },
    paths,
    components: { schemas: components, securitySchemes: { 'X-Auth-Token': { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } } },
  };
}

/** GET /openapi.json over the final route table (this route included); built on first request. */
export function openApiRoutes(table: () => readonly Route[], schemas: SchemaRegistry, version: string): Route[] {
  let document: Record<string, unknown> | undefined;
  return [
    {
      method: 'GET',
      path: '/openapi.json',
      action: null,
      authenticated: false,
      statuses: [200],
      handle: async () => ({ status: 200, body: (document ??= openApiDocument(table(), schemas, version)) }),
    },
  ];
}
