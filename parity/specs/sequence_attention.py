"""Sequence attention: blocks on `(batch, tokens, features)` inputs.

One `ModuleSpec` per block pair, alphabetical; `FAMILY` lists them for the registry."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.randomize import randomize_torch
from parity.spec import CallSignature, Case, ExtraInput, InvalidConfig, ModuleSpec, Quirk, expect
from parity.strategies import batches, sizes
from parity.weights import transfer_weights

# queries, keys and values, with optional masks and weights: the call of every multi-head block.
QKV = CallSignature(
    positional=("queries", "keys", "values"), keyword=("attention_mask", "attention_weights")
)

# ----------------------------------------------------------------------------------------------
# Upstream quirks the references keep, each with the check that proves it.


def _keras_twin(module, layer, *keras_inputs):
    """Build `layer` on `keras_inputs` and copy `module`'s current weights into it."""
    layer(*keras_inputs)
    transfer_weights(module, layer)
    return layer


def _check_aft_simple_biases_unregistered() -> None:
    module = reference_torch.AFT_FULL(d_model=8, n=5, simple=True).double()
    registered = {*module.state_dict(), *dict(module.named_parameters())}
    expect("position_biases" not in registered, "simple=True biases are registered")
    expect(module.position_biases.dtype == torch.float32, "simple=True biases followed .double()")
    expect(torch.equal(module.position_biases, torch.zeros(5, 5)), "simple=True biases not zero")
    layer = tf_attention.AFT_FULL(d_model=8, n=5, simple=True)
    layer(np.zeros((1, 5, 8), "float32"))
    paths = sorted(variable.path.split("/")[-2] for variable in layer.weights)
    expect(paths == ["fc_k", "fc_k", "fc_q", "fc_q", "fc_v", "fc_v"], f"Keras variables {paths}")


def _check_aft_init() -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        module = reference_torch.AFT_FULL(d_model=256, n=6)
        expect(torch.equal(module.position_biases, torch.ones(6, 6)), "biases do not start at 1")
        expect(0.0008 < float(module.fc_k.weight.std()) < 0.0012, "fc_k is not N(0, 0.001)")
        expect(float(module.fc_k.bias.abs().max()) == 0.0, "fc_k has a non-zero bias")
    layer = tf_attention.AFT_FULL(d_model=8, n=6)
    layer(np.zeros((1, 6, 8), "float32"))
    expect(np.array_equal(np.asarray(layer.position_biases), np.ones((6, 6))), "Keras biases")


def _check_aft_has_no_max_subtraction() -> None:
    x = np.random.default_rng(0).standard_normal((2, 7, 16)).astype("float32")
    for k_bias, finite in ((90.0, False), (80.0, True)):
        module = reference_torch.AFT_FULL(d_model=16, n=7).eval()
        with torch.no_grad():
            module.fc_k.bias.fill_(k_bias)  # exp(k + w) with w = 1 overflows float32 past ~88.7
            expected = module(torch.from_numpy(x)).numpy()
        actual = np.asarray(_keras_twin(module, tf_attention.AFT_FULL(d_model=16, n=7), x)(x))
        if finite:
            expect(np.isfinite(expected).all(), f"torch overflows at k = {k_bias}")
            close = np.allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
            expect(close, f"the sides differ at k = {k_bias}")
        else:
            both_nan = np.isnan(expected).all() and np.isnan(actual).all()
            expect(both_nan, f"expected inf / inf = NaN everywhere at k = {k_bias}")


def _check_external_double_normalisation() -> None:
    module = reference_torch.ExternalAttention(d_model=8, S=5).eval()
    randomize_torch(module, seed=0)
    queries = torch.randn(2, 7, 8)
    with torch.no_grad():
        attention = torch.softmax(module.mk(queries), dim=1)  # over the tokens
        attention = attention / attention.sum(dim=2, keepdim=True)  # then over the memory units
        torch.testing.assert_close(module(queries), module.mv(attention))


def _check_external_init() -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        module = reference_torch.ExternalAttention(d_model=512, S=64)
        expect(0.0008 < float(module.mk.weight.std()) < 0.0012, "mk is not N(0, 0.001)")


def _check_sdpa_init() -> None:
    with torch.no_grad():
        module = reference_torch.ScaledDotProductAttention(512, 64, 64, 8)
        expect(0.0008 < float(module.fc_q.weight.std()) < 0.0012, "fc_q is not N(0, 0.001)")
        expect(float(module.fc_q.bias.abs().max()) == 0.0, "fc_q has a non-zero bias")


