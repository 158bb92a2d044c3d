import { z } from 'zod';
import { Timestamp } from '../schemas/common';

export const OrganizationParams = z.object({ id: z.string().min(1).max(200) });
export const OrganizationMemberParams = OrganizationParams.extend({ userId: z.string().min(1).max(200) });

export const AddMemberBody = z
  .strictObject({
    userId: z.string().min(1).max(200),
    role: z.string().min(1).max(50).optional().meta({ description: 'Free-form member role; default "member"' }),
  })
  .meta({ id: 'AddOrganizationMemberRequest' });

export const MemberResponse = z
  .object({ organizationId: z.string(), userId: z.string(), role: z.string(), addedAt: Timestamp })
  .meta({ id: 'OrganizationMember' });

export const MemberListResponse = z.object({ members: z.array(MemberResponse) }).meta({ id: 'OrganizationMemberList' });

export const RemoveMemberResponse = z.object({ removed: z.boolean() });
