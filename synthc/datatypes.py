"""Types of the user's data, kept faithful: one type per column (checked row by row with
its location), CSV columns inferred without losing leading zeros, integers wider than
64 bits as decimals every output format can write, shards unioned only when lossless,
and `columns:` declarations applied.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthc.errors import DataFileError

if TYPE_CHECKING:
    import polars as pl

# Types a seed may declare for a column under `columns:`.
DECLARED_TYPES = ("string", "integer", "number", "boolean")

# A JSON value's kind: "null", "boolean", "number", "string", ("list", kind) or
# ("object", {field: kind}). Integers and floats are one kind: JSON does not tell them apart.
Kind = Any


class KindConflict(Exception):
    """Two values of one column (or one list) have kinds no column type holds both of."""


def kind_name(value: Any) -> str:
    return _describe(_kind(value))


def _kind(value: Any) -> Kind:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if abs(value) <= _FLOAT_EXACT else "wide integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        merged: Kind = "null"
        for item in value:
            try:
                merged = _merge(merged, _kind(item))
            except KindConflict:
                message = f"a list mixing {_describe(merged)} and {kind_name(item)}"
                raise KindConflict(message) from None
        return ("list", merged)
    if isinstance(value, Mapping):
        return ("object", {str(k): _kind(v) for k, v in value.items()})
    return "string"


def _describe(kind: Kind) -> str:
    if isinstance(kind, tuple):
        return "a list" if kind[0] == "list" else "an object"
    names = {
        "null": "null",
        "boolean": "true/false",
        "number": "a number with a fraction",
        "integer": "an integer",
        "wide integer": "an integer beyond 2^53 (a float column would change its digits)",
    }
    return names.get(kind, "a string")


# Integers and floats share a column (as floats) only while the integers convert exactly.
_NUMERIC_MERGE = {
    frozenset({"integer", "number"}): "number",
    frozenset({"integer", "wide integer"}): "wide integer",
}


def _merge(old: Kind, new: Kind) -> Kind:
    if old == "null" or old == new:
        return new
    if new == "null":
        return old
    both_scalar = isinstance(old, str) and isinstance(new, str)
    if both_scalar and (merged := _NUMERIC_MERGE.get(frozenset({old, new}))) is not None:
        return merged
    if isinstance(old, tuple) and isinstance(new, tuple) and old[0] == new[0]:
        if old[0] == "list":
            return ("list", _merge(old[1], new[1]))
        fields = dict(old[1])
        for name, kind in new[1].items():
            try:
                fields[name] = _merge(fields.get(name, "null"), kind)
            except KindConflict as exc:
                raise KindConflict(f"field '{name}': {exc}") from None
        return ("object", fields)
    raise KindConflict(f"{_describe(new)} here but {_describe(old)}")


def _unstorable(value: Any) -> str | None:
    """What no column type can hold without changing it: integers past 38 digits (the
    widest decimal) and floats past the double range (JSON `1e400` reads as infinity)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) >= 10**38:
        return "an integer of more than 38 digits; write it as a string"
    if isinstance(value, float) and not math.isfinite(value):
        return "a number beyond the range of a float; write it as a string"
    if isinstance(value, list):
        return next((p for p in map(_unstorable, value) if p is not None), None)
    if isinstance(value, Mapping):
        return next((p for p in map(_unstorable, value.values()) if p is not None), None)
    return None


def check_row_kinds(
    kinds: dict[str, tuple[Kind, str]], row: Mapping[str, Any], where: str, label: str
) -> None:
    """Fold one row into `kinds` (column -> (kind, where first seen)); raise DataFileError
    at `where` when a value's kind contradicts the column's so far. `label` is how later
    messages name this row."""
    conflict = row_kind_conflict(kinds, row, label)
    if conflict is not None:
        raise DataFileError(f"{where}: {conflict[1]}")


def row_kind_conflict(
    kinds: dict[str, tuple[Kind, str]], row: Mapping[str, Any], label: str
) -> tuple[str, str] | None:
    """`check_row_kinds` that returns (column, message) instead of raising."""
    for column, value in row.items():
        if (problem := _unstorable(value)) is not None:
            return str(column), f"column '{column}' holds {problem}"
        old, seen = kinds.get(str(column), ("null", label))
        try:
            kinds[str(column)] = (_merge(old, _kind(value)), seen if old != "null" else label)
        except KindConflict as exc:
            return str(column), (
                f"column '{column}' holds {exc} at {seen}; a column keeps one "
                "type (write every value the same way, e.g. quote the numbers)"
            )
    return None


# -- CSV ------------------------------------------------------------------------------