def _check_ufo_dropout_never_applied() -> None:
    module = reference_torch.UFOAttention(d_model=8, d_k=4, d_v=3, h=2, dropout=0.5)
    randomize_torch(module, seed=0)
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        first, second = module.train()(x, x, x), module(x, x, x)
        evaluated = module.eval()(x, x, x)
    expect(torch.equal(first, second) and torch.equal(first, evaluated), "torch applies dropout")
    layer = tf_attention.UFOAttention(d_model=8, d_k=4, d_v=3, h=2, dropout=0.5)
    xs = x.numpy()
    trained, inferred = layer(xs, xs, xs, training=True), layer(xs, xs, xs, training=False)
    expect(np.array_equal(np.asarray(trained), np.asarray(inferred)), "Keras applies dropout")


def _check_ufo_norm_without_eps() -> None:
    # At init the biases are zero: a zero input projects to zero queries, and 0 / 0 is NaN.
    module = reference_torch.UFOAttention(d_model=8, d_k=4, d_v=6, h=2).eval()
    x = np.zeros((2, 3, 8), "float32")
    with torch.no_grad():
        expected = module(*(torch.from_numpy(x),) * 3).numpy()
    layer = _keras_twin(module, tf_attention.UFOAttention(d_model=8, d_k=4, d_v=6, h=2), x, x, x)
    actual = np.asarray(layer(x, x, x))
    expect(np.isnan(expected).all() and np.isnan(actual).all(), "expected NaN everywhere")


def _check_ufo_gamma() -> None:
    torch.manual_seed(0)
    gamma = reference_torch.UFOAttention(d_model=4, d_k=2, d_v=2, h=512).gamma.detach()
    expect(0.85 < float(gamma.std()) < 1.15 and float(gamma.min()) < 0, "gamma is not randn")
    # gamma scales XNorm(Q) and XNorm(K^T V): doubling it quadruples fc_o's input, on both sides.
    module = reference_torch.UFOAttention(d_model=8, d_k=4, d_v=3, h=2).double().eval()
    randomize_torch(module, seed=1)
    x = np.random.default_rng(2).standard_normal((2, 5, 8))
    layer = tf_attention.UFOAttention(d_model=8, d_k=4, d_v=3, h=2, dtype="float64")
    layer = _keras_twin(module, layer, x, x, x)
    bias = module.fc_o.bias.detach().numpy()
    with torch.no_grad():
        before = module(*(torch.from_numpy(x),) * 3).numpy() - bias
        module.gamma.mul_(2.0)
        after = module(*(torch.from_numpy(x),) * 3).numpy() - bias
    keras_before = np.asarray(layer(x, x, x)) - bias
    layer.gamma.assign(np.asarray(layer.gamma) * 2.0)
    keras_after = np.asarray(layer(x, x, x)) - bias
    expect(np.allclose(after, 4.0 * before, rtol=1e-12, atol=1e-12), "torch: gamma applied once")
    expect(np.allclose(keras_after, 4 * keras_before, rtol=1e-12, atol=1e-12), "Keras: gamma once")


# ----------------------------------------------------------------------------------------------
# Attention Free Transformer, AFT-full (Zhai et al., 2021), https://arxiv.org/abs/2105.14103


@st.composite
def aft_full_cases(draw: st.DrawFn) -> Case:
    """AFT_FULL: the sequence length equals `n` (any n >= 1); d_model and n independent; learned
    (simple=False) or fixed zero (simple=True) position biases.

    Finite region: the harness draws weights N(0, 1/fan_in), biases U(-0.5, 0.5), the (n, n)
    position biases N(0, 1) and inputs N(0, 1), so |k + w| stays below ~12: exp, which upstream
    does not stabilise, overflows only above 88.7 (float32) or 709.8 (float64).
    """
    d_model = draw(sizes(max_size=48), label="d_model")
    n = draw(sizes(), label="n")
    simple = draw(st.booleans(), label="simple")
    batch = draw(batches(), label="batch")
    return Case(
        config={"d_model": d_model, "n": n, "simple": simple}, input_shapes=((batch, n, d_model),)
    )


