import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  Forbidden,
  ForbiddenAction,
  INVALID_JSON_MESSAGE,
  KeystoneError,
  MethodNotAllowed,
  NotFound,
  PayloadTooLarge,
  TokenNotFound,
  Unauthorized,
  ValidationError,
} from '../common/errors.js';
import { flaskJson, pythonJson } from '../common/json.js';
import type { Metrics } from '../common/metrics.js';
import type { Credentials, PolicyEngine, PolicyInput } from '../policy/pdp.js';
import type { TokenProvider, ValidatedToken } from '../token/provider.js';
import type { SchemaRegistry } from './validation.js';
import { normalizeSource } from '../common/cidr.js';

/** `bodyMemberDefault` for a member the body must carry. */
export const REQUIRED: unique symbol = Symbol('required body member');

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The caller, established once per request from X-Auth-Token (and X-Service-Token). */
export interface Caller {
  readonly token: ValidatedToken;
  readonly credentials: Credentials;
}

export interface RequestContext {
  readonly method: HttpMethod;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The raw query string (no `?`), for Keystone's self links and repeated filters. */
  readonly queryString: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  /** `<scheme>://<host>[:port]` from [DEFAULT] public_endpoint or the request (spec 3.5). */
  readonly baseUrl: string;
  readonly requestId: string;
  readonly sourceAddress: string | undefined;
  /** Set on authenticated routes. */
  readonly caller: Caller | undefined;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Token bodies have no trailing newline; resource bodies do (Appendix E). */
  readonly trailingNewline?: boolean;
  /** The body already serialized (a cached rendering); takes the place of `body`. */
  readonly json?: string;
  /** A non-JSON body (Prometheus metrics, an OPA bundle archive) with its content type. */
  readonly text?: { readonly body: string | Buffer; readonly contentType: string };
}

/**
 * One route table entry drives request validation, authentication, policy enforcement and the
 * OpenAPI document (src/api/openapi.ts, GET /openapi.json). `action` is Keystone's policy rule
 * name; null marks the routes Keystone leaves unenforced.
 */
export interface Route {
  readonly method: HttpMethod;
  readonly path: string;
  readonly action: string | null;
  /** Whether a valid X-Auth-Token is required before the handler runs. */
  readonly authenticated: boolean;
  /**
   * Also accept `Authorization: Bearer <token>` when X-Auth-Token is absent: gateways and
   * AuthZEN clients send that, and Envoy forwards it to ext_authz by default. Keystone's own
   * routes never do, so a Keystone client sees Keystone's behaviour.
   */
  readonly bearerToken?: boolean;
  /**
   * False: the body is neither read nor parsed. Envoy's ext_authz check carries the original
   * request's method and headers, but its body (if any) belongs to the protected service.
   * 'form': an `application/x-www-form-urlencoded` body (OAuth 2.0 endpoints, RFC 6749 §4.1.3),
   * handed over as a record of its fields; a repeated field is refused (RFC 6749 §3.2).
   */
  readonly readBody?: boolean;
  /**
   * 'form': the body is `application/x-www-form-urlencoded` (OAuth 2.0 token endpoints, RFC
   * 6749 section 3.2), handed to the handler as URLSearchParams, so that it can answer
   * malformed parameters in its own protocol's terms.
   */
  readonly bodyFormat?: 'json' | 'form';
  /** Schema id in schemas/ for the request body, applied to `bodyMember` when given. */
  readonly requestSchema?: string;
  readonly bodyMember?: string;
  /**
   * Validated in place of a missing `bodyMember`; `{}` when not given, as Keystone's
   * `body.get(member, {})`. REQUIRED refuses a body without it, as the request schemas of
   * Keystone's newer APIs do (`'role' is a required property`).
   */
  readonly bodyMemberDefault?: unknown;
  readonly statuses: readonly number[];
  /** Builds the policy target (entities, path values) the rule needs (spec 4.1). */
  readonly target?: (ctx: RequestContext) => Promise<Omit<PolicyInput, 'credentials'>>;
  /**
   * The rules to enforce when Keystone picks them per request (identity:get_domain_role for a
   * domain-specific role, list_role_assignments_for_tree with include_subtree, ...), each in
   * turn with the same target; `action` stays the route's documented rule.
   */
  readonly actions?: (ctx: RequestContext, input: Omit<PolicyInput, 'credentials'>) => readonly string[];
  readonly handle: (ctx: RequestContext) => Promise<Reply>;
}

export interface HttpDeps {
  readonly routes: readonly Route[];
  readonly tokens: TokenProvider;
  readonly policy: PolicyEngine;
  readonly schemas: SchemaRegistry;
  readonly credentialsFor: (token: ValidatedToken, service: ValidatedToken | undefined) => Credentials;
  readonly publicEndpoint: string | null;
  readonly maxRequestBodySize: number;
  readonly log: (record: Record<string, unknown>) => void;
  readonly metrics: Metrics;
  /**
   * API keys (src/api-key): `Authorization: Bearer kts_...` on any authenticated route when no
   * X-Auth-Token is given, as Keystone-NG accepts its keys (Bearer only, never X-Auth-Token).
   */
  readonly apiKeys?: {
    recognizes(text: string): boolean;
    authenticate(key: string, source: string | undefined): Promise<ValidatedToken>;
  };
}

function expressPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

/** Keystone's base URL: public_endpoint, else the request's scheme and host (spec 3.5). */
function baseUrlOf(req: Request, publicEndpoint: string | null): string {
  if (publicEndpoint) return publicEndpoint.replace(/\/+$/, '').replace(/\/v3$/, '');
  const host = req.headers.host ?? 'localhost';
  const scheme = req.protocol;
  const trimmed = (scheme === 'http' && host.endsWith(':80')) || (scheme === 'https' && host.endsWith(':443')) ? host.replace(/:\d+$/, '') : host;
  return `${scheme}://${trimmed}`;
}

const JSON_TYPES = /^application\/(?:[\w.+-]*\+)?json\b/i;

/**
 * Reads the body ourselves instead of express.json(): the size limit must answer Keystone's
 * 413, an unparsable body Keystone's 400, and a body with a non-JSON content type is refused.
 */
async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new PayloadTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLarge();
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = req.headers['content-type'];
  if (type && !JSON_TYPES.test(type)) {
    throw new ValidationError(
      'Expecting to find application/json in Content-Type header. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
    );
  }
  const text = Buffer.concat(chunks, size).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError(INVALID_JSON_MESSAGE);
  }
  if (text.includes('\\u0000') && containsNul(parsed)) throw new ValidationError(NUL_MESSAGE);
  return parsed;
}

/** PostgreSQL cannot store U+0000 in text: refused here rather than failing in SQL. */
const NUL_MESSAGE = 'Invalid input: a value contains the NUL character (U+0000).';

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([key, inner]) => key.includes('\u0000') || containsNul(inner));
  return false;
}

const FORM_TYPE = /^application\/x-www-form-urlencoded\b/i;

/** A form body; another content type is Keystone's 400. */
async function readFormBody(req: Request, limit: number): Promise<URLSearchParams> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new PayloadTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLarge();
    chunks.push(chunk);
  }
  const type = req.headers['content-type'];
  if (size > 0 && !(type && FORM_TYPE.test(type))) throw new ValidationError('Expecting application/x-www-form-urlencoded in Content-Type header.');
  const text = Buffer.concat(chunks, size).toString('utf8');
  if (/%00/i.test(text)) throw new ValidationError(NUL_MESSAGE);
  return new URLSearchParams(text);
}

function send(res: Response, reply: Reply, method: string): void {
  if (reply.headers) for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  res.status(reply.status);
  if (reply.text) {
    res.setHeader('Content-Type', reply.text.contentType);
    res.setHeader('Content-Length', Buffer.byteLength(reply.text.body));
    res.end(method === 'HEAD' ? undefined : reply.text.body);
    return;
  }
  if ((reply.body === undefined && reply.json === undefined) || reply.status === 204) {
    res.end();
    return;
  }
  const text = (reply.json ?? pythonJson(reply.body)) + (reply.trailingNewline === false ? '' : '\n');
  // Encoded once: its length is the header, and the socket writes the same bytes (a string would
  // be measured, then encoded again on write: two passes over a 2.7 MB user list).
  const bytes = Buffer.from(text, 'utf8');
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', bytes.length);
  // HEAD answers the GET headers, Content-Length included, with no body (Appendix E).
  res.end(method === 'HEAD' ? undefined : bytes);
}

