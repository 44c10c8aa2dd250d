"""Signature checks for every column kind, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from modelward.server.validation import InputError, Validator, parse_body

SIGNATURE = {
    "inputs": [
        {"name": "amount", "type": "numeric", "dtype": "float64", "nullable": True},
        {"name": "count", "type": "numeric", "dtype": "int64", "nullable": False},
        {"name": "member", "type": "boolean", "dtype": "bool", "nullable": False},
        {"name": "seen", "type": "datetime", "dtype": "datetime64[ns]", "nullable": False},
        {
            "name": "city",
            "type": "categorical",
            "dtype": "object",
            "nullable": False,
            "categories": ["Oslo", "Rome"],
        },
        {"name": "note", "type": "text", "dtype": "object", "nullable": True},
    ],
    "output": {"name": "y", "task": "classification", "classes": [0, 1]},
}

GOOD = {
    "amount": None,
    "count": 3,
    "member": True,
    "seen": "2026-01-02T03:04:05+00:00",
    "city": "Oslo",
    "note": None,
}


def check(row: dict[str, Any], **options: Any) -> dict[str, list[Any]]:
    parsed = parse_body({"instances": [GOOD, row]}, max_rows=10)
    return Validator(SIGNATURE, **options).validate(parsed)


def test_valid_rows_pass_unchanged() -> None:
    out = check({**GOOD, "amount": 2.5, "count": 4.0, "note": "hi"})
    assert out["amount"] == [None, 2.5] and out["count"] == [3, 4.0] and out["note"] == [None, "hi"]
    assert list(out) == [c["name"] for c in SIGNATURE["inputs"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"member": 1}, "Column 'member' expected true or false, got 1 in row 1 of 2."),
        ({"member": "true"}, "Column 'member' expected true or false, got 'true' in row 1 of 2."),
        (
            {"seen": "yesterday"},
            "Column 'seen' expected an ISO-8601 date-time string, got 'yesterday' in row 1 of 2.",
        ),
        ({"count": 2.5}, "Column 'count' expected an integer, got 2.5 in row 1 of 2."),
        ({"amount": [1]}, "Column 'amount' expected a number, got a JSON array in row 1 of 2."),
        ({"city": True}, "Column 'city' expected a category (string), got True in row 1 of 2."),
        ({"note": 5}, "Column 'note' expected a string, got 5 in row 1 of 2."),
    ],
)
def test_wrong_types_are_never_coerced(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        check({**GOOD, **change})
    assert info.value.reason == "wrong_type"
    assert info.value.message.startswith(message), info.value.message
    assert info.value.details["row"] == 1


F32 = "a finite number within float32 range (±3.40282e+38)"
I64 = "a 64-bit integer (between -2**63 and 2**63-1)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"amount": -1e300},
            f"Column 'amount' has -1e+300 in row 1 of 2, outside the range a model can take: send {F32}.",
        ),
        (
            {"amount": 3.5e38},
            f"Column 'amount' has 3.5e+38 in row 1 of 2, outside the range a model can take: send {F32}.",
        ),
        (
            {"amount": float("nan")},
            f"Column 'amount' has nan in row 1 of 2, outside the range a model can take: send {F32}.",
        ),
        (
            {"amount": 2**64 - 1},
            f"Column 'amount' has 18446744073709551615 in row 1 of 2, outside the range a model can take: send {I64}.",
        ),
        (
            {"count": 2**63},
            f"Column 'count' has 9223372036854775808 in row 1 of 2, outside the range a model can take: send {I64}.",
        ),
        (
            {"count": 1.2345678901234568e29},
            f"Column 'count' has 1.2345678901234568e+29 in row 1 of 2, outside the range a model can take: send {I64}.",
        ),
        (
            {"city": -(2**63) - 1},
            f"Column 'city' has -9223372036854775809 in row 1 of 2, outside the range a model can take: send {I64}.",
        ),
    ],
)
def test_numbers_no_model_can_take_are_out_of_range(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        check({**GOOD, **change})
    assert info.value.reason == "out_of_range" and info.value.status_code == 422
    assert info.value.message == message
    assert info.value.details["row"] == 1 and info.value.details["column"] == next(iter(change))


def test_the_float_fast_path_checks_the_range() -> None:
    # all-float and all-int columns are checked in bulk; the bulk check must refuse as the row loop does
    for values, bad_row in (
        ([1.0, -1e300, 2.0], 1),
        ([1, 2**63], 1),
        ([3.4028234663852886e38, -3.4e38], None),
    ):
        parsed = parse_body({"inputs": {"x": values}}, max_rows=10)
        validator = Validator({"inputs": [{"name": "x", "type": "numeric", "dtype": "float64"}]})
        if bad_row is None:
            assert validator.validate(parsed) == {"x": values}
            continue
        with pytest.raises(InputError) as info:
            validator.validate(parsed)
        assert info.value.reason == "out_of_range" and info.value.details["row"] == bad_row


def test_unknown_categories_and_extra_columns_follow_the_settings() -> None:
    with pytest.raises(InputError) as info:
        check({**GOOD, "city": "Paris"})
    assert info.value.message == (
        "Column 'city' has unknown category 'Paris' in row 1 of 2; known: 'Oslo', 'Rome'. "
        "Send a known category (or set serve.unknown_categories: allow)."
    )
    assert check({**GOOD, "city": "Paris"}, unknown_categories="allow")["city"] == ["Oslo", "Paris"]
    parsed = parse_body({"inputs": {**{k: [v] for k, v in GOOD.items()}, "extra": [1]}}, max_rows=10)
    assert "extra" not in Validator(SIGNATURE, unexpected_columns="drop").validate(parsed)
    with pytest.raises(InputError) as info:
        Validator(SIGNATURE).validate(parsed)
    assert info.value.reason == "unexpected_column" and info.value.details["unexpected"] == ["extra"]


def test_body_shapes() -> None:
    with pytest.raises(InputError) as info:
        parse_body([GOOD], max_rows=10)
    assert info.value.message.endswith("got a JSON array.") and info.value.status_code == 400
    with pytest.raises(InputError) as info:
        parse_body({"instances": [[1, 2]]}, max_rows=10)
    assert "Use dataframe_split for rows given as lists" in info.value.message
    with pytest.raises(InputError) as info:
        parse_body({"inputs": {"a": [1], "b": [1, 2]}}, max_rows=10)
    assert (
        info.value.message
        == "inputs columns have different lengths: {'a': 1, 'b': 2}. Send one value per row in each."
    )
    with pytest.raises(InputError) as info:
        parse_body({"instances": [GOOD], "params": {"alpha": 1}}, max_rows=10)
    assert info.value.message == "'params' are not supported by scikit-learn models; remove them."
    parsed = parse_body({"instances": [GOOD], "routing_key": "user-1", "return": ["proba"]}, max_rows=10)
    assert parsed.routing_key == "user-1" and parsed.want_proba and parsed.rows == 1


def test_the_model_frame_has_training_dtypes() -> None:
    from modelward.server.served import _array

    validator = Validator(SIGNATURE)
    out = check({**GOOD, "amount": 2.5, "member": False, "note": "hi"})
    arrays = {c.name: _array(c, out[c.name]) for c in validator.columns}
    assert str(arrays["amount"].dtype) == "float64" and arrays["amount"][0] != arrays["amount"][0]  # NaN
    assert str(arrays["count"].dtype) == "int64" and arrays["count"].tolist() == [3, 3]
    assert str(arrays["member"].dtype) == "bool"
    assert str(arrays["seen"].dtype).startswith("datetime64") and arrays["seen"].iloc[0].year == 2026
    assert arrays["city"].dtype == object and arrays["note"].tolist() == [None, "hi"]