AFT_FULL = ModuleSpec(
    name="AFT_FULL",
    torch_class=reference_torch.AFT_FULL,
    keras_class=tf_attention.AFT_FULL,
    layout="sequence",
    signature=CallSignature(positional=("input",)),
    cases=aft_full_cases,
    # Upstream README uses batch 50: torch's (n, B, n, d) exponentials are 61M elements, 2.0 s
    # (float32) and 7.6 s (float64) per comparison on one CPU thread; batch 2 keeps upstream's
    # sizes otherwise.
    upstream_case=Case({"d_model": 512, "n": 49}, ((2, 49, 512),), label="upstream README"),
    asymmetric_case=Case({"d_model": 12, "n": 7}, ((2, 7, 12),), label="asymmetric"),
    smoke_cases=(
        Case({"d_model": 10, "n": 5, "simple": True}, ((3, 5, 10),), label="simple=True"),
        Case({"d_model": 6, "n": 1}, ((2, 1, 6),), label="n = 1: output sigmoid(q) * v"),
    ),
    invalid_configs=(
        InvalidConfig({"d_model": 0, "n": 4}, match="Received: d_model=0", reason="no features"),
        InvalidConfig({"d_model": 8, "n": 0}, match="Received: n=0", reason="no tokens"),
        InvalidConfig(
            {"d_model": 8, "n": 4, "simple": "yes"},
            match="Received: simple=",
            reason="simple must be a bool",
        ),
        InvalidConfig(
            {"d_model": 8, "n": 5},
            match="n=5 tokens",
            input_shapes=((2, 1, 8),),
            reason="1 token into n=5: upstream runs it silently, the position biases cancelling "
            "out; both sides reject it",
        ),
        InvalidConfig(
            {"d_model": 8, "n": 5},
            match="n=5 tokens",
            input_shapes=((2, 4, 8),),
            reason="4 tokens into n=5 (upstream fails with a view error)",
        ),
        InvalidConfig(
            {"d_model": 8, "n": 5},
            match="8 features",
            input_shapes=((2, 5, 6),),
            reason="6 features for d_model=8",
        ),
    ),
    quirks=(
        Quirk(
            "`simple=True` biases unregistered",
            "upstream keeps the fixed zero biases as a plain tensor attribute: not in the "
            "state_dict, not moved by .to() or .double()",
            _check_aft_simple_biases_unregistered,
        ),
        Quirk(
            "biases start at ones; N(0, 0.001) init in `__init__`",
            "upstream's position_biases are torch.ones and it calls init_weights when it "
            "constructs the block",
            _check_aft_init,
        ),
        Quirk(
            "no max-subtraction in exp",
            "exp(k + w) overflows to inf / inf = NaN once k + w passes ~88.7 in float32",
            _check_aft_has_no_max_subtraction,
        ),
    ),
    paper="Zhai et al., 2021, https://arxiv.org/abs/2105.14103",
    deviations_from_upstream=(
        "any sequence length other than n raises ValueError (upstream runs 1 token into an "
        "n > 1 model silently, the position biases cancelling out, and fails with a view error "
        "for most other lengths); a non-bool `simple` is rejected"
    ),
)


# ----------------------------------------------------------------------------------------------
# Shared by ScaledDotProductAttention and SimplifiedScaledDotProductAttention (and usable by
# any block with the (queries, keys, values, attention_mask, attention_weights) call).


@st.composite
def broadcast_attention_shapes(
    draw: st.DrawFn, batch: int, heads: int, nq: int, nk: int
) -> tuple[int, ...]:
    """Shapes broadcastable to `(batch, heads, nq, nk)`: rank 2 to 4, each leading axis either
    full or 1, the key axis always full (so a mask row can keep one unmasked key).
    Shrinks towards rank 2 `(1, nk)`."""
    rank = draw(st.integers(2, 4), label="rank")
    leading = [
        draw(st.sampled_from((1, size)), label=axis)
        for axis, size in (("batch", batch), ("heads", heads), ("nq", nq))
    ]
    return (*leading[3 - (rank - 1) :], nk)


@st.composite
def attention_call_extras(
    draw: st.DrawFn, batch: int, heads: int, nq: int, nk: int
) -> dict[str, ExtraInput]:
    """Sometimes an `attention_mask` (no fully masked row), sometimes `attention_weights`."""
    extras = {}
    if draw(st.booleans(), label="with attention_mask"):
        shape = draw(broadcast_attention_shapes(batch, heads, nq, nk), label="mask shape")
        extras["attention_mask"] = ExtraInput("mask", shape)
    if draw(st.booleans(), label="with attention_weights"):
        shape = draw(broadcast_attention_shapes(batch, heads, nq, nk), label="weights shape")
        extras["attention_weights"] = ExtraInput("float", shape)
    return extras


# ----------------------------------------------------------------------------------------------
# ResT's efficient multi-head self-attention (Zhang and Yang, 2021), https://arxiv.org/abs/2105.13677


