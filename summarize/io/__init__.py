"""Files in and out: reading articles, writing the tables, and the output folder as a dataset.

The only package (with the Ray engine) that touches Polars and pyarrow, and it calls no model
and no language logic. `read` streams records from the inputs, `tables` turns results into rows
of the declared schema, `write` writes part files and commits them, `outdir` and `lock` keep the
output folder's bookkeeping (`_summarize/`), `files` holds the few file operations all of them
use. The names below are re-exported so callers write `io.read_records(...)`.
"""

from __future__ import annotations

from . import memory
from .files import as_path, new_run_id
from .files import configure as configure_storage
from .folder import escape_name
from .identity import identity
from .keys import IdScan, check_new_ids, kept_types, prepare
from .merge import merge_batch, show_held
from .outdir import (
    Dataset,
    Existing,
    OutputPlan,
    batch_runs,
    check_out,
    committed_state,
    read_manifest,
)
from .read import (
    JSONL_SUFFIXES,
    STDIN,
    TEXT_SUFFIXES,
    check_columns,
    check_inputs,
    count_records,
    read_records,
)
from .records import RAW_LIMIT
from .tables import (
    Kept,
    adopt_kept,
    arrow_table,
    declared,
    extracted_reject_row,
    extracted_row,
    kept_columns,
    parse_timestamp,
    partition_lang,
    read_table,
)
from .write import (
    COMMITS,
    JsonlWriter,
    RunWriter,
    atomic_write_bytes,
    commit_parts,
    file_metadata,
    totals,
    write_detections,
    write_json,
    write_parquet,
    write_wide,
)

__all__ = [
    "COMMITS",
    "JSONL_SUFFIXES",
    "RAW_LIMIT",
    "STDIN",
    "TEXT_SUFFIXES",
    "Dataset",
    "Existing",
    "IdScan",
    "JsonlWriter",
    "Kept",
    "OutputPlan",
    "RunWriter",
    "adopt_kept",
    "arrow_table",
    "as_path",
    "atomic_write_bytes",
    "batch_runs",
    "check_columns",
    "check_inputs",
    "check_new_ids",
    "check_out",
    "commit_parts",
    "committed_state",
    "configure_storage",
    "count_records",
    "declared",
    "escape_name",
    "extracted_reject_row",
    "extracted_row",
    "file_metadata",
    "identity",
    "kept_columns",
    "kept_types",
    "memory",
    "merge_batch",
    "new_run_id",
    "parse_timestamp",
    "partition_lang",
    "prepare",
    "read_manifest",
    "read_records",
    "read_table",
    "show_held",
    "totals",
    "write_detections",
    "write_json",
    "write_parquet",
    "write_wide",
]  # fmt: skip
