"""Design media: attaching a stored picture or production file to a design's draft revision."""

from __future__ import annotations

from uuid import UUID

from vardekedja.application.base import MarketplaceBase
from vardekedja.application.rounds import Recorded, retrying


class MediaCommands(MarketplaceBase):

    @retrying
    def attach_media(self, designer_id: UUID, design_id: UUID, *, kind: str, filename: str, sha256: str,
                     size: int, content_type: str, variants: dict[str, str] | None = None) -> Recorded:  # fmt: skip
        """Record that a file (already stored by its hash) belongs to the draft; ``Recorded.id`` is the media's id.

        Attaching the same file again records nothing and answers with the same id.
        """
        design = self.design(design_id)
        identity = design.attach_media(designer_id, kind=kind, filename=filename, sha256=sha256, size=size,
                                       content_type=content_type, variants=variants or {})  # fmt: skip
        return self._commit(identity, design)