def _emsa_reduced_side(side: int, ratio: int) -> int:
    """EMSA's reduction conv output size: kernel ratio + 1, stride ratio, padding ratio // 2."""
    return (side + 2 * (ratio // 2) - ratio - 1) // ratio + 1


@st.composite
def emsa_cases(draw: st.DrawFn) -> Case:
    """EMSA: d_model, d_k, d_v, h independent; ratio > 1 reads the queries as an H x W grid
    (nq = H * W, H and W >= ratio + 1 - 2 * (ratio // 2), keys and values ignored: their nk is
    drawn freely); ratio == 1 draws nq and nk. With the transform on (h > 1), the attention map
    has more than one element (nq * n' > 1). d_model >= 2 when ratio > 1 (see below). No masks (a masked entry makes its row non-finite);
    attention_weights, broadcastable to (B, h, nq, n'), are sometimes given."""
    batch = draw(batches(), label="batch")
    h = draw(st.integers(1, 4), label="h")
    apply_transform = draw(st.booleans(), label="apply_transform")
    transform_on = apply_transform and h > 1
    ratio = draw(st.integers(1, 4), label="ratio")
    # d_model = 1 with ratio > 1 is ill-conditioned: the LayerNorm over one feature maps every
    # reduced token to its bias (zero variance), so in exact arithmetic all keys are equal. Keras
    # computes LayerNorm as x * inv + (beta - mean * inv) with inv = 1/sqrt(1e-5) ~ 316, leaving
    # ~316 * |x| * eps of noise in the keys where torch leaves none; the softmax (and with the
    # transform on, the instance norm over exactly uniform rows) amplifies it: float32
    # differences of 2e-4 to 1e-3 of the output scale (float64 still ~1e-12).
    min_d_model = 2 if ratio > 1 else 1
    d_model = draw(st.integers(min_d_model, 48), label="d_model")
    d_k = draw(sizes(max_size=16), label="d_k")
    d_v = draw(sizes(max_size=16), label="d_v")
    config = {
        "d_model": d_model,
        "d_k": d_k,
        "d_v": d_v,
        "h": h,
        "ratio": ratio,
        "apply_transform": apply_transform,
    }
    if ratio > 1:
        min_side = ratio + 1 - 2 * (ratio // 2)  # 2 for odd ratios, 1 for even ones
        height = draw(st.integers(min_side, 12), label="H")
        # H = W = 1 (even ratio) gives a 1 x 1 attention map: the instance norm rejects it.
        min_width = 2 if transform_on and height == 1 else min_side
        width = draw(st.integers(min_width, 12), label="W")
        config.update(H=height, W=width)
        num_queries = height * width
        num_keys = draw(sizes(max_size=12), label="nk (ignored)")
        num_reduced = _emsa_reduced_side(height, ratio) * _emsa_reduced_side(width, ratio)
    else:
        num_queries = draw(sizes(max_size=12), label="nq")
        num_keys = draw(st.integers(2 if transform_on and num_queries == 1 else 1, 12), label="nk")
        num_reduced = num_keys
    extra_inputs = {}
    if draw(st.booleans(), label="with attention_weights"):
        weight_batch = draw(st.sampled_from((1, batch)), label="attention_weights batch")
        weight_heads = draw(st.sampled_from((1, h)), label="attention_weights heads")
        extra_inputs["attention_weights"] = ExtraInput(
            "float", (weight_batch, weight_heads, num_queries, num_reduced)
        )
    return Case(
        config=config,
        input_shapes=(
            (batch, num_queries, d_model),
            (batch, num_keys, d_model),
            (batch, num_keys, d_model),
        ),
        extra_inputs=extra_inputs,
    )


EMSA = ModuleSpec(
    name="EMSA",
    torch_class=reference_torch.EMSA,
    keras_class=tf_attention.EMSA,
    layout="sequence",
    signature=QKV,
    cases=emsa_cases,
    training_config={"dropout": 0.0},
    upstream_case=Case(
        {
            "d_model": 512,
            "d_k": 512,
            "d_v": 512,
            "h": 8,
            "H": 8,
            "W": 8,
            "ratio": 2,
            "apply_transform": True,
        },
        ((50, 64, 512), (50, 64, 512), (50, 64, 512)),
        shared_input=True,
        label="upstream README",
    ),
    # H != W != d_model, d_k != d_v, odd ratio 3 (7 x 5 grid -> 2 x 2 reduced tokens).
    asymmetric_case=Case(
        {"d_model": 24, "d_k": 6, "d_v": 10, "h": 3, "H": 7, "W": 5, "ratio": 3},
        ((2, 35, 24), (2, 35, 24), (2, 35, 24)),
        shared_input=True,
        label="asymmetric",
    ),
    smoke_cases=(
        # ratio 1: keys and values used, nq != nk, with attention_weights.
        Case(
            {"d_model": 20, "d_k": 7, "d_v": 5, "h": 2, "ratio": 1},
            ((3, 6, 20), (3, 9, 20), (3, 9, 20)),
            extra_inputs={"attention_weights": ExtraInput("float", (1, 2, 6, 9))},
            label="ratio 1, nq != nk, attention_weights",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "H": 1, "W": 5, "ratio": 3},
            match="Received: H=1",
            reason="an odd ratio needs H, W >= 2 (upstream fails inside the reduction conv)",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "H": 1, "W": 1, "ratio": 2},
            match="apply_transform",
            reason="a 1 x 1 attention map: the instance norm needs more than one element",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "ratio": 1},
            match="apply_transform",
            input_shape=(2, 1, 8),
            reason="nq = nk = 1 with the transform on: a one-element attention map",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "H": 4, "W": 4, "ratio": 2},
            match="H * W",
            input_shape=(2, 15, 8),
            reason="ratio > 1 reads the queries as an H x W grid: nq must be H * W",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "ratio": 0},
            match="Received: ratio=0",
            reason="no reduction ratio (upstream silently treats ratio < 1 as 1)",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 0, "d_v": 4, "h": 2},
            match="Received: d_k=0",
            reason="no features per head",
        ),
    ),
    paper="Zhang and Yang, 2021, https://arxiv.org/abs/2105.13677",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# External Attention (Guo et al., 2021), https://arxiv.org/abs/2105.02358


