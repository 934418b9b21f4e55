import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { http, startTestServer, type TestServer } from '../support/server.js';

interface Operation {
  operationId: string;
  'x-policy-action'?: string;
  requestBody?: { content: { 'application/json': { schema: { $ref?: string; properties?: Record<string, { $ref: string }> } } } };
  responses: Record<string, unknown>;
  security?: unknown[];
}

describe('GET /openapi.json: the route table as an OpenAPI document', function () {
  let db: Db;
  let server: TestServer;
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

  before(async () => {
    db = await openDatabase('pglite://memory');
    await migrateToLatest(db);
    server = await startTestServer(db);
    const res = await http(server.url, 'GET', '/openapi.json');
    assert.equal(res.status, 200);
    doc = res.json;
  });
  after(async () => {
    await server?.close();
    await db?.close();
  });

  it('lists every route with its policy rule, statuses and authentication', () => {
    assert.equal(doc.openapi, '3.1.0');
    const routes = server.service.routes;
    assert.ok(routes.length > 200, `${routes.length} routes`);
    for (const route of routes) {
      const operation = doc.paths[route.path]?.[route.method.toLowerCase()];
      assert.ok(operation, `${route.method} ${route.path} is missing`);
      assert.equal(operation['x-policy-action'], route.action ?? undefined, `${route.method} ${route.path}`);
      assert.deepEqual(Object.keys(operation.responses).map(Number).sort(), [...route.statuses].sort(), `${route.method} ${route.path}`);
      assert.equal(operation.security !== undefined, route.authenticated, `${route.method} ${route.path}`);
    }
    const ids = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    assert.equal(new Set(ids).size, ids.length, 'operation ids are unique');
  });

  it('describes request bodies with the schemas the server validates them with', () => {
    for (const route of server.service.routes.filter((r) => r.requestSchema)) {
      const body = doc.paths[route.path]![route.method.toLowerCase()]!.requestBody!.content['application/json'].schema;
      const ref = route.bodyMember ? body.properties![route.bodyMember]!.$ref : body.$ref;
      assert.equal(ref, `#/components/schemas/${route.requestSchema}`);
      assert.ok(doc.components.schemas[route.requestSchema!], route.requestSchema);
    }
    // A path's own schema, e.g. the user create body, is the file in schemas/.
    assert.deepEqual((doc.components.schemas['user-create'] as { required?: string[] }).required, ['name']);
  });
});
