"""The project's own exceptions.

Library code raises these for anything a user can fix (bad input, missing paths, a database that
is behind or busy). The CLI turns them into one-line messages; anything else is a bug and keeps
its traceback.
"""


class AsaasError(Exception):
    """Base class: the message is one line that names the problem and the fix."""


class ConfigError(AsaasError):
    """A setting or option has a value asaas cannot use."""


class DatabaseError(AsaasError):
    """The database cannot be opened, or a statement failed."""


class DatabaseBusyError(DatabaseError):
    """Another process holds the database (DuckDB allows a single process to open a file)."""


class SchemaError(DatabaseError):
    """The database schema is not the one this version of asaas expects."""


class SourceError(AsaasError):
    """An ingest source is missing, unreadable or has the wrong shape."""


class NetworkError(AsaasError):
    """Something that needs the internet (the Hugging Face Hub) could not be reached."""


class JobError(AsaasError):
    """A job file that cannot be run as written."""
