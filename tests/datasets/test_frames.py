"""Reading, schema inference, statistics, hashing, snapshots and diffs of dataset frames."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelward.datasets._frames import (
    _check_object_columns,
    content_hash,
    diff_frames,
    from_parquet_bytes,
    infer_schema,
    read_table,
    summarize,
    to_parquet_bytes,
)
from modelward.errors import DataError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def people(n: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": np.round(rng.normal(50_000, 10_000, n), 2),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "active": rng.choice([True, False], n),
        }
    )


def all_kinds(n: int = 200, seed: int = 7) -> pd.DataFrame:
    """Every column kind, each with missing values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "count": rng.integers(0, 5, n),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "active": rng.choice([True, False], n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "note": [
                f"free text note number {i} {'x' * int(k)}" for i, k in enumerate(rng.integers(0, 9, n))
            ],
        }
    )
    frame.loc[[1, 5], "x"] = np.nan
    frame.loc[[2], "plan"] = np.nan
    frame.loc[[3], "when"] = pd.NaT
    frame.loc[[4, 8], "note"] = np.nan
    return frame


# --------------------------------------------------------------------------- read_table: happy paths


def test_reads_csv_with_faithful_types(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "id,score,name,flag\n1,0.1,ann,true\n2,2.5,bob,false\n3,1e-3,cy,true\n")
    frame = read_table(path)
    assert list(frame.columns) == ["id", "score", "name", "flag"]
    assert frame["id"].dtype == np.int64
    assert frame["score"].tolist() == [0.1, 2.5, 0.001]  # exact float parsing
    assert frame["flag"].dtype == bool
    assert isinstance(frame["name"].dtype, pd.StringDtype)


def test_reads_tsv_gzip_and_parquet_the_same(tmp_path: Path) -> None:
    frame = people()
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_csv(tmp_path / "p.tsv", index=False, sep="\t")
    frame.to_csv(tmp_path / "p.csv.gz", index=False, compression="gzip")
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    frame.to_parquet(tmp_path / "p.pq")
    for name in ("p.csv", "p.tsv", "p.csv.gz", "p.parquet", "p.pq"):
        pd.testing.assert_frame_equal(read_table(tmp_path / name), frame, check_dtype=False)


def test_parquet_named_index_becomes_a_column(tmp_path: Path) -> None:
    frame = people().rename_axis("customer_id")
    frame.index = frame.index + 100
    frame.to_parquet(tmp_path / "p.parquet")
    read = read_table(tmp_path / "p.parquet")
    assert list(read.columns) == ["customer_id", "age", "income", "plan", "active"]
    assert read["customer_id"].tolist()[:2] == [100, 101]
    assert isinstance(read.index, pd.RangeIndex)


def test_blank_lines_and_bom_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n1,x\n\n2,y\n")
    frame = read_table(path)
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == [1, 2]


# --------------------------------------------------------------------------- read_table: errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"File '.*nope\.csv' does not exist\. Check the path"):
        read_table(tmp_path / "nope.csv")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(DataError, match=r"data\.csv' is a directory, not a data file"):
        read_table(folder)


def test_unsupported_extension_lists_supported(tmp_path: Path) -> None:
    path = write(tmp_path, "data.xlsx", "a\n1\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    message = str(info.value)
    assert "'data.xlsx' has an unsupported extension" in message
    for suffix in (".csv", ".csv.gz", ".tsv", ".parquet", ".pq"):
        assert suffix in message


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet"])
def test_zero_byte_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, "")
    with pytest.raises(DataError, match=rf"File '{name}' is empty \(0 bytes\)"):
        read_table(path)


def test_whitespace_only_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.csv", "\n\n")
    with pytest.raises(DataError, match=r"File 'blank\.csv' is empty \(no header row\)"):
        read_table(path)


def test_header_only_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "head.csv", "a,b,c\n")
    with pytest.raises(DataError, match=r"File 'head\.csv' has a header but no data rows"):
        read_table(path)


def test_zero_row_parquet(tmp_path: Path) -> None:
    people().iloc[:0].to_parquet(tmp_path / "none.parquet")
    with pytest.raises(DataError, match=r"File 'none\.parquet' has columns but no rows"):
        read_table(tmp_path / "none.parquet")


