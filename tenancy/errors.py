class DomainError(Exception):
    """A business rule refused the action. Portals show it as a message, the API as 4xx."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotAllowed(DomainError):
    code = "not_allowed"
