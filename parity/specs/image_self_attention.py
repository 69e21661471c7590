"""Self-attention over the positions of an NCHW map.

One `ModuleSpec` per block pair, alphabetical; `FAMILY` lists them for the registry."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.randomize import randomize_torch
from parity.spec import Case, InvalidConfig, ModuleSpec, Quirk, expect
from parity.strategies import batches, image_case, image_shapes, odd_kernels, sizes
from parity.weights import transfer_weights

# ----------------------------------------------------------------------------------------------
# Upstream quirks the references keep, each with the check that proves it.


def _check_da_module_has_no_residual_gamma_or_bn() -> None:
    keys = reference_torch.DAModule(d_model=8, kernel_size=3, H=3, W=4).state_dict()
    extra = [key for key in keys if "gamma" in key or "bn" in key or "norm" in key]
    expect(not extra, f"unexpected keys {extra}")


def _pair(torch_class: type, keras_class: type, config: dict, channels: int, seed: int = 0):
    """A float64 torch reference with randomised weights and its Keras port holding the same."""
    module = torch_class(**config).double().eval()
    randomize_torch(module, seed)
    layer = keras_class(**config, dtype="float64")
    layer(np.zeros((2, 3, 4, channels)))  # build (NHWC)
    transfer_weights(module, layer)
    return module, layer


def _run_both(module, layer, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both outputs in NCHW for an NCHW float64 input."""
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    actual = np.asarray(layer(np.moveaxis(x, 1, -1), training=False))
    return expected, np.moveaxis(actual, -1, 1)


def _check_cot_averages_its_attention_map() -> None:
    k, dim = 3, 8
    module, layer = _pair(
        reference_torch.CoTAttention, tf_attention.CoTAttention, {"dim": dim, "kernel_size": k}, dim
    )
    x = np.random.default_rng(4).standard_normal((2, dim, 5, 4))
    before = _run_both(module, layer, x)
    rng = np.random.default_rng(5)
    # Output channel c * k*k + j of attention_embed.3 belongs to channel c: shuffling the rows
    # within each channel's k*k block changes nothing; moving whole blocks across channels does.
    within = np.concatenate([c * k * k + rng.permutation(k * k) for c in range(dim)])
    across = np.concatenate([(c + 1) % dim * k * k + np.arange(k * k) for c in range(dim)])
    last = module.attention_embed[3]
    weight, bias = last.weight.detach().clone(), last.bias.detach().clone()
    for order, same in ((within, True), (across, False)):
        with torch.no_grad():
            last.weight.copy_(weight[order])
            last.bias.copy_(bias[order])
        transfer_weights(module, layer)
        after = _run_both(module, layer, x)
        for side, old, new in zip(("torch", "Keras"), before, after, strict=True):
            unchanged = np.allclose(new, old, rtol=1e-12, atol=1e-12)
            expect(unchanged == same, f"{side}: {'within' if same else 'across'}-block shuffle")


def _check_criss_cross_identity_at_init() -> None:
    module = reference_torch.CrissCrossAttention(16).eval()
    x = np.random.default_rng(0).standard_normal((2, 16, 5, 7)).astype("float32")
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    nhwc = np.moveaxis(x, 1, -1)
    actual = np.asarray(tf_attention.CrissCrossAttention(16)(nhwc))
    expect(np.array_equal(expected, x), "torch is not the identity at init")
    expect(np.array_equal(actual, nhwc), "Keras is not the identity at init")


def _independent_double_attention(module, x: torch.Tensor, softmax_dim: int) -> torch.Tensor:
    """MODULES-2 section 4's forward in plain torch ops, with the softmaxes over `softmax_dim`."""
    b, _, h, w = x.shape
    features = module.convA(x).flatten(2)  # (B, c_m, HW)
    maps = torch.softmax(module.convB(x).flatten(2), dim=softmax_dim)  # (B, c_n, HW)
    vectors = torch.softmax(module.convV(x).flatten(2), dim=softmax_dim)
    z = torch.einsum("bms,bns->bmn", features, maps) @ vectors  # (B, c_m, HW)
    return module.conv_reconstruct(z.reshape(b, -1, h, w))


def _check_double_attention_softmax_over_the_batch() -> None:
    config = {"in_channels": 8, "c_m": 4, "c_n": 6}
    module, layer = _pair(reference_torch.DoubleAttention, tf_attention.DoubleAttention, config, 8)
    x = np.random.default_rng(1).standard_normal((3, 8, 5, 7))
    with torch.no_grad():
        expected = module(torch.from_numpy(x))
        over_batch = _independent_double_attention(module, torch.from_numpy(x), softmax_dim=0)
        over_positions = _independent_double_attention(module, torch.from_numpy(x), softmax_dim=-1)
    expect(torch.allclose(expected, over_batch, rtol=1e-12, atol=1e-12), "not over dim 0")
    expect(float((expected - over_positions).abs().max()) > 1e-2, "over the positions")
    # So a sample's output depends on the rest of the batch, on both sides.
    batch, alone = _run_both(module, layer, x), _run_both(module, layer, x[:1])
    for side, in_batch, by_itself in zip(("torch", "Keras"), batch, alone, strict=True):
        expect(np.abs(in_batch[:1] - by_itself).max() > 1e-2, f"{side}: sample 0 is independent")


