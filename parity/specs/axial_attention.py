"""Axial attention: multi-head self-attention along one image axis at a time, on its own
(AxialAttention) or inside a transformer with conv feed-forwards (AxialImageTransformer).

One `ModuleSpec` per block pair, alphabetical; `FAMILY` lists them for the registry."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.spec import Case, InvalidConfig, ModuleSpec, Quirk, expect
from parity.strategies import image_case, image_shapes

# ----------------------------------------------------------------------------------------------
# Upstream quirks the references keep, each with the check that proves it.


def _rms_error(actual, expected) -> float:
    expected = np.asarray(expected)
    scale = float(np.sqrt(np.mean(expected**2)))
    return float(np.abs(np.asarray(actual) - expected).max() / scale)


def _pair(torch_class, keras_class, config: dict, keras_input: np.ndarray, seed: int = 0):
    """A float64 torch module (eval, randomised) and a built Keras layer with its weights."""
    from parity.randomize import randomize_torch
    from parity.weights import transfer_weights

    module = torch_class(**config).double().eval()
    randomize_torch(module, seed)
    layer = keras_class(**config, dtype="float64")
    layer(keras_input)
    transfer_weights(module, layer)
    return module, layer


def _check_axial_attention_no_residual_or_norm() -> None:
    """Output = attn_H(x) + attn_W(x) (sum_axial_out), else attn_W(attn_H(x)): nothing else;
    attention 0 mixes along H only (one column moves when a pixel does), 1 along W only."""
    x = np.random.default_rng(0).standard_normal((2, 6, 5, 7))
    keras_x = np.moveaxis(x, 1, -1)
    config = {"dim": 6, "heads": 2, "dim_index": 1}
    module, layer = _pair(
        reference_torch.AxialAttention, tf_attention.AxialAttention, config, keras_x
    )
    tx = torch.from_numpy(x)
    with torch.no_grad():
        along_h, along_w = (attention(tx) for attention in module.axial_attentions)
        expect(torch.equal(module(tx), along_h + along_w), "torch: not the plain sum")
        module.sum_axial_out = False
        chained = module.axial_attentions[1](module.axial_attentions[0](tx))
        expect(torch.equal(module(tx), chained), "torch: not the plain chain")
        changed = tx.clone()
        changed[0, :, 2, 3] += 1.0
        moved_h = (module.axial_attentions[0](changed) - along_h).abs().sum(1)[0] > 0
        moved_w = (module.axial_attentions[1](changed) - along_w).abs().sum(1)[0] > 0
    expect(moved_h[:, 3].all() and int(moved_h.sum()) == 5, "attention 0 is not along H")
    expect(moved_w[2, :].all() and int(moved_w.sum()) == 7, "attention 1 is not along W")
    keras_sum = layer.axial_attentions[0](keras_x) + layer.axial_attentions[1](keras_x)
    expect(np.array_equal(np.asarray(layer(keras_x)), np.asarray(keras_sum)), "Keras sum")
    expect(_rms_error(np.moveaxis(np.asarray(keras_sum), -1, 1), along_h + along_w) < 1e-12, "")


def _check_axial_attention_commented_example() -> None:
    """Upstream's commented example builds dim=3 but feeds (3, 128, 7, 7): the dim check fails
    on both sides; the (3, 3, 7, 7) input it can take runs (the upstream case)."""
    config = {"dim": 3, "dim_index": 1, "dim_heads": 32, "heads": 1, "num_dimensions": 2}
    wrong = np.zeros((3, 128, 7, 7), "float32")
    for side, call in (
        ("torch", lambda: reference_torch.AxialAttention(**config)(torch.from_numpy(wrong))),
        ("Keras", lambda: tf_attention.AxialAttention(**config)(np.moveaxis(wrong, 1, -1))),
    ):
        try:
            call()
        except ValueError as error:
            expect("dim=3" in str(error), f"{side}: {error}")
        else:
            raise AssertionError(f"{side} accepted 128 channels for dim=3")
    with torch.no_grad():
        out = reference_torch.AxialAttention(**config)(torch.zeros(3, 3, 7, 7))
    expect(tuple(out.shape) == (3, 3, 7, 7), f"torch output {tuple(out.shape)}")


def _check_reversible_backward() -> None:
    """What of upstream's reversible path is checked beyond its forward (the report's cases):
    the reference keeps upstream's custom autograd Function, so (1) a plain input without a
    positional embedding gives an output that does not require grad (no parameter can train),
    (2) in eval mode its backward fails (the RNG state is recorded only in training), and
    (3) in training mode, with an input that requires grad, its parameter and input gradients
    equal plain autograd's, here Keras' GradientTape on the port (float64, < 1e-10 of each
    gradient's RMS; measured 8.9e-15)."""
    import tensorflow as tf

    from parity.weights import plan_transfer

    plain = reference_torch.AxialImageTransformer(dim=4, depth=1, heads=2).train()
    out = plain(torch.randn(2, 4, 3, 5))
    expect(not out.requires_grad, "a plain input gives an output that requires grad")
    with_pos_emb = reference_torch.AxialImageTransformer(
        dim=4, depth=1, heads=2, axial_pos_emb_shape=(3, 5)
    ).train()
    expect(with_pos_emb(torch.randn(2, 4, 3, 5)).requires_grad, "pos_emb: no grad")
    evaluated = reference_torch.AxialImageTransformer(dim=4, depth=1, heads=2).eval()
    try:
        evaluated(torch.randn(2, 4, 3, 5, requires_grad=True)).sum().backward()
    except TypeError as error:
        expect("ByteTensor" in str(error), f"eval-mode backward: {error}")
    else:
        raise AssertionError("the reversible backward ran in eval mode")

    rng = np.random.default_rng(0)
    x, weights = rng.standard_normal((2, 6, 5, 7)), rng.standard_normal((2, 6, 5, 7))
    config = {"dim": 6, "depth": 2, "heads": 2}
    keras_x = np.moveaxis(x, 1, -1)
    module, layer = _pair(
        reference_torch.AxialImageTransformer, tf_attention.AxialImageTransformer, config, keras_x
    )
    module.train()  # the backward replays the RNG state recorded in training mode
    tx = torch.from_numpy(x).requires_grad_(True)
    (module(tx) * torch.from_numpy(weights)).sum().backward()
    keras_tensor = tf.constant(keras_x)
    with tf.GradientTape() as tape:
        tape.watch(keras_tensor)
        loss = tf.reduce_sum(layer(keras_tensor) * np.moveaxis(weights, 1, -1))
    plan = plan_transfer(module, layer)
    gradients = tape.gradient(loss, [keras_tensor, *(p.keras_variable for p in plan.tensors)])
    worst = _rms_error(np.moveaxis(gradients[0].numpy(), -1, 1), tx.grad.numpy())
    parameters = dict(module.named_parameters())
    for planned, gradient in zip(plan.tensors, gradients[1:], strict=True):
        expected = parameters[planned.torch_key].grad.numpy()
        worst = max(worst, _rms_error(planned.to_torch(gradient.numpy()), expected))
    expect(worst < 1e-10, f"reversible gradients differ from autograd by {worst:.1e}")


def _check_reversible_and_sequential_differ() -> None:
    """The same weights (keys renamed .f.net. -> .0., .g.net. -> .1.) give different outputs in
    the two execution types, on both sides."""
    x = np.random.default_rng(1).standard_normal((2, 4, 3, 5))
    keras_x = np.moveaxis(x, 1, -1)
    config = {"dim": 4, "depth": 1, "heads": 2}
    reversible, keras_reversible = _pair(
        reference_torch.AxialImageTransformer, tf_attention.AxialImageTransformer, config, keras_x
    )
    sequential = reference_torch.AxialImageTransformer(**config, reversible=False).double().eval()
    sequential.load_state_dict(
        {
            key.replace(".f.net.", ".0.").replace(".g.net.", ".1."): value
            for key, value in reversible.state_dict().items()
        },
        strict=True,
    )
    keras_sequential = tf_attention.AxialImageTransformer(
        **config, reversible=False, dtype="float64"
    )
    keras_sequential(keras_x)
    from parity.weights import transfer_weights

    transfer_weights(sequential, keras_sequential)
    with torch.no_grad():
        out_reversible = reversible(torch.from_numpy(x)).numpy()
        out_sequential = sequential(torch.from_numpy(x)).numpy()
    expect(_rms_error(out_sequential, out_reversible) > 1e-2, "the two paths agree")
    for side, layer, expected in (
        ("reversible", keras_reversible, out_reversible),
        ("sequential", keras_sequential, out_sequential),
    ):
        actual = np.moveaxis(np.asarray(layer(keras_x)), -1, 1)
        expect(_rms_error(actual, expected) < 1e-10, f"Keras {side} differs from torch")


def _check_chan_layer_norm_eps_on_std() -> None:
    """(x - mean) / (std + eps) * g + b, not / sqrt(var + eps): on channels with std ~1e-3 the
    two forms differ by ~1e-2; both sides compute the std + eps form."""
    from reference_torch.axial_image_transformer import ChanLayerNorm as TorchChanLayerNorm
    from tf_attention.axial_image_transformer import ChanLayerNorm as KerasChanLayerNorm

    rng = np.random.default_rng(2)
    x = 1e-3 * rng.standard_normal((2, 5, 3, 4))
    g, b = rng.uniform(0.5, 1.5, (1, 5, 1, 1)), rng.uniform(-0.5, 0.5, (1, 5, 1, 1))
    norm = TorchChanLayerNorm(5).double()
    with torch.no_grad():
        norm.g.copy_(torch.from_numpy(g))
        norm.b.copy_(torch.from_numpy(b))
        actual = norm(torch.from_numpy(x)).numpy()
    mean, std = x.mean(1, keepdims=True), x.std(1, keepdims=True)
    expected = (x - mean) / (std + 1e-5) * g + b
    expect(np.allclose(actual, expected, rtol=1e-12, atol=1e-12), "torch: not std + eps")
    variance_form = (x - mean) / np.sqrt(std**2 + 1e-5) * g + b
    expect(np.abs(variance_form - expected).max() > 1e-2, "the two forms agree here")
    keras_norm = KerasChanLayerNorm(5, dtype="float64")
    keras_norm.build((None, 3, 4, 5))
    keras_norm.g.assign(g.reshape(5))
    keras_norm.b.assign(b.reshape(5))
    keras_out = np.moveaxis(np.asarray(keras_norm(np.moveaxis(x, 1, -1))), -1, 1)
    expect(np.allclose(keras_out, expected, rtol=1e-12, atol=1e-12), "Keras: not std + eps")


def _check_in_place_leaky_relu() -> None:
    """torch's FFN uses nn.LeakyReLU(inplace=True), slope 0.01; the Keras FFN's slope is exactly
    0.01 in float64 (keras.layers.LeakyReLU's TF kernel would use float32 0.00999999977)."""
    module = reference_torch.AxialImageTransformer(dim=4, depth=1, heads=2)
    leaky = module.layers.blocks[1].f.net[2]
    expect(isinstance(leaky, torch.nn.LeakyReLU), f"torch net.2 is {type(leaky).__name__}")
    expect(leaky.inplace and leaky.negative_slope == 0.01, "not in place with slope 0.01")
    layer = tf_attention.AxialImageTransformer(dim=4, depth=1, heads=2, dtype="float64")
    values = -np.random.default_rng(3).uniform(0.5, 2.0, (7,))
    out = np.asarray(layer.layers.blocks[1].f.net[2](values))
    expect(np.array_equal(out, values * 0.01), "Keras slope is not 0.01 in float64")


# ----------------------------------------------------------------------------------------------
# Axial attention (Ho et al., 2019), https://arxiv.org/abs/1912.12180


@st.composite
def axial_attention_cases(draw: st.DrawFn) -> Case:
    """AxialAttention: dim = heads * m (upstream asserts dim % heads == 0), dim_heads None or any
    width, both `sum_axial_out` modes, each side drawn independently (a side of 1 is attention
    over one token). The embedding axis is either axis 1 (`dim_index=1`: torch NCHW, 1 to 3
    axial axes, the spec's "image" layout) or the last axis (upstream's default
    `dim_index=-1`: torch (B, H, W, C), the case's own "channels_last" layout)."""
    heads = draw(st.integers(1, 4), label="heads")
    dim = heads * draw(st.integers(1, 8), label="dim // heads")
    dim_heads = draw(st.one_of(st.none(), st.integers(1, 8)), label="dim_heads")
    sum_axial_out = draw(st.booleans(), label="sum_axial_out")
    channels_last = draw(st.booleans(), label="dim_index=-1 (channels-last)")
    num_dimensions = 2 if channels_last else draw(st.integers(1, 3), label="num_dimensions")
    max_side = {1: 12, 2: 12, 3: 5}[num_dimensions]
    sides = tuple(
        draw(st.integers(1, max_side), label=f"axial size {axis}") for axis in range(num_dimensions)
    )
    batch = draw(st.integers(1, 3), label="batch")
    config = {
        "dim": dim,
        "num_dimensions": num_dimensions,
        "heads": heads,
        "dim_heads": dim_heads,
        "dim_index": -1 if channels_last else 1,
        "sum_axial_out": sum_axial_out,
    }
    if channels_last:
        return Case(config, ((batch, *sides, dim),), layout="channels_last")
    return image_case(config, (batch, dim, *sides))


AXIAL_ATTENTION = ModuleSpec(
    name="AxialAttention",
    torch_class=reference_torch.AxialAttention,
    keras_class=tf_attention.AxialAttention,
    layout="image",
    case_layouts={"channels_last": "dim_index=-1 (the default)"},
    cases=axial_attention_cases,
    upstream_case=Case(
        {"dim": 3, "dim_index": 1, "dim_heads": 32, "heads": 1, "num_dimensions": 2},
        ((3, 3, 7, 7),),
        label="upstream README (Axial_attention.py's commented example, on the (3, 3, 7, 7) "
        "input it can run; its (3, 128, 7, 7) input fails upstream's dim assert)",
    ),
    asymmetric_case=Case(
        {"dim": 12, "heads": 3, "dim_index": 1}, ((2, 12, 5, 7),), label="asymmetric"
    ),
    smoke_cases=(
        Case(
            {"dim": 12, "heads": 4, "dim_heads": 5, "dim_index": 1, "sum_axial_out": False},
            ((2, 12, 6, 9),),
            label="sequential axes (sum_axial_out=False), dim_heads != dim // heads",
        ),
        Case(
            {"dim": 8, "heads": 2, "dim_index": 1},
            ((3, 8, 1, 5),),
            label="H = 1: attention along H over a single token",
        ),
        Case(
            {"dim": 8, "heads": 2},
            ((2, 5, 7, 8),),
            layout="channels_last",
            label="upstream's default dim_index=-1: channels-last torch input",
        ),
        Case(
            {"dim": 6, "heads": 3, "num_dimensions": 3, "dim_index": 1},
            ((2, 6, 3, 4, 5),),
            label="three axial axes (NCDHW)",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"dim": 6, "heads": 4},
            match="Received: dim=6, heads=4",
            reason="dim % heads != 0 (upstream's assert)",
        ),
        InvalidConfig({"dim": 6, "heads": 0}, match="Received: heads=0", reason="no head"),
        InvalidConfig(
            {"dim": 6, "heads": 2, "dim_index": 0},
            match="Received: dim_index=0",
            reason="the batch axis cannot be the embedding axis",
        ),
        InvalidConfig(
            {"dim": 6, "heads": 2, "dim_index": 4},
            match="Received: dim_index=4",
            reason="no axis 4 in a 4D input",
        ),
        InvalidConfig(
            {"dim": 6, "heads": 2, "dim_index": 1},
            match="dim=6",
            input_shape=(2, 5, 4, 3),
            reason="5 channels where dim=6 (upstream's input-dimension assert)",
        ),
    ),
    quirks=(
        Quirk(
            "no residual or norm",
            "the output is the sum (or chain) of the per-axis attentions, nothing else",
            _check_axial_attention_no_residual_or_norm,
        ),
        Quirk(
            "commented example needs 3 channels",
            "Axial_attention.py's commented example builds dim=3 for a 128-channel input",
            _check_axial_attention_commented_example,
        ),
    ),
    paper="Ho et al., 2019, https://arxiv.org/abs/1912.12180",
    deviations_from_upstream=(
        "upstream's asserts (dim % heads, input rank and size) are ValueErrors; dim_index "
        "outside the input is rejected in __init__"
    ),
)


