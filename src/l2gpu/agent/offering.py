"""The agent's offers: one per GPU model of the machine, checked against the catalog and
the inventory, signed and published; after a restart, the earlier run's offers are
withdrawn or, when live leases hold them, served as this run's own."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from l2gpu.agent.backends import Backend, offer_policy
from l2gpu.agent.inventory import Inventory
from l2gpu.client import MarketClient
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.gpus import catalog_name, known_models
from l2gpu.core.market.offers import OfferTerms, SignedOffer, sign_offer
from l2gpu.core.types import ChainId, Seconds, Timestamp, Wei
from l2gpu.wire import OfferPublic

log = logging.getLogger(__name__)


class OfferPublishing:
    """The agent's offers (mixed into ProviderAgent, whose fields these are)."""

    client: MarketClient
    key: PrivateKey
    backend: Backend
    inventory: Inventory
    chain_id: int
    _gpu_names: dict[str, str]

    def offer_terms(
        self,
        price_per_gpu_second: Wei,
        *,
        expires_at: int,
        location: str = "XX",
        min_duration: int = 1,
        max_duration: int = 86_400,
        nonce: int = 0,
    ) -> list[OfferTerms]:
        """One offer per GPU model of the inventory (CPU slots where there is no GPU)."""
        backend, images = offer_policy(self.backend)
        groups = {name: len(gpus) for name, gpus in self.inventory.groups().items()}
        if not groups:
            groups = {"CPU": self.inventory.cpu_cores}
        return [
            OfferTerms(
                provider=self.key.address,
                gpu_name=name,
                num_gpus=count,
                gpu_ram_gb=min(
                    (g.memory_gb for g in self.inventory.groups().get(name, [])), default=0
                ),
                price_per_gpu_second=price_per_gpu_second,
                expires_at=Timestamp(expires_at),
                cpu_cores=self.inventory.cpu_cores,
                ram_gb=self.inventory.ram_gb,
                disk_gb=self.inventory.disk_gb,
                location=location,
                min_duration=Seconds(min_duration),
                max_duration=Seconds(max_duration),
                declared=self.inventory.declared,
                nonce=nonce,
                backend=backend,
                images=images,
            )
            for name, count in groups.items()
        ]

    def check_terms(self, terms: OfferTerms) -> None:
        """Refuse an offer for a model outside the catalog (an NVML name the catalog does
        not map), or for more GPUs (of its model) than this machine has."""
        if catalog_name(terms.gpu_name) != terms.gpu_name:
            raise L2gpuError(
                f"the GPU model {terms.gpu_name!r} is not in the market's catalog",
                f"the market lists only: {known_models()}; ask for the model to be added",
            )
        have = len(self.inventory.groups().get(terms.gpu_name, []))
        if terms.gpu_name == "CPU" and not self.inventory.gpus:
            have = self.inventory.cpu_cores
        if terms.num_gpus > have:
            raise L2gpuError(
                f"the offer holds {terms.num_gpus} {terms.gpu_name}; this machine has {have}",
                "offer at most the GPUs the machine has (see 'l2gpu provider up --help')",
            )

    def publish(self, terms: list[OfferTerms]) -> list[OfferPublic]:
        """Check, sign and publish offers; return them as the market shows them."""
        published = []
        for t in terms:
            self.check_terms(t)
            offer: SignedOffer = sign_offer(self.key, t, ChainId(self.chain_id))
            published.append(self.client.publish(offer))
            self._gpu_names[str(offer.offer_id)] = t.gpu_name
        return published

    def leased_offers(self) -> dict[str, tuple[str, int]]:
        """This provider's offers that live leases hold (offer id -> GPU model and count),
        from the market; empty when it cannot be reached."""
        try:
            live = self.client.work()
            offers = {str(lease.offer_id) for lease in live}
            return {i: (o.gpu_name, o.num_gpus) for i in offers if (o := self.client.offer(i))}
        except L2gpuError as exc:
            log.warning("could not read this provider's live leases: %s", exc.what)
            return {}

    def take_back(self, leased: dict[str, tuple[str, int]]) -> None:
        """Serve the leased offers of an earlier run as this agent's own: their leases run
        on (adopted at the next step) and the offers come back on the market when the
        leases end, so their GPUs are not offered a second time meanwhile."""
        for offer_id, (gpu_name, _) in leased.items():
            self._gpu_names[offer_id] = gpu_name

    def retire_offers(self, known: Iterable[str] = (), *, keep: Iterable[str] = ()) -> list[str]:
        """Withdraw this agent's earlier offers: ``known``, the ids an earlier run of it
        recorded in its data folder (leased ones included, which would come back on the
        market when their lease ends), less ``keep``. A restart then publishes its
        offers once, never beside the old ones; another machine's offers under the same
        key are not this agent's to withdraw. Returns the ids withdrawn; one the market
        no longer has is skipped."""
        ids = {str(i) for i in known}
        kept = {str(i) for i in keep}
        withdrawn = []
        for offer_id in sorted(ids - kept):
            try:
                self.client.withdraw(offer_id)
            except L2gpuError as exc:
                log.warning("could not withdraw offer %s: %s", offer_id, exc.what)
                continue
            withdrawn.append(offer_id)
        return withdrawn