_INTEGER = re.compile(r"0|-?[1-9][0-9]*")  # no leading zeros, no "-0": those stay text
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_INT64_MAX = 2**63 - 1
_FLOAT_EXACT = 2**53  # integers up to this convert to a float and back unchanged
_FLOAT_DIGITS = 15  # significant digits a float always keeps


def read_csv_faithfully(path: Path, shown: str, declared: Mapping[str, str]) -> pl.DataFrame:
    """A CSV file with each column typed only when no value changes: integers without
    leading zeros (`02134` stays the string `02134`), decimals, true/false; every other
    column stays text. Empty fields are null. A row with the wrong number of fields is an
    error at its line."""
    import polars as pl

    with path.open(newline="", encoding="utf-8-sig") as handle:  # Excel writes a BOM
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return pl.DataFrame()
        _check_header(header, shown)
        columns: list[list[str | None]] = [[] for _ in header]
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataFileError(
                        f"{shown}:{reader.line_num}: {len(row)} field(s), but the header "
                        f"has {len(header)}; quote values that contain commas"
                    )
                for values, value in zip(columns, row, strict=True):
                    values.append(value if value != "" else None)
        except csv.Error as exc:
            raise DataFileError(f"{shown}:{reader.line_num}: not valid CSV ({exc})") from None
    frame = pl.DataFrame(
        {
            name: pl.Series(name, values, dtype=pl.String)
            for name, values in zip(header, columns, strict=True)
        }
    )
    return frame.with_columns(
        _typed(frame.get_column(name)) for name in header if name not in declared
    )


