"""The audit log: an append-only, hash-chained, Ed25519-signed record of every decision, command, ack,
approval, verdict, promotion and policy change, with signed checkpoints, offline verification and export.

The command line (`edgeloop audit verify|export`) is `edgeloop.cli.audit.audit_app`, outside this part, so that
the agent can use the log without loading the CLI.
"""

from edgeloop.audit.directory import KEY_FILE, LOG_FILE, PUBLIC_KEY_FILE, AuditError
from edgeloop.audit.export import Export, export
from edgeloop.audit.keys import export_public_key, load_or_create_key, load_public_key
from edgeloop.audit.log import AuditLog, Item
from edgeloop.audit.record import GENESIS, Kind, Record, RecordError
from edgeloop.audit.verify import Tamper, VerifyReport, verify_file, verify_lines

__all__ = [
    "GENESIS",
    "KEY_FILE",
    "LOG_FILE",
    "PUBLIC_KEY_FILE",
    "AuditError",
    "AuditLog",
    "Export",
    "Item",
    "Kind",
    "Record",
    "RecordError",
    "Tamper",
    "VerifyReport",
    "export",
    "export_public_key",
    "load_or_create_key",
    "load_public_key",
    "verify_file",
    "verify_lines",
]
