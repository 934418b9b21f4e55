import { randomUUID } from 'node:crypto';
import { ValidationError } from '../../common/errors.js';
import type { Credentials, PolicyInput, Violation } from '../../policy/pdp.js';
import type { RequestContext, Route } from '../http.js';
import { assertedSubject, tokenSubject, type AuthzApiDeps } from './subject.js';

const PREFIX = '/v1/data/';

/** The members of `data.keystone`, as the generated Rego package defines them. */
const KEYSTONE_DOCUMENTS = new Set(['decision', 'allow', 'violations']);

interface DecisionInput {
  action: string;
  credentials?: unknown;
  subject_token?: string;
  target?: Record<string, unknown>;
  path?: Record<string, string>;
  request_body?: unknown;
  filter_attr?: Record<string, unknown>;
  request?: { method: string; path: string; source?: string };
}

/** The path after /v1/data/ as OPA reads it: slash-separated, percent-decoded segments. */
function documentPath(path: string): string[] {
  try {
    return path
      .slice(PREFIX.length)
      .split('/')
      .filter((segment) => segment !== '')
      .map((segment) => decodeURIComponent(segment));
  } catch {
    throw new ValidationError('Invalid input for field \'path\': not a valid percent-encoded path');
  }
}

/** Walks into a document as OPA's data references do: object members and array indexes. */
function lookup(document: unknown, segments: readonly string[]): { defined: boolean; value?: unknown } {
  let value = document;
  for (const segment of segments) {
    if (Array.isArray(value) && /^(0|[1-9]\d*)$/.test(segment) && Number(segment) < value.length) {
      value = value[Number(segment)];
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, segment)) {
      value = (value as Record<string, unknown>)[segment];
    } else {
      return { defined: false };
    }
  }
  return { defined: true, value };
}

/**
 * OPA's Data API over the decision point, so that OPA clients (the @open-policy-agent/opa SDK,
 * Envoy's OPA plugin configs, Gatekeeper-style callers) can point here unchanged:
 * `POST /v1/data/keystone/decision {"input": {...}}` answers `{"result": {"allow", "violations"},
 * "decision_id"}`, `keystone/allow` a boolean. The caller (a trusted service) supplies the
 * subject, either as `input.credentials` or as a Keystone token in `input.subject_token`.
 */
export function opaDataRoutes(deps: AuthzApiDeps): Route[] {
  async function answer(ctx: RequestContext, input: unknown, hasInput: boolean) {
    const segments = documentPath(ctx.path);
    // A document outside data.keystone is undefined: OPA answers 200 without `result`.
    if (segments[0] !== 'keystone' || (segments.length > 1 && !KEYSTONE_DOCUMENTS.has(segments[1]!))) {
      return { status: 200, body: { decision_id: randomUUID() } };
    }
    const decision = hasInput ? await decide(ctx, input) : noInput();
    const decisionDocument = { allow: decision.allow, violations: decision.violations };
    const found = lookup({ keystone: { decision: decisionDocument, ...decisionDocument } }, segments);
    return { status: 200, body: found.defined ? { result: found.value, decision_id: decision.decisionId } : { decision_id: decision.decisionId } };
  }

  // Rego's `default allow := false`: with no input nothing is allowed, and nothing is decided.
  function noInput() {
    const violations: Violation[] = [{ field: 'input', message: 'no input document: send {"input": {"action": ..., "credentials": {...}}}' }];
    return { allow: false, violations, decisionId: randomUUID() };
  }

  async function decide(ctx: RequestContext, input: unknown) {
    deps.schemas.validate('opa-decision-input', input, 'input');
    const doc = input as DecisionInput;
    let credentials: Credentials;
    if ((doc.credentials === undefined) === (doc.subject_token === undefined)) {
      throw new ValidationError("Invalid input for field 'input': exactly one of 'credentials' and 'subject_token' is required");
    }
    if (doc.subject_token !== undefined) credentials = await tokenSubject(deps, doc.subject_token, ctx.caller!);
    else credentials = assertedSubject(deps, doc.credentials, 'input/credentials');
    const policyInput: PolicyInput = {
      credentials,
      target: doc.target ?? {},
      path: doc.path ?? {},
      request_body: doc.request_body,
      filter_attr: doc.filter_attr,
      // The protected request, when the caller describes it; else this API call.
      request: doc.request ?? { method: ctx.method, path: ctx.path, source: ctx.sourceAddress },
    };
    return deps.policy.decide(doc.action, policyInput);
  }

  const common = {
    path: `${PREFIX}*document`,
    action: 'keystone_ts:data_api',
    authenticated: true,
    bearerToken: true,
    statuses: [200, 400, 401, 403, 404, 413],
  } as const;
  return [
    {
      ...common,
      method: 'POST',
      requestSchema: 'opa-data-request',
      async handle(ctx) {
        const body = ctx.body as { input?: unknown } | undefined;
        return answer(ctx, body?.input, body !== undefined && Object.hasOwn(body, 'input'));
      },
    },
    {
      ...common,
      method: 'GET',
      // OPA's GET takes the input as JSON in the `input` query parameter.
      async handle(ctx) {
        const text = ctx.query['input'];
        if (text === undefined) return answer(ctx, undefined, false);
        let input: unknown;
        try {
          input = JSON.parse(String(text));
        } catch {
          throw new ValidationError("Invalid input for field 'input': the query parameter is not valid JSON");
        }
        return answer(ctx, input, true);
      },
    },
  ];
}