def _check_double_attention_batch_one_is_degenerate() -> None:
    config = {"in_channels": 8, "c_m": 4, "c_n": 6, "reconstruct": False}
    module, layer = _pair(reference_torch.DoubleAttention, tf_attention.DoubleAttention, config, 8)
    x = np.random.default_rng(2).standard_normal((1, 8, 5, 7))
    with torch.no_grad():
        features = module.convA(torch.from_numpy(x)).numpy()  # (1, c_m, H, W)
    # Both softmaxes over one sample are 1: Z[m, s] = c_n * sum over s' of A[m, s'], everywhere.
    expected = np.broadcast_to(6 * features.sum(axis=(2, 3), keepdims=True), features.shape)
    for side, output in zip(("torch", "Keras"), _run_both(module, layer, x), strict=True):
        expect(np.allclose(output, expected, rtol=1e-12, atol=1e-12), f"{side}: not c_n * sum A")


# ----------------------------------------------------------------------------------------------
# Contextual Transformer Networks (Li et al., 2021), https://arxiv.org/abs/2107.12292


@st.composite
def cot_attention_cases(draw: st.DrawFn) -> Case:
    """CoTAttention: dim a multiple of 4 (groups=4 key conv), odd kernel_size (may exceed the
    image: zero padding k//2 keeps the size), H and W independent."""
    dim = 4 * draw(st.integers(1, 12), label="dim // 4")
    kernel_size = draw(odd_kernels(max_kernel=7), label="kernel_size")
    shape = draw(image_shapes(dim), label="shape")
    return image_case({"dim": dim, "kernel_size": kernel_size}, shape)


