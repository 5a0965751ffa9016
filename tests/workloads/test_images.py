"""``rent --image`` and a task's ``image:``: an offer says its backend and allowed
images (signed), the market refuses an image the offer cannot run before any channel
opens, ``rent`` and ``launch`` refuse before paying, and the container backend runs
the image asked (tested through a fake engine: this machine runs no Docker daemon)
or refuses one outside its provider's patterns."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest

from l2gpu.agent.agent import ProviderAgent
from l2gpu.agent.backends import JobSpec, JobStartError, make_backend, offer_policy
from l2gpu.agent.backends.container import ContainerBackend
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.inventory import discover
from l2gpu.client import ApiRequestError, MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.images import ImageError, check_image, image_refusal, policy_problem
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.market.offers import OfferError, sign_offer, validate_offer, validate_terms
from l2gpu.renter.choice import launch_query
from l2gpu.renter.task import TaskError, parse_task
from tests.agent.fake_engine import end_watcher, install_fake_engine
from tests.agent.test_agent import PRICE
from tests.api.helpers import described
from tests.cli.helpers import cli, refused
from tests.cli.launch_world import install
from tests.market.helpers import CHAIN, PROVIDER, RENTER, T0, terms

POLICY = "pytorch/pytorch:2.3.0,pytorch/pytorch:*-cuda12*,ghcr.io/lab/*"


def test_an_offers_policy_and_an_image_asked_of_it() -> None:
    assert policy_problem("container", POLICY) is None
    assert policy_problem("local", "") is None
    assert "not one of local, container, ray" in (policy_problem("k8s", "") or "")
    assert "runs no images" in (policy_problem("local", "busybox") or "")
    assert "at least the image" in (policy_problem("container", " , ") or "")
    assert "neither an image nor a pattern" in (policy_problem("container", "a b") or "")
    assert image_refusal(7, "local", "", None) is None
    assert image_refusal(7, "container", POLICY, "pytorch/pytorch:2.3.0") is None
    assert image_refusal(7, "container", POLICY, "pytorch/pytorch:2.4-cuda12.1") is None
    assert image_refusal(7, "container", POLICY, "ghcr.io/lab/train@sha256:ab") is None
    local = image_refusal(7, "local", "", "busybox")
    assert local is not None
    assert "offer 7 runs jobs on its provider's local backend" in local.what
    outside = image_refusal(7, "container", POLICY, "evil/miner:latest")
    assert outside is not None
    assert f"allows only the images {POLICY}; evil/miner:latest" in outside.what
    for bad in ("", "-rm", "a b", "x" * 256, "img;rm"):
        with pytest.raises(ImageError):
            check_image(bad)


def test_the_backend_and_images_are_signed_terms_and_checked() -> None:
    plain, boxed = terms(), terms(backend="container", images=POLICY)
    assert plain.message()["backend"] == "local"
    assert boxed.message()["images"] == POLICY
    validate_terms(boxed, T0)
    with pytest.raises(OfferError, match="a local backend runs no images"):
        validate_terms(terms(images="busybox"), T0)
    with pytest.raises(OfferError, match="backend 'vm' is not one of"):
        validate_terms(terms(backend="vm"), T0)


def test_a_task_names_its_image_and_a_bad_one_is_refused_naming_the_key() -> None:
    base = PurePosixPath("/p")
    task = parse_task("run: x\nresources: {gpu: H100}\nimage: pytorch/pytorch:2.3.0", base=base)
    assert task.image == "pytorch/pytorch:2.3.0"
    assert launch_query(task) == "gpu_name=H100 num_gpus>=1 backend=container"
    assert parse_task("run: x\nresources: {gpu: H100}", base=base).image is None
    with pytest.raises(TaskError, match="the task: image 'a b' is not an image reference"):
        parse_task("run: x\nresources: {gpu: H100}\nimage: a b", base=base)
    with pytest.raises(TaskError, match="image is not text"):
        parse_task("run: x\nresources: {gpu: H100}\nimage: [a]", base=base)


def _container_agent(world, engine_root: Path) -> ProviderAgent:  # type: ignore[no-untyped-def]
    backend = ContainerBackend(engine_root / "jobs", "pytorch/pytorch:2.3.0",
                               allowed=("pytorch/pytorch:*-cuda12*", "ghcr.io/lab/*"))  # fmt: skip
    return ProviderAgent(MarketClient("", PROVIDER, http=world.http), PROVIDER, backend,
                         discover("RTX_4090:2"), world.store, world.clock, CHAIN)  # fmt: skip


def test_the_market_refuses_an_image_the_offer_cannot_run_before_a_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, _ = install(monkeypatch, tmp_path)
    local_offer = world.offer
    assert (local_offer.backend, local_offer.images) == ("local", "")
    with pytest.raises(ApiRequestError, match="local backend, not in containers") as quoted:
        world.renter.quote(local_offer.id, duration=600, image="busybox:1.36")
    assert "rent an offer whose backend is container" in quoted.value.fix
    with pytest.raises(ApiRequestError, match="local backend, not in containers"):
        world.renter.rent(local_offer.id, command="true", duration=600, image="busybox:1.36",
                          channel=described(RENTER, PROVIDER.address, 10**18))  # fmt: skip
    assert world.renter.jobs() == []
    # The same provider's container offer: the images it allows, and no other.
    engine = install_fake_engine(monkeypatch, tmp_path / "engine")
    agent = _container_agent(world, engine.root)
    (offer,) = agent.publish(agent.offer_terms(PRICE, expires_at=T0 + 3600, nonce=1))
    assert (offer.backend, offer.images) == ("container", POLICY)
    found = world.renter.search("backend=container").offers
    assert [o.id for o in found] == [offer.id]
    assert world.renter.quote(offer.id, duration=600, image="ghcr.io/lab/train:v2").max_cost
    with pytest.raises(ApiRequestError, match="evil/miner:1 is not one of them"):
        world.renter.quote(offer.id, duration=600, image="evil/miner:1")
    tagged_digest = "pytorch/pytorch:2.4-cuda12@sha256:" + "ab" * 32  # attacked: a trick
    with pytest.raises(ApiRequestError, match="names both a tag and a digest"):
        world.renter.quote(offer.id, duration=600, image=tagged_digest)


def test_the_container_backend_runs_the_image_asked_and_refuses_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = install_fake_engine(monkeypatch, tmp_path / "engine")
    backend = make_backend("docker", tmp_path / "jobs", image="busybox:1.36",
                           allowed_images=("pytorch/pytorch:*",))  # fmt: skip
    assert offer_policy(backend) == ("container", "busybox:1.36,pytorch/pytorch:*")
    backend.start(JobSpec(1, "python train.py", image="pytorch/pytorch:2.3.0"))
    backend.start(JobSpec(2, "echo hi"))
    images = {n.rsplit("-", 1)[-1]: b["image"] for n, b in engine.containers().items()}
    assert images == {"1": "pytorch/pytorch:2.3.0", "2": "busybox:1.36"}
    with pytest.raises(JobStartError, match="allows only the images busybox:1.36,pytorch/py"):
        backend.start(JobSpec(3, "true", image="evil/miner:1"))
    with pytest.raises(JobStartError, match="not an image reference"):
        backend.start(JobSpec(4, "true", image="--privileged"))
    assert sorted(engine.containers()) == sorted(f"{backend._name(i)}" for i in (1, 2))
    for lease in (1, 2):
        backend.stop(lease)
    end_watcher(backend)
    with pytest.raises(L2gpuError, match="--allow-image needs a container backend"):
        make_backend("local", tmp_path / "l", allowed_images=("busybox",))
    with pytest.raises(JobStartError, match="local backend, not in containers"):
        LocalBackend(tmp_path / "local").start(JobSpec(5, "true", image="busybox"))


def test_rent_and_launch_refuse_an_image_before_opening_a_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world, rail = install(monkeypatch, tmp_path)
    refused(
        cli(capsys, "rent", str(world.offer.id), "--cmd", "true", "--image", "busybox:1.36"),
        f"offer {world.offer.id} runs jobs on its provider's local backend",
        "rent an offer whose backend is container",
    )
    refused(cli(capsys, "rent", str(world.offer.id), "--cmd", "true", "--image", "a b"),
            "--image 'a b' is not an image reference")  # fmt: skip
    (tmp_path / "task.yaml").write_text(
        "resources: {gpu: RTX_4090, count: 1}\nhours: 0.5\nrun: 'true'\nimage: busybox:1.36\n"
    )
    refused(cli(capsys, "launch", str(tmp_path / "task.yaml")), "no offer can run")
    assert rail.opened == []
    assert world.renter.jobs() == []


def test_a_lease_with_an_image_runs_in_that_image_on_a_container_offer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world, rail = install(monkeypatch, tmp_path)
    engine = install_fake_engine(monkeypatch, tmp_path / "engine")
    world.agent = _container_agent(world, engine.root)
    (offer,) = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=T0 + 3600, nonce=1))
    stop_after = {"seconds": 3}

    def one_second(_: float) -> None:  # the job's container exits after 3 seconds
        world.clock.advance(1)
        world.agent.step()
        stop_after["seconds"] -= 1
        for name, box in engine.containers().items():
            if stop_after["seconds"] <= 0 and box["state"] == "running":
                engine.set_state(name, "exited", 0)

    monkeypatch.setattr("l2gpu.cli.renting.time.sleep", one_second)
    code, _, err = cli(capsys, "rent", str(offer.id), "--cmd", "python -V", "--hours", "0.1",
                       "--image", "ghcr.io/lab/train:v2")  # fmt: skip
    assert code == 0, err
    (lease,) = world.renter.jobs()
    assert lease.status is LeaseStatus.ENDED
    assert lease.job.image == "ghcr.io/lab/train:v2"
    (run,) = [c for c in engine.calls() if c[0] == "run"]
    assert run[run.index("/bin/sh") - 1] == "ghcr.io/lab/train:v2"
    assert len(rail.opened) == 1
    end_watcher(world.agent.backend)


def test_images_attacked_injection_tag_and_digest_tricks_and_an_altered_policy() -> None:
    """Attacked: option and shell injection, a tag/digest trick to pass the allow-list,
    and a market that alters an offer's signed ``images``."""
    injections = ("--privileged", "-v", "/:/host", "ubuntu --privileged", "ubuntu;id")
    injections += ("ubuntu$(id)", "ubuntu`id`", "ubuntu|sh", "ubuntu\n--privileged", "../x")
    for bad in injections:
        with pytest.raises(ImageError):
            check_image(bad)
    # A tag the pattern allows, and a digest that engines run instead: refused.
    digest = "sha256:" + "ab" * 32
    with pytest.raises(ImageError, match="names both a tag and a digest"):
        check_image(f"pytorch/pytorch:2.4-cuda12.1@{digest}")
    with pytest.raises(ImageError, match="names both a tag and a digest"):
        image_refusal(7, "container", POLICY, f"pytorch/pytorch:x-cuda12@{digest}")
    # A digest alone matches only a pattern that allows the whole repository.
    assert image_refusal(7, "container", POLICY, f"pytorch/pytorch@{digest}") is not None
    assert image_refusal(7, "container", POLICY, f"ghcr.io/lab/train@{digest}") is None
    assert check_image(f"localhost:5000/lab/train@{digest}")  # a registry's port: no tag
    # The policy is part of what the provider signs: altered, the signature fails.
    signed = sign_offer(PROVIDER, terms(backend="container", images=POLICY), CHAIN)
    validate_offer(signed, T0)
    for images in ("*", POLICY + ",evil/*"):
        altered = replace(signed, terms=replace(signed.terms, images=images))
        with pytest.raises(OfferError, match="not signed by its provider"):
            validate_offer(altered, T0)


