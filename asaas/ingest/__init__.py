"""Ingest reviews from files, archives and the Hugging Face Hub into the store."""

from asaas.ingest.ingest import IngestReport, ingest, normalize_label, prepare
from asaas.ingest.readers import ColumnNames, read_source

__all__ = ["ColumnNames", "IngestReport", "ingest", "normalize_label", "prepare", "read_source"]
