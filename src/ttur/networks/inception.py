"""The FID Inception network: the 2015-12-05 TensorFlow Inception graph, as pytorch-fid ported it.

It differs from torchvision's Inception-v3 in four places that matter for FID: the average pools of
the A, C and first E blocks exclude padding from the mean, the last E block pools with a max, the
classifier has 1008 outputs, and there is no auxiliary head. The parameter names and shapes are
exactly those of ``pt_inception-2015-12-05-6726825d.pth``, so that file loads with ``strict=True``.

Two modules are defined, and the extractor that runs them (:class:`InceptionExtractor`):

* :class:`FIDInception` is the faithful layout (conv, batch norm, ReLU as separate layers), the
  reference for every number.
* :class:`FastFIDInception` is built from it for inference: batch norm folded into the convolutions,
  the 1x1 convolutions that read the same input merged into one, ReLU fused, channels-last memory.
  It computes the same function; its features agree with the reference to float32 rounding
  (see ``tests/test_inception.py`` for the tolerance held).

Both take images already resized to 299x299 and scaled to [-1, 1] (see :mod:`ttur.metrics.preprocess`) and
return the pooled features of the requested block and, on request, the 1008 logits without bias
(the Inception Score's logits, as the TensorFlow graph's ``softmax/logits/MatMul``) and the spatial
features of sFID (:func:`spatial_features`), all from the same pass.

sFID's tensor. ADM's evaluator (openai/guided-diffusion ``evaluations/evaluator.py``; Nash et al.
2021) reads ``mixed_6/conv:0`` of the 2015 graph and keeps ``[..., :7]`` of it (NHWC), flattened per
image: 17 x 17 x 7 = 2023 values. The graph names its Inception blocks ``mixed``, ``mixed_1`` ...
``mixed_10`` in order; the port names the same eleven blocks Mixed_5b, 5c, 5d, 6a, 6b, 6c, 6d, 6e,
7a, 7b, 7c, so ``mixed_6`` is **Mixed_6d** (the third 17x17 block with 160-channel 7x7 towers; some
PyTorch re-implementations of sFID read Mixed_6e instead, which is ``mixed_7``). Inside a block the
graph's un-nested ``conv`` scope is the 1x1 branch (the towers are ``tower/conv``, ``tower_1/conv``
...), which is ``branch1x1`` here, 192 channels, the first part of the block's concat. In that graph
a conv scope ``S`` holds ``S/Conv2D``, ``S/batchnorm`` and ``S/CheckNumerics``, and the op named
``S`` itself is the ReLU that ends it (as ``pool_3`` is the op itself, ``pool_3:0`` its output), so
``mixed_6/conv:0`` is taken to be the output *after* batch norm and ReLU, the same tensor as
``Mixed_6d.branch1x1(x)``. This reading of the graph's naming could not be checked against the
graph itself (no TensorFlow and no graph file here); were ``mixed_6/conv:0`` the pre-ReLU value,
the numbers would differ (the negative entries kept instead of zeroed). NHWC ``[..., :7]`` is
channels 0..6 of the NCHW tensor; the flattening keeps ADM's (h, w, c) order.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .._util import resolve_device
from ..errors import InputError, WeightsError
from ..metrics.preprocess import check_mode, preprocess
from . import INCEPTION_DIMS
from . import weights as W
from .base import FeatureExtractor
from .precision import DEFAULT_PRECISION, DTYPES, check_precision, precision_context

#: feature dimension -> block whose average-pooled output it is (pytorch-fid's choices)
DIMS = INCEPTION_DIMS
NUM_LOGITS = 1008
#: sFID: channels kept of ``mixed_6/conv`` (Mixed_6d.branch1x1), its spatial size, the feature length
SPATIAL_CHANNELS = 7
SPATIAL_SIZE = 17
SPATIAL_DIMS = SPATIAL_SIZE * SPATIAL_SIZE * SPATIAL_CHANNELS  # 2023
#: the tensor sFID reads, as ADM's evaluator names it in the TensorFlow graph
SPATIAL_TENSOR = "mixed_6/conv:0[..., :7]"


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kw) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg3(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_avg3(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """``pool="avg"``: the first E block (average excluding padding); ``"max"``: the last one."""

    def __init__(self, cin: int, pool: str) -> None:
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.pool == "avg":
            p = _avg3(x)
        else:
            p = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        bp = self.branch_pool(p)
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInception(nn.Module):
    """The reference port. ``forward(x, dims, logits)`` on [-1, 1] images of 299x299."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, c7=128)
        self.Mixed_6c = InceptionC(768, c7=160)
        self.Mixed_6d = InceptionC(768, c7=160)
        self.Mixed_6e = InceptionC(768, c7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.fc = nn.Linear(2048, NUM_LOGITS)

    def blocks(self) -> list[list[nn.Module]]:
        """The four stages whose outputs give the 64, 192, 768 and 2048 dimensional features."""
        return [
            [self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, _MaxPool()],
            [self.Conv2d_3b_1x1, self.Conv2d_4a_3x3, _MaxPool()],
            [self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a,
             self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e],
            [self.Mixed_7a, self.Mixed_7b, self.Mixed_7c],
        ]

    def spatial_module(self) -> nn.Module:
        """The module whose output holds ``mixed_6/conv`` in its first 192 channels (here: all of it)."""
        return self.Mixed_6d.branch1x1

    def forward(self, x: torch.Tensor, dims: int = 2048, logits: bool = False, spatial: bool = False):
        """``(features, logits or None)``; with ``spatial=True`` also sFID's (N, 2023) features."""
        x = x.to(self.Conv2d_1a_3x3.conv.weight.dtype)
        return _run_blocks(self.blocks(), self.fc.weight, x, dims, logits, self.spatial_module() if spatial else None)


class _MaxPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=3, stride=2)


