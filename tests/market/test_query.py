"""The filter language: parsing, normalisation, errors with columns, and the fast index
checked against the clear evaluator."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.market.fields import FIELDS
from l2gpu.core.market.index import OfferIndex
from l2gpu.core.market.query import (
    Condition,
    FilterError,
    matches,
    parse_filter,
    parse_sort,
    search,
    tokenize,
)
from l2gpu.core.market.view import view_of
from tests.market.helpers import T0, random_views, signed

VIEWS = random_views(400)
INDEX = OfferIndex(VIEWS)


def test_the_issue_example_parses_and_matches() -> None:
    query = (
        "gpu_name=RTX_4090 num_gpus>=2 gpu_ram>=24 price_per_hour<=0.5 "
        "reliability>0.99 location in [EU,US]"
    )
    conditions = parse_filter(query)
    assert [c.field for c in conditions] == [
        "gpu_name",
        "num_gpus",
        "gpu_ram",
        "price_per_hour",
        "reliability",
        "location",
    ]
    assert conditions[3] == Condition("price_per_hour", "le", 5 * 10**17)
    offer = view_of(signed())  # 2 GPUs at 1e12 wei/s: 0.0072 ETH per hour
    assert matches(conditions, offer)
    assert not matches(parse_filter("location notin [eu]"), offer)
    assert matches(parse_filter("gpu_name='rtx 4090' declared=false"), offer)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("num_gpus<2.5", Condition("num_gpus", "le", 2)),
        ("num_gpus>2.5", Condition("num_gpus", "ge", 3)),
        ("num_gpus>=2.5", Condition("num_gpus", "ge", 3)),
        ("num_gpus<=2.5", Condition("num_gpus", "le", 2)),
        ("num_gpus=2.5", Condition("num_gpus", "false", None)),
        ("num_gpus!=2.5", Condition("num_gpus", "true", None)),
        ("price_per_gpu_hour<0.0000000000000000015", Condition("price_per_gpu_hour", "le", 1)),
        ("max_duration>=1.5", Condition("max_duration", "ge", 5400)),
        ("declared=true", Condition("declared", "eq", True)),
        ("declared!=true", Condition("declared", "eq", False)),
        ("gpu_name==H100_SXM", Condition("gpu_name", "eq", "h100 sxm")),
        ("and num_gpus>=1", Condition("num_gpus", "ge", 1)),
    ],
)
def test_thresholds_are_normalised_exactly(query: str, expected: Condition) -> None:
    assert parse_filter(query) == [expected]


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("gpu_nam=RTX_4090", 1, "unknown field 'gpu_nam'"),
        ("num_gpus>=2 gpu_ram>>24", 21, "expected a value"),
        ("num_gpus>=two", 11, "takes a number"),
        ("num_gpus>=2 location in EU", 25, "expected \\[ after in"),
        ("location in [EU US]", 17, "expected , or \\]"),
        ("location in [EU,", 17, "query ends"),
        ("num_gpus", 9, "query ends where an operator"),
        ("num_gpus 2", 10, "expected an operator"),
        ("gpu_name<RTX", 9, "is text and takes only"),
        ("declared=maybe", 10, "true or false"),
        ("reliability in [1]", 13, "does not take a list"),
        ("num_gpus>=2 ; rm", 13, "unexpected character ';'"),
        ("gpu_name='H100", 10, "unexpected character"),
        (">=2", 1, "expected a field name"),
        ("price<=1" + "0" * 70, 8, "too large"),
    ],
)
def test_errors_point_at_the_offending_token(query: str, column: int, message: str) -> None:
    with pytest.raises(FilterError, match=message) as info:
        parse_filter(query)
    assert info.value.column == column
    assert f"at column {column}" in str(info.value)
    assert info.value.fix


def test_unknown_fields_suggest_the_nearest() -> None:
    with pytest.raises(FilterError, match="did you mean gpu_ram"):
        parse_filter("gpu_rma>=3")


def test_sort_keys() -> None:
    keys = parse_sort("price_per_hour,-reliability,num_gpus-")
    assert [(k.field, k.descending) for k in keys] == [
        ("price_per_hour", False),
        ("reliability", True),
        ("num_gpus", True),
    ]
    with pytest.raises(FilterError, match="unknown field 'prise'") as info:
        parse_sort("num_gpus,prise")
    assert info.value.column == 10


def test_tokens_carry_columns() -> None:
    assert [(t.kind, t.column) for t in tokenize("a>=1 b in [x]")] == [
        ("word", 1),
        ("op", 2),
        ("number", 4),
        ("word", 6),
        ("word", 8),
        ("lbracket", 11),
        ("word", 12),
        ("rbracket", 13),
    ]


_numeric = [n for n, f in FIELDS.items() if f.kind.value in ("int", "float")]
_clause = st.one_of(
    st.builds(
        lambda f, op, v: f"{f}{op}{v}",
        st.sampled_from(_numeric),
        st.sampled_from(["<", "<=", ">", ">=", "=", "!="]),
        st.sampled_from(
            [
                "0",
                "1",
                "2",
                "2.5",
                "24",
                "0.99",
                "0.0001",
                "1.5",
                "3600",
                "-1",
                "1000000000000",
                str(2**80),
            ]
        ),
    ),
    st.builds(lambda v: f"gpu_name={v}", st.sampled_from(["RTX_4090", "h100", "x"])),
    st.builds(lambda v: f"location in [{v}]", st.sampled_from(["EU", "EU,US", "asia,sa"])),
    st.builds(lambda v: f"location notin [{v}]", st.sampled_from(["EU", "US,SA"])),
    st.builds(lambda v: f"num_gpus in [{v}]", st.sampled_from(["1", "2,4", "8,1.5"])),
    st.sampled_from(["declared=true", "declared=false"]),
)
_sorts = st.lists(
    st.builds(lambda f, d: ("-" if d else "") + f, st.sampled_from(list(FIELDS)), st.booleans()),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_clause, max_size=4), _sorts, st.sampled_from([None, T0, T0 + 3600]))
def test_the_index_agrees_with_the_clear_search(
    clauses: list[str], sort: list[str], now: int | None
) -> None:
    conditions = parse_filter(" ".join(clauses))
    keys = parse_sort(",".join(sort)) if sort else []
    clear = search(VIEWS, conditions, keys, limit=20, now=now)
    fast = INDEX.search(conditions, keys, limit=20, now=now)
    assert [o.offer_id for o in fast] == [o.offer_id for o in clear]
