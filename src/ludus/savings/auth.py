"""Who may do what: org admins (tenant_admin/staff) manage; members see their own data."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from ludus.core.auth.models import Role
from ludus.core.auth.principal import CurrentPrincipal, Principal, require_roles
from ludus.core.kit.errors import Forbidden, NotFound

ADMIN_ROLES = (Role.tenant_admin, Role.staff)

OrgAdmin = Annotated[Principal, Depends(require_roles(*ADMIN_ROLES))]
OrgUser = CurrentPrincipal


def is_admin(principal: Principal) -> bool:
    return principal.is_system_admin or principal.role in ADMIN_ROLES


def own_org(principal: Principal, org_id: uuid.UUID) -> uuid.UUID:
    """The path's org must be the caller's; others' orgs look absent (no existence leak)."""
    if principal.tenant_id != org_id:
        raise NotFound("Organization not found.")
    return org_id


def require_self_or_admin(principal: Principal, user_id: uuid.UUID) -> None:
    if not is_admin(principal) and principal.user_id != user_id:
        raise Forbidden("Members can only see their own records.")