@st.composite
def external_attention_cases(draw: st.DrawFn) -> Case:
    """ExternalAttention: B, N, d_model, S >= 1 and independent (N = 1 gives a uniform 1/S row)."""
    d_model = draw(sizes(max_size=48), label="d_model")
    S = draw(sizes(max_size=32), label="S")
    batch = draw(batches(), label="batch")
    tokens = draw(sizes(), label="tokens")
    return Case(config={"d_model": d_model, "S": S}, input_shapes=((batch, tokens, d_model),))


EXTERNAL_ATTENTION = ModuleSpec(
    name="ExternalAttention",
    torch_class=reference_torch.ExternalAttention,
    keras_class=tf_attention.ExternalAttention,
    layout="sequence",
    signature=CallSignature(positional=("queries",)),
    cases=external_attention_cases,
    upstream_case=Case({"d_model": 512, "S": 8}, ((50, 49, 512),), label="upstream README"),
    asymmetric_case=Case({"d_model": 24, "S": 5}, ((3, 7, 24),), label="asymmetric"),
    invalid_configs=(
        InvalidConfig({"d_model": 0, "S": 8}, match="Received: d_model=0", reason="no features"),
        InvalidConfig({"d_model": 8, "S": 0}, match="Received: S=0", reason="no memory slots"),
        InvalidConfig(
            {"d_model": 8, "S": 4},
            match="Expected `queries` to have 8 features",
            input_shape=(2, 5, 6),
            reason="queries with 6 features for d_model=8",
        ),
    ),
    quirks=(
        Quirk(
            "double normalisation",
            "softmax over the tokens, then an L1 norm over the memory units",
            _check_external_double_normalisation,
        ),
        Quirk(
            "N(0, 0.001) init in `__init__`",
            "upstream calls init_weights when it constructs the block",
            _check_external_init,
        ),
    ),
    paper="Guo et al., 2021, https://arxiv.org/abs/2105.02358",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# MUSE: parallel multi-scale attention (Zhao et al., 2019), https://arxiv.org/abs/1911.09483


@st.composite
def muse_attention_cases(draw: st.DrawFn) -> Case:
    """MUSEAttention: d_model, d_k, d_v, h independent; nq = nk = N (the convolution branch has
    one token per key and is added to the attention output). attention_mask (never a fully
    masked row) and attention_weights, each broadcastable to (B, h, N, N), sometimes given."""
    batch = draw(batches(), label="batch")
    d_model = draw(sizes(max_size=48), label="d_model")
    d_k = draw(sizes(max_size=16), label="d_k")
    d_v = draw(sizes(max_size=16), label="d_v")
    h = draw(st.integers(1, 4), label="h")
    tokens = draw(sizes(max_size=12), label="N")
    extra_inputs = {}
    for name, kind in (("attention_mask", "mask"), ("attention_weights", "float")):
        if draw(st.booleans(), label=f"with {name}"):
            extra_batch = draw(st.sampled_from((1, batch)), label=f"{name} batch")
            extra_heads = draw(st.sampled_from((1, h)), label=f"{name} heads")
            extra_inputs[name] = ExtraInput(kind, (extra_batch, extra_heads, tokens, tokens))
    shared = draw(st.booleans(), label="shared input (x, x, x)")
    return Case(
        config={"d_model": d_model, "d_k": d_k, "d_v": d_v, "h": h},
        input_shapes=((batch, tokens, d_model),) * 3,
        extra_inputs=extra_inputs,
        shared_input=shared,
    )


MUSE_ATTENTION = ModuleSpec(
    name="MUSEAttention",
    torch_class=reference_torch.MUSEAttention,
    keras_class=tf_attention.MUSEAttention,
    layout="sequence",
    signature=QKV,
    cases=muse_attention_cases,
    training_config={"dropout": 0.0},
    upstream_case=Case(
        {"d_model": 512, "d_k": 512, "d_v": 512, "h": 8},
        ((50, 49, 512), (50, 49, 512), (50, 49, 512)),
        shared_input=True,
        label="upstream README",
    ),
    # d_model != d_k != d_v, N != any feature size, separate queries/keys/values, both extras.
    asymmetric_case=Case(
        {"d_model": 20, "d_k": 6, "d_v": 10, "h": 3},
        ((2, 7, 20), (2, 7, 20), (2, 7, 20)),
        extra_inputs={
            "attention_mask": ExtraInput("mask", (2, 1, 7, 7)),
            "attention_weights": ExtraInput("float", (1, 3, 7, 7)),
        },
        label="asymmetric",
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 0}, match="Received: h=0", reason="no heads"
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 0, "h": 2},
            match="Received: d_v=0",
            reason="no value features per head",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "dropout": 1.5},
            match="dropout",
            reason="dropout rate outside [0, 1]",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2},
            match="nq == nk",
            input_shapes=((2, 3, 8), (2, 5, 8), (2, 5, 8)),
            reason="nq != nk: the conv branch's (B, nk, d_model) is added to the (B, nq, d_model) "
            "attention output",
        ),
    ),
    paper="Zhao et al., 2019, https://arxiv.org/abs/1911.09483",
    deviations_from_upstream=(
        "fix (c): forward does not overwrite the dy_paras Parameter (upstream replaces it by its "
        "softmax on every call); the output equals upstream's first call from the same state"
    ),
)


