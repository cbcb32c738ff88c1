"""Files in and out: reading articles, writing the tables, and the output folder's state.

The only package (with the Ray engine) that touches Polars and pyarrow, and it calls no model
and no language logic. `read` streams records from the inputs, `write` turns results into
rows and Parquet part files, `outdir` prepares an output folder and reads what a resumed run
finds there. The names below are re-exported so callers write `io.read_records(...)`.
"""

from __future__ import annotations

from .outdir import Existing, committed_state, prepare_out, read_manifest, read_table
from .read import (
    JSONL_SUFFIXES,
    RAW_LIMIT,
    STDIN,
    TEXT_SUFFIXES,
    check_columns,
    check_inputs,
    count_records,
    read_records,
)
from .write import (
    COMMITS,
    DETECT_SCHEMA,
    PARTITIONS,
    JsonlWriter,
    RunWriter,
    article_rows,
    atomic_write_bytes,
    frame,
    kept_name,
    partition_date,
    reject_rows,
    table_schema,
    totals,
    write_detections,
    write_json,
    write_parquet,
    write_wide,
)

__all__ = [
    "COMMITS", "DETECT_SCHEMA", "JSONL_SUFFIXES", "PARTITIONS", "RAW_LIMIT", "STDIN", "TEXT_SUFFIXES", "Existing",
    "JsonlWriter", "RunWriter", "article_rows", "atomic_write_bytes", "check_columns", "check_inputs",
    "committed_state", "count_records", "frame", "kept_name", "partition_date", "prepare_out", "read_manifest",
    "read_records", "read_table", "reject_rows", "table_schema", "totals", "write_detections", "write_json",
    "write_parquet", "write_wide",
]  # fmt: skip