def test_duplicate_column_names_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.csv", "id,age,age\n1,2,3\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value) == (
        "File 'dup.csv' has duplicate column name 'age' (columns 2 and 3). "
        "Rename one of them so every column name is unique."
    )
    assert info.value.details == {"file": "dup.csv", "column": "age", "positions": [2, 3]}


def test_duplicate_column_names_parquet(tmp_path: Path) -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(DataError, match=r"'dup\.parquet' has duplicate column name 'x' \(columns 1 and 2\)"):
        read_table(tmp_path / "dup.parquet")


def test_blank_column_name(tmp_path: Path) -> None:
    path = write(tmp_path, "blank_col.csv", "a, ,c\n1,2,3\n")
    with pytest.raises(DataError, match=r"'blank_col\.csv' has a blank column name \(column 2 of 3\)"):
        read_table(path)


@pytest.mark.parametrize(
    ("row", "fields"),
    [("4,5,6,7", 4), ("4,5", 2)],
    ids=["too-many-fields", "too-few-fields"],
)
def test_ragged_rows_name_the_line(tmp_path: Path, row: str, fields: int) -> None:
    path = write(tmp_path, "ragged.csv", f"a,b,c\n1,2,3\n\n{row}\n8,9,10\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value).startswith(
        f"File 'ragged.csv' cannot be parsed: line 4 has {fields} fields but the header has 3."
    )
    assert info.value.details["line"] == 4


@pytest.mark.parametrize("sep", [";", "|", "\t"])
def test_a_csv_separated_by_another_character_is_read_with_it(tmp_path: Path, sep: str) -> None:
    """A semicolon-separated .csv (a spreadsheet's export in many locales) is not one merged column."""
    text = (
        "\n".join(
            sep.join(row)
            for row in (
                ["age", "income", "plan"],
                ["31", "52000.5", "basic"],
                ["45", "61000", "pro"],
                ["27", "48000", "basic"],
            )
        )
        + "\n"
    )
    frame = read_table(write(tmp_path, "export.csv", text))
    assert list(frame.columns) == ["age", "income", "plan"]
    assert frame["income"].tolist() == [52000.5, 61000.0, 48000.0] and frame["plan"].tolist() == [
        "basic",
        "pro",
        "basic",
    ]


def test_a_comma_separated_tsv_is_read_with_commas(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, "data.tsv", "a,b\n1,2\n3,4\n"))
    assert frame.to_dict(orient="list") == {"a": [1, 3], "b": [2, 4]}


def test_a_single_column_header_holding_a_separator_is_refused(tmp_path: Path) -> None:
    """Semicolons in the header but rows of varying width: no separator fits, and that is said."""
    path = write(tmp_path, "broken.csv", "age;income;plan\n31;52000.5\n45;61000;pro;x;y\n27\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert info.value.message == (
        "File 'broken.csv' reads as a single column named 'age;income;plan', whose name holds a semicolon: "
        "it is not comma-separated, and its first rows are not consistently separated by a comma, semicolon, "
        "tab or '|' either. Save it as comma-separated CSV (or tab-separated .tsv) with the same number of "
        "fields on every line."
    )


def test_separators_inside_values_and_real_single_columns_are_kept(tmp_path: Path) -> None:
    notes = read_table(write(tmp_path, "notes.csv", "name,note\nann,a;b\nbob,c|d\n"))
    assert notes.to_dict(orient="list") == {"name": ["ann", "bob"], "note": ["a;b", "c|d"]}
    single = read_table(write(tmp_path, "single.csv", "amount\n1\n2\n3\n"))
    assert single.to_dict(orient="list") == {"amount": [1, 2, 3]}


def test_unterminated_quote_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "quote.csv", 'a,b\n1,2\n1,"open\n2,3\n')
    with pytest.raises(
        DataError, match=r"'quote\.csv' cannot be parsed as CSV: the row starting at line 3 is malformed"
    ):
        read_table(path)


def test_text_after_closing_quote_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "quote.csv", 'a,b\n1,"x"y\n')
    with pytest.raises(DataError, match=r"the row starting at line 2 is malformed .*Check its quoting"):
        read_table(path)