# ----------------------------------------------------------------------------------------------
# MobileViTv2 separable self-attention (Mehta and Rastegari, 2022),
# https://arxiv.org/abs/2206.02680


@st.composite
def mobilevitv2_attention_cases(draw: st.DrawFn) -> Case:
    """MobileViTv2Attention: any d_model and token count (one token gives a softmax weight of 1);
    3-D inputs only."""
    d_model = draw(sizes(max_size=48), label="d_model")
    batch = draw(batches(), label="batch")
    tokens = draw(sizes(), label="tokens")
    return Case(config={"d_model": d_model}, input_shapes=((batch, tokens, d_model),))


MOBILEVITV2_ATTENTION = ModuleSpec(
    name="MobileViTv2Attention",
    torch_class=reference_torch.MobileViTv2Attention,
    keras_class=tf_attention.MobileViTv2Attention,
    layout="sequence",
    signature=CallSignature(positional=("input",)),
    cases=mobilevitv2_attention_cases,
    upstream_case=Case({"d_model": 512}, ((50, 49, 512),), label="upstream README"),
    asymmetric_case=Case({"d_model": 24}, ((3, 7, 24),), label="asymmetric"),
    smoke_cases=(Case({"d_model": 5}, ((2, 1, 5),), label="one token: softmax weight 1"),),
    invalid_configs=(
        InvalidConfig({"d_model": 0}, match="Received: d_model=0", reason="no features"),
        InvalidConfig(
            {"d_model": 8},
            match="3D (batch, tokens, features)",
            input_shapes=((2, 3, 5, 8),),
            reason="4-D (B, P, n, d): upstream runs it with the softmax over P, not the tokens",
        ),
        InvalidConfig(
            {"d_model": 8},
            match="8 features",
            input_shapes=((2, 5, 6),),
            reason="6 features for d_model=8",
        ),
    ),
    paper="Mehta and Rastegari, 2022, https://arxiv.org/abs/2206.02680",
    deviations_from_upstream=(
        "a 4-D input (B, P, n, d) raises ValueError (upstream runs it with the softmax over P, "
        "not over the tokens)"
    ),
)


# ----------------------------------------------------------------------------------------------
# Scaled dot-product attention (Vaswani et al., 2017), https://arxiv.org/abs/1706.03762


