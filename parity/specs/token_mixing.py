"""Token mixing without attention: Fourier-domain filters (GFNet) and permuted MLPs (ViP).

One `ModuleSpec` per block pair, alphabetical; `FAMILY` lists them for the registry."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.spec import (
    CallSignature,
    Case,
    ExtraInput,
    InvalidConfig,
    KnownDeviation,
    ModuleSpec,
    Quirk,
    TiedAxes,
    expect,
)
from parity.strategies import batches, sizes
from parity.tolerance import DEFAULT_TOLERANCES

# ----------------------------------------------------------------------------------------------
# Upstream quirks the references keep, each with the check that proves it.


def _normal(shape: tuple[int, ...], seed: int = 0, dtype: str = "float64") -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _filled_pair(torch_module, keras_layer, keras_input, seed: int = 0):
    """Randomise the torch module (float64, eval) and copy its weights into the built layer."""
    from parity.randomize import randomize_torch
    from parity.weights import transfer_weights

    torch_module.double().eval()
    randomize_torch(torch_module, seed)
    keras_layer(keras_input)
    transfer_weights(torch_module, keras_layer)
    return torch_module, keras_layer


def _check_global_filter_fft_in_float32() -> None:
    """A float32 module returns float32 for a float64 input; a float64 module transforms only the
    float32-rounded input (two inputs equal after rounding give bit-equal outputs), both sides."""
    x = _normal((2, 25, 6))
    rounded = x.astype(np.float32).astype(np.float64)
    expect(not np.array_equal(x, rounded), "the test input is exact in float32")
    with torch.no_grad():
        out = reference_torch.GlobalFilter(6, h=5, w=3)(torch.from_numpy(x))
    expect(out.dtype == torch.float32, f"torch float32 module returned {out.dtype}")
    keras_out = np.asarray(tf_attention.GlobalFilter(6, h=5, w=3)(x))
    expect(keras_out.dtype == np.float32, f"Keras float32 layer returned {keras_out.dtype}")
    module, layer = _filled_pair(
        reference_torch.GlobalFilter(6, h=5, w=3),
        tf_attention.GlobalFilter(6, h=5, w=3, dtype="float64"),
        x,
    )
    with torch.no_grad():
        out, out_rounded = module(torch.from_numpy(x)), module(torch.from_numpy(rounded))
    expect(out.dtype == torch.float64, f"torch float64 module returned {out.dtype}")
    expect(torch.equal(out, out_rounded), "torch: the FFT saw more than the float32 input")
    keras_out, keras_rounded = np.asarray(layer(x)), np.asarray(layer(rounded))
    expect(keras_out.dtype == np.float64, f"Keras float64 layer returned {keras_out.dtype}")
    expect(np.array_equal(keras_out, keras_rounded), "Keras: the FFT saw more than float32")


def _check_global_filter_square_grid_by_default() -> None:
    """Without spatial_size N must be a square (N = 20 raises); spatial_size=(4, 5) runs."""
    x = _normal((2, 20, 8), dtype="float32")
    for side, call in (
        ("torch", lambda: reference_torch.GlobalFilter(8, h=4, w=3)(torch.from_numpy(x))),
        ("Keras", lambda: tf_attention.GlobalFilter(8, h=4, w=3)(x)),
    ):
        try:
            call()
        except ValueError as error:
            expect("Received: N=20, spatial_size=None" in str(error), f"{side}: {error}")
        else:
            raise AssertionError(f"{side} accepted N = 20 without spatial_size")
    with torch.no_grad():
        out = reference_torch.GlobalFilter(8, h=4, w=3)(torch.from_numpy(x), spatial_size=(4, 5))
    keras_out = tf_attention.GlobalFilter(8, h=4, w=3)(x, spatial_size=(4, 5))
    expect(tuple(out.shape) == tuple(keras_out.shape) == (2, 20, 8), "spatial_size=(4, 5)")


def _check_gfnet_block_single_residual() -> None:
    """With the MLP's fc2 zeroed the whole branch is 0 and the output is the input, exactly (a
    residual around the filter alone would add the filtered tokens), on both sides."""
    x = _normal((2, 16, 8))
    module, layer = _filled_pair(
        reference_torch.GFNetBlock(8, h=4, w=3),
        tf_attention.GFNetBlock(8, h=4, w=3, dtype="float64"),
        x,
    )
    with torch.no_grad():
        module.mlp.fc2.weight.zero_()
        module.mlp.fc2.bias.zero_()
        out = module(torch.from_numpy(x)).numpy()
    layer.mlp.fc2.kernel.assign(np.zeros((32, 8)))
    layer.mlp.fc2.bias.assign(np.zeros(8))
    expect(np.array_equal(out, x), "torch: the output is not the input")
    expect(np.array_equal(np.asarray(layer(x)), x), "Keras: the output is not the input")


def _check_gfnet_block_drop_path_is_timm_stochastic_depth() -> None:
    """drop_path = 0 builds Identity; > 0 builds DropPath: identity in eval, and in training
    each sample's branch is either dropped or scaled by 1 / keep, on both sides."""
    expect(
        isinstance(reference_torch.GFNetBlock(8, h=4, w=3).drop_path, torch.nn.Identity),
        "drop_path=0 is not nn.Identity",
    )
    x = _normal((16, 16, 8))
    module, layer = _filled_pair(
        reference_torch.GFNetBlock(8, h=4, w=3, drop_path=0.5),
        tf_attention.GFNetBlock(8, h=4, w=3, drop_path=0.5, dtype="float64"),
        x,
    )
    xt = torch.from_numpy(x)
    with torch.no_grad():
        branch = module.mlp(module.norm2(module.filter(module.norm1(xt)))).numpy()
        module.train()
        torch.manual_seed(0)
        trained = module(xt).numpy()
    for side, out, full in (
        ("torch", trained, branch),
        ("Keras", np.asarray(layer(x, training=True)), np.asarray(layer(x)) - x),
    ):
        dropped = np.isclose(out, x).reshape(16, -1).all(1)
        kept = np.isclose(out, x + full / 0.5).reshape(16, -1).all(1)
        expect((dropped ^ kept).all() and dropped.any() and kept.any(), f"{side}: not per-sample")


