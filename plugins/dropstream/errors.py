"""One exception tree, split by what the caller should do.

::

    DropStreamError
    ├── ConfigurationError        fix the configuration; retrying will not help
    │   ├── SpecError             a registry entry / ConnectionSpec is invalid
    │   ├── AuthenticationError   credentials refused (401) or permission/scope missing (403)
    │   └── NotFoundError         a folder, endpoint or resource does not exist
    ├── TransientError            the other side is unavailable or busy; retry later
    │   ├── RateLimitedError      throttled; ``retry_after`` seconds if the server said
    │   ├── RegistryReadError     the registry Variable could not be read: nothing is assumed
    │   ├── LeaseBusyError        another run of the connection holds the flow's lease
    │   ├── LeaseLostError        this run's lease expired under it: stop, the next attempt resumes
    │   └── TargetExistsError     a file's final name exists beside its staged upload
    ├── DataError                 one record is bad; skip it, report it, carry on
    │   └── FileFormatError       a warehouse file (or line of it) cannot be read
    ├── UpstreamRejectedError     the platform refused a well-formed request (userErrors, 422)
    └── LedgerConflictError       exactly-once state disagrees with what we are about to do

Messages name the connection, file, line or order and say what to do next.
"""

from __future__ import annotations


class DropStreamError(Exception):
    """Base of every error DropStream raises on purpose."""


class ConfigurationError(DropStreamError):
    """Wrong configuration or credentials: fail without retrying; an operator must act."""


class SpecError(ConfigurationError):
    """A ConnectionSpec (registry entry) is invalid."""

    def __init__(self, connection: str, problems: list[str]) -> None:
        self.connection = connection
        self.problems = list(problems)
        listed = "; ".join(self.problems)
        super().__init__(
            f"connection {connection!r} in Variable 'dropstream_connections' is invalid: {listed}. "
            "Fix the entry (or re-run the dropstream_setup DAG with action=update)."
        )


class AuthenticationError(ConfigurationError):
    """Credentials refused or a needed permission/scope missing."""


class NotFoundError(ConfigurationError):
    """A folder, endpoint or resource that configuration points at does not exist."""


class TransientError(DropStreamError):
    """The other side is unavailable, timed out or busy: retrying later may succeed."""


class RateLimitedError(TransientError):
    """Throttled by the platform."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RegistryReadError(TransientError):
    """The registry Variable could not be read or is not a JSON object: fail closed.

    Never treated as an empty registry: the generator raises (an import error in the UI) and
    the setup DAG refuses to write.
    """


class LeaseBusyError(TransientError):
    """Another run of the same connection and flow holds the lease; the task retries later."""


class LeaseLostError(TransientError):
    """This run no longer holds its lease (it expired unrenewed): it must not act any more."""


class TargetExistsError(TransientError):
    """Committing a staged upload found its final name already there; nothing was replaced.

    The orders flow heals this on its next attempt (the final file is compared with the
    ledger's copy and the stale temporary file removed), so it is retried, never fatal.
    """


class DataError(DropStreamError):
    """One record is bad: skip it, report it, carry on with the rest."""


class FileFormatError(DataError):
    """A warehouse file, or one line of it, cannot be read."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {reason}")


class UpstreamRejectedError(DropStreamError):
    """The platform understood the request and refused it (e.g. GraphQL userErrors)."""


class LedgerConflictError(DropStreamError):
    """The ledger's exactly-once state forbids the requested step."""


class RegistryError(ConfigurationError):
    """One or more registry entries are invalid (their DAGs are not generated)."""

    def __init__(self, errors: dict[str, SpecError]) -> None:
        self.errors = dict(errors)
        listed = "\n".join(f"- {error}" for _, error in sorted(self.errors.items()))
        super().__init__(
            f"{len(self.errors)} invalid DropStream connection(s) in Variable "
            f"'dropstream_connections'; their DAGs are not generated, the others run:\n{listed}"
        )
