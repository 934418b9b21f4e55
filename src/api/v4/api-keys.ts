import { ForbiddenNotSecurity, ValidationError } from '../../common/errors.js';
import { attrAsBoolean } from '../../common/list-hints.js';
import { API_KEY_METHOD, type ApiKeyService } from '../../api-key/service.js';
import type { ApiKeyRecord } from '../../api-key/store.js';
import type { ServiceAccountMarker } from '../../identity/service-account-store.js';
import { REQUIRED, type RequestContext, type Route } from '../http.js';
import { queryValue } from '../v3/resource-views.js';

/**
 * /v4/api-keys (issue 6), on Keystone-NG's wire shapes (crates/api-types/src/v4/api_key.rs):
 * `client_id`, `allowed_ips`, `expires_at`, `enabled`, `revoked_at`/`revoked_by`, the full key
 * as the top-level `token` of the create response only, PUT to update and POST .../revoke.
 * NG's keys belong to a mapping provider of a domain; these belong to a user or a service
 * account, so `user_id` and a `project_id` scope take `provider_id`'s place (decision 0010).
 * Policy sees `target.api_key.user_id` and, for a service account's key, the account's owner
 * as `owner_project_id` / `owner_domain_id`: the owner, the account's managers and admins.
 */
export interface ApiKeyRoutesDeps {
  readonly apiKeys: ApiKeyService;
  readonly serviceAccountOf: (userId: string) => Promise<ServiceAccountMarker | undefined>;
  readonly userDomain: (userId: string) => Promise<string | undefined>;
}

interface CreateBody {
  user_id?: string;
  project_id?: string | null;
  domain_id?: string;
  description?: string | null;
  expires_at: string;
  allowed_ips?: string[] | null;
}

interface UpdateBody {
  description?: string | null;
  allowed_ips?: string[] | null;
  enabled?: boolean;
}

/** RFC 3339 in whole seconds, as NG's chrono renders its (second-precision) times. */
const time = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

/** NG's ApiKey, optional members left out when empty as NG's serializer does; never the hash. */
function view(ctx: RequestContext, record: ApiKeyRecord, domainId: string | undefined) {
  return {
    client_id: record.id,
    prefix: `kts_${record.prefix}`,
    user_id: record.userId,
    domain_id: domainId ?? null,
    project_id: record.projectId,
    ...(record.description !== null ? { description: record.description } : {}),
    ...(record.allowedIps !== null ? { allowed_ips: record.allowedIps } : {}),
    enabled: record.enabled,
    created_at: time(record.createdAt),
    expires_at: time(record.expiresAt),
    ...(record.lastUsedAt !== null ? { last_used_at: time(record.lastUsedAt) } : {}),
    ...(record.revokedAt !== null ? { revoked_at: time(record.revokedAt) } : {}),
    ...(record.revokedBy !== null ? { revoked_by: record.revokedBy } : {}),
    links: { self: `${ctx.baseUrl}/v4/api-keys/${record.id}` },
  };
}