# ----------------------------------------------------------------------------------------------
# Axial image transformer (Ho et al., 2019), https://arxiv.org/abs/1912.12180


@st.composite
def axial_image_transformer_cases(draw: st.DrawFn) -> Case:
    """AxialImageTransformer (dim_index=1 only): any dim (no divisibility by heads upstream) with
    heads <= dim when dim_heads is None; depth 1-2; both execution types; sometimes a positional
    embedding, whose (H, W) then fixes the input size. Sides <= 8: every FFN has 4 * dim
    channels."""
    dim = draw(st.integers(1, 16), label="dim")
    dim_heads = draw(st.one_of(st.none(), st.integers(1, 8)), label="dim_heads")
    heads = draw(st.integers(1, min(4, dim) if dim_heads is None else 4), label="heads")
    depth = draw(st.integers(1, 2), label="depth")
    reversible = draw(st.booleans(), label="reversible")
    shape = draw(image_shapes(dim, max_side=8, max_batch=2), label="shape")
    with_pos_emb = draw(st.booleans(), label="axial_pos_emb_shape given")
    config = {
        "dim": dim,
        "depth": depth,
        "heads": heads,
        "dim_heads": dim_heads,
        "reversible": reversible,
        "axial_pos_emb_shape": (shape[2], shape[3]) if with_pos_emb else None,
    }
    return image_case(config, shape)