export function createHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', false);

  app.use((req, res, next) => {
    res.setHeader('Vary', 'X-Auth-Token');
    res.setHeader('x-openstack-request-id', `req-${randomUUID()}`);
    next();
  });

  /** The caller's validated token, from X-Auth-Token, a Bearer API key, or (some routes) a Bearer token. */
  async function callerToken(req: Request, route: Route): Promise<ValidatedToken> {
    const authToken = req.headers['x-auth-token'];
    const bearer = bearerToken(req.headers.authorization);
    if ((authToken === undefined || authToken === '') && bearer !== undefined && deps.apiKeys?.recognizes(bearer)) {
      return deps.apiKeys.authenticate(bearer, req.socket.remoteAddress);
    }
    const tokenText = authToken ?? (route.bearerToken ? bearer : undefined);
    if (typeof tokenText !== 'string' || tokenText === '') throw new Unauthorized('no X-Auth-Token');
    try {
      return await deps.tokens.validate(tokenText);
    } catch (error) {
      // As the caller's token, "not found" is "not authenticated" (spec 1.6); other errors
      // (a deleted user's 404) keep their status.
      if (error instanceof TokenNotFound) throw new Unauthorized(error.reason ?? error.message);
      throw error;
    }
  }

  async function authenticate(req: Request, route: Route): Promise<Caller> {
    const token = await callerToken(req, route);
    // An EC2 token proves a signed request, not a caller (auth_context.py); as X-Auth-Token it
    // would let whoever intercepts one call the API with the credential owner's roles.
    if (token.data.methods.includes('ec2credential')) throw new Forbidden('EC2 credential tokens cannot be used for authorization.');
    let service: ValidatedToken | undefined;
    const serviceText = req.headers['x-service-token'];
    if (typeof serviceText === 'string' && serviceText !== '') {
      service = await deps.tokens.validate(serviceText).catch(() => undefined);
    }
    return { token, credentials: deps.credentialsFor(token, service) };
  }

  const router = express.Router({ caseSensitive: true, strict: false });
  const methodsByPath = new Map<string, Set<string>>();
  for (const route of deps.routes) {
    const pathPattern = expressPath(route.path);
    if (!methodsByPath.has(pathPattern)) methodsByPath.set(pathPattern, new Set());
    methodsByPath.get(pathPattern)!.add(route.method);
    const register = router[route.method.toLowerCase() as 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete'].bind(router);
    register(pathPattern, (req: Request, res: Response, next: NextFunction) => {
      res.once('finish', () => deps.metrics.httpRequests.inc(route.method, route.path, String(res.statusCode)));
      handle(route, req, res).catch(next);
    });
  }
  // Keystone (Werkzeug) answers 405 for a known path with an undefined method.
  for (const pathPattern of methodsByPath.keys()) {
    router.all(pathPattern, (_req, _res, next) => next(new MethodNotAllowed()));
  }

  async function handle(route: Route, req: Request, res: Response): Promise<void> {
    const method = route.method;
    // Path ids, query values and form fields all arrive percent-encoded.
    if (/%00/i.test(req.originalUrl)) throw new ValidationError(NUL_MESSAGE);
    let body: unknown;
    if ((method === 'POST' || method === 'PUT' || method === 'PATCH') && route.readBody !== false) {
      body = route.bodyFormat === 'form' ? await readFormBody(req, deps.maxRequestBodySize) : await readJsonBody(req, deps.maxRequestBodySize);
      if (route.requestSchema) {
        if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError(INVALID_JSON_MESSAGE);
        // A missing member is validated as Keystone's `body.get(member, {})`, unless the route says otherwise.
        const fields = body as Record<string, unknown>;
        const present = route.bodyMember !== undefined && Object.hasOwn(fields, route.bodyMember);
        if (route.bodyMember && !present && route.bodyMemberDefault === REQUIRED) throw new ValidationError(`'${route.bodyMember}' is a required property`);
        const member = !route.bodyMember ? body : present ? fields[route.bodyMember] : route.bodyMemberDefault === undefined ? {} : route.bodyMemberDefault;
        deps.schemas.validate(route.requestSchema, member);
      }
    }
    const caller = route.authenticated ? await authenticate(req, route) : undefined;
    const ctx: RequestContext = {
      method,
      path: req.path,
      params: req.params as Record<string, string>,
      query: req.query as Record<string, string | undefined>,
      queryString: req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '',
      headers: req.headers,
      body,
      baseUrl: baseUrlOf(req, deps.publicEndpoint),
      requestId: String(res.getHeader('x-openstack-request-id')),
      sourceAddress: normalizeSource(req.socket.remoteAddress),
      caller,
    };
    if (route.action && caller) {
      const input = route.target ? await route.target(ctx) : {};
      for (const action of route.actions ? route.actions(ctx, input) : [route.action]) {
        const decision = deps.policy.decide(action, {
          ...input,
          path: { ...ctx.params, ...input.path },
          credentials: caller.credentials,
          request: { method, path: req.path, source: ctx.sourceAddress },
        });
        if (!decision.allow) throw new ForbiddenAction(action, decision.violations);
      }
    }
    send(res, await route.handle(ctx), method);
  }

  app.use(router);


  app.use((_req: Request, _res: Response, next: NextFunction) => next(new NotFound('The resource could not be found.')));

  // The one place errors become responses: Keystone's body, 401s with WWW-Authenticate.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    let err: KeystoneError;
    if (error instanceof KeystoneError) {
      err = error;
    } else if (isHttpError(error) && error.status === 400) {
      err = new ValidationError(INVALID_JSON_MESSAGE);
    } else {
      err = new KeystoneError(500, 'Internal Server Error', 'An unexpected error prevented the server from fulfilling your request.');
      deps.log({ level: 'error', msg: 'unhandled error', path: req.path, error: error instanceof Error ? error.stack : String(error) });
    }
    if (err.detail) deps.log({ level: 'info', msg: err.message, status: err.status, detail: err.detail, path: req.path });
    const body = { error: { code: err.status, message: err.message, title: err.title, ...err.extra } };
    if (err.status === 401) res.setHeader('WWW-Authenticate', `Keystone uri="${baseUrlOf(req, deps.publicEndpoint)}/v3"`);
    const text = flaskJson(body);
    res.status(err.status).setHeader('Content-Type', 'application/json').setHeader('Content-Length', Buffer.byteLength(text));
    res.end(req.method === 'HEAD' ? undefined : text);
  });
  return app;
}

function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  return match?.[1];
}

function isHttpError(error: unknown): error is { status: number } {
  return typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number';
}