@st.composite
def scaled_dot_product_attention_cases(draw: st.DrawFn) -> Case:
    """ScaledDotProductAttention: d_model, d_k, d_v, h, nq, nk all drawn independently (d_k and
    d_v are the per-head sizes, never d_model); sometimes self-attention `(x, x, x)`; optional
    broadcastable mask and weights."""
    d_model = draw(sizes(max_size=32), label="d_model")
    d_k = draw(sizes(max_size=16), label="d_k")
    d_v = draw(sizes(max_size=16), label="d_v")
    h = draw(sizes(max_size=4), label="h")
    batch = draw(batches(), label="batch")
    shared = draw(st.booleans(), label="self-attention (x, x, x)")
    nq = draw(sizes(), label="nq")
    nk = nq if shared else draw(sizes(), label="nk")
    return Case(
        config={"d_model": d_model, "d_k": d_k, "d_v": d_v, "h": h},
        input_shapes=((batch, nq, d_model), (batch, nk, d_model), (batch, nk, d_model)),
        extra_inputs=draw(attention_call_extras(batch, h, nq, nk), label="extra inputs"),
        shared_input=shared,
    )


SCALED_DOT_PRODUCT_ATTENTION = ModuleSpec(
    name="ScaledDotProductAttention",
    torch_class=reference_torch.ScaledDotProductAttention,
    keras_class=tf_attention.ScaledDotProductAttention,
    layout="sequence",
    signature=QKV,
    cases=scaled_dot_product_attention_cases,
    training_config={"dropout": 0.0},
    upstream_case=Case(
        {"d_model": 512, "d_k": 512, "d_v": 512, "h": 8},
        ((50, 49, 512),) * 3,
        label="upstream README",
        shared_input=True,
    ),
    asymmetric_case=Case(
        {"d_model": 20, "d_k": 6, "d_v": 5, "h": 3},
        ((2, 7, 20), (2, 9, 20), (2, 9, 20)),
        extra_inputs={
            "attention_mask": ExtraInput("mask", (2, 1, 7, 9)),
            "attention_weights": ExtraInput("float", (1, 3, 1, 9)),
        },
        label="asymmetric",
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 8, "d_k": 0, "d_v": 4, "h": 2},
            match="Received: d_k=0",
            reason="empty heads",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 0}, match="Received: h=0", reason="no heads"
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "dropout": 1.5},
            match="Received: dropout=1.5",
            reason="dropout is a probability",
        ),
    ),
    quirks=(
        Quirk(
            "N(0, 0.001) init in `__init__`",
            "upstream calls init_weights when it constructs the block: zero biases",
            _check_sdpa_init,
        ),
    ),
    paper="Vaswani et al., 2017, https://arxiv.org/abs/1706.03762",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# Simplified scaled dot-product attention, no q/k/v projections (after Vaswani et al., 2017),
# https://arxiv.org/abs/1706.03762


@st.composite
def simplified_scaled_dot_product_attention_cases(draw: st.DrawFn) -> Case:
    """SimplifiedScaledDotProductAttention: d_model = h * m (m features per head), nq and nk
    independent; sometimes self-attention `(x, x, x)`; optional broadcastable mask and weights."""
    h = draw(sizes(max_size=4), label="h")
    per_head = draw(sizes(max_size=8), label="d_model // h")
    d_model = h * per_head
    batch = draw(batches(), label="batch")
    shared = draw(st.booleans(), label="self-attention (x, x, x)")
    nq = draw(sizes(), label="nq")
    nk = nq if shared else draw(sizes(), label="nk")
    return Case(
        config={"d_model": d_model, "h": h},
        input_shapes=((batch, nq, d_model), (batch, nk, d_model), (batch, nk, d_model)),
        extra_inputs=draw(attention_call_extras(batch, h, nq, nk), label="extra inputs"),
        shared_input=shared,
    )


SIMPLIFIED_SCALED_DOT_PRODUCT_ATTENTION = ModuleSpec(
    name="SimplifiedScaledDotProductAttention",
    torch_class=reference_torch.SimplifiedScaledDotProductAttention,
    keras_class=tf_attention.SimplifiedScaledDotProductAttention,
    layout="sequence",
    signature=QKV,
    cases=simplified_scaled_dot_product_attention_cases,
    training_config={"dropout": 0.0},
    upstream_case=Case(
        {"d_model": 512, "h": 8},
        ((50, 49, 512),) * 3,
        label="upstream README",
        shared_input=True,
    ),
    asymmetric_case=Case(
        {"d_model": 12, "h": 3},
        ((2, 5, 12), (2, 8, 12), (2, 8, 12)),
        extra_inputs={
            "attention_mask": ExtraInput("mask", (1, 3, 5, 8)),
            "attention_weights": ExtraInput("float", (2, 1, 5, 8)),
        },
        label="asymmetric",
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 10, "h": 4},
            match="Received: d_model=10, h=4",
            reason="d_model not divisible by h (upstream fails later with a view error)",
        ),
        InvalidConfig({"d_model": 8, "h": 0}, match="Received: h=0", reason="no heads"),
        InvalidConfig({"d_model": 0, "h": 1}, match="Received: d_model=0", reason="no features"),
    ),
    paper="Vaswani et al., 2017, https://arxiv.org/abs/1706.03762",
    deviations_from_upstream=(
        "d_model % h != 0 is rejected in __init__ with a ValueError (upstream fails in forward)"
    ),
)