def test_a_containers_variables_cannot_add_lines_or_choose_its_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attacked: a variable's line break wrote a line with no "=", which the engine
    fills from its own environment, the agent's: the provider's key reached the
    renter's container. And NVIDIA_VISIBLE_DEVICES=all would give it every GPU."""
    engine = install_fake_engine(monkeypatch, tmp_path / "engine")
    monkeypatch.setenv("L2GPU_PRIVATE_KEY", "0xprovider-key")
    backend = make_backend("docker", tmp_path / "jobs", image="busybox:1.36")
    backend.start(JobSpec(1, "true", env={"A": "1"}, secrets={"B": "two = 2"}))
    box = engine.containers()[backend._name(1)]
    assert box["env"] == {"A": "1", "B": "two = 2"}
    # and the engine itself runs without the agent's key in its environment
    assert "L2GPU_PRIVATE_KEY" not in box["engine_env"]
    assert "PATH" in box["engine_env"]
    for env, secrets, why in (
        ({"A": "x\nL2GPU_PRIVATE_KEY"}, {}, "variable 'A' holds a line break"),
        ({}, {"S": "x\r\nL2GPU_PRIVATE_KEY"}, "secret 'S' holds a line break"),
        ({"L2GPU_PRIVATE_KEY\nA": "1"}, {}, "holds a line break"),
        ({"NVIDIA_VISIBLE_DEVICES": "all"}, {}, "would choose the container's GPUs"),
        ({}, {"nvidia_driver_capabilities": "all"}, "would choose the container's GPUs"),
    ):
        with pytest.raises(JobStartError, match=why):
            backend.start(JobSpec(2, "true", env=env, secrets=secrets))
    assert backend._name(2) not in engine.containers()
    assert all("0xprovider-key" not in str(b["env"]) for b in engine.containers().values())
    backend.stop(1)
    end_watcher(backend)


def test_a_containers_files_are_written_through_no_link_an_earlier_job_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attacked: a container (root inside) leaves links in its lease's folder; the
    lease's next start wrote its files through them, onto the host."""
    install_fake_engine(monkeypatch, tmp_path / "engine")
    backend = make_backend("docker", tmp_path / "jobs", image="busybox:1.36")
    host_file, host_dir = tmp_path / "host-file", tmp_path / "host-dir"
    host_file.write_text("the host's")
    host_dir.mkdir()
    work = backend.workdir(1)
    work.mkdir(parents=True)
    (work / "train.py").symlink_to(host_file)
    (work / "src").symlink_to(host_dir)
    backend.start(JobSpec(1, "true", files={"train.py": "print(1)"}))
    assert host_file.read_text() == "the host's"
    assert not (work / "train.py").is_symlink()
    assert (work / "train.py").read_text() == "print(1)"
    with pytest.raises(JobStartError):
        backend.start(JobSpec(1, "true", files={"src/evil.py": "x"}))
    assert list(host_dir.iterdir()) == []
    assert backend.root.stat().st_mode & 0o077 == 0  # no one else reaches its folders
    backend.stop(1)
    end_watcher(backend)
