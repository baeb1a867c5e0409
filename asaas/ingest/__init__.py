"""Ingest reviews from files, archives and the Hugging Face Hub into the store."""

from asaas.ingest.ingest import IngestReport, ingest
from asaas.ingest.options import IngestOptions, parse_label_map, parse_split_before
from asaas.ingest.readers import ColumnNames, open_source
from asaas.ingest.validate import normalize_label, parse_time

__all__ = ["ColumnNames", "IngestOptions", "IngestReport", "ingest", "normalize_label",
           "open_source", "parse_label_map", "parse_split_before", "parse_time"]
