"""Images/s of ttur's DINOv2 ViT-L/14 and CLIP ViT-L/14@336px forward against a reference forward.

The reference is the official model code when a checkout is given (it is not a ttur dependency;
nothing of it is copied here):

    --dinov2-repo DIR   a checkout of facebookresearch/dinov2 (built with torch.hub.load(DIR,
                        "dinov2_vitl14", source="local", pretrained=False))
    --clip-repo DIR     a checkout of openai/CLIP (its clip/model.py VisionTransformer, loaded as a
                        file, so the package's torchvision import is not needed)

Without a checkout the reference is a plain eager forward written here (explicit q k^T softmax,
separate LayerScale, every token through every block), labelled "plain eager" in the output.

Both networks get the same seeded weights (the stand-in recipe of fixtures/fake_weights_vit.py,
drawn with torch for speed) and the same preprocessed inputs; only the forward is timed. Prints
images/s, the speed ratio and the largest feature difference. ``--bf16`` also times ttur's forward
under bfloat16 autocast and prints its feature error against float32 (fast only on CPUs with
bf16 instructions, or on CUDA).

    PYTHONPATH=src python benchmarks/bench_vit.py --n 16 --batch 8 --threads 2 \
        --dinov2-repo ../dinov2 --clip-repo ../CLIP

Measured (2 shared AVX2 cores, load about 8, torch 2.13 CPU, 8 images, batch 8, 2 threads;
dinov2 @ b8931f7, openai/CLIP @ d05afc4): DINOv2 ViT-L/14 0.192 img/s against 0.167 (x1.15),
features within 2.5e-6; CLIP ViT-L/14@336px 0.105 img/s against 0.090 (x1.16), embeddings within
3e-8. The official forwards already use scaled_dot_product_attention and the float32 matrix
products are over 80 % of the time, so the gain comes from the class-token-only last block, fused
residual updates, in-place activations and the channels-last patch embedding: x1.5 is out of
reach in float32 on such a CPU. bfloat16 autocast (no bf16 instructions there: slower on that CPU)
moves ViT-S/14 features by 1.4e-2 (features up to 4.1), far outside the golden tolerance.

On a 2-core AMD EPYC with AVX512-BF16, idle (``--n 8 --batch 8 --threads 2 --bf16``, plain eager
reference, one network at a time): DINOv2 ViT-L/14 1.054 img/s against 0.960 (x1.10), bf16 autocast
1.989 img/s (1.89x float32), features moved by 2.18e-2 (features up to 4.14); CLIP ViT-L/14@336px
0.438 against 0.369 (x1.19), bf16 autocast 0.801 img/s (1.83x), embeddings moved by 1.02e-3 (up to
0.12). That autocast is what ``--precision bf16`` runs for DINOv2 and CLIP.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ttur.networks import clip, dinov2


def stand_in_(model: torch.nn.Module, seed: int = 0) -> None:
    """Seeded weights with the scales of the golden stand-ins."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            x = torch.randn(p.shape, generator=g)
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "gamma":
                p.copy_(0.3 + 0.4 * torch.rand(p.shape, generator=g))
            elif leaf in ("cls_token", "class_embedding", "pos_embed", "positional_embedding"):
                p.copy_(0.5 * x)
            elif leaf == "mask_token":
                p.copy_(0.02 * x)
            elif leaf == "proj" and p.ndim == 2:
                p.copy_(x / math.sqrt(p.shape[0]))
            elif leaf == "bias":
                p.copy_(0.1 * x)
            elif p.ndim == 1:  # LayerNorm weight
                p.copy_(1 + 0.1 * x)
            else:
                p.copy_(x / math.sqrt(p[0].numel()))


# ---------------------------------------------------------------------------------------------
# Plain eager references (used when no official checkout is given)
# ---------------------------------------------------------------------------------------------

