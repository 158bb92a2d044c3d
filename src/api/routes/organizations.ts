/** Organization members share the organization's wallet. Membership is staff-managed. */
import { addOrganizationMember, listOrganizationMembers, removeOrganizationMember, type OrganizationMember } from '../../ledger';
import { STAFF } from '../auth/roles';
import { defineRoute } from '../route';
import { iso } from '../schemas/common';
import {
  AddMemberBody, MemberListResponse, MemberResponse, OrganizationMemberParams, OrganizationParams, RemoveMemberResponse,
} from './organizations.schemas';

const toResponse = (m: OrganizationMember) => ({
  organizationId: m.organizationId, userId: m.userId, role: m.role, addedAt: iso(m.addedAt),
});

export const addMemberRoute = defineRoute({
  method: 'post',
  path: '/v1/organizations/:id/members',
  summary: 'Add a user to an organization (or change their member role)',
  tag: 'organizations',
  access: ['admin'],
  params: OrganizationParams,
  body: AddMemberBody,
  successStatus: 201,
  response: MemberResponse,
  async handler({ params, body, deps }) {
    return toResponse(await addOrganizationMember(deps.pool, { organizationId: params.id, userId: body.userId, role: body.role }));
  },
});

export const listMembersRoute = defineRoute({
  method: 'get',
  path: '/v1/organizations/:id/members',
  summary: 'List the members of an organization',
  tag: 'organizations',
  access: STAFF,
  params: OrganizationParams,
  successStatus: 200,
  response: MemberListResponse,
  async handler({ params, deps }) {
    const members = await listOrganizationMembers(deps.pool, { organizationId: params.id });
    return { members: members.map(toResponse) };
  },
});

export const removeMemberRoute = defineRoute({
  method: 'delete',
  path: '/v1/organizations/:id/members/:userId',
  summary: 'Remove a user from an organization (idempotent: removed=false if they were not a member)',
  tag: 'organizations',
  access: ['admin'],
  params: OrganizationMemberParams,
  successStatus: 200,
  response: RemoveMemberResponse,
  async handler({ params, deps }) {
    return removeOrganizationMember(deps.pool, { organizationId: params.id, userId: params.userId });
  },
});
