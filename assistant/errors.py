"""One small error hierarchy: each error carries the HTTP status it maps to."""


class AssistantError(Exception):
    """Base for every error the assistant reports to a person; the message is one clear line."""

    status: int = 400
    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(AssistantError):
    status = 400
    exit_code = 2


class NotFound(AssistantError):
    status = 404


class IndexUnavailable(AssistantError):
    """No published index, or one that cannot be used (other model, corrupt file): the service is unavailable."""

    status = 503
    exit_code = 3


class ServiceStarting(AssistantError):
    """The model or the index is still loading."""

    status = 503


class ModelUnavailable(AssistantError):
    status = 503
    exit_code = 4


class DocumentUnreadable(AssistantError):
    """A file that cannot be turned into text: reported by name, skipped."""

    status = 422


class IndexBusy(AssistantError):
    """Another writer holds the index lock."""

    status = 409
    exit_code = 5


class ReadOnlyServer(AssistantError):
    """This server only reads the published index (ASSISTANT_ROLE=reader): changes go to the writer."""

    status = 409
    exit_code = 5


class Unauthorized(AssistantError):
    status = 401


class PersonalDataRefused(AssistantError):
    """A question that looks like it identifies a child or family: not answered, not stored."""

    status = 422


class Forbidden(AssistantError):
    status = 403


class PayloadTooLarge(AssistantError):
    status = 413


class UnsupportedMediaType(AssistantError):
    status = 415
