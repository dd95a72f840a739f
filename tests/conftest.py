"""Shared test fixtures: the golden data in ../shared/fixtures and the stand-in Inception weights."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``$TTUR_SHARED``, else the ``shared`` folder beside the repository."""
    env = os.environ.get("TTUR_SHARED")
    return Path(env) if env else ROOT.parent / "shared"


SHARED = shared_dir()
FIXTURES = SHARED / "fixtures"
DATA = SHARED / "data"


def _require(path: Path, what: str) -> Path:
    """``path``; when it is missing, a skip on a developer's machine and an error under CI (``$CI`` set),
    so that no CI run passes by skipping the golden tests."""
    if not path.is_dir():
        message = f"{what} not found at {path} (set TTUR_SHARED)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the golden tests", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return _require(FIXTURES, "golden fixtures")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _require(DATA, "shared data")


@pytest.fixture(scope="session")
def golden(fixtures_dir) -> dict:
    return json.loads((fixtures_dir / "golden.json").read_text())


@pytest.fixture(scope="session")
def fake_weights(fixtures_dir, tmp_path_factory) -> Path:
    """The stand-in FID Inception weights, written once per session by fixtures/fake_weights.py."""
    spec = importlib.util.spec_from_file_location("fake_weights", fixtures_dir / "fake_weights.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    import torch

    keys = json.loads((fixtures_dir / "fid_inception_keys.json").read_text())
    path = tmp_path_factory.mktemp("weights") / "fake_inception.pth"
    torch.save(mod.fake_state_dict(keys), path)
    return path


@pytest.fixture()
def weights_env(fake_weights, monkeypatch) -> Path:
    """Point TTUR_INCEPTION_WEIGHTS at the stand-in weights and forbid downloads."""
    monkeypatch.setenv("TTUR_INCEPTION_WEIGHTS", str(fake_weights))
    monkeypatch.setenv("TTUR_OFFLINE", "1")
    return fake_weights


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """No test downloads anything, and none sees a weights file in the user's cache."""
    monkeypatch.setenv("TTUR_OFFLINE", "1")
    monkeypatch.setenv("TTUR_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch_home"))


@pytest.fixture()
def one_thread():
    """Tiny models: one thread is several times faster than two on a shared machine.

    Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def vits14_file(fixtures_dir, tmp_path_factory) -> Path:
    """The DINOv2 ViT-S/14 stand-in of ``fixtures/fake_weights_vit.py``, written once per session."""
    import torch
    import vit_common as vc

    path = tmp_path_factory.mktemp("dinov2") / "dinov2_vits14_pretrain.pth"
    torch.save(vc.fake_state(fixtures_dir, "dinov2/dinov2_vits14_keys.json"), path)
    return path


@pytest.fixture(scope="session")
def clip_file(fixtures_dir, tmp_path_factory) -> Path:
    """The CLIP stand-in in OpenAI's dtype (float16 ``visual.*``, as ``fake_weights_vit.py --half``),
    written once per session (1.2 GB of values to generate: about 20 s)."""
    import torch
    import vit_common as vc

    sd = {k: v.half() for k, v in vc.fake_state(fixtures_dir, "clip/clip_vitl14_336_openai_visual_keys.json").items()}
    path = tmp_path_factory.mktemp("clip") / "ViT-L-14-336px.pth"
    torch.save(sd, path)
    return path