export function apiKeyRoutes(deps: ApiKeyRoutesDeps): Route[] {
  const { apiKeys } = deps;

  async function ownerTarget(userId: string, extra: Record<string, unknown> = {}) {
    const marker = await deps.serviceAccountOf(userId);
    return {
      target: {
        api_key: {
          ...extra,
          user_id: userId,
          owner_project_id: marker?.ownerProjectId ?? null,
          owner_domain_id: marker?.ownerDomainId ?? null,
        },
      },
    };
  }

  const keyTarget = async (ctx: RequestContext) => {
    const record = await apiKeys.get(ctx.params['client_id']!);
    return ownerTarget(record.userId, { client_id: record.id, project_id: record.projectId });
  };

  /**
   * A request authenticated by an API key may not mint keys or loosen one (its CIDRs, its
   * enabled flag): a leaked key must not be able to outlive its revocation or escape its
   * source ranges. Revoking or deleting stays possible, so a holder can end its own key.
   */
  function refuseKeyAuthenticated(ctx: RequestContext): void {
    if (ctx.caller!.token.data.methods.includes(API_KEY_METHOD)) {
      throw new ForbiddenNotSecurity('A request authenticated by an API key cannot create or change API keys.');
    }
  }

  const reply = async (ctx: RequestContext, record: ApiKeyRecord, status = 200) => ({
    status,
    body: { api_key: view(ctx, record, await deps.userDomain(record.userId)) },
  });

  return [
    {
      method: 'POST',
      path: '/v4/api-keys',
      action: 'keystone_ts:create_api_key',
      authenticated: true,
      requestSchema: 'api-key-create',
      bodyMember: 'api_key',
      bodyMemberDefault: REQUIRED,
      statuses: [201, 400, 401, 403],
      target: async (ctx) => {
        const body = (ctx.body as { api_key: CreateBody }).api_key;
        return ownerTarget(body.user_id ?? ctx.caller!.token.user.id, { project_id: body.project_id ?? null });
      },
      async handle(ctx) {
        refuseKeyAuthenticated(ctx);
        const body = (ctx.body as { api_key: CreateBody }).api_key;
        const userId = body.user_id ?? ctx.caller!.token.user.id;
        const domainId = await deps.userDomain(userId);
        if (domainId === undefined) throw new ValidationError(`Could not find user: ${userId}.`);
        // NG names the owning domain; here it follows from the owner and may only confirm it.
        if (body.domain_id !== undefined && body.domain_id !== domainId) throw new ValidationError(`User ${userId} is not in domain ${body.domain_id}.`);
        const { record, key } = await apiKeys.create({
          userId,
          projectId: body.project_id ?? null,
          description: body.description ?? null,
          expiresAt: body.expires_at,
          allowedIps: body.allowed_ips ?? null,
        });
        // The only response that carries the key: it is not stored and cannot be shown again.
        return { status: 201, body: { api_key: view(ctx, record, domainId), token: key } };
      },
    },
    {
      method: 'GET',
      path: '/v4/api-keys',
      action: 'keystone_ts:list_api_keys',
      authenticated: true,
      statuses: [200, 401, 403],
      // The caller's own keys unless user_id names another owner (its managers and admins).
      target: (ctx) => ownerTarget(queryValue(ctx, 'user_id') ?? ctx.caller!.token.user.id),
      async handle(ctx) {
        const userId = queryValue(ctx, 'user_id') ?? ctx.caller!.token.user.id;
        const enabled = queryValue(ctx, 'enabled');
        const records = await apiKeys.list({ userId, ...(enabled !== undefined ? { enabled: attrAsBoolean(enabled) } : {}) });
        const domainId = await deps.userDomain(userId);
        return { status: 200, body: { api_keys: records.map((r) => view(ctx, r, domainId)) } };
      },
    },
    {
      method: 'GET',
      path: '/v4/api-keys/{client_id}',
      action: 'keystone_ts:get_api_key',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: keyTarget,
      async handle(ctx) {
        return reply(ctx, await apiKeys.get(ctx.params['client_id']!));
      },
    },
    {
      method: 'PUT',
      path: '/v4/api-keys/{client_id}',
      action: 'keystone_ts:update_api_key',
      authenticated: true,
      requestSchema: 'api-key-update',
      bodyMember: 'api_key',
      bodyMemberDefault: REQUIRED,
      statuses: [200, 400, 401, 403, 404, 409],
      target: keyTarget,
      async handle(ctx) {
        refuseKeyAuthenticated(ctx);
        const body = (ctx.body as { api_key: UpdateBody }).api_key;
        const record = await apiKeys.update(ctx.params['client_id']!, {
          ...('description' in body ? { description: body.description ?? null } : {}),
          ...('allowed_ips' in body ? { allowedIps: body.allowed_ips ?? null } : {}),
          ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        });
        return reply(ctx, record);
      },
    },
    {
      method: 'POST',
      path: '/v4/api-keys/{client_id}/revoke',
      action: 'keystone_ts:revoke_api_key',
      authenticated: true,
      statuses: [200, 401, 403, 404],
      target: keyTarget,
      async handle(ctx) {
        return reply(ctx, await apiKeys.revoke(ctx.params['client_id']!, ctx.caller!.token.user.id));
      },
    },
    {
      method: 'DELETE',
      path: '/v4/api-keys/{client_id}',
      action: 'keystone_ts:delete_api_key',
      authenticated: true,
      statuses: [204, 401, 403, 404],
      target: keyTarget,
      async handle(ctx) {
        await apiKeys.delete(ctx.params['client_id']!);
        return { status: 204 };
      },
    },
  ];
}
