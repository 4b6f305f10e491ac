"""Organisations and their API keys."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from vardekedja.application.api_keys import IssuedKey, key_parts, split_api_key
from vardekedja.application.base import MarketplaceBase
from vardekedja.application.rounds import Recorded, retrying
from vardekedja.domain.organisation import Organisation, Role


class OrganisationCommands(MarketplaceBase):

    @retrying
    def register_organisation(
        self,
        *,
        name: str,
        role: Role | str,
        org_number: str,
        municipality: str,
        capabilities: Iterable[str] = (),
        service_area: Iterable[str] = (),
        api_key: str | None = None,
    ) -> IssuedKey:
        """Register an organisation and issue its first API key (or register the one given)."""
        organisation = Organisation.register(
            name=name,
            role=role,
            org_number=org_number,
            municipality=municipality,
            capabilities=list(capabilities),
            service_area=list(service_area),
        )
        directory = self.directory()
        directory.list(organisation)
        key_id, api_key, key_hash = key_parts(api_key)
        organisation.issue_api_key(key_id, key_hash)
        recorded = self._commit(organisation.id, organisation, directory)
        return IssuedKey(organisation.id, key_id, api_key, recorded.position)

    @retrying
    def issue_api_key(self, organisation_id: UUID, *, api_key: str | None = None) -> IssuedKey:
        """Issue a new key, or register a given well-formed one (the operator's from the environment)."""
        organisation = self.organisation(organisation_id)
        key_id, api_key, key_hash = key_parts(api_key)
        organisation.issue_api_key(key_id, key_hash)
        recorded = self._commit(organisation.id, organisation)
        return IssuedKey(organisation.id, key_id, api_key, recorded.position)

    @retrying
    def revoke_api_key(self, organisation_id: UUID, key_id: str) -> Recorded:
        organisation = self.organisation(organisation_id)
        organisation.revoke_api_key(key_id)
        return self._commit(organisation.id, organisation)

    def operators(self) -> list[UUID]:
        directory = self.listed()
        return [item.organisation_id for item in directory.listings.values() if item.role is Role.OPERATOR]

    def ensure_operator(self, *, name: str, org_number: str, municipality: str, api_key: str | None = None) -> IssuedKey | None:
        """Make sure an operator exists and can log in.

        With ``api_key`` (from the environment) the key is registered once and
        None is returned when it already was; without, a fresh key is issued.
        """
        operators = self.operators()
        if not operators:
            return self.register_organisation(
                name=name, role=Role.OPERATOR, org_number=org_number, municipality=municipality, api_key=api_key
            )
        operator = self.organisation(operators[0])
        if api_key is not None:
            parts = split_api_key(api_key)
            if parts is not None and parts[0] in operator.api_keys:
                return None
        return self.issue_api_key(operator.id, api_key=api_key)