AXIAL_IMAGE_TRANSFORMER = ModuleSpec(
    name="AxialImageTransformer",
    torch_class=reference_torch.AxialImageTransformer,
    keras_class=tf_attention.AxialImageTransformer,
    layout="image",
    cases=axial_image_transformer_cases,
    checks_not_applicable={
        "gradients": "upstream's reversible backward (the default path) replays an RNG state it "
        "records only in training mode, so an eval-mode backward raises in torch; its "
        "training-mode gradients are checked against Keras by the reversible-backward quirk",
    },
    upstream_case=Case(
        {"dim": 128, "depth": 12, "reversible": True}, ((3, 128, 7, 7),), label="upstream README"
    ),
    asymmetric_case=Case({"dim": 6, "depth": 2, "heads": 2}, ((2, 6, 5, 7),), label="asymmetric"),
    smoke_cases=(
        Case(
            {"dim": 6, "depth": 2, "heads": 2, "reversible": False},
            ((2, 6, 5, 7),),
            label="non-reversible (Sequential): a different function of the same weights",
        ),
        Case(
            {"dim": 8, "depth": 1, "heads": 4, "dim_heads": 3, "axial_pos_emb_shape": (3, 5)},
            ((2, 8, 3, 5),),
            label="axial positional embedding (3, 5), dim_heads=3",
        ),
        Case(
            {"dim": 5, "depth": 1, "heads": 2, "reversible": False},
            ((1, 5, 4, 6),),
            label="dim % heads != 0 (allowed: dim_heads = dim // heads = 2)",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"dim": 4, "depth": 1, "heads": 2, "dim_index": -1},
            match="Received: dim_index=-1",
            reason="only dim_index=1 runs: the FFN convs and the reversible split use axis 1",
        ),
        InvalidConfig(
            {"dim": 2, "depth": 1, "heads": 4},
            match="Received: dim=2, heads=4",
            reason="dim // heads = 0 features per head",
        ),
        InvalidConfig(
            {"dim": 4, "depth": -1, "heads": 2}, match="Received: depth=-1", reason="negative"
        ),
        InvalidConfig(
            {"dim": 4, "depth": 1, "heads": 2, "axial_pos_emb_shape": (3,)},
            match="Received: axial_pos_emb_shape=",
            reason="the embedding needs (H, W)",
        ),
        InvalidConfig(
            {"dim": 4, "depth": 1, "heads": 2, "axial_pos_emb_shape": (3, 5)},
            match="axial_pos_emb_shape=(3, 5)",
            input_shape=(2, 4, 4, 4),
            reason="the positional embedding fixes the input to 3 x 5",
        ),
        InvalidConfig(
            {"dim": 4, "depth": 1, "heads": 2},
            match="4 channels",
            input_shape=(2, 3, 4, 5),
            reason="input channel count differs from `dim`",
        ),
    ),
    quirks=(
        Quirk(
            "reversible backward: needs a grad input and training mode",
            "upstream's custom autograd Function (kept) runs the blocks under no_grad; its "
            "backward needs an input that requires grad and the RNG state recorded in training. "
            "The check also proves its training-mode gradients equal plain autograd's (Keras "
            "GradientTape on the port)",
            _check_reversible_backward,
        ),
        Quirk(
            "reversible != sequential",
            "x1 += f(x2), x2 += g(x1), mean of halves vs x += f(x), x += g(x): different "
            "functions of the same weights",
            _check_reversible_and_sequential_differ,
        ),
        Quirk(
            "ChanLayerNorm eps on the std",
            "(x - mean) / (std + eps), not / sqrt(var + eps)",
            _check_chan_layer_norm_eps_on_std,
        ),
        Quirk(
            "in-place LeakyReLU",
            "the FFN's nn.LeakyReLU(inplace=True) overwrites the first conv's output",
            _check_in_place_leaky_relu,
        ),
    ),
    paper="Ho et al., 2019, https://arxiv.org/abs/1912.12180",
    deviations_from_upstream=(
        "dim_index other than 1 is rejected (upstream only runs it when two axes equal dim); "
        "unused IrreversibleBlock left out. Both execution types keep upstream's state_dict "
        "keys and forward; the reversible path keeps upstream's custom backward (the Keras "
        "port trains with plain autograd)"
    ),
)


# ----------------------------------------------------------------------------------------------

FAMILY = (AXIAL_ATTENTION, AXIAL_IMAGE_TRANSFORMER)
