"""The arithmetic a feature network runs in: float32 by default, lower precisions on request.

Every number ttur reports by default comes from float32 arithmetic, as the reference code's do (on
GPUs TF32 is switched off inside the pass: PyTorch allows it for cuDNN convolutions by default, and it
moves Inception features by about 1e-3). Faster precisions are options that must be asked for, and a
device that cannot run one is refused in one line instead of emulating it slowly:

``fp32``  float32 everywhere (default; the golden tests hold 1e-4 of the reference features).
``bf16``  bfloat16 activations and weights: CPUs with native bfloat16 (AVX512-BF16 or AMX, as oneDNN
          reports it) and CUDA GPUs that support it. Features move by about 1e-2 of their scale.
``tf32``  float32 storage, TF32 matrix units for convolutions and matrix products: CUDA GPUs of compute
          capability 8.0 (Ampere) or later only.
``fp16``  float16 activations and weights: CUDA GPUs, or CPUs whose oneDNN has native float16.

Pooled features, logits and spatial features are always returned as float32, and the statistics are
accumulated in float64 whatever the precision. The precision is recorded in statistics files and in
the record of every result; statistics files made at different precisions are not compared.
"""

from __future__ import annotations

import contextlib

import torch

from ..errors import InputError
from . import PRECISIONS, precision_name

DEFAULT_PRECISION = "fp32"
#: the dtype of the activations and weights at each precision (TF32 stores float32)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "tf32": torch.float32, "fp16": torch.float16}
#: the name the record's ``dtype`` gives each precision
DTYPE_NAMES = {"fp32": "float32", "bf16": "bfloat16", "tf32": "tf32", "fp16": "float16"}


def cpu_supports(precision: str) -> bool:
    """Whether this CPU runs ``precision`` natively (oneDNN's own test of its instruction sets)."""
    if precision == "fp32":
        return True
    if precision == "tf32" or not torch.backends.mkldnn.is_available():
        return False
    probe = {"bf16": "_is_mkldnn_bf16_supported", "fp16": "_is_mkldnn_fp16_supported"}[precision]
    fn = getattr(torch.ops.mkldnn, probe, None)
    try:
        return bool(fn()) if fn is not None else False
    except RuntimeError:
        return False


def cuda_supports(precision: str, device: torch.device) -> bool:
    if precision in ("fp32", "fp16"):
        return True
    if precision == "bf16":
        return bool(torch.cuda.is_bf16_supported())
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8  # tf32


def check_precision(precision: str | None, device: torch.device) -> str:
    """``precision`` checked against the known names (:func:`~ttur.networks.precision_name`) and against
    ``device``; returns it (None: fp32)."""
    p = precision_name(precision)
    if p == DEFAULT_PRECISION:
        return p
    if device.type == "cuda":
        if not cuda_supports(p, device):
            need = "compute capability 8.0 or later" if p == "tf32" else "bfloat16 support"
            raise InputError(f"precision: {p} needs a CUDA GPU with {need}; {torch.cuda.get_device_name(device)} "
                             "has none (use fp32)")
        return p
    if device.type == "cpu":
        if p == "tf32":
            raise InputError("precision: tf32 is a CUDA GPU precision; on the CPU use fp32 (or bf16 where the CPU "
                             "has it)")
        if not cpu_supports(p):
            raise InputError(f"precision: this CPU has no native {p} (oneDNN finds no "
                             f"{'AVX512-BF16 or AMX' if p == 'bf16' else 'AVX512-FP16 or AMX-FP16'} instructions); "
                             "use fp32")
        return p
    raise InputError(f"precision: {p} is offered on CPU and CUDA devices only, not {device.type}")


@contextlib.contextmanager
def precision_context(precision: str = DEFAULT_PRECISION):
    """TF32 on for ``tf32`` and off for every other precision, inside the pass only.

    On Ampere and later GPUs PyTorch allows TF32 for cuDNN convolutions by default; it would move float32
    features by ~1e-3, far outside the 1e-4 the golden tests hold on the CPU.
    """
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def full_precision():
    """float32 arithmetic inside (TF32 off): :func:`precision_context` at ``fp32``."""
    return precision_context(DEFAULT_PRECISION)


__all__ = ["DEFAULT_PRECISION", "DTYPES", "DTYPE_NAMES", "PRECISIONS", "check_precision", "cpu_supports",
           "full_precision", "precision_context"]