def spatial_features(t: torch.Tensor) -> torch.Tensor:
    """sFID's features from the ``mixed_6/conv`` tensor (N, C >= 7, 17, 17), NCHW: channels 0..6,
    flattened in (h, w, c) order as ADM flattens ``[..., :7]`` of the NHWC tensor -> (N, 2023)."""
    return t[:, :SPATIAL_CHANNELS].permute(0, 2, 3, 1).reshape(t.shape[0], -1).float()


def _run_blocks(
    blocks: list[list[nn.Module]], fc_weight: torch.Tensor, x: torch.Tensor, dims: int, logits: bool,
    spatial_module: nn.Module | None = None,
):
    if dims not in DIMS:
        raise ValueError(f"dims must be one of {DIMS}, not {dims}")
    if spatial_module is None:
        return _run(blocks, fc_weight, x, dims, logits)
    if dims < 768:
        raise ValueError("spatial features need the pass to reach Mixed_6d (dims 768 or 2048)")
    # a hook for this call only: a plain FID pass carries no hook and no copy
    seen: list[torch.Tensor] = []
    handle = spatial_module.register_forward_hook(lambda m, i, o: seen.append(spatial_features(o)))
    try:
        feats, out_logits = _run(blocks, fc_weight, x, dims, logits)
    finally:
        handle.remove()
    return feats, out_logits, seen[0]


def _pool(x: torch.Tensor) -> torch.Tensor:
    """The spatial mean of each channel, in float32 whatever the precision of the pass."""
    return torch.flatten(F.adaptive_avg_pool2d(x.float(), 1), 1)


def _run(blocks, fc_weight, x, dims, logits):
    last = DIMS.index(dims) if not logits else 3
    feats = None
    for i, block in enumerate(blocks[: last + 1]):
        for layer in block:
            x = layer(x)
        if i == DIMS.index(dims):
            feats = _pool(x)
    out_logits = None
    if logits:
        pool3 = feats if dims == 2048 else _pool(x)
        out_logits = pool3 @ fc_weight.float().t()
    assert feats is not None
    return feats, out_logits


# ---------------------------------------------------------------------------------------------
# The inference build: batch norm folded, shared-input 1x1 convolutions merged, channels last.
# ---------------------------------------------------------------------------------------------


