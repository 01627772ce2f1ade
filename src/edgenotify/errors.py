"""Every error code the service answers, defined once: its name, its kind and what it means.

Domain modules raise :class:`DomainError` with one of these codes and never decide an HTTP status:
the kind says what went wrong in domain terms (not found, conflict, invalid input, ...), and the
app maps a kind to its status once, at its edge (``http/errors.py``). Routes declare the codes they
can answer (``Route.errors``); the OpenAPI document, ``/docs`` and the contract tests are generated
from the same :class:`Code` objects, so renaming or re-classifying a code changes all of them.
"""

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """What kind of failure a code reports; the HTTP layer maps each kind to one status."""

    MALFORMED = "malformed"  # the request cannot be read as sent
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"  # conflicts with the current state
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID = "invalid"  # readable, but does not satisfy the rules
    UNAVAILABLE = "unavailable"  # server-side state prevents it
    INTERNAL = "internal"  # a bug: never declared by a route


@dataclass(frozen=True)
class Code:
    name: str
    kind: Kind
    meaning: str


class DomainError(Exception):
    """A failure with a registered code; ``field`` names the offending input when there is one.

    ``headers`` are for the HTTP plumbing's own errors (``Allow``, ``WWW-Authenticate``).
    """

    def __init__(self, code: Code, message: str, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


M, N, I, C, U = Kind.MALFORMED, Kind.NOT_FOUND, Kind.INVALID, Kind.CONFLICT, Kind.UNAVAILABLE  # noqa: E741

# -- the request itself ---------------------------------------------------------------------------------------
ROUTE_NOT_FOUND = Code("not_found", N, "no route for this path")
METHOD_NOT_ALLOWED = Code("method_not_allowed", Kind.METHOD_NOT_ALLOWED, "the path has no route for this method")
UNAUTHORIZED = Code("unauthorized", Kind.UNAUTHENTICATED, "missing or invalid bearer token")
FORBIDDEN = Code("forbidden", Kind.FORBIDDEN, "a valid token of another role")
INVALID_JSON = Code("invalid_json", M, "the body is not JSON")
PAYLOAD_TOO_LARGE = Code("payload_too_large", Kind.TOO_LARGE, "the body exceeds the size limit")
UNSUPPORTED_MEDIA_TYPE = Code(
    "unsupported_media_type", Kind.UNSUPPORTED_MEDIA_TYPE, "Content-Type is not application/json"
)
UNKNOWN_FIELD = Code("unknown_field", I, "a field or parameter the schema does not have")
MISSING_FIELD = Code("missing_field", I, "a required field or parameter is missing")
INVALID_TYPE = Code("invalid_type", I, "a value of the wrong type")
INVALID_VALUE = Code("invalid_value", I, "a value outside what the field allows")
# What any body or query model can answer.
VALIDATION = (UNKNOWN_FIELD, MISSING_FIELD, INVALID_TYPE, INVALID_VALUE)
INVALID_PATH_PARAM = Code("invalid_path_param", I, "a path parameter does not fit its pattern")
UNSUPPORTED_CHANNEL = Code("unsupported_channel", I, "the channel is not one this service delivers to")
INVALID_CURSOR = Code("invalid_cursor", M, "the cursor is not one this API issued for this list")
MIGRATION_FAILED = Code("migration_failed", U, "(development only) applying a pending migration failed")
INTERNAL_ERROR = Code("internal_error", Kind.INTERNAL, "a bug; the request id finds it in the logs")

# -- channel configs ------------------------------------------------------------------------------------------
CONFIG_NOT_FOUND = Code("config_not_found", N, "the user has no config for this channel")
UNSAFE_URL = Code("unsafe_url", I, "a URL the outbound policy refuses (https on the public internet only)")
CONFIG_DECRYPTION_FAILED = Code(
    "config_decryption_failed", U, "a stored config cannot be opened with the configured CONFIG_ENCRYPTION_KEY"
)
CONFIG_CORRUPT = Code("config_corrupt", U, "a stored config is not valid JSON")
ENCRYPTION_KEY_INVALID = Code("encryption_key_invalid", U, "CONFIG_ENCRYPTION_KEY is not base64 of 32 bytes")

# -- templates ------------------------------------------------------------------------------------------------
TEMPLATE_NOT_FOUND = Code("template_not_found", N, "no template with this key")
DUPLICATE_VARIABLE = Code("duplicate_variable", I, "a variable is declared twice")
INVALID_TEMPLATE = Code("invalid_template", I, "a template text with a bad placeholder or invalid JSON")
UNDECLARED_VARIABLE = Code("undeclared_variable", I, "a template text uses a variable it does not declare")

# -- sends ----------------------------------------------------------------------------------------------------
INVALID_IDEMPOTENCY_KEY = Code("invalid_idempotency_key", M, "Idempotency-Key is not 1 to 255 printable ASCII")
IDEMPOTENCY_CONFLICT = Code("idempotency_conflict", C, "the Idempotency-Key was already used with another body")
NO_ACTIVE_CHANNEL = Code("no_active_channel", I, "the user has no active channel config")
CHANNEL_NOT_CONFIGURED = Code("channel_not_configured", I, "a requested channel has no active config")
CHANNEL_DISABLED = Code(
    "channel_disabled", I, "deliveries kept failing, so the config was disabled; a PUT re-enables it"
)
UNKNOWN_TEMPLATE = Code("unknown_template", I, "the send names a template that does not exist")
TEMPLATE_INACTIVE = Code("template_inactive", I, "the send names an inactive template")
CHANNEL_NOT_IN_TEMPLATE = Code("channel_not_in_template", I, "the template has no content for the channel")
MISSING_VARIABLES = Code("missing_variables", I, "required template variables have no value")
UNDECLARED_VARIABLES = Code("undeclared_variables", I, "variables the template does not declare")
INVALID_VARIABLE_VALUE = Code("invalid_variable_value", I, "variables that do not fit the template's placeholders")
CONTENT_TOO_LARGE = Code("content_too_large", I, "the rendered message exceeds 100,000 characters")

# -- messages -------------------------------------------------------------------------------------------------
MESSAGE_NOT_FOUND = Code("message_not_found", N, "no message with this id")
MESSAGE_SUCCEEDED = Code("message_succeeded", C, "the message was delivered; only failed messages are sent again")
MESSAGE_NOT_FAILED = Code("message_pending", C, "the message is still being delivered; only failed ones are sent again")
NOT_CANCELLABLE = Code("not_cancellable", C, "the message is no longer waiting for its scheduled time")

# -- operations (admin) ---------------------------------------------------------------------------------------
BACKUP_NOT_FOUND = Code("backup_not_found", N, "no backup with this id")
BACKUP_INCOMPLETE = Code("backup_incomplete", C, "the backup has no manifest: it failed or is still running")
BACKUP_FAILED = Code("backup_failed", U, "the backup could not be completed")
MANIFEST_INVALID = Code("manifest_invalid", I, "the backup's manifest cannot be read")
RESTORE_FAILED = Code("restore_failed", U, "the restore job failed; the job says where and why")
RESTORE_IN_PROGRESS = Code("restore_in_progress", U, "a restore is replacing the data; retry later (Retry-After)")
JOB_NOT_FOUND = Code("job_not_found", N, "no job with this id")
BACKUP_RUNNING = Code("backup_running", C, "a backup job is running; continue it instead")
RESTORE_RUNNING = Code("restore_running", C, "a restore job is replacing the data")
MIGRATIONS_PENDING = Code(
    "migrations_pending", C, "the database lacks a migration this operation needs: apply the pending migrations"
)
INVALID_BACKUP_ID = Code("invalid_backup_id", I, "backup_id must look like 20261122T030000000Z-a1b2c3")
# Reasons a restore is refused before it starts (ops.jobs.usecases.JobError carries the name).
RESTORE_REFUSALS = (
    Code("target_not_empty", C, "the target database has rows; use force"),
    Code("target_schema_missing", C, "the file has no schema and the target lacks its tables"),
    Code("backup_format_old", I, "the backup's format cannot be verified by this code"),
    Code("backup_schema_newer", C, "the backup's schema has migrations this code does not know"),
    Code("unsupported_statements", I, "the file has statements a backup never has"),
    Code("backup_corrupt", I, "the backup does not match its manifest"),
    Code("empty_backup", I, "the file contains no tables and no rows"),
    Code("backup_unreadable", I, "the backup cannot be read"),
)
# Reasons a query plan is refused (ops.diagnostics.queryplan.QueryRefused carries the name).
QUERY_REFUSALS = tuple(
    Code(name, I, meaning)
    for name, meaning in (
        ("empty_query", "sql is empty"),
        ("multiple_statements", "exactly one statement is allowed"),
        ("not_a_select", "only a read-only SELECT is allowed"),
        ("invalid_sql", "the query cannot be parsed"),
        ("not_read_only", "the query writes"),
        ("too_many_params", "more than 100 parameters"),
        ("invalid_param", "a parameter that is not a string, number, boolean or null"),
    )
)


def _all() -> dict[str, Code]:
    found: dict[str, Code] = {}
    for value in globals().values():
        for code in value if isinstance(value, tuple) else (value,):
            if isinstance(code, Code):
                assert code.name not in found or found[code.name] == code, f"code {code.name} defined twice"
                found[code.name] = code
    return found


CODES: dict[str, Code] = _all()


def by_name(name: str) -> Code:
    """The registered code of an error that carries only its name (the ops layer's exceptions)."""
    return CODES.get(name, INTERNAL_ERROR)
