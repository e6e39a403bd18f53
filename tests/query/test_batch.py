"""Pure chunking of batched lookups: URL bound, 500-key bound, exact coverage."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration.query import ProductSku, chunk_keys, literal, query
from norce_integration.query._batch import dedupe


BASE = "https://demo.api-se.playground.norce.tech/commerce/query/2.0/"


def url_of(chunk_filter, selected=("PartNo", "EanCode")):
    q = query(ProductSku).select(*selected).filter(chunk_filter)
    return q.url(BASE)


def base_len(selected=("PartNo", "EanCode")):
    return len(query(ProductSku).select(*selected).url(BASE))


def test_eq_chain_and_in_rendering():
    (chunk,) = chunk_keys("PartNo", ["a", "b'c"], base_url_length=base_len())
    assert chunk.filter.text == "PartNo eq 'a' or PartNo eq 'b''c'"
    (chunk,) = chunk_keys("PartNo", ["a", "b'c"], base_url_length=base_len(), use_in=True)
    assert chunk.filter.text == "PartNo in ('a','b''c')"
    (chunk,) = chunk_keys("Id", [1, 2, 3], base_url_length=base_len(), use_in=True)
    assert chunk.filter.text == "Id in (1,2,3)"


def test_duplicates_are_dropped_order_kept():
    chunks = chunk_keys("Id", [3, 1, 3, 2, 1], base_url_length=10)
    assert [k for c in chunks for k in c.keys] == [3, 1, 2]
    assert dedupe(["b", "a", "b"]) == ["b", "a"]


def test_none_key_is_refused():
    with pytest.raises(ValueError, match="None"):
        chunk_keys("Id", [1, None], base_url_length=10)


def test_500_key_bound():
    chunks = chunk_keys("Id", range(1234), base_url_length=0, max_url_length=10**9)
    assert [len(c.keys) for c in chunks] == [500, 500, 234]
    with pytest.raises(ValueError, match="max_keys"):
        chunk_keys("Id", [1], base_url_length=0, max_keys=501)


def test_a_key_too_long_alone_is_refused():
    with pytest.raises(ValueError, match="alone"):
        chunk_keys("PartNo", ["x" * 2000], base_url_length=base_len())


def test_or_chain_is_grouped_when_combined():
    (chunk,) = chunk_keys("Id", [1, 2], base_url_length=0)
    assert (chunk.filter & "IsActive eq true").text == "(Id eq 1 or Id eq 2) and (IsActive eq true)"


@given(
    keys=st.lists(st.text(min_size=1, max_size=40), max_size=300),
    max_url=st.integers(min_value=400, max_value=3000),
    use_in=st.booleans(),
)
def test_urls_fit_and_every_key_appears_exactly_once(keys, max_url, use_in):
    def alone(key):
        text = f"PartNo in ({literal(key)})" if use_in else f"PartNo eq {literal(key)}"
        return len(url_of(text))

    if max((alone(k) for k in keys), default=0) > max_url:
        with pytest.raises(ValueError, match="alone"):
            chunk_keys(
                "PartNo", keys, base_url_length=base_len(), max_url_length=max_url, use_in=use_in
            )
        return
    chunks = chunk_keys(
        "PartNo", keys, base_url_length=base_len(), max_url_length=max_url, use_in=use_in
    )
    seen = [k for c in chunks for k in c.keys]
    assert seen == list(dict.fromkeys(keys))
    for chunk in chunks:
        url = url_of(chunk.filter)
        assert len(url) == chunk.url_length
        assert len(url) <= max_url
        assert 1 <= len(chunk.keys) <= 500


@given(keys=st.lists(st.integers(min_value=0, max_value=2**31), min_size=1, max_size=2000))
def test_chunks_are_full_before_a_new_one_starts(keys):
    chunks = chunk_keys("Id", keys, base_url_length=base_len(), max_url_length=1800)
    for chunk, following in itertools.pairwise(chunks):
        # The next chunk's first key would not have fitted (URL or count bound).
        grown = chunk.url_length + len("%20or%20") + len(f"Id%20eq%20{following.keys[0]}")
        assert grown > 1800 or len(chunk.keys) == 500