def _fold(bc: BasicConv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of one convolution equal to conv followed by batch norm (inference)."""
    bn = bc.bn
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.detach().double() + bn.eps)
    w = bc.conv.weight.detach().double() * scale[:, None, None, None]
    b = bn.bias.detach().double() - bn.running_mean.detach().double() * scale
    return w.float(), b.float()


def _mkldnn_fusable(x: torch.Tensor) -> bool:
    """The fused oneDNN kernel applies (after the input is made channels-last contiguous); bfloat16 and
    float16 only where the precision's check found them native (:func:`~ttur.networks.precision.check_precision`)."""
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.bfloat16, torch.float16)
        and not torch.is_grad_enabled()
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
    )


class _ConvReLU(nn.Module):
    """One or several folded convolutions of the same shape on the same input, run as one.

    On the CPU the convolution and its ReLU run as one oneDNN primitive on weights reordered once
    into oneDNN's blocked layout (the fusion inductor applies; about 1.2x faster than eager here).
    """

    def __init__(self, *bcs: BasicConv2d, relu: bool = True) -> None:
        super().__init__()
        c = bcs[0].conv
        folded = [_fold(bc) for bc in bcs]
        self.conv = nn.Conv2d(
            c.in_channels,
            sum(bc.conv.out_channels for bc in bcs),
            c.kernel_size,
            stride=c.stride,
            padding=c.padding,
            bias=True,
        )
        with torch.no_grad():
            self.conv.weight.copy_(torch.cat([w for w, _ in folded]))
            self.conv.bias.copy_(torch.cat([b for _, b in folded]))
        self.splits = [bc.conv.out_channels for bc in bcs]
        self.relu = relu
        self._packed: torch.Tensor | None = None

    def _apply(self, fn, recurse=True):  # moving or casting the module drops the packed weights
        self._packed = None
        return super()._apply(fn, recurse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        if _mkldnn_fusable(x):
            # a branch of a merged head is a channel slice: one copy, and it takes the fused kernel too
            x = x.contiguous(memory_format=torch.channels_last)
            args = (list(c.padding), list(c.stride), list(c.dilation), c.groups)
            if self._packed is None:
                self._packed = torch.ops.mkldnn._reorder_convolution_weight(c.weight, *args, list(x.shape))
            attr = "relu" if self.relu else "none"
            return torch.ops.mkldnn._convolution_pointwise(x, self._packed, c.bias, *args, attr, [], "")
        y = c(x)
        return F.relu(y) if self.relu else y

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(self(x), self.splits, 1)


class _PoolBranch(nn.Module):
    """relu(conv1x1(avg_pool(x))) computed as relu(avg_pool(conv1x1(x))).

    The two are equal: the 1x1 convolution is affine per pixel and the padding-excluding average
    weighs each window with weights that sum to one. Pooling after the convolution pools 32 to 192
    channels instead of 192 to 2048.
    """

    def __init__(self, bc: BasicConv2d) -> None:
        super().__init__()
        self.conv = _ConvReLU(bc, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(_avg3(self.conv(x)))


class _FastA(nn.Module):
    def __init__(self, m: InceptionA) -> None:
        super().__init__()
        self.head = _ConvReLU(m.branch1x1, m.branch5x5_1, m.branch3x3dbl_1)
        self.b5 = _ConvReLU(m.branch5x5_2)
        self.b3_2 = _ConvReLU(m.branch3x3dbl_2)
        self.b3_3 = _ConvReLU(m.branch3x3dbl_3)
        self.pool = _PoolBranch(m.branch_pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b5, b3 = self.head.split(x)
        return torch.cat([b1, self.b5(b5), self.b3_3(self.b3_2(b3)), self.pool(x)], 1)


class _FastB(nn.Module):
    def __init__(self, m: InceptionB) -> None:
        super().__init__()
        self.b3 = _ConvReLU(m.branch3x3)
        self.d1 = _ConvReLU(m.branch3x3dbl_1)
        self.d2 = _ConvReLU(m.branch3x3dbl_2)
        self.d3 = _ConvReLU(m.branch3x3dbl_3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([self.b3(x), self.d3(self.d2(self.d1(x))), bp], 1)


class _FastC(nn.Module):
    def __init__(self, m: InceptionC) -> None:
        super().__init__()
        self.head = _ConvReLU(m.branch1x1, m.branch7x7_1, m.branch7x7dbl_1)
        self.b7 = nn.Sequential(_ConvReLU(m.branch7x7_2), _ConvReLU(m.branch7x7_3))
        self.bd = nn.Sequential(*(_ConvReLU(getattr(m, f"branch7x7dbl_{i}")) for i in range(2, 6)))
        self.pool = _PoolBranch(m.branch_pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b7, bd = self.head.split(x)
        return torch.cat([b1, self.b7(b7), self.bd(bd), self.pool(x)], 1)


class _FastD(nn.Module):
    def __init__(self, m: InceptionD) -> None:
        super().__init__()
        self.head = _ConvReLU(m.branch3x3_1, m.branch7x7x3_1)
        self.b3 = _ConvReLU(m.branch3x3_2)
        self.b7 = nn.Sequential(*(_ConvReLU(getattr(m, f"branch7x7x3_{i}")) for i in range(2, 5)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3, b7 = self.head.split(x)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([self.b3(b3), self.b7(b7), bp], 1)


class _FastE(nn.Module):
    def __init__(self, m: InceptionE) -> None:
        super().__init__()
        self.pool_kind = m.pool
        self.head = _ConvReLU(m.branch1x1, m.branch3x3_1, m.branch3x3dbl_1)
        self.b3a = _ConvReLU(m.branch3x3_2a)
        self.b3b = _ConvReLU(m.branch3x3_2b)
        self.d2 = _ConvReLU(m.branch3x3dbl_2)
        self.d3a = _ConvReLU(m.branch3x3dbl_3a)
        self.d3b = _ConvReLU(m.branch3x3dbl_3b)
        if m.pool == "avg":
            self.pool: nn.Module = _PoolBranch(m.branch_pool)
        else:
            self.pool = _ConvReLU(m.branch_pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b3, bd = self.head.split(x)
        bd = self.d2(bd)
        if self.pool_kind == "avg":
            bp = self.pool(x)
        else:
            bp = self.pool(F.max_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, self.b3a(b3), self.b3b(b3), self.d3a(bd), self.d3b(bd), bp], 1)


class FastFIDInception(nn.Module):
    """Inference-only build of :class:`FIDInception` (same function, fewer and larger kernels)."""

    def __init__(self, ref: FIDInception) -> None:
        super().__init__()
        self.stem0 = nn.Sequential(
            _ConvReLU(ref.Conv2d_1a_3x3), _ConvReLU(ref.Conv2d_2a_3x3), _ConvReLU(ref.Conv2d_2b_3x3), _MaxPool()
        )
        self.stem1 = nn.Sequential(_ConvReLU(ref.Conv2d_3b_1x1), _ConvReLU(ref.Conv2d_4a_3x3), _MaxPool())
        self.mixed6 = nn.Sequential(
            _FastA(ref.Mixed_5b), _FastA(ref.Mixed_5c), _FastA(ref.Mixed_5d), _FastB(ref.Mixed_6a),
            _FastC(ref.Mixed_6b), _FastC(ref.Mixed_6c), _FastC(ref.Mixed_6d), _FastC(ref.Mixed_6e),
        )
        self.mixed7 = nn.Sequential(_FastD(ref.Mixed_7a), _FastE(ref.Mixed_7b), _FastE(ref.Mixed_7c))
        self.register_buffer("fc_weight", ref.fc.weight.detach().clone())
        self.eval()
        self.requires_grad_(False)

    def spatial_module(self) -> nn.Module:
        """Mixed_6d's merged 1x1 head: its first 192 output channels are ``branch1x1`` (``mixed_6/conv``)."""
        return self.mixed6[6].head

    def forward(self, x: torch.Tensor, dims: int = 2048, logits: bool = False, spatial: bool = False):
        x = x.to(self.stem0[0].conv.weight.dtype).contiguous(memory_format=torch.channels_last)
        if x.device.type == "cpu" and x.shape[0] > STEM_CHUNK and (dims >= 768 or logits):
            # the stem's activations (147x147x64 a image) outgrow the caches at a batch of 50: run it a few
            # images at a time (the same numbers, image by image; about 10% faster for the whole pass)
            blocks = [[], [self._stem_in_chunks], [self.mixed6], [self.mixed7]]
        else:
            blocks = [[self.stem0], [self.stem1], [self.mixed6], [self.mixed7]]
        return _run_blocks(blocks, self.fc_weight, x, dims, logits, self.spatial_module() if spatial else None)

    def _stem_in_chunks(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.stem1(self.stem0(x[i:i + STEM_CHUNK])) for i in range(0, x.shape[0], STEM_CHUNK)])


STEM_CHUNK = 4  # images at a time through the stem on the CPU


def expected_keys() -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of the reference state dict, in order."""
    return [(k, tuple(v.shape)) for k, v in FIDInception().state_dict().items()]


# ----------------------------------------------------------------------------------------------
# The extractor
# ----------------------------------------------------------------------------------------------

_MODEL_CACHE: dict[tuple, nn.Module] = {}
_WARNED: set[str] = set()


class InceptionExtractor(FeatureExtractor):
    """The FID Inception network with a preprocessing mode.

    ``fast=True`` (default) runs the inference build (batch norm folded, merged convolutions,
    channels-last, fused oneDNN kernels on the CPU); ``fast=False`` the reference layout.
    ``precision``: ``fp32`` (default), or ``bf16``, ``tf32``, ``fp16`` where the device has them
    (:mod:`ttur.networks.precision`; features then move by the amounts the README states).
    """

    has_logits = True

    def __init__(self, weights: str | Path | None = None, mode: str = "tf", dims: int = 2048,
                 device=None, fast: bool = True, allow_download: bool | None = None,
                 precision: str = DEFAULT_PRECISION) -> None:
        self.mode = check_mode(mode)
        if dims not in DIMS:
            raise InputError(f"dims: must be one of {', '.join(map(str, DIMS))}, not {dims}")
        self.dims = dims
        self.device = resolve_device(device)
        self.precision = check_precision(precision, self.device)
        self.path = W.resolve_weights(weights, allow_download=allow_download)
        self.weights_sha256 = W.sha256_file(self.path)
        self.official = self.weights_sha256 == W.SHA256
        if not self.official and str(self.path) not in _WARNED:
            _WARNED.add(str(self.path))
            warnings.warn(
                f"{self.path} is not the official FID Inception weights file (sha256 "
                f"{self.weights_sha256[:12]}...): its numbers are not comparable with published FIDs",
                stacklevel=2,
            )
        self.name = "inception"
        key = (str(self.path), self.weights_sha256, str(self.device), fast, self.precision)
        if key not in _MODEL_CACHE:
            _MODEL_CACHE.clear()  # one network at a time: 95 MB each
            _MODEL_CACHE[key] = build_inception(self.path, self.device, fast, self.precision)
        self.model = _MODEL_CACHE[key]

    @property
    def is_inception(self) -> bool:
        return True

    has_spatial = True

    def meta(self) -> dict:
        return {**super().meta(), "precision": self.precision}

    def forward(self, pixels: torch.Tensor, logits: bool, spatial: bool = False):
        """``(features, logits or None)``; ``spatial=True`` adds sFID's (N, 2023) features of the same pass."""
        x = pixels.to(self.device, non_blocking=True)
        x = preprocess(x, self.mode)
        with torch.inference_mode(), precision_context(self.precision):
            if spatial:
                return self.model(x, dims=self.dims, logits=logits, spatial=True)
            return self.model(x, dims=self.dims, logits=logits)


def build_inception(path: str | Path, device: torch.device, fast: bool = True,
                    precision: str = DEFAULT_PRECISION) -> nn.Module:
    """The network on ``device``, its weights in the dtype of ``precision`` (batch norm folded in float64
    first, then cast)."""
    ref = FIDInception()
    sd = W.load_state_dict(path)
    try:
        ref.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise WeightsError(f"{path}: these weights do not fit the FID Inception network ({first})") from e
    ref.eval().requires_grad_(False)
    model = FastFIDInception(ref) if fast else ref
    return model.to(device=device, dtype=DTYPES[precision])
