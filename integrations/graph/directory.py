"""The directory port (``workflows/kernel/directory.py``) on Microsoft Graph: users by e-mail,
managers, and transitive group members, paged by ``@odata.nextLink``."""

from __future__ import annotations

import logging
from typing import Any

from integrations.graph.client import GraphClient, GraphError, GraphNotFound
from workflows.kernel.directory import DirectoryUnavailable, DirectoryUser

log = logging.getLogger(__name__)

USER_FIELDS = "id,displayName,mail,userPrincipalName,department"
USER_TYPE = "#microsoft.graph.user"


def _user(data: dict[str, Any]) -> DirectoryUser:
    return DirectoryUser(
        id=str(data["id"]),
        name=str(data.get("displayName") or data.get("userPrincipalName") or data["id"]),
        mail=(str(data["mail"]).lower() if data.get("mail") else None),
        department=data.get("department") or None,
    )


def _quoted(value: str) -> str:
    return value.replace("'", "''")


class GraphDirectory:
    def __init__(self, client: GraphClient):
        self._client = client

    def user_by_email(self, email: str) -> DirectoryUser | None:
        try:
            found = (
                self._client.get("/users", {"$filter": f"mail eq '{_quoted(email)}'", "$select": USER_FIELDS}).get(
                    "value"
                )
                or []
            )
            if found:
                return _user(found[0])
            try:  # the sign-in name is often the e-mail address where ``mail`` is not set
                return _user(self._client.get(f"/users/{email}", {"$select": USER_FIELDS}))
            except GraphNotFound:
                return None
        except GraphError as error:
            raise DirectoryUnavailable(str(error)) from None

    def manager(self, user_id: str) -> DirectoryUser | None:
        try:
            return _user(self._client.get(f"/users/{user_id}/manager", {"$select": USER_FIELDS}))
        except GraphNotFound:
            return None
        except GraphError as error:
            raise DirectoryUnavailable(str(error)) from None

    def group_members(self, group_id: str) -> list[DirectoryUser]:
        try:
            members = self._client.get_all(f"/groups/{group_id}/transitiveMembers", {"$select": USER_FIELDS})
            return [_user(m) for m in members if m.get("@odata.type", USER_TYPE) == USER_TYPE]
        except GraphNotFound:
            log.warning("Entra ID has no group %s (microsoft365.group_roles): it grants nobody a role", group_id)
            return []
        except GraphError as error:
            raise DirectoryUnavailable(str(error)) from None

    def member_of(self, user_id: str) -> set[str]:
        """The ids of every group the user is in, also through nested groups."""
        try:
            groups = self._client.get_all(f"/users/{user_id}/transitiveMemberOf", {"$select": "id"})
            return {str(g["id"]) for g in groups if g.get("@odata.type", "#microsoft.graph.group").endswith(".group")}
        except GraphNotFound:
            return set()
        except GraphError as error:
            raise DirectoryUnavailable(str(error)) from None
