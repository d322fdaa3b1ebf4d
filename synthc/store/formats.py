"""Rows as text: the aligned `table`, `csv`, a `json` array and `jsonl`, for `synthc
query` and the text exports. Decimals (DuckDB's HUGEINT, integers past 2^63) stay
numbers, nested cells become JSON text in CSV, binary columns become hex.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from synthc.errors import StoreError

if TYPE_CHECKING:
    import polars as pl

QUERY_FORMATS = ("table", "csv", "json", "jsonl")


# Characters JSON leaves raw inside strings that some line readers (Python's
# str.splitlines, JavaScript before ES2019) take for a line break: escaped in JSON
# Lines, a record is always one line, whatever reads it.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def one_line(jsonl: str) -> str:
    """JSON Lines text with the line-break characters JSON allows raw escaped (they
    only occur inside strings, so every value reads back the same)."""
    return jsonl.translate(_LINE_BREAKS)


def format_frame(frame: pl.DataFrame, format: str) -> str:
    """Rows as text: an aligned `table`, `csv`, a `json` array or `jsonl` (one object a line)."""
    import polars as pl

    frame = _text_safe(frame)
    if format == "jsonl":
        if not any(_has_decimal(dtype) for dtype in frame.schema.values()):
            return one_line(frame.write_ndjson())
        # polars writes decimals as JSON strings; a number stays a number here
        return one_line(
            "".join(
                json.dumps(row, ensure_ascii=False, default=_json_number, separators=(",", ":"))
                + "\n"
                for row in frame.to_dicts()
            )
        )
    if format == "json":
        return (
            json.dumps(frame.to_dicts(), ensure_ascii=False, default=_json_number, indent=2) + "\n"
        )
    if format == "csv":
        return _flatten_nested(frame).write_csv()
    if format == "table":
        # One line per row: a newline inside a cell would break the table apart.
        frame = frame.with_columns(pl.col(pl.String).str.replace_all(r"\r?\n", " ⏎ "))
        with pl.Config(
            tbl_rows=-1,
            tbl_cols=-1,
            tbl_hide_dataframe_shape=True,
            tbl_hide_column_data_types=True,
            tbl_formatting="ASCII_MARKDOWN",
            fmt_str_lengths=80,
            tbl_width_chars=10_000,
        ):
            return str(frame) + "\n"
    raise StoreError(f"unknown format '{format}'; use one of: {', '.join(QUERY_FORMATS)}")


def _has_decimal(dtype: Any) -> bool:
    import polars as pl

    if dtype.is_decimal():
        return True
    if isinstance(dtype, pl.List | pl.Array):
        return _has_decimal(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return any(_has_decimal(f.dtype) for f in dtype.fields)
    return False


def _json_number(value: Any) -> Any:
    """Decimals (DuckDB's HUGEINT and DECIMAL, integers past 2^63) as JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def _text_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Binary and 128-bit integer columns (a query may select them) as text formats can
    hold them: hex text and decimals."""
    import polars as pl

    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Binary:
            casts.append(pl.col(name).bin.encode("hex"))
        elif str(dtype) in ("Int128", "UInt128"):
            casts.append(pl.col(name).cast(pl.Decimal(38, 0)))
    return frame.with_columns(casts) if casts else frame


def _flatten_nested(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV has no lists or structs: write those cells as JSON text."""
    import polars as pl

    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    if not nested:
        return frame
    return frame.with_columns(
        pl.Series(
            name,
            [
                None if v is None else json.dumps(v, default=_json_number, ensure_ascii=False)
                for v in frame.get_column(name).to_list()
            ],
            dtype=pl.String,
        )
        for name in nested
    )