def _plain_block(blk, x, ls: bool, act):
    def attn(h):
        b, n, d = h.shape
        heads = blk.attn.heads
        qkv = F.linear(h, blk.attn.qkv.weight, blk.attn.qkv.bias).reshape(b, n, 3, heads, d // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = (q * (d // heads) ** -0.5) @ k.transpose(-2, -1)
        y = (a.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, d)
        return F.linear(y, blk.attn.proj.weight, blk.attn.proj.bias)

    def mlp(h):
        return F.linear(act(F.linear(h, blk.mlp.fc1.weight, blk.mlp.fc1.bias)), blk.mlp.fc2.weight, blk.mlp.fc2.bias)

    y = attn(F.layer_norm(x, x.shape[-1:], blk.norm1.weight, blk.norm1.bias, blk.norm1.eps))
    x = x + (blk.ls1.gamma * y if ls else y)
    y = mlp(F.layer_norm(x, x.shape[-1:], blk.norm2.weight, blk.norm2.bias, blk.norm2.eps))
    return x + (blk.ls2.gamma * y if ls else y)


def plain_dinov2(m: dinov2.DINOv2):
    def fwd(x):
        n = x.shape[0]
        t = F.conv2d(x, m.patch_embed.proj.weight, m.patch_embed.proj.bias, stride=14).flatten(2).transpose(1, 2)
        t = torch.cat((m.cls_token.expand(n, -1, -1), t), dim=1) + m.position_embedding(16, 16)
        for blk in m.blocks:
            t = _plain_block(blk, t, True, F.gelu)
        t = F.layer_norm(t, t.shape[-1:], m.norm.weight, m.norm.bias, m.norm.eps)
        return t[:, 0]
    return fwd


def plain_clip(m: clip.CLIPVision):
    def fwd(x):
        n = x.shape[0]
        t = F.conv2d(x, m.patch_embed.proj.weight, stride=14).flatten(2).transpose(1, 2)
        t = torch.cat((m.class_embedding.expand(n, 1, -1), t), dim=1) + m.positional_embedding
        t = m.ln_pre(t)
        for blk in m.blocks:
            t = _plain_block(blk, t, False, lambda h: h * torch.sigmoid(1.702 * h))
        e = m.ln_post(t[:, 0]) @ m.proj
        return e / e.norm(dim=-1, keepdim=True)
    return fwd


# ---------------------------------------------------------------------------------------------
# Official references
# ---------------------------------------------------------------------------------------------

def official_dinov2(repo: str, m: dinov2.DINOv2):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.hub.load(repo, "dinov2_vitl14", source="local", pretrained=False)
    ref.load_state_dict(m.state_dict(), strict=True)  # the official keys are ttur's
    return ref.eval()


def official_clip(repo: str, m: clip.CLIPVision, device="cpu"):
    spec = importlib.util.spec_from_file_location("openai_clip_model", Path(repo) / "clip" / "model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ref = mod.VisionTransformer(input_resolution=336, patch_size=14, width=1024, layers=24, heads=16, output_dim=768)
    inv_block = {v: k for k, v in clip._BLOCK_OPENAI.items()}
    inv_top = {v: k for k, v in clip._TOP_OPENAI.items()}
    sd = {}
    for k, v in m.state_dict().items():
        if k.startswith("blocks."):
            _, i, rest = k.split(".", 2)
            sd[f"transformer.resblocks.{i}.{inv_block[rest]}"] = v
        else:
            sd[inv_top[k]] = v
    ref.load_state_dict(sd, strict=True)
    ref.eval().to(device)

    def fwd(x):
        e = ref(x)
        return e / e.norm(dim=-1, keepdim=True)
    return fwd


def timed(fn, x: torch.Tensor, batch: int, repeats: int, autocast: bool = False, device="cpu"):
    """(images/s of the best repeat, outputs of the last)."""
    best, out = float("inf"), None
    with torch.inference_mode(), torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16,
                                                enabled=autocast):
        fn(x[:batch])  # warm-up
        for _ in range(repeats):
            if device != "cpu":
                torch.cuda.synchronize()
            t = time.perf_counter()
            out = torch.cat([fn(x[i:i + batch]).float() for i in range(0, len(x), batch)])
            if device != "cpu":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t)
    return len(x) / best, out


def run(name, ours, ref, ref_label, x, args):
    r_ours, f_ours = timed(ours, x, args.batch, args.repeats, device=args.device)
    r_ref, f_ref = timed(ref, x, args.batch, args.repeats, device=args.device)
    diff = (f_ours - f_ref).abs().max().item()
    scale = f_ref.abs().max().item()
    print(f"{name}: ttur {r_ours:.3f} img/s, {ref_label} {r_ref:.3f} img/s, x{r_ours / r_ref:.2f}; "
          f"max |feature diff| {diff:.2e} (features up to {scale:.2f})", flush=True)
    if args.bf16:
        r_bf, f_bf = timed(ours, x, args.batch, args.repeats, autocast=True, device=args.device)
        print(f"{name}: ttur bf16 autocast {r_bf:.3f} img/s, max |feature error vs float32| "
              f"{(f_bf - f_ours).abs().max().item():.2e}", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8, help="images per timed pass")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dinov2-repo")
    ap.add_argument("--clip-repo")
    ap.add_argument("--only", choices=["dinov2", "clip"])
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 matmuls on CUDA")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"{args.n} images, batch {args.batch}", flush=True)
    g = torch.Generator().manual_seed(1)
    imgs = torch.randint(0, 256, (args.n, 256, 256, 3), dtype=torch.uint8, generator=g).numpy()

    if args.only in (None, "dinov2"):
        m = dinov2.DINOv2("vitl14")
        stand_in_(m)
        ref, label = ((official_dinov2(args.dinov2_repo, m), "official dinov2") if args.dinov2_repo
                      else (plain_dinov2(m), "plain eager"))
        if args.dinov2_repo:
            ref = ref.to(args.device)
        m = m.to(args.device)
        x = dinov2.preprocess(imgs, "edm2").to(args.device)
        run("DINOv2 ViT-L/14 224px", m, ref, label, x, args)
        del m, ref
    if args.only in (None, "clip"):
        m = clip.CLIPVision()
        stand_in_(m)
        ref, label = ((official_clip(args.clip_repo, m, args.device), "OpenAI model.py") if args.clip_repo
                      else (plain_clip(m), "plain eager"))
        m = m.to(args.device)
        x = clip.preprocess(imgs).to(args.device)
        run("CLIP ViT-L/14@336px", m, ref, label, x, args)


if __name__ == "__main__":
    sys.exit(main())