def _check_vip_needs_h_and_w_equal_to_seg_dim() -> None:
    """2x2 and 4x2 inputs with seg_dim 4 raise on both sides, naming the expected shape."""
    for shape in ((2, 2, 2, 16), (2, 4, 2, 16)):
        x = _normal(shape, dtype="float32")
        for side, call in (
            ("torch", lambda x=x: reference_torch.WeightedPermuteMLP(16, 4)(torch.from_numpy(x))),
            ("Keras", lambda x=x: tf_attention.WeightedPermuteMLP(16, 4)(x)),
        ):
            try:
                call()
            except ValueError as error:
                expect("(batch, 4, 4, 16)" in str(error), f"{side}: {error}")
            else:
                raise AssertionError(f"{side} accepted {shape} with seg_dim 4")


def _check_vip_interleaved_split() -> None:
    """The reweighting output is split (C, 3), feature c * 3 + branch, and branch 1 weights the
    **w** embedding, branch 2 the h one: a +60 bias on every index c * 3 + branch (fc2 weight 0)
    makes the softmax one-hot, so the output is proj of exactly that branch, on both sides."""
    dim, g = 12, 3
    x = _normal((2, g, g, dim))
    xt, S = torch.from_numpy(x), dim // g
    for branch, name in ((0, "c"), (1, "w"), (2, "h")):
        module, layer = _filled_pair(
            reference_torch.WeightedPermuteMLP(dim, seg_dim=g),
            tf_attention.WeightedPermuteMLP(dim, seg_dim=g, dtype="float64"),
            x,
            seed=branch,
        )
        bias = np.zeros(3 * dim)
        bias[branch::3] = 60.0  # interleaved: c * 3 + branch
        with torch.no_grad():
            module.reweighting.fc2.weight.zero_()
            module.reweighting.fc2.bias.copy_(torch.from_numpy(bias))
            segments = xt.reshape(2, g, g, g, S)
            embeddings = {
                "c": module.mlp_c(xt),
                "h": module.mlp_h(segments.permute(0, 3, 2, 1, 4).reshape(2, g, g, g * S))
                .reshape(2, g, g, g, S)
                .permute(0, 3, 2, 1, 4),
                "w": module.mlp_w(segments.permute(0, 3, 1, 2, 4).reshape(2, g, g, g * S))
                .reshape(2, g, g, g, S)
                .permute(0, 2, 3, 1, 4),
            }
            expected = module.proj(embeddings[name].reshape(2, g, g, dim)).numpy()
            actual = module(xt).numpy()
        layer.reweighting.fc2.kernel.assign(np.zeros((dim // 4, 3 * dim)))
        layer.reweighting.fc2.bias.assign(bias)
        for side, out in (("torch", actual), ("Keras", np.asarray(layer(x)))):
            expect(np.allclose(out, expected, rtol=1e-12, atol=1e-12), f"{side}: branch {branch}")


def _check_vip_reweighting_dropout() -> None:
    """The reweighting MLP's dropout is 0.1 whatever the arguments, and active in training."""
    module = reference_torch.WeightedPermuteMLP(16, seg_dim=4)
    layer = tf_attention.WeightedPermuteMLP(16, seg_dim=4)
    expect(module.reweighting.drop.p == 0.1, f"torch rate {module.reweighting.drop.p}")
    expect(layer.reweighting.drop.rate == 0.1, f"Keras rate {layer.reweighting.drop.rate}")
    x = _normal((2, 4, 4, 16), dtype="float32")
    torch.manual_seed(0)
    module.train()
    with torch.no_grad():
        first, second = module(torch.from_numpy(x)), module(torch.from_numpy(x))
    expect(not torch.equal(first, second), "torch: training mode is deterministic")
    keras_first = np.asarray(layer(x, training=True))
    expect(not np.array_equal(keras_first, np.asarray(layer(x, training=True))), "Keras: same")


# ----------------------------------------------------------------------------------------------
# Global Filter Networks (Rao et al., 2021), https://arxiv.org/abs/2107.00645
#
# Upstream casts the tokens to float32 before rfft2 (gfnet.py: `x.to(torch.float32)`), so the
# float64 run of both blocks is a float32 computation up to the filter product.

_FLOAT32_FFT = (
    "upstream casts the tokens to float32 before rfft2 (gfnet.py: `x.to(torch.float32)`), so in "
    "the float64 run both sides compute the forward FFT in float32 (torch pocketfft, TF's FFT) "
    "and only the filter product and the inverse FFT in float64 (the complex128 filter promotes "
    "the product). Two correct float32 FFTs differ by float32 rounding: the float32 row of the "
    "policy (rtol = atol = 1e-4) applies to this float64 run. Measured (float64 runs): "
)

GLOBAL_FILTER_FLOAT32_FFT = KnownDeviation(
    reason=_FLOAT32_FFT
    + "GlobalFilter, 29 cases (6 on power-of-two grids), Keras vs torch max rel 5.3e-7 (the "
    "report's 30 cases, seed 0: 5.2e-7; the default float64 tolerance is 1e-10); each "
    "side against a numpy float64 FFT of the same float32-rounded input: torch 4.6e-7, Keras "
    "4.3e-7, so neither side is the outlier. 1e-4 is ~190x the difference; a swapped FFT axis, "
    "a conjugated filter or a missed ortho scale is > 1e-2.",
    tolerance=DEFAULT_TOLERANCES["float32"],
    dtypes=("float64",),
)

GFNET_BLOCK_FLOAT32_FFT = KnownDeviation(
    reason=_FLOAT32_FFT
    + "GFNetBlock, 19 cases, Keras vs torch max rel 5.4e-7 (the report's 29 cases, seed 0: "
    "5.4e-7; the default float64 tolerance is 1e-10); its LayerNorms and MLP run in float64 and "
    "match to ~1e-15 when fed torch's input "
    "(localisation report). A second residual or a wrong epsilon is > 1e-3.",
    tolerance=DEFAULT_TOLERANCES["float32"],
    dtypes=("float64",),
)

_MLP_RATIOS = (4.0, 0.5, 1.0, 1.5, 2.0)


@st.composite
def gfnet_block_cases(draw: st.DrawFn) -> Case:
    """GFNetBlock: the filter is called without spatial_size, so N = h * h and w = h // 2 + 1;
    int(dim * mlp_ratio) >= 1; dropout and drop_path rates drawn (inactive in eval; drop_path > 0
    builds DropPath); act_layer and norm_layer stay at their defaults (constructor_differences)."""
    side = draw(st.integers(1, 12), label="h = a")
    dim = draw(sizes(max_size=32), label="dim")
    mlp_ratio = draw(
        st.sampled_from([r for r in _MLP_RATIOS if int(dim * r) >= 1]), label="mlp_ratio"
    )
    drop = draw(st.sampled_from((0.0, 0.1)), label="drop (inactive in eval)")
    drop_path = draw(st.sampled_from((0.0, 0.1, 0.5)), label="drop_path (inactive in eval)")
    batch = draw(batches(), label="batch")
    config = {
        "dim": dim,
        "mlp_ratio": mlp_ratio,
        "drop": drop,
        "drop_path": drop_path,
        "h": side,
        "w": side // 2 + 1,
    }
    return Case(config=config, input_shapes=((batch, side * side, dim),))


GFNET_BLOCK = ModuleSpec(
    name="GFNetBlock",
    torch_class=reference_torch.GFNetBlock,
    keras_class=tf_attention.GFNetBlock,
    layout="sequence",
    cases=gfnet_block_cases,
    training_config={"drop": 0.0, "drop_path": 0.0},
    upstream_case=Case(
        {"dim": 384, "h": 14, "w": 8},
        ((1, 196, 384),),
        label="upstream README (GFNet __main__: Block(384, mlp_ratio=4, h=14, w=8), 14x14 patches)",
    ),
    asymmetric_case=Case(
        {"dim": 12, "mlp_ratio": 2.0, "h": 7, "w": 4}, ((3, 49, 12),), label="asymmetric"
    ),
    smoke_cases=(
        Case(
            {"dim": 6, "mlp_ratio": 1.5, "drop": 0.3, "drop_path": 0.2, "h": 5, "w": 3},
            ((2, 25, 6),),
            label="drop_path > 0 builds DropPath (identity in eval)",
        ),
        Case({"dim": 5, "h": 1, "w": 1}, ((2, 1, 5),), label="1x1 grid"),
    ),
    invalid_configs=(
        InvalidConfig({"dim": 0}, match="Received: dim=0", reason="no features"),
        InvalidConfig(
            {"dim": 2, "mlp_ratio": 0.25},
            match="Received: mlp_ratio=0.25, dim=2",
            reason="int(dim * mlp_ratio) = 0 hidden units (upstream builds a zero-width Linear; "
            "a Keras Dense needs units >= 1)",
        ),
        InvalidConfig(
            {"dim": 8, "drop_path": 1.5}, match="drop_path", reason="rate outside [0, 1]"
        ),
        InvalidConfig(
            {"dim": 8, "h": 4, "w": 3},
            match="Received: N=20, spatial_size=None",
            input_shapes=((2, 20, 8),),
            reason="the block calls its filter without spatial_size: N must be a square",
        ),
        InvalidConfig(
            {"dim": 8, "h": 4, "w": 2},
            match="Received: h=4, w=2",
            input_shapes=((2, 16, 8),),
            reason="w != h // 2 + 1: no square grid fits the filter",
        ),
        InvalidConfig(
            {"dim": 8, "h": 4, "w": 3},
            match="Expected `input` to have 8 features",
            input_shapes=((2, 16, 6),),
            reason="6 features for dim=8",
        ),
    ),
    known_deviations=(GFNET_BLOCK_FLOAT32_FFT,),
    quirks=(
        Quirk(
            "one residual around filter and MLP",
            "x + drop_path(mlp(norm2(filter(norm1(x))))): the filter has no residual of its own",
            _check_gfnet_block_single_residual,
        ),
        Quirk(
            "FFT in float32",
            "its GlobalFilter casts to float32 before the FFT (see GlobalFilter)",
            _check_global_filter_fft_in_float32,
        ),
        Quirk(
            "timm DropPath",
            "upstream imports timm's DropPath (per-sample stochastic depth, kept samples scaled "
            "by 1 / keep); both sides carry their own, checked in training mode",
            _check_gfnet_block_drop_path_is_timm_stochastic_depth,
        ),
    ),
    paper="Rao et al., 2021, https://arxiv.org/abs/2107.00645",
    deviations_from_upstream=(
        "named GFNetBlock (upstream: Block, too generic for our exports; state_dict keys "
        "unchanged); its own timm-semantics DropPath (upstream imports timm's)"
    ),
    constructor_differences={
        "act_layer": "torch takes an activation class (nn.GELU), Keras an activation name: "
        "'gelu' is torch's exact erf GELU (float64-exact; keras' gelu is off by 5e-9 there), "
        "any other Keras activation name maps to its torch class (nn.ReLU -> 'relu')",
        "norm_layer": "torch takes a normalisation class (nn.LayerNorm), Keras the name "
        "'layer_norm' (LayerNormalization, epsilon 1e-5), the only one upstream uses",
    },
)


@st.composite
def global_filter_cases(draw: st.DrawFn) -> Case:
    """GlobalFilter: with `spatial_size=(a, b)` (a constant keyword input), the filter (h, w) is
    drawn first and fixes the grid: a = h, b // 2 + 1 = w, so b = 2w - 2 or 2w - 1 (non-square
    grids, odd and even widths); without it, N = a * a and (h, w) = (a, a // 2 + 1). dim is
    independent of N."""
    with_spatial_size = draw(st.booleans(), label="spatial_size given")
    h = draw(st.integers(1, 12), label="h = a")
    if with_spatial_size:
        w = draw(st.integers(1, 7), label="w")
        b = draw(st.sampled_from([b for b in (2 * w - 2, 2 * w - 1) if b >= 1]), label="b")
        extras = {"spatial_size": ExtraInput("value", value=(h, b))}
    else:
        w, b, extras = h // 2 + 1, h, {}
    dim = draw(sizes(max_size=48), label="dim")
    batch = draw(batches(), label="batch")
    return Case(
        config={"dim": dim, "h": h, "w": w},
        input_shapes=((batch, h * b, dim),),
        extra_inputs=extras,
    )


GLOBAL_FILTER = ModuleSpec(
    name="GlobalFilter",
    torch_class=reference_torch.GlobalFilter,
    keras_class=tf_attention.GlobalFilter,
    layout="sequence",
    signature=CallSignature(positional=("x",), keyword=("spatial_size",)),
    cases=global_filter_cases,
    upstream_case=Case(
        {"dim": 384, "h": 14, "w": 8},
        ((1, 196, 384),),
        label="upstream README (GFNet __main__: each block's filter on the 14x14 patch grid)",
    ),
    # A 4 x 6 grid (half-spectrum 4 x 4) of 12 features: N = 24 != C.
    asymmetric_case=Case(
        {"dim": 12, "h": 4, "w": 4},
        ((2, 24, 12),),
        extra_inputs={"spatial_size": ExtraInput("value", value=(4, 6))},
        label="asymmetric",
    ),
    smoke_cases=(
        Case({"dim": 5, "h": 1, "w": 1}, ((2, 1, 5),), label="1x1 grid"),
        Case({"dim": 7, "h": 6, "w": 4}, ((3, 36, 7),), label="even 6x6 grid (Nyquist column)"),
        Case(
            {"dim": 8, "h": 4, "w": 3},
            ((2, 20, 8),),
            extra_inputs={"spatial_size": ExtraInput("value", value=(4, 5))},
            label="MODULES-2's N = 20 with spatial_size=(4, 5): odd width",
        ),
    ),
    invalid_configs=(
        InvalidConfig({"dim": 0}, match="Received: dim=0", reason="no features"),
        InvalidConfig({"dim": 8, "h": 0, "w": 3}, match="Received: h=0", reason="empty filter"),
        InvalidConfig(
            {"dim": 8, "h": 4, "w": 3},
            match="Received: N=20, spatial_size=None",
            input_shapes=((2, 20, 8),),
            reason="N = 20 is not a perfect square (upstream fails at the view)",
        ),
        InvalidConfig(
            {"dim": 8, "h": 4, "w": 2},
            match="Received: h=4, w=2",
            input_shapes=((2, 16, 8),),
            reason="a 4x4 grid has a (4, 3) half-spectrum; the (4, 2) filter does not broadcast",
        ),
        InvalidConfig(
            {"dim": 8, "h": 4, "w": 3},
            match="Expected `input` to have 8 features",
            input_shapes=((2, 16, 6),),
            reason="6 features for dim=8",
        ),
    ),
    known_deviations=(GLOBAL_FILTER_FLOAT32_FFT,),
    quirks=(
        Quirk(
            "FFT in float32",
            "upstream casts to float32 before rfft2: a float32 module returns float32 for a "
            "float64 input, a float64 module sees only the float32-rounded input",
            _check_global_filter_fft_in_float32,
        ),
        Quirk(
            "square N unless spatial_size",
            "without spatial_size the grid is int(sqrt(N)) squared, so N must be a square",
            _check_global_filter_square_grid_by_default,
        ),
    ),
    paper="Rao et al., 2021, https://arxiv.org/abs/2107.00645",
)


# ----------------------------------------------------------------------------------------------
# Vision Permutator (Hou et al., 2022), https://arxiv.org/abs/2106.12368


@st.composite
def weighted_permute_mlp_cases(draw: st.DrawFn) -> Case:
    """WeightedPermuteMLP: H = W = seg_dim (mlp_h and mlp_w mix H*S and W*S features), dim =
    seg_dim * S <= 64 and dim >= 4 (the reweighting MLP's dim // 4 hidden units); channels-last
    input (B, seg_dim, seg_dim, dim) on both sides."""
    seg_dim = draw(st.integers(1, 8), label="seg_dim")
    min_segment = math.ceil(4 / seg_dim)  # dim = seg_dim * S >= 4
    segment = draw(st.integers(min_segment, max(min_segment, 64 // seg_dim)), label="S")
    dim = seg_dim * segment
    qkv_bias = draw(st.booleans(), label="qkv_bias")
    proj_drop = draw(st.sampled_from((0.0, 0.1)), label="proj_drop (inactive in eval)")
    batch = draw(batches(), label="batch")
    config = {"dim": dim, "seg_dim": seg_dim, "qkv_bias": qkv_bias, "proj_drop": proj_drop}
    return Case(config=config, input_shapes=((batch, seg_dim, seg_dim, dim),))


WEIGHTED_PERMUTE_MLP = ModuleSpec(
    name="WeightedPermuteMLP",
    torch_class=reference_torch.WeightedPermuteMLP,
    keras_class=tf_attention.WeightedPermuteMLP,
    layout="channels_last",
    cases=weighted_permute_mlp_cases,
    training_config={"proj_drop": 0.0},
    checks_not_applicable={
        "training": "upstream hard-codes dropout 0.1 in the reweighting MLP: no argument "
        "switches it off, so training-mode outputs are random on both sides",
    },
    upstream_case=Case(
        {"dim": 512, "seg_dim": 8}, ((64, 8, 8, 512),), label="upstream README (__main__)"
    ),
    # H = W = seg_dim is mandatory (tied_axes); C = 20 != H and S = 5 != seg_dim.
    asymmetric_case=Case(
        {"dim": 20, "seg_dim": 4, "qkv_bias": True}, ((2, 4, 4, 20),), label="asymmetric"
    ),
    smoke_cases=(
        Case({"dim": 8, "seg_dim": 1}, ((2, 1, 1, 8),), label="seg_dim 1: a 1x1 image"),
        Case(
            {"dim": 6, "seg_dim": 3, "proj_drop": 0.1},
            ((3, 3, 3, 6),),
            label="S = 2 < seg_dim, dim 6 (reweighting hidden 1)",
        ),
        Case({"dim": 4, "seg_dim": 4}, ((2, 4, 4, 4),), label="smallest dim: S = 1"),
    ),
    invalid_configs=(
        InvalidConfig(
            {"dim": 10, "seg_dim": 4},
            match="Received: dim=10, seg_dim=4",
            reason="seg_dim does not divide dim (upstream fails at the segment reshape)",
        ),
        InvalidConfig(
            {"dim": 3, "seg_dim": 1},
            match="Received: dim=3",
            reason="dim // 4 = 0 reweighting units (upstream builds a zero-width Linear; a "
            "Keras Dense needs units >= 1)",
        ),
        InvalidConfig(
            {"dim": 16, "seg_dim": 4, "proj_drop": 2.0},
            match="proj_drop",
            reason="dropout rate outside [0, 1]",
        ),
        InvalidConfig(
            {"dim": 16, "seg_dim": 4},
            match="channels-last input (batch, 4, 4, 16)",
            input_shapes=((2, 4, 2, 16),),
            reason="W != seg_dim: mlp_w gets W*S = 8 features for 16",
        ),
        InvalidConfig(
            {"dim": 16, "seg_dim": 4},
            match="channels-last input (batch, 4, 4, 16)",
            input_shapes=((2, 4, 4, 12),),
            reason="12 channels for dim=16",
        ),
    ),
    quirks=(
        Quirk(
            "H = W = seg_dim",
            "mlp_h and mlp_w are Linear(dim, dim) on H * S and W * S features",
            _check_vip_needs_h_and_w_equal_to_seg_dim,
        ),
        Quirk(
            "interleaved (C, 3) split; branch 1 weights w",
            "the reweighting output is read as (B, C, 3); branches are c, w, h in that order",
            _check_vip_interleaved_split,
        ),
        Quirk(
            "reweighting dropout 0.1",
            "upstream's MLP helper defaults to drop=0.1 and WeightedPermuteMLP never sets it",
            _check_vip_reweighting_dropout,
        ),
    ),
    paper="Hou et al., 2022, https://arxiv.org/abs/2106.12368",
    deviations_from_upstream="rejects dim < 4 (upstream builds a zero-width reweighting layer)",
    tied_axes=(TiedAxes((1, 2), "mlp_h and mlp_w mix H * S and W * S features: H = W = seg_dim"),),
)


# ----------------------------------------------------------------------------------------------

FAMILY = (GFNET_BLOCK, GLOBAL_FILTER, WEIGHTED_PERMUTE_MLP)