COT_ATTENTION = ModuleSpec(
    name="CoTAttention",
    torch_class=reference_torch.CoTAttention,
    keras_class=tf_attention.CoTAttention,
    layout="image",
    cases=cot_attention_cases,
    # Upstream README uses batch 50: 1.7 s (float32) and 9.9 s (float64) per comparison on one CPU
    # thread for its 1024 -> 256 -> 4608 channel 1x1 convs; batch 2 keeps upstream's sizes
    # otherwise.
    upstream_case=Case({"dim": 512, "kernel_size": 3}, ((2, 512, 7, 7),), label="upstream README"),
    asymmetric_case=Case({"dim": 12, "kernel_size": 3}, ((2, 12, 5, 7),), label="asymmetric"),
    smoke_cases=(
        Case({"dim": 8, "kernel_size": 1}, ((2, 8, 4, 6),), label="kernel_size=1"),
        Case({"dim": 16, "kernel_size": 7}, ((2, 16, 3, 5),), label="kernel 7 on a 3x5 image"),
        Case({"dim": 8, "kernel_size": 3}, ((3, 8, 1, 1),), label="1x1 image: softmax over one"),
    ),
    invalid_configs=(
        InvalidConfig(
            {"dim": 6, "kernel_size": 3},
            match="Received: dim=6",
            reason="key_embed is a conv with groups=4: dim must be divisible by 4",
        ),
        InvalidConfig(
            {"dim": 8, "kernel_size": 2},
            match="Received: kernel_size=2",
            reason="even kernel: padding k//2 grows the keys by one and the concatenation fails",
        ),
        InvalidConfig({"dim": 0, "kernel_size": 3}, match="Received: dim=0", reason="no channels"),
        InvalidConfig(
            {"dim": 8, "kernel_size": 3},
            match="8 channels",
            input_shape=(2, 12, 5, 3),
            reason="input channel count differs from `dim`",
        ),
    ),
    quirks=(
        Quirk(
            "k*k attention map averaged",
            "upstream builds a k*k*dim attention map and takes its mean over the k*k positions: "
            "no local neighbourhood aggregation",
            _check_cot_averages_its_attention_map,
        ),
    ),
    paper="Li et al., 2021, https://arxiv.org/abs/2107.12292",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# Criss-cross attention, CCNet (Huang et al., 2019), https://arxiv.org/abs/1811.11721


@st.composite
def criss_cross_attention_cases(draw: st.DrawFn) -> Case:
    """CrissCrossAttention: in_dim >= 8 (not necessarily a multiple of 8: 12 // 8 = 1), H and W
    independent, 1x1 and single rows or columns included (the W part always holds the position
    itself, so the -inf diagonal of the H part never empties a softmax row)."""
    in_dim = draw(st.integers(8, 64), label="in_dim")
    shape = draw(image_shapes(in_dim), label="shape")
    return image_case({"in_dim": in_dim}, shape)


CRISS_CROSS_ATTENTION = ModuleSpec(
    name="CrissCrossAttention",
    torch_class=reference_torch.CrissCrossAttention,
    keras_class=tf_attention.CrissCrossAttention,
    layout="image",
    cases=criss_cross_attention_cases,
    upstream_case=Case({"in_dim": 64}, ((3, 64, 7, 7),), label="upstream README"),
    asymmetric_case=Case({"in_dim": 20}, ((2, 20, 5, 9),), label="asymmetric"),
    smoke_cases=(
        Case({"in_dim": 12}, ((2, 12, 1, 6),), label="H = 1: the H part is only -inf"),
        Case({"in_dim": 16}, ((3, 16, 6, 1),), label="W = 1"),
        Case({"in_dim": 8}, ((2, 8, 1, 1),), label="1x1 image, in_dim // 8 = 1"),
    ),
    invalid_configs=(
        InvalidConfig(
            {"in_dim": 4},
            match="Received: in_dim=4",
            reason="in_dim // 8 = 0 query/key channels (upstream fails in forward)",
        ),
        InvalidConfig(
            {"in_dim": 16},
            match="16 channels",
            input_shape=(2, 12, 5, 6),
            reason="input channel count differs from in_dim",
        ),
    ),
    quirks=(
        Quirk(
            "gamma = 0: identity at init",
            "upstream initialises the residual scale gamma to zero (the harness re-randomises it)",
            _check_criss_cross_identity_at_init,
        ),
    ),
    paper="Huang et al., 2019, https://arxiv.org/abs/1811.11721",
    deviations_from_upstream=(
        "the -inf diagonal mask (INF) is built on the input's device (upstream always builds it "
        "on the CPU, so a CUDA input fails with a device mismatch); its values and dtype are "
        "upstream's"
    ),
)


# ----------------------------------------------------------------------------------------------
# Dual Attention Network (Fu et al., 2019), https://arxiv.org/abs/1809.02983


@st.composite
def da_module_cases(draw: st.DrawFn) -> Case:
    """DAModule: C = d_model, odd kernel, input H_in = H, W_in = W drawn independently."""
    d_model = draw(sizes(max_size=48), label="d_model")
    kernel_size = draw(odd_kernels(), label="kernel_size")
    H = draw(sizes(), label="H")
    W = draw(sizes(), label="W")
    batch = draw(batches(), label="batch")
    config = {"d_model": d_model, "kernel_size": kernel_size, "H": H, "W": W}
    return image_case(config, (batch, d_model, H, W))


DA_MODULE = ModuleSpec(
    name="DAModule",
    torch_class=reference_torch.DAModule,
    keras_class=tf_attention.DAModule,
    layout="image",
    cases=da_module_cases,
    checks_not_applicable={
        "training": "upstream hard-codes dropout 0.1 inside both attention branches: no argument "
        "switches it off, so training-mode outputs are random on both sides",
    },
    # Upstream README uses batch 50; batch 2 keeps the 512-channel convs cheap (MODULES 3.10).
    upstream_case=Case(
        {"d_model": 512, "kernel_size": 3, "H": 7, "W": 7},
        ((2, 512, 7, 7),),
        label="upstream README",
    ),
    asymmetric_case=Case(
        {"d_model": 12, "kernel_size": 3, "H": 5, "W": 7}, ((2, 12, 5, 7),), label="asymmetric"
    ),
    smoke_cases=(
        # Only H_in * W_in must equal H * W (upstream accepts 1x49 at 7/7).
        Case(
            {"d_model": 16, "kernel_size": 5, "H": 7, "W": 7},
            ((2, 16, 1, 49),),
            label="1x49 input for H = W = 7",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 8, "kernel_size": 4, "H": 3, "W": 4},
            match="Received: kernel_size=4",
            reason="even kernel: padding (k-1)//2 shrinks the map to (H-1)x(W-1)",
        ),
        InvalidConfig(
            {"d_model": 0, "kernel_size": 3, "H": 3, "W": 4},
            match="Received: d_model=0",
            reason="no channels",
        ),
        InvalidConfig(
            {"d_model": 8, "kernel_size": 3, "H": 0, "W": 4},
            match="Received: H=0",
            reason="empty map",
        ),
        InvalidConfig(
            {"d_model": 8, "kernel_size": 3, "H": 3, "W": 4},
            match="H * W = 12",
            input_shape=(1, 8, 4, 4),
            reason="input H_in * W_in = 16 differs from the constructor's H * W = 12",
        ),
        InvalidConfig(
            {"d_model": 8, "kernel_size": 3, "H": 3, "W": 4},
            match="8 channels",
            input_shape=(1, 6, 3, 4),
            reason="6 input channels for d_model=8",
        ),
    ),
    quirks=(
        Quirk(
            "no residual, gamma or BN",
            "unlike DANet's paper, upstream sums the two branches as they are",
            _check_da_module_has_no_residual_gamma_or_bn,
        ),
    ),
    paper="Fu et al., 2019, https://arxiv.org/abs/1809.02983",
    deviations_from_upstream=(
        "honours d_model, kernel_size, H, W (upstream always builds 512/3/7/7, issue #56)"
    ),
)