# ----------------------------------------------------------------------------------------------
# UFO-ViT attention (Song, 2021), https://arxiv.org/abs/2109.14382


@st.composite
def ufo_attention_cases(draw: st.DrawFn) -> Case:
    """UFOAttention: d_model, d_k, d_v, h, nq, nk all independent (d_k = 1 or d_v = 1 make XNorm
    a gamma * sign); sometimes self-attention `(x, x, x)`; `dropout` varied although upstream
    never applies it.

    Finite region: XNorm has no epsilon, so only an exactly zero query projection or row of
    K^T V gives NaN; with randomised biases and N(0, 1) inputs no generated row is near zero
    (a zero input at init is the quirk check instead).
    """
    d_model = draw(sizes(max_size=32), label="d_model")
    d_k = draw(sizes(max_size=16), label="d_k")
    d_v = draw(sizes(max_size=16), label="d_v")
    h = draw(sizes(max_size=4), label="h")
    dropout = draw(st.sampled_from((0.0, 0.1, 0.5)), label="dropout")
    batch = draw(batches(), label="batch")
    shared = draw(st.booleans(), label="self-attention (x, x, x)")
    nq = draw(sizes(), label="nq")
    nk = nq if shared else draw(sizes(), label="nk")
    return Case(
        config={"d_model": d_model, "d_k": d_k, "d_v": d_v, "h": h, "dropout": dropout},
        input_shapes=((batch, nq, d_model), (batch, nk, d_model), (batch, nk, d_model)),
        shared_input=shared,
    )


UFO_ATTENTION = ModuleSpec(
    name="UFOAttention",
    torch_class=reference_torch.UFOAttention,
    keras_class=tf_attention.UFOAttention,
    layout="sequence",
    signature=CallSignature(positional=QKV.positional),  # no mask or weights upstream
    cases=ufo_attention_cases,
    # Upstream README uses batch 50: its (50, 8, 512, 512) K^T V takes 18 s (float32) and 36 s
    # (float64) per comparison on one CPU thread; batch 2 keeps upstream's sizes otherwise.
    upstream_case=Case(
        {"d_model": 512, "d_k": 512, "d_v": 512, "h": 8},
        ((2, 49, 512),) * 3,
        label="upstream README",
        shared_input=True,
    ),
    asymmetric_case=Case(
        {"d_model": 20, "d_k": 6, "d_v": 5, "h": 3},
        ((2, 7, 20), (2, 9, 20), (2, 9, 20)),
        label="asymmetric",
    ),
    smoke_cases=(
        Case(
            {"d_model": 10, "d_k": 1, "d_v": 1, "h": 3},
            ((3, 4, 10), (3, 1, 10), (3, 1, 10)),
            label="d_k = d_v = 1, one key: XNorm is gamma * sign",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 8, "d_k": 0, "d_v": 4, "h": 2},
            match="Received: d_k=0",
            reason="empty heads",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 0}, match="Received: h=0", reason="no heads"
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "dropout": 1.5},
            match="Received: dropout=1.5",
            reason="dropout is a probability (kept in the config although never applied)",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2},
            match="Expected `keys` and `values` to share",
            input_shapes=((2, 3, 8), (2, 5, 8), (2, 4, 8)),
            reason="keys and values of different lengths (K^T V needs one value per key)",
        ),
    ),
    quirks=(
        Quirk(
            "`dropout` never applied",
            "upstream builds nn.Dropout and never calls it: training mode is deterministic",
            _check_ufo_dropout_never_applied,
        ),
        Quirk(
            "L2 norm without eps: NaN on a zero row",
            "XNorm divides by the norm as it is, so a zero input at init gives 0 / 0 everywhere",
            _check_ufo_norm_without_eps,
        ),
        Quirk(
            "`gamma` randn, scales both norms",
            "gamma (1, h, 1, 1) starts N(0, 1), may be negative, and multiplies both XNorm(Q) "
            "and XNorm(K^T V)",
            _check_ufo_gamma,
        ),
    ),
    paper="Song, 2021, https://arxiv.org/abs/2109.14382",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------

FAMILY = (
    AFT_FULL,
    EMSA,
    EXTERNAL_ATTENTION,
    MUSE_ATTENTION,
    MOBILEVITV2_ATTENTION,
    SCALED_DOT_PRODUCT_ATTENTION,
    SIMPLIFIED_SCALED_DOT_PRODUCT_ATTENTION,
    UFO_ATTENTION,
)
