"""Dataset file formats: pixels round-trip through files the tests write, errors name the file,
and the real files in ../shared/data read as expected when present."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from ttur.errors import InputError
from ttur.images.files import FolderImages, TarImages, ZipImages
from ttur.images.formats import Cifar10Batches, LmdbImages, MnistIdx, SvhnMat
from ttur.images.readers import open_images

RNG = np.random.default_rng(1234)


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def _idx_bytes(images: np.ndarray) -> bytes:
    n, h, w = images.shape
    return struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes()


# ------------------------------------------------------------------------------------------- MNIST

def test_mnist_idx_round_trip_plain_and_gz(tmp_path):
    imgs = RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    (tmp_path / "x-images-idx3-ubyte").write_bytes(_idx_bytes(imgs))
    with gzip.open(tmp_path / "y-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(_idx_bytes(imgs))
    for name in ("x-images-idx3-ubyte", "y-images-idx3-ubyte.gz"):
        seq = open_images(tmp_path / name)
        assert isinstance(seq, MnistIdx) and len(seq) == 7
        out = seq[3]
        assert out.shape == (28, 28, 3) and out.dtype == np.uint8
        for c in range(3):
            np.testing.assert_array_equal(out[:, :, c], imgs[3])


def test_mnist_idx_truncated_or_wrong_magic(tmp_path):
    data = _idx_bytes(RNG.integers(0, 256, (4, 28, 28), dtype=np.uint8))
    bad = tmp_path / "cut-images-idx3-ubyte"
    bad.write_bytes(data[:-100])
    with pytest.raises(InputError, match="cut-images-idx3-ubyte: truncated"):
        open_images(bad)
    with gzip.open(tmp_path / "g-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(data)
    gz = (tmp_path / "g-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "h-images-idx3-ubyte.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(InputError, match="h-images-idx3-ubyte.gz"):
        open_images(tmp_path / "h-images-idx3-ubyte.gz")
    (tmp_path / "m-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2049, 1, 1, 1) + b"\0")
    with pytest.raises(InputError, match="magic 2049"):
        open_images(tmp_path / "m-images-idx3-ubyte")


# -------------------------------------------------------------------------------------------- SVHN

def test_svhn_mat_round_trip(tmp_path):
    import scipy.io

    imgs = RNG.integers(0, 256, (9, 32, 32, 3), dtype=np.uint8)
    x = np.ascontiguousarray(imgs.transpose(1, 2, 3, 0))  # H x W x 3 x N, as SVHN stores it
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": x, "y": np.arange(9)[:, None] % 10 + 1})
    seq = open_images(tmp_path / "train_32x32.mat")
    assert isinstance(seq, SvhnMat) and len(seq) == 9
    for i in (0, 4, 8):
        np.testing.assert_array_equal(seq[i], imgs[i])
    scipy.io.savemat(tmp_path / "c.mat", {"X": x}, do_compression=True)
    np.testing.assert_array_equal(open_images(tmp_path / "c.mat")[5], imgs[5])
    gray = RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    scipy.io.savemat(tmp_path / "g.mat", {"X": gray})
    g = open_images(tmp_path / "g.mat")
    assert len(g) == 3 and g[1].shape == (8, 8, 3)
    np.testing.assert_array_equal(g[1][:, :, 2], gray[:, :, 1])


def test_svhn_mat_errors(tmp_path):
    import scipy.io

    x = RNG.integers(0, 256, (32, 32, 3, 20), dtype=np.uint8)
    scipy.io.savemat(tmp_path / "full.mat", {"X": x})
    data = (tmp_path / "full.mat").read_bytes()
    (tmp_path / "cut.mat").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.mat"):
        open_images(tmp_path / "cut.mat")
    scipy.io.savemat(tmp_path / "nox.mat", {"images": x})
    with pytest.raises(InputError, match="nox.mat: no variable 'X'"):
        open_images(tmp_path / "nox.mat")
    scipy.io.savemat(tmp_path / "shape.mat", {"X": np.zeros((32, 32, 5, 2), np.uint8)})
    with pytest.raises(InputError, match="shape.mat: 'X' should be"):
        open_images(tmp_path / "shape.mat")
    # MATLAB v7.3: an HDF5 file with a 512-byte MATLAB header; scipy refuses it
    head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    head = head.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0200) + b"IM"
    (tmp_path / "v73.mat").write_bytes(head.ljust(512, b"\0") + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(InputError, match=r"v73.mat: a MATLAB v7.3 \(HDF5\) file"):
        open_images(tmp_path / "v73.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(InputError, match="junk.mat"):
        open_images(tmp_path / "junk.mat")


# -------------------------------------------------------------------------------------------- LSUN

def _make_lmdb(path, images: dict[bytes, bytes]) -> None:
    lmdb = pytest.importorskip("lmdb", reason="the lmdb package (extra ttur[lmdb]) is not installed")
    env = lmdb.open(str(path), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for k, v in images.items():
            txn.put(k, v)
    env.close()


def test_lmdb_round_trip_webp_jpeg_png(tmp_path):
    imgs = [RNG.integers(0, 256, (24, 30, 3), dtype=np.uint8) for _ in range(5)]
    vals = {}
    for i, img in enumerate(imgs):
        buf = io.BytesIO()
        fmt = ("WEBP", "PNG", "JPEG")[i % 3]
        Image.fromarray(img).save(buf, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        vals[f"{i:040x}".encode()] = buf.getvalue()
    vals[b"__keys__"] = b"metadata, skipped"
    db = tmp_path / "bedroom_train_lmdb"
    _make_lmdb(db, vals)
    seq = open_images(db)
    assert isinstance(seq, LmdbImages) and len(seq) == 5
    np.testing.assert_array_equal(seq[0], imgs[0])  # lossless webp
    np.testing.assert_array_equal(seq[1], imgs[1])  # png
    jpeg = vals[f"{2:040x}".encode()]
    np.testing.assert_array_equal(seq[2], np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")))
    assert seq.describe(3).endswith(f"{3:040x}")
    assert len(open_images(db / "data.mdb")) == 5
    again = pickle.loads(pickle.dumps(seq))  # lazy environment: picklable for workers
    np.testing.assert_array_equal(again[4], seq[4])
    np.testing.assert_array_equal(seq[-1], seq[4])


def test_lmdb_corrupt_value_and_file(tmp_path):
    db = tmp_path / "db"
    _make_lmdb(db, {b"a": _png(np.zeros((4, 4, 3), np.uint8)), b"b": b"\x89PNG broken"})
    seq = open_images(db)
    with pytest.raises(InputError, match="db:b: "):
        seq[1]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "data.mdb").write_bytes(b"\0" * 100)
    with pytest.raises(InputError, match="bad: not a readable LMDB"):
        open_images(bad)


def test_lmdb_missing_package_message(tmp_path, monkeypatch):
    import builtins

    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "data.mdb").write_bytes(b"")
    real_import = builtins.__import__

    def no_lmdb(name, *a, **k):
        if name == "lmdb":
            raise ImportError("No module named 'lmdb'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_lmdb)
    with pytest.raises(InputError, match=r"needs the lmdb package: pip install 'ttur\[lmdb\]'"):
        open_images(tmp_path / "db")


# --------------------------------------------------------------------------------------------- tar

def test_tar_round_trip_and_truncation(tmp_path):
    imgs = [RNG.integers(0, 256, (10, 12, 3), dtype=np.uint8) for _ in range(4)]
    path = tmp_path / "imgs.tar"
    with tarfile.open(path, "w") as tf:
        for i in (2, 0, 3, 1):  # stored out of order: read back in sorted name order
            data = _png(imgs[i])
            info = tarfile.TarInfo(f"dir/{i:03d}.png")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("dir/readme.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    seq = open_images(path)
    assert isinstance(seq, TarImages) and len(seq) == 4
    for i in range(4):
        np.testing.assert_array_equal(seq[i], imgs[i])
    assert seq.describe(2) == f"{path}:dir/002.png"
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(seq))[1], imgs[1])
    data = path.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: int(seq.offsets[3]) + 20])
    with pytest.raises(InputError, match="cut.tar"):
        s = open_images(cut)
        [s[i] for i in range(len(s))]
    with tarfile.open(tmp_path / "c.tar.gz", "w:gz") as tf:
        tf.add(path, arcname="x.tar")
    with pytest.raises(InputError, match="c.tar.gz: compressed tar"):
        open_images(tmp_path / "c.tar.gz")


# ------------------------------------------------------------------------------- CIFAR-10 pickles

def _cifar_batch(images: np.ndarray) -> bytes:
    data = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    return pickle.dumps({b"batch_label": b"x", b"labels": list(range(len(images))), b"data": data})


def test_cifar_pickles_folder_file_and_targz(tmp_path):
    imgs = RNG.integers(0, 256, (5, 6, 32, 32, 3), dtype=np.uint8)  # 5 batches of 6
    test = RNG.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for b in range(5):
        (folder / f"data_batch_{b + 1}").write_bytes(_cifar_batch(imgs[b]))
    (folder / "test_batch").write_bytes(_cifar_batch(test))
    seq = open_images(folder)
    assert isinstance(seq, Cifar10Batches) and len(seq) == 30
    np.testing.assert_array_equal(seq[7], imgs[1, 1])
    np.testing.assert_array_equal(open_images(folder / "test_batch")[3], test[3])
    arc = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(arc, "w:gz") as tf:
        tf.add(folder, arcname="cifar-10-batches-py")
    np.testing.assert_array_equal(open_images(arc)[29], imgs[4, 5])
    np.testing.assert_array_equal(open_images(f"{arc}:test")[0], test[0])
    (folder / "data_batch_3").write_bytes(_cifar_batch(imgs[2])[:500])
    with pytest.raises(InputError, match="data_batch_3"):
        open_images(folder)


# ---------------------------------------------------------------------------------- CelebA folder

def test_celeba_style_folder_sorted(tmp_path):
    d = tmp_path / "img_align_celeba"
    d.mkdir()
    imgs = {}
    for i in (10, 2, 1):
        img = RNG.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(img).save(d / f"{i:06d}.png")
        imgs[i] = img
    seq = open_images(d)
    assert isinstance(seq, FolderImages) and len(seq) == 3
    np.testing.assert_array_equal(seq[0], imgs[1])
    np.testing.assert_array_equal(seq[2], imgs[10])
    (d / "000011.jpg").write_bytes(b"\xff\xd8\xff broken")
    with pytest.raises(InputError, match="000011.jpg"):
        open_images(d)[3]


# ------------------------------------------------------------------------------ real files, if any

def _need(data_dir, name):
    p = data_dir / name
    if not p.is_file():
        pytest.skip(f"{p} not present")
    return p


def test_real_mnist_t10k(data_dir):
    seq = open_images(_need(data_dir, "mnist_t10k-images-idx3-ubyte.gz"))
    assert len(seq) == 10_000
    img = seq[0]
    assert img.shape == (28, 28, 3) and img.dtype == np.uint8
    assert img[:4].max() == 0 and img.max() == 255  # a digit on black with a blank top border
    labels = np.frombuffer((data_dir / "mnist_t10k-labels-idx1-ubyte").read_bytes()[8:], np.uint8)
    assert labels[0] == 7  # the first test digit is a 7
    means = np.array([seq[i][:, :, 0].mean() for i in range(0, 10_000, 500)])
    assert 20 < means.mean() < 50  # MNIST's mean pixel is about 33


def test_real_celeba_zip(data_dir):
    seq = open_images(_need(data_dir, "celeba_img_align_000001-000032.zip"))
    assert isinstance(seq, ZipImages) and len(seq) == 32
    assert seq.describe(0).endswith("celeba/000001.jpg")
    for i in (0, 31):
        assert seq[i].shape == (218, 178, 3)


def test_real_cifar10_jpeg_zip(data_dir):
    path = _need(data_dir, "cifar10_jpeg_test.zip")
    seq = open_images(path)
    assert len(seq) == 10_000
    assert seq.describe(0).endswith("test/airplane/0000.jpg")
    for i in (0, 5000, 9999):
        img = seq[i]
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    with zipfile.ZipFile(path) as zf:
        raw = np.asarray(Image.open(io.BytesIO(zf.read("test/airplane/0000.jpg"))).convert("RGB"))
    np.testing.assert_array_equal(seq[0], raw)