def _check_header(header: Sequence[str], shown: str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(header, start=1):
        if not name.strip():
            raise DataFileError(f"{shown}:1: column {index} of the header has no name")
        if name in seen:
            raise DataFileError(f"{shown}:1: the header names column '{name}' twice")
        seen.add(name)


def _typed(series: pl.Series) -> pl.Series:
    import polars as pl

    values = series.drop_nulls()
    if values.is_empty():
        return series
    if values.str.contains(f"^(?:{_INTEGER.pattern})$").all():
        widest = max(abs(int(v)) for v in values)  # exact: Python ints are unbounded
        if widest <= _INT64_MAX:
            return series.cast(pl.Int64)
        if len(str(widest)) <= 38:
            return series.cast(pl.Decimal(38, 0))
        return series
    if values.str.contains(f"^(?:{_NUMBER.pattern})$").all() and all(
        _significant_digits(v) <= _FLOAT_DIGITS for v in values
    ):
        return series.cast(pl.Float64)
    if values.is_in(["true", "false"]).all():
        return series == "true"
    return series


def _significant_digits(text: str) -> int:
    mantissa = re.split("[eE]", text)[0].lstrip("-").replace(".", "")
    return len(mantissa.lstrip("0")) or 1


# -- integers wider than 64 bits --------------------------------------------------------


def wide_integers(frame: pl.DataFrame) -> pl.DataFrame:
    """128-bit integer columns (polars reads integers past 2^63 as Int128) narrowed to
    Int64 when every value fits, else Decimal(38, 0): Parquet, DuckDB, CSV and JSON all
    write decimals, while an Int128 lands in Parquet as raw bytes."""
    import polars as pl

    wide = [name for name, dtype in frame.schema.items() if _has_int128(dtype)]
    if not wide:
        return frame
    casts = []
    for name in wide:
        column = frame.get_column(name)
        try:
            casts.append(column.cast(_replace_int128(column.dtype, pl.Int64), strict=True))
        except Exception:
            try:
                decimal = pl.Decimal(38, 0)
                casts.append(column.cast(_replace_int128(column.dtype, decimal), strict=True))
            except Exception:
                raise DataFileError(
                    f"column '{name}' holds an integer of more than 38 digits; write it as a string"
                ) from None
    return frame.with_columns(casts)


def _has_int128(dtype: Any) -> bool:
    import polars as pl

    if str(dtype) in ("Int128", "UInt128"):
        return True
    if isinstance(dtype, pl.List | pl.Array):
        return _has_int128(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return any(_has_int128(f.dtype) for f in dtype.fields)
    return False


def _replace_int128(dtype: Any, target: Any) -> Any:
    import polars as pl

    if isinstance(dtype, pl.List):
        return pl.List(_replace_int128(dtype.inner, target))
    if isinstance(dtype, pl.Array):
        return pl.List(_replace_int128(dtype.inner, target))
    if isinstance(dtype, pl.Struct):
        return pl.Struct([pl.Field(f.name, _replace_int128(f.dtype, target)) for f in dtype.fields])
    return target if _has_int128(dtype) else dtype


def check_storable(frame: pl.DataFrame, shown: str) -> None:
    """Refuse what Parquet cannot hold: an object column (or field) with no fields, as
    when every value is `{}`."""
    for name, dtype in frame.schema.items():
        if _has_empty_struct(dtype):
            raise DataFileError(
                f"{shown}: column '{name}' holds only empty objects ({{}}), which a table "
                "cannot store; drop the column or give the objects a field"
            )


def _has_empty_struct(dtype: Any) -> bool:
    import polars as pl

    if isinstance(dtype, pl.Struct):
        return not dtype.fields or any(_has_empty_struct(f.dtype) for f in dtype.fields)
    if isinstance(dtype, pl.List | pl.Array):
        return _has_empty_struct(dtype.inner)
    return False


# -- shards and declarations ------------------------------------------------------------


def union_shards(frames: Sequence[tuple[str, pl.DataFrame]]) -> pl.DataFrame:
    """Frames of a glob's files, unioned by column name. A column's types must agree or
    widen losslessly (null, a narrower integer, integers beside floats, struct fields
    missing in one file); otherwise DataFileError names both files and the column."""
    import polars as pl

    merged: dict[str, Any] = {}
    first: dict[str, str] = {}
    for shown, frame in frames:
        for name, dtype in frame.schema.items():
            if name not in merged:
                merged[name], first[name] = dtype, shown
                continue
            widened = _widen(merged[name], dtype)
            if widened is None:
                raise DataFileError(
                    f"column '{name}' is {_dtype_name(merged[name])} in {first[name]} but "
                    f"{_dtype_name(dtype)} in {shown}; make the files agree (or declare the "
                    "column under the seed's `columns:`)"
                )
            merged[name] = widened
    return pl.concat(
        [
            frame.with_columns(pl.col(name).cast(merged[name]) for name in frame.columns)
            for _, frame in frames
        ],
        how="diagonal",
    )


def _widen(old: Any, new: Any) -> Any:
    """The type holding every value of both, or None when one would change."""
    import polars as pl

    if old == new:
        return old
    if old == pl.Null:
        return new
    if new == pl.Null:
        return old
    if old.is_integer() and new.is_integer():
        return pl.Int64 if pl.Int64 in (old, new) or not (old.is_unsigned()) else old
    if old.is_numeric() and new.is_numeric() and not (old.is_decimal() or new.is_decimal()):
        return pl.Float64
    if isinstance(old, pl.List) and isinstance(new, pl.List):
        inner = _widen(old.inner, new.inner)
        return None if inner is None else pl.List(inner)
    if isinstance(old, pl.Struct) and isinstance(new, pl.Struct):
        fields = {f.name: f.dtype for f in old.fields}
        for field in new.fields:
            widened = _widen(fields.get(field.name, pl.Null), field.dtype)
            if widened is None:
                return None
            fields[field.name] = widened
        return pl.Struct(fields)
    return None


def _dtype_name(dtype: Any) -> str:
    import polars as pl

    if dtype.is_integer() or dtype.is_float() or dtype.is_decimal():
        return f"a number ({dtype})"
    if dtype == pl.String:
        return "text"
    if dtype == pl.Boolean:
        return "true/false"
    if isinstance(dtype, pl.List | pl.Array):
        return f"a list ({dtype})"
    if isinstance(dtype, pl.Struct):
        return f"an object ({dtype})"
    return str(dtype)


def apply_declared(frame: pl.DataFrame, declared: Mapping[str, str], shown: str) -> pl.DataFrame:
    """Cast the columns a seed declares under `columns:` (string, integer, number, boolean)."""
    import polars as pl

    if not declared:
        return frame
    targets = {"string": pl.String, "integer": pl.Int64, "number": pl.Float64}
    casts = []
    for name, declared_type in declared.items():
        if name not in frame.columns:
            continue  # another shard may hold it; a column no file holds is checked after
        column = frame.get_column(name)
        if declared_type == "boolean":
            mapped = column.cast(pl.String).replace_strict(
                {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
            )
            bad = column.is_not_null() & mapped.is_null()
        else:
            mapped = column.cast(targets[declared_type], strict=False)
            bad = column.is_not_null() & mapped.is_null()
        if bad.any():
            row = int(bad.arg_true()[0]) + 1
            raise DataFileError(
                f"{shown}: row {row}: column '{name}' is declared {declared_type} but holds "
                f"{column[row - 1]!r}"
            )
        casts.append(mapped.alias(name))
    return frame.with_columns(casts)