def test_mixed_numeric_column_names_column_row_and_value(tmp_path: Path) -> None:
    ages = ["31", "45", "forty-two", "27", "52", "38", "61", "29", "44", "33"]
    path = write(tmp_path, "people.csv", "name,age\n" + "".join(f"p{i},{a}\n" for i, a in enumerate(ages)))
    with pytest.raises(DataError) as info:
        read_table(path)
    message = str(info.value)
    assert message.startswith(
        "Column 'age' expected numbers, got 'forty-two' in row 3 of 10 in file 'people.csv'."
    )
    assert "leave the cell empty" in message
    assert info.value.details == {
        "file": "people.csv",
        "column": "age",
        "row": 3,
        "value": "forty-two",
        "expected": "numbers",
    }


def test_mixed_numeric_column_counts_further_bad_rows(tmp_path: Path) -> None:
    values = [str(i) for i in range(30)]
    values[4], values[20], values[25] = "n/a?", "??", "unknown"
    path = write(tmp_path, "m.csv", "v\n" + "\n".join(values) + "\n")
    with pytest.raises(DataError, match=r"got 'n/a\?' in row 5 of 30 \(2 more rows like it\)"):
        read_table(path)


def test_mixed_date_column(tmp_path: Path) -> None:
    days = [f"2024-01-{d:02d}" for d in range(1, 21)]
    days[11] = "Jan 12"
    path = write(tmp_path, "days.csv", "day\n" + "\n".join(days) + "\n")
    with pytest.raises(DataError, match=r"Column 'day' expected ISO dates .* got 'Jan 12' in row 12 of 20"):
        read_table(path)


def test_mostly_text_column_with_some_numbers_is_not_mixed(tmp_path: Path) -> None:
    path = write(tmp_path, "codes.csv", "code\nA1\nB2\n7\nC3\n")
    assert read_table(path)["code"].tolist() == ["A1", "B2", "7", "C3"]


def test_missing_markers_are_not_mixed(tmp_path: Path) -> None:
    path = write(tmp_path, "na.csv", "name,age\na,31\nb,\nc,NA\nd,45\n")
    frame = read_table(path)
    assert frame["age"].dtype == np.float64
    assert frame["age"].isna().sum() == 2


def test_object_column_with_strings_and_numbers_is_mixed() -> None:
    # Parquet columns are typed; an object column with both can only come from pandas objects.
    frame = pd.DataFrame({"size": pd.Series([1, np.int64(2), 3.5, "big", 5], dtype=object)})
    with pytest.raises(
        DataError, match=r"Column 'size' expected numbers, got 'big' in row 4 of 5 in file 'f'"
    ):
        _check_object_columns(frame, "f")
    text = pd.DataFrame({"size": pd.Series(["s", "m", np.int64(7), "l"], dtype=object)})
    with pytest.raises(DataError, match=r"Column 'size' expected text, got 7 in row 3 of 4"):
        _check_object_columns(text, "f")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name\nJos\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"File 'latin\.csv' is not UTF-8 text .*Re-save it as UTF-8"):
        read_table(path)


