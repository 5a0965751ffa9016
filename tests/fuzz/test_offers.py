"""Fuzzing offers: terms with every field at and beyond its edges, arbitrary signatures and
chain ids. The named error of validation is OfferError; ``signer`` never raises (None for
anything that is not a valid signature), and an offer that validates always has an id."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.market.offers import (
    OfferError,
    OfferTerms,
    SignedOffer,
    sign_offer,
    validate_offer,
    validate_terms,
)
from l2gpu.core.market.view import view_of
from l2gpu.core.types import Address, ChainId
from tests.fuzz.support import edges, fuzz, mutated, outcome, texts
from tests.market.helpers import CHAIN, PROVIDER, T0, signed, terms

BASE = terms()

anything = st.one_of(
    st.none(), st.booleans(), st.floats(), st.text(max_size=5), st.binary(max_size=5)
)
names = st.one_of(
    st.sampled_from(
        ["RTX_4090", "", "a" * 64, "a" * 65, "RTX 4090", "RTX\t4090", "\ud800", "x\x1b[2J"]
    ),
    texts(70),
)


def ints(bits: int) -> st.SearchStrategy[object]:
    return st.one_of(edges(bits), st.just(True), anything)


field_values = {
    "provider": st.one_of(
        st.just(PROVIDER.address), st.binary(min_size=20, max_size=20).map(Address), anything
    ),
    "gpu_name": names,
    "num_gpus": ints(16),
    "gpu_ram_gb": ints(32),
    "cpu_cores": ints(32),
    "ram_gb": ints(32),
    "disk_gb": ints(32),
    "bandwidth_mbps": ints(32),
    "location": names,
    "price_per_gpu_second": ints(128),
    "min_duration": ints(64),
    "max_duration": ints(64),
    "expires_at": st.one_of(st.just(T0 + 60), ints(64)),
    "declared": st.one_of(st.booleans(), anything),
    "nonce": ints(64),
}


@st.composite
def odd_terms(draw: st.DrawFn) -> OfferTerms:
    """Valid terms with one to three fields replaced by values at or past their edges."""
    chosen = draw(
        st.lists(st.sampled_from(sorted(field_values)), min_size=1, max_size=3, unique=True)
    )
    return replace(BASE, **{name: draw(field_values[name]) for name in chosen})


def check_offer(offer: SignedOffer) -> None:
    signer = offer.signer()  # never raises
    assert signer is None or isinstance(signer, Address)
    result = outcome(OfferError, validate_offer, offer, T0)
    if isinstance(result, OfferError):
        assert result.fix
        return
    assert signer == offer.terms.provider
    assert 0 <= offer.offer_id < 2**63
    view_of(offer)


@fuzz(500)
@given(odd_terms())
def test_validate_terms_of_odd_terms(odd: OfferTerms) -> None:
    result = outcome(OfferError, validate_terms, odd, T0)
    if not isinstance(result, OfferError):
        # Terms that validate can be signed, hashed and searched.
        offer = sign_offer(PROVIDER, odd, CHAIN)
        validate_offer(offer, T0)
        assert offer.signer() == PROVIDER.address


@fuzz(300)
@given(
    odd_terms(),
    st.one_of(st.just(b""), st.binary(max_size=80)),
    st.one_of(edges(256), st.just(CHAIN)),
)
def test_validate_offer_of_odd_terms_signatures_and_chains(
    odd: OfferTerms, signature: bytes, chain_id: int
) -> None:
    check_offer(SignedOffer(odd, signature, ChainId(chain_id)))


@fuzz(200)
@given(st.data())
def test_validate_offer_of_mutated_signatures(data: st.DataObject) -> None:
    offer = signed()
    signature = data.draw(mutated(offer.signature))
    check_offer(SignedOffer(offer.terms, signature, CHAIN))


@fuzz(200)
@given(odd_terms(), st.one_of(edges(256), st.just(CHAIN)))
def test_signed_odd_terms_validate_exactly_when_their_terms_do(
    odd: OfferTerms, chain_id: int
) -> None:
    if isinstance(outcome(OfferError, validate_terms, odd, T0), OfferError):
        return
    offer = sign_offer(PROVIDER, odd, CHAIN)
    assert outcome(OfferError, validate_offer, offer, T0) is None
    other = outcome(OfferError, validate_offer, replace(offer, chain_id=ChainId(chain_id)), T0)
    assert isinstance(other, OfferError) == (chain_id != CHAIN)
