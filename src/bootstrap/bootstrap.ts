import type { AssignmentStore, RoleRef } from '../assignment/store.js';
import type { CatalogStore } from '../catalog/store.js';
import type { IdentityService } from '../identity/service.js';
import type { ResourceStore } from '../resource/store.js';
import type { RevocationService } from '../revoke/service.js';

/** keystone-manage bootstrap's inputs (spec 7.1), with upstream's defaults. */
export interface BootstrapOptions {
  readonly password: string;
  readonly username: string;
  readonly projectName: string;
  readonly roleName: string;
  readonly serviceName: string;
  readonly regionId: string | null;
  readonly adminUrl: string | null;
  readonly publicUrl: string | null;
  readonly internalUrl: string | null;
  readonly immutableRoles: boolean;
  readonly defaultDomainId: string;
}

export interface BootstrapDeps {
  readonly resource: ResourceStore;
  readonly identity: IdentityService;
  readonly assignments: AssignmentStore;
  readonly catalog: CatalogStore;
  readonly revoke: RevocationService;
  readonly log: (line: string) => void;
}

export interface BootstrapResult {
  readonly domainId: string;
  readonly projectId: string;
  readonly userId: string;
  readonly adminRoleId: string;
  readonly created: readonly string[];
}

/**
 * keystone-manage bootstrap, step by step and idempotent: every step looks for what it would
 * create and skips it when present, so running it again changes nothing (except re-enabling the
 * admin and resetting a changed password, as upstream does).
 */
export async function bootstrap(deps: BootstrapDeps, options: BootstrapOptions): Promise<BootstrapResult> {
  const created: string[] = [];
  const note = (what: string) => {
    created.push(what);
    deps.log(`Created ${what}`);
  };

  let domain = await deps.resource.getDomain(options.defaultDomainId);
  if (!domain) {
    domain = await deps.resource.createDomain({ id: options.defaultDomainId, name: 'Default', description: 'The default domain' });
    note(`domain ${domain.id}`);
  }

  let project = await deps.resource.findProjectByName(options.projectName, domain.id);
  if (!project) {
    project = await deps.resource.createProject({
      name: options.projectName,
      domain_id: domain.id,
      description: 'Bootstrap project for initializing the cloud.',
    });
    note(`project ${project.name}`);
  }

  let user = await deps.identity.findUserByName(options.username, domain.id);
  if (!user) {
    user = await deps.identity.createUser({ name: options.username, domain_id: domain.id, password: options.password });
    note(`user ${user.name}`);
  } else {
    if (!user.enabled) {
      await deps.identity.setEnabled(user.id, true);
      deps.log(`Re-enabled user ${user.name}`);
    }
    if (!(await deps.identity.passwordMatches(user.id, options.password))) {
      await deps.identity.resetPassword(user.id, options.password);
      // A password reset revokes the user's tokens, as an API password change does.
      await deps.revoke.revoke({ user_id: user.id });
      deps.log(`Reset password of user ${user.name}`);
    }
  }

  const ensureRole = async (name: string): Promise<RoleRef> => {
    const existing = await deps.assignments.findGlobalRoleByName(name);
    if (existing) return existing;
    const role = await deps.assignments.createRole({ name, immutable: options.immutableRoles });
    note(`role ${name}`);
    return role;
  };
  // 2026 hierarchy: admin → manager → member → reader, plus a standalone service role.
  const reader = await ensureRole('reader');
  const member = await ensureRole('member');
  const manager = await ensureRole('manager');
  const admin = await ensureRole(options.roleName);
  await ensureRole('service');
  await deps.assignments.addImpliedRole(member.id, reader.id);
  await deps.assignments.addImpliedRole(manager.id, member.id);
  // Older bootstraps made admin imply member directly; upstream replaces that edge.
  await deps.assignments.deleteImpliedRole(admin.id, member.id);
  await deps.assignments.addImpliedRole(admin.id, manager.id);

  await deps.assignments.grant('UserProject', user.id, project.id, admin.id);
  await deps.assignments.grantSystem('UserSystem', user.id, admin.id);

  if (options.regionId && !(await deps.catalog.getRegion(options.regionId))) {
    await deps.catalog.createRegion(options.regionId);
    note(`region ${options.regionId}`);
  }

  const urls = { admin: options.adminUrl, public: options.publicUrl, internal: options.internalUrl };
  if (Object.values(urls).some((u) => u)) {
    const services = await deps.catalog.listServices();
    let serviceId = services.find((s) => s.type === 'identity')?.id;
    if (!serviceId) {
      serviceId = await deps.catalog.createService('identity', { name: options.serviceName });
      note(`service ${options.serviceName}`);
    }
    const endpoints = (await deps.catalog.listEndpoints()).filter((e) => e.service_id === serviceId);
    for (const [iface, url] of Object.entries(urls)) {
      if (!url) continue;
      const existing = endpoints.find((e) => e.interface === iface && (options.regionId === null || e.region_id === options.regionId));
      if (!existing) {
        await deps.catalog.createEndpoint({ service_id: serviceId, interface: iface, url, region_id: options.regionId });
        note(`${iface} endpoint ${url}`);
      } else if (existing.url !== url || !existing.enabled) {
        await deps.catalog.updateEndpoint(existing.id, { url, enabled: true, ...(options.regionId ? { region_id: options.regionId } : {}) });
        deps.log(`Updated ${iface} endpoint ${url}`);
      }
    }
  }
  return { domainId: domain.id, projectId: project.id, userId: user.id, adminRoleId: admin.id, created };
}
