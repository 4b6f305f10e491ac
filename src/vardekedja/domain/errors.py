"""Errors the domain raises when a command breaks a rule.

Each command checks its rules before it records anything, so a raised error
means nothing was written. The three families tell callers how to answer:
a refused input, a clash with the current state, or a missing permission.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the value chain enforces; ``field`` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RuleViolationError(DomainError):
    """The command's input breaks a rule (HTTP 422)."""


class ConflictError(DomainError):
    """The command does not fit the aggregate's current state (HTTP 409)."""


class ForbiddenError(DomainError):
    """The caller may not do this to this aggregate (HTTP 403 or 404)."""


class NotFoundError(DomainError):
    """No such aggregate, or not one the caller may see (HTTP 404)."""


class InvalidOrgNumberError(RuleViolationError):
    """An organisation number that fails the Swedish Luhn check."""


class InvalidSpecificationError(RuleViolationError):
    """A design specification with a value out of range."""


class NotPublishableError(RuleViolationError):
    """A design revision that lacks what publishing requires."""


class NotOwnerError(ForbiddenError):
    """Only the owning organisation may change this aggregate."""


class DesignRetiredError(ConflictError):
    """A retired design can be neither changed nor ordered."""


class NotPublishedError(RuleViolationError):
    """An order names a design revision that was never published."""


class NotOrderableError(RuleViolationError):
    """An order line names a design revision that is retired or was never published."""


class InvalidOrderError(RuleViolationError):
    """An order whose lines or delivery site break a rule."""


class NoEligibleWorkshopError(RuleViolationError):
    """No workshop can make this line for this municipality."""


class NoAreaCompanyError(RuleViolationError):
    """No area company serves the municipality of an order that asks for installation."""


class NotEligibleError(ForbiddenError):
    """The workshop's capabilities or service area do not fit the production order."""


class InvalidTransitionError(ConflictError):
    """The aggregate's status does not allow this command now."""


class AlreadyTakenError(ConflictError):
    """Another workshop accepted the production order first."""


class ConcurrentUpdateError(ConflictError):
    """Another command changed the same aggregate at the same moment."""


class DuplicateOrganisationError(ConflictError):
    """An organisation with this organisation number is already registered."""


class UnknownApiKeyError(NotFoundError):
    """The organisation has no such API key."""