# ----------------------------------------------------------------------------------------------
# A^2-Nets: Double Attention Networks (Chen et al., 2018), https://arxiv.org/abs/1810.11579


@st.composite
def double_attention_cases(draw: st.DrawFn) -> Case:
    """DoubleAttention: any in_channels, c_m, c_n, reconstruct; H and W independent.

    Batch is at least 2: both softmaxes run over the batch axis (an upstream quirk), so at batch
    1 every attention weight is exactly 1 and a wrong softmax axis would go unseen (the batch-1
    behaviour is a quirk with its own check).
    """
    in_channels = draw(sizes(max_size=48), label="in_channels")
    c_m = draw(sizes(max_size=32), label="c_m")
    c_n = draw(sizes(max_size=32), label="c_n")
    reconstruct = draw(st.booleans(), label="reconstruct")
    batch = draw(st.integers(2, 3), label="batch")
    height = draw(sizes(), label="height")
    width = draw(sizes(), label="width")
    config = {"in_channels": in_channels, "c_m": c_m, "c_n": c_n, "reconstruct": reconstruct}
    return image_case(config, (batch, in_channels, height, width))


DOUBLE_ATTENTION = ModuleSpec(
    name="DoubleAttention",
    torch_class=reference_torch.DoubleAttention,
    keras_class=tf_attention.DoubleAttention,
    layout="image",
    cases=double_attention_cases,
    upstream_case=Case(
        {"in_channels": 512, "c_m": 128, "c_n": 128, "reconstruct": True},
        ((50, 512, 7, 7),),
        label="upstream README",
    ),
    asymmetric_case=Case(
        {"in_channels": 12, "c_m": 6, "c_n": 5, "reconstruct": True},
        ((3, 12, 5, 7),),
        label="asymmetric",
    ),
    smoke_cases=(
        Case(
            {"in_channels": 12, "c_m": 6, "c_n": 5, "reconstruct": False},
            ((2, 12, 7, 4),),
            label="reconstruct=False: the output has c_m channels",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"in_channels": 8, "c_m": 0, "c_n": 4},
            match="Received: c_m=0",
            reason="zero gathered channels (a conv with 0 outputs)",
        ),
        InvalidConfig(
            {"in_channels": 8, "c_m": 4, "c_n": 0},
            match="Received: c_n=0",
            reason="zero global descriptors (a conv with 0 outputs)",
        ),
        InvalidConfig(
            {"in_channels": 8, "c_m": 4, "c_n": 4, "reconstruct": "yes"},
            match="Received: reconstruct='yes'",
            reason="`reconstruct` must be a bool (it decides whether conv_reconstruct exists)",
        ),
        InvalidConfig(
            {"in_channels": 8, "c_m": 4, "c_n": 4},
            match="8 channels",
            input_shape=(2, 6, 5, 3),
            reason="input channel count differs from `in_channels` (upstream's assert)",
        ),
    ),
    quirks=(
        Quirk(
            "softmax over the batch axis",
            "upstream calls softmax without `dim`, which torch resolves to dim 0 of the 3-D maps: "
            "each sample's output depends on the rest of the batch",
            _check_double_attention_softmax_over_the_batch,
        ),
        Quirk(
            "batch 1: both attention maps are 1",
            "a softmax over one sample is 1, so the output is c_n times the sum of convA over the "
            "positions, the same at every position",
            _check_double_attention_batch_one_is_degenerate,
        ),
    ),
    paper="Chen et al., 2018, https://arxiv.org/abs/1810.11579",
    deviations_from_upstream=(
        "the softmaxes say dim=0, what upstream's implicit-dim softmax picks, without its "
        "UserWarning; upstream's assert on the channel count is a ValueError; a non-bool "
        "`reconstruct` is rejected"
    ),
)


# ----------------------------------------------------------------------------------------------

FAMILY = (
    COT_ATTENTION,
    CRISS_CROSS_ATTENTION,
    DA_MODULE,
    DOUBLE_ATTENTION,
)