def test_bad_gzip(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv.gz", "a,b\n1,2\n")
    with pytest.raises(DataError, match=r"File 'bad\.csv\.gz' cannot be read"):
        read_table(path)


def test_gzip_of_nothing_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "nothing.csv.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match=r"File 'nothing\.csv\.gz' is empty"):
        read_table(path)


def test_not_parquet(tmp_path: Path) -> None:
    path = write(tmp_path, "fake.parquet", "a,b\n1,2\n")
    with pytest.raises(DataError, match=r"File 'fake\.parquet' cannot be read as Parquet"):
        read_table(path)


# --------------------------------------------------------------------------- infer_schema


def test_infer_schema_each_kind() -> None:
    n = 200
    frame = pd.DataFrame(
        {
            "income": np.linspace(0, 1, n),
            "count": np.arange(n),
            "zero_one": np.arange(n) % 2,
            "flag": np.arange(n) % 3 == 0,
            "flag_text": ["True" if i % 2 else "false" for i in range(n)],
            "stamp": pd.date_range("2024-01-01", periods=n, freq="D"),
            "iso": [f"2024-02-{1 + i % 28:02d}T10:00:00" for i in range(n)],
            "plan": ["basic", "pro"] * (n // 2),
            "category_dtype": pd.Categorical(["a", "b"] * (n // 2)),
            "note": [f"note {i}" for i in range(n)],
        }
    )
    assert infer_schema(frame) == {
        "income": "numeric",
        "count": "numeric",
        "zero_one": "numeric",  # 0/1 ints stay numeric; only bool dtype or true/false text is boolean
        "flag": "boolean",
        "flag_text": "boolean",
        "stamp": "datetime",
        "iso": "datetime",
        "plan": "categorical",
        "category_dtype": "categorical",
        "note": "text",
    }


def test_infer_schema_object_dtype_and_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "plan": pd.Series(["a", None, "b"], dtype=object),
            "bools": pd.Series([True, None, False], dtype=object),
            "numbers": pd.Series([1, None, 2.5], dtype=object),
            "nothing": pd.Series([None, None, None], dtype=object),
            "tz": pd.Series(["2024-01-01T00:00:00+01:00", "2024-01-02T00:00:00Z", None], dtype="str"),
        }
    )
    assert infer_schema(frame) == {
        "plan": "categorical",
        "bools": "boolean",
        "numbers": "numeric",
        "nothing": "text",
        "tz": "datetime",
    }


def test_categorical_threshold_by_count_and_by_share() -> None:
    few = pd.Series([f"c{i % 50}" for i in range(100)])  # 50 distinct, 50% of rows
    many_small_share = pd.Series([f"c{i % 60}" for i in range(2000)])  # 60 distinct, 3% of rows
    many_large_share = pd.Series([f"c{i % 60}" for i in range(600)])  # 60 distinct, 10% of rows
    assert infer_schema(pd.DataFrame({"few": few})) == {"few": "categorical"}
    assert infer_schema(pd.DataFrame({"s": many_small_share})) == {"s": "categorical"}
    assert infer_schema(pd.DataFrame({"s": many_large_share})) == {"s": "text"}


def test_csv_bool_column_with_missing_is_boolean(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "flag,day\nTrue,2024-01-01\n,2024-01-02\nFalse,\n")
    assert infer_schema(read_table(path)) == {"flag": "boolean", "day": "datetime"}


# --------------------------------------------------------------------------- summarize


def test_numeric_summary_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(10, 2, 500)
    values[[3, 17, 99]] = np.nan
    frame = pd.DataFrame({"x": values})
    stats = summarize(frame, infer_schema(frame))["x"]
    finite = values[~np.isnan(values)]
    assert stats["count"] == 497
    assert stats["missing"] == 3
    assert stats["missing_rate"] == pytest.approx(3 / 500)
    # exact up to float rounding: same algorithms as numpy / pandas (ddof=1, linear percentiles)
    assert stats["mean"] == pytest.approx(np.mean(finite), rel=1e-12)
    assert stats["std"] == pytest.approx(frame["x"].std(), rel=1e-12)
    for key, q in (("p25", 0.25), ("p50", 0.5), ("p75", 0.75)):
        assert stats[key] == pytest.approx(frame["x"].quantile(q), rel=1e-12)
    assert stats["min"] == np.min(finite)
    assert stats["max"] == np.max(finite)
    assert stats["n_unique"] == 497
    assert all(type(stats[k]) is float for k in ("mean", "std", "min", "p25", "p50", "p75", "max"))


def test_numeric_summary_non_finite_becomes_none() -> None:
    frame = pd.DataFrame({"x": [1.0, np.inf, 3.0], "one": [5.0, np.nan, np.nan], "none": [np.nan] * 3})
    stats = summarize(frame, {"x": "numeric", "one": "numeric", "none": "numeric"})
    assert stats["x"]["mean"] is None and stats["x"]["max"] is None and stats["x"]["min"] == 1.0
    assert stats["one"]["std"] is None and stats["one"]["mean"] == 5.0
    assert stats["none"]["mean"] is None and stats["none"]["n_unique"] == 0
    json.dumps(stats, allow_nan=False)  # strict JSON


def test_categorical_and_boolean_summary() -> None:
    plans = ["pro"] * 5 + ["basic"] * 3 + ["team"] * 3 + [None]
    frame = pd.DataFrame({"plan": plans, "flag": [True] * 7 + [False] * 5})
    stats = summarize(frame, infer_schema(frame))
    assert stats["plan"] == {
        "count": 11,
        "missing": 1,
        "missing_rate": 1 / 12,
        "n_unique": 3,
        "top": [["pro", 5], ["basic", 3], ["team", 3]],  # ties in category order
        "categories": ["basic", "pro", "team"],
    }
    assert stats["flag"]["top"] == [[True, 7], [False, 5]]
    assert stats["flag"]["categories"] == [False, True]
    assert type(stats["flag"]["top"][0][1]) is int
    json.dumps(stats, allow_nan=False)


def test_many_categories_cap_top_and_list() -> None:
    frame = pd.DataFrame({"code": [f"k{i}" for i in range(30_000)] + ["k7"] * 5})
    stats = summarize(frame, {"code": "categorical"})["code"]
    assert stats["n_unique"] == 30_000
    assert len(stats["top"]) == 20 and stats["top"][0] == ["k7", 6]
    assert stats["categories"] is None
    listed = summarize(frame.iloc[:1000], {"code": "categorical"})["code"]["categories"]
    assert listed is not None and len(listed) == 1000


def test_datetime_and_text_summary() -> None:
    frame = pd.DataFrame(
        {
            "stamp": pd.to_datetime(["2024-03-01 10:00:00", None, "2023-12-31 23:59:59"]),
            "iso": ["2024-01-05", "2024-01-01", None],
            "note": ["hello", "hi", None],
        }
    )
    stats = summarize(frame, {"stamp": "datetime", "iso": "datetime", "note": "text"})
    assert stats["stamp"]["min"] == "2023-12-31T23:59:59" and stats["stamp"]["max"] == "2024-03-01T10:00:00"
    assert stats["iso"]["min"] == "2024-01-01T00:00:00" and stats["iso"]["max"] == "2024-01-05T00:00:00"
    assert stats["note"] == {
        "count": 2,
        "missing": 1,
        "missing_rate": 1 / 3,
        "n_unique": 2,
        "mean_length": 3.5,
    }


def test_summary_of_all_kinds_is_strict_json() -> None:
    frame = all_kinds()
    stats = summarize(frame, infer_schema(frame))
    assert json.loads(json.dumps(stats, allow_nan=False)) == stats


def test_summarize_rejects_unknown_kind() -> None:
    with pytest.raises(DataError, match=r"Column 'x' has no valid kind in the schema \(got 'float'"):
        summarize(pd.DataFrame({"x": [1.0]}), {"x": "float"})


# --------------------------------------------------------------------------- content_hash


def test_hash_same_for_csv_and_parquet(tmp_path: Path) -> None:
    frame = people(50)
    frame.loc[3, "income"] = np.nan
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    from_csv = read_table(tmp_path / "p.csv")
    from_parquet = read_table(tmp_path / "p.parquet")
    assert content_hash(from_csv) == content_hash(from_parquet) == content_hash(frame)


def test_hash_changes_with_value_name_order_and_dtype() -> None:
    frame = people(50)
    base = content_hash(frame)
    assert content_hash(frame.copy()) == base
    changed = frame.copy()
    changed.loc[17, "income"] += 0.01
    renamed = frame.rename(columns={"plan": "tier"})
    reordered = frame[["income", "age", "plan", "active"]]
    retyped = frame.astype({"age": "float64"})
    fewer = frame.iloc[:-1]
    hashes = {content_hash(f) for f in (changed, renamed, reordered, retyped, fewer)}
    assert base not in hashes and len(hashes) == 5


def test_hash_ignores_index_and_nan_bit_patterns() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0]})
    other = pd.DataFrame({"x": [1.0, -np.nan, 3.0]}, index=[10, 11, 12])
    assert content_hash(frame) == content_hash(other)


