"""Signed offers: EIP-712 signatures, ids, and the validation of every field."""

from __future__ import annotations

import pytest

from l2gpu.core.market.offers import (
    MAX_PRICE,
    OFFER,
    OfferError,
    SignedOffer,
    market_domain,
    validate_offer,
    validate_terms,
)
from l2gpu.core.types import ChainId, Seconds, Timestamp, Wei
from tests.market.helpers import CHAIN, PROVIDER, STRANGER, T0, signed, terms


def test_a_signed_offer_verifies_and_its_id_depends_on_the_terms() -> None:
    offer = signed()
    validate_offer(offer, T0)
    assert offer.signer() == PROVIDER.address
    assert offer.offer_id == signed().offer_id
    assert offer.offer_id != signed(nonce=1).offer_id
    assert 0 < offer.offer_id < 2**63


def test_the_offer_matches_eth_account_typed_data() -> None:
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    offer = signed()
    message = OFFER.to_json(market_domain(CHAIN), offer.terms.message())
    message["message"]["provider"] = offer.terms.provider.checksum
    recovered = Account.recover_message(
        encode_typed_data(full_message=message), signature=offer.signature
    )
    assert recovered == PROVIDER.address.checksum


def test_an_offer_signed_by_someone_else_or_on_another_chain_is_refused() -> None:
    offer = signed()
    forged = SignedOffer(offer.terms, STRANGER.sign_digest(offer.digest), CHAIN)
    with pytest.raises(OfferError, match="not signed by its provider"):
        validate_offer(forged, T0)
    other_chain = SignedOffer(offer.terms, offer.signature, ChainId(1))
    with pytest.raises(OfferError, match="not signed by its provider"):
        validate_offer(other_chain, T0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"price_per_gpu_second": Wei(0)}, "must be above zero"),
        ({"price_per_gpu_second": -5}, "must be above zero"),
        ({"price_per_gpu_second": MAX_PRICE + 1}, "overflows 128 bits"),
        ({"price_per_gpu_second": 2**256}, "overflows 128 bits"),
        ({"price_per_gpu_second": 1.5}, "not an integer"),
        ({"num_gpus": 0}, "1 to 1024 GPUs"),
        ({"num_gpus": 5000}, "1 to 1024 GPUs"),
        ({"gpu_ram_gb": -1}, "GPU memory"),
        ({"cpu_cores": 0}, "CPU cores"),
        ({"gpu_name": "RTX 4090"}, "without spaces"),
        ({"location": ""}, "location"),
        ({"min_duration": Seconds(100), "max_duration": Seconds(50)}, "durations"),
        ({"expires_at": T0}, "expired"),
    ],
)
def test_bad_terms_are_refused_with_what_and_what_to_do(changes: dict, message: str) -> None:
    with pytest.raises(OfferError, match=message) as info:
        validate_terms(terms(**changes), T0)
    assert info.value.fix  # every refusal says what to do


def test_an_expired_offer_is_refused_even_if_signed() -> None:
    offer = signed(expires_at=Timestamp(T0 + 10))
    validate_offer(offer, T0)
    with pytest.raises(OfferError, match="expired"):
        validate_offer(offer, Timestamp(T0 + 10))
