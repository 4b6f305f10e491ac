"""Designs: draft, revise, publish, retire."""

from __future__ import annotations

from uuid import UUID

from vardekedja.application.base import MarketplaceBase
from vardekedja.application.rounds import Recorded, retrying
from vardekedja.domain.design import Design, Specification
from vardekedja.domain.organisation import Role


class DesignCommands(MarketplaceBase):

    @retrying
    def draft_design(self, designer_id: UUID, specification: Specification) -> Recorded:
        specification.check()  # invalid input is refused first, as before anything is loaded
        self._member(designer_id, Role.DESIGNER)
        design = Design.draft(designer_id, specification)
        return self._commit(design.id, design)

    @retrying
    def revise_design(self, designer_id: UUID, design_id: UUID, specification: Specification) -> Recorded:
        specification.check()
        design = self.design(design_id)
        design.revise(designer_id, specification)
        return self._commit(design.id, design)

    @retrying
    def publish_design(self, designer_id: UUID, design_id: UUID) -> Recorded:
        design = self.design(design_id)
        design.publish(designer_id)
        return self._commit(design.id, design)

    @retrying
    def retire_design(self, designer_id: UUID, design_id: UUID) -> Recorded:
        design = self.design(design_id)
        design.retire(designer_id)
        return self._commit(design.id, design)