def test_hash_is_stable_across_processes() -> None:
    code = (
        "import pandas as pd; from modelward.datasets._frames import content_hash; "
        "print(content_hash(pd.DataFrame({'a': ['x', 'y', None], 'b': [1.5, None, 2.0]})))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    assert outputs == {content_hash(pd.DataFrame({"a": ["x", "y", None], "b": [1.5, None, 2.0]}))}


# --------------------------------------------------------------------------- parquet snapshots


def test_parquet_round_trip_preserves_everything() -> None:
    frame = all_kinds()
    frame["stamp_text"] = frame["when"].dt.strftime("%Y-%m-%d")
    frame["nullable_int"] = pd.array([1, None] * 100, dtype="Int64")
    frame["category"] = pd.Categorical(frame["plan"])
    frame["bool_with_missing"] = pd.Series([True, None, False, True] * 50, dtype=object)
    assert set(infer_schema(frame).values()) == {"numeric", "categorical", "boolean", "datetime", "text"}
    data = to_parquet_bytes(frame)
    back = from_parquet_bytes(data)
    pd.testing.assert_frame_equal(back, frame)
    assert content_hash(back) == content_hash(frame)
    assert to_parquet_bytes(frame) == data  # deterministic
    assert to_parquet_bytes(back) == data
    assert b"__index_level_0__" not in data


def test_snapshot_drops_the_index() -> None:
    frame = people().set_index(pd.Index(range(100, 110), name="row"))
    back = from_parquet_bytes(to_parquet_bytes(frame))
    assert list(back.columns) == list(frame.columns)
    assert isinstance(back.index, pd.RangeIndex)


def test_snapshot_errors() -> None:
    with pytest.raises(DataError, match=r"snapshot cannot be read as Parquet"):
        from_parquet_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"frame cannot be stored as Parquet"):
        to_parquet_bytes(pd.DataFrame({"mixed": pd.Series([1, "a"], dtype=object)}))


# --------------------------------------------------------------------------- diff_frames


def describe(frame: pd.DataFrame) -> dict[str, object]:
    schema = infer_schema(frame)
    return {"schema": schema, "stats": summarize(frame, schema), "rows": len(frame)}


def test_diff_two_versions() -> None:
    v1 = people(40, seed=1)
    v2 = people(45, seed=1)
    v2["income"] = v2["income"] * 2  # changed mean
    v2["active"] = v2["active"].map({True: "yes", False: "no"}).astype(str)  # boolean -> categorical
    v2 = v2.drop(columns=["age"]).assign(region=["north"] * 45)  # removed + added
    result = diff_frames(describe(v1), describe(v2))
    assert result["rows"] == {"a": 40, "b": 45, "change": 5}
    assert result["added_columns"] == ["region"]
    assert result["removed_columns"] == ["age"]
    assert result["type_changes"] == {"active": {"a": "boolean", "b": "categorical"}}
    income = result["columns"]["income"]
    assert income["mean"] == {
        "a": pytest.approx(v1["income"].mean()),
        "b": pytest.approx(v2["income"].mean()),
    }
    assert income["count"] == {"a": 40, "b": 45}
    assert "missing" not in income  # unchanged statistics are left out
    assert result["columns"]["active"]["categories"] == {"a": [False, True], "b": ["no", "yes"]}
    json.dumps(result, allow_nan=False)


def test_diff_identical_versions_has_no_changes() -> None:
    info = describe(all_kinds())
    assert diff_frames(info, json.loads(json.dumps(info))) == {
        "rows": {"a": 200, "b": 200, "change": 0},
        "added_columns": [],
        "removed_columns": [],
        "type_changes": {},
        "columns": {},
    }


def test_diff_reports_stats_only_one_side_has() -> None:
    a = {"schema": {"x": "numeric"}, "stats": {"x": {"mean": 1.0, "std": None}}, "rows": 2}
    b = {"schema": {"x": "text"}, "stats": {"x": {"mean_length": 3.0, "std": None}}, "rows": 2}
    assert diff_frames(a, b)["columns"] == {
        "x": {"mean": {"a": 1.0, "b": None}, "mean_length": {"a": None, "b": 3.0}}
    }
