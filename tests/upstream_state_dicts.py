"""Upstream `state_dict` keys and shapes of every block, written from MODULES.md / MODULES-2.md
(an independent source: the upstream files), never from our code.

`UPSTREAM[name]` is one `(config, {key: shape})` pair or a list of them. Adding a block adds its
entry here; `test_upstream_state_dict.py` checks every entry."""

from __future__ import annotations


def _bn(prefix: str, channels: int) -> dict:
    shapes = {
        f"{prefix}.{n}": (channels,) for n in ("weight", "bias", "running_mean", "running_var")
    }
    return {**shapes, f"{prefix}.num_batches_tracked": ()}


def _linear(prefix: str, out: int, inp: int, bias: bool = True) -> dict:
    return {f"{prefix}.weight": (out, inp), **({f"{prefix}.bias": (out,)} if bias else {})}


def _conv(prefix: str, out: int, inp: int, k: int, bias: bool = True) -> dict:
    return {f"{prefix}.weight": (out, inp, k, k), **({f"{prefix}.bias": (out,)} if bias else {})}


def _attention(d_model: int, d_k: int, d_v: int, h: int) -> dict:
    return {
        **_linear("fc_q", h * d_k, d_model),
        **_linear("fc_k", h * d_k, d_model),
        **_linear("fc_v", h * d_v, d_model),
        **_linear("fc_o", d_model, h * d_v),
    }


def _bam() -> dict:
    m = 512 // 16
    keys = {**_linear("ca.ca.fc0", m, 512), **_linear("ca.ca.last_fc", 512, m)}
    for i in range(3):
        keys |= _bn(f"ca.ca.bn{i}", m)
        if i:
            keys |= _linear(f"ca.ca.fc{i}", m, m)
        keys |= _conv(f"sa.sa.conv_{i}", m, m, 3) | _bn(f"sa.sa.bn_{i}", m)
    keys |= _conv("sa.sa.conv_reduce1", m, 512, 1) | _bn("sa.sa.bn_reduce1", m)
    return keys | _conv("sa.sa.last_conv", 1, m, 1)


def _sk() -> dict:
    keys = _linear("fc", 64, 512)  # d = max(L=32, 512 // 8)
    for i, k in enumerate((1, 3, 5, 7)):
        keys |= _conv(f"convs.{i}.conv", 512, 512, k) | _bn(f"convs.{i}.bn", 512)
        keys |= _linear(f"fcs.{i}", 512, 64)
    return keys


def _da() -> dict:
    keys = {}
    for branch in ("position_attention_module", "channel_attention_module"):
        keys |= _conv(f"{branch}.cnn", 512, 512, 3)
    for name in ("fc_q", "fc_k", "fc_v", "fc_o"):
        keys |= _linear(f"position_attention_module.pa.{name}", 512, 512)
    return keys | _linear("channel_attention_module.pa.fc_o", 49, 49)


def _psa() -> dict:
    keys = {}
    for i in range(4):  # c' = 128, C // (S * r) = 16
        keys |= _conv(f"convs.{i}", 128, 128, 2 * i + 3)
        keys |= _conv(f"se_blocks.{i}.1", 16, 128, 1, bias=False)
        keys |= _conv(f"se_blocks.{i}.3", 128, 16, 1, bias=False)
    return keys


def _emsa() -> dict:
    keys = _attention(512, 512, 512, 8)
    keys |= {"sr_conv.weight": (512, 1, 3, 3), "sr_conv.bias": (512,)}
    keys |= {"sr_ln.weight": (512,), "sr_ln.bias": (512,)}
    return keys | _conv("transform.conv", 8, 8, 1)


def _muse() -> dict:
    keys = _attention(512, 512, 512, 8) | {"dy_paras": (3,)}
    for k in (1, 3, 5):
        keys |= {
            f"conv{k}.pointwise_conv.weight": (512, 4096, 1),
            f"conv{k}.pointwise_conv.bias": (512,),
        }
        if k > 1:
            keys |= {
                f"conv{k}.depth_conv.weight": (4096, 1, k),
                f"conv{k}.depth_conv.bias": (4096,),
            }
    return keys


def _triplet(gates: tuple[str, ...]) -> dict:
    keys = {}
    for gate in gates:  # each: a 2 -> 1 7x7 conv without bias, then a 1-channel BN
        keys |= _conv(f"{gate}.conv.conv", 1, 2, 7, False) | _bn(f"{gate}.conv.bn", 1)
    return keys


def _polarized(channel: int) -> dict:
    half = channel // 2
    keys = _conv("ch_wv", half, channel, 1) | _conv("ch_wq", 1, channel, 1)
    keys |= _conv("ch_wz", channel, half, 1) | {"ln.weight": (channel,), "ln.bias": (channel,)}
    return keys | _conv("sp_wv", half, channel, 1) | _conv("sp_wq", half, channel, 1)


def _aft(d_model: int, n: int, simple: bool) -> dict:
    keys = {} if simple else {"position_biases": (n, n)}
    for name in ("fc_q", "fc_k", "fc_v"):
        keys |= _linear(name, d_model, d_model)
    return keys


# MODULES-2 §12, §14, §15 (OutlookAttention, WeightedPermuteMLP, GlobalFilter, gfnet's Block).


def _vip(dim: int, qkv_bias: bool = False) -> dict:
    """mlp_c/h/w (dim, dim) (bias only if qkv_bias), reweighting fc1 dim -> dim // 4,
    fc2 -> 3 * dim, proj with bias."""
    keys = {}
    for name in ("mlp_c", "mlp_h", "mlp_w"):
        keys |= _linear(name, dim, dim, bias=qkv_bias)
    keys |= _linear("reweighting.fc1", dim // 4, dim) | _linear(
        "reweighting.fc2", 3 * dim, dim // 4
    )
    return keys | _linear("proj", dim, dim)


def _gfnet_block(dim: int, h: int, w: int, hidden: int) -> dict:
    """Block (and GFNet's `blocks.0.` entries without the prefix)."""
    return {
        "norm1.weight": (dim,),
        "norm1.bias": (dim,),
        "filter.complex_weight": (h, w, dim, 2),
        "norm2.weight": (dim,),
        "norm2.bias": (dim,),
        **_linear("mlp.fc1", hidden, dim),
        **_linear("mlp.fc2", dim, hidden),
    }


# MODULES-2 §17, §18, §19 (AxialAttention, AxialImageTransformer, ACmix, MobileViTAttention).


def _axial_self_attention(prefix: str, dim: int, hidden: int) -> dict:
    return {
        f"{prefix}.to_q.weight": (hidden, dim),
        f"{prefix}.to_kv.weight": (2 * hidden, dim),
        **_linear(f"{prefix}.to_out", dim, hidden),
    }


def _axial_attention(dim: int, hidden: int) -> dict:
    keys = {}
    for i in range(2):
        keys |= _axial_self_attention(f"axial_attentions.{i}.fn", dim, hidden)
    return keys


def _axial_image_transformer(
    dim: int, depth: int, hidden: int, reversible: bool, pos_emb=None
) -> dict:
    """Reversible `layers.blocks.{2i}.{f,g}.net.fn...` (attention) and
    `layers.blocks.{2i+1}.{f,g}.net.{0,1,3}...` (conv FFN); non-reversible `.{0,1}.` in place of
    `.{f,g}.net.`; `pos_emb.param_0 (1, dim, H, 1)`, `param_1 (1, dim, 1, W)`."""
    keys = {}
    for i in range(depth):
        for k, name in enumerate(("f", "g")):
            part = f"{name}.net" if reversible else str(k)
            attention = f"layers.blocks.{2 * i}.{part}.fn"
            keys |= _axial_self_attention(f"{attention}.fn", dim, hidden)
            keys |= {f"{attention}.norm.weight": (dim,), f"{attention}.norm.bias": (dim,)}
            ffn = f"layers.blocks.{2 * i + 1}.{part}"
            keys |= {f"{ffn}.0.g": (1, dim, 1, 1), f"{ffn}.0.b": (1, dim, 1, 1)}
            keys |= _conv(f"{ffn}.1", 4 * dim, dim, 3) | _conv(f"{ffn}.3", dim, 4 * dim, 3)
    if pos_emb is not None:
        height, width = pos_emb
        keys |= {"pos_emb.param_0": (1, dim, height, 1), "pos_emb.param_1": (1, dim, 1, width)}
    return keys


def _acmix(in_planes: int, out_planes: int, head: int) -> dict:
    """head_dim = out // head; dep_conv has no bias (upstream sets it to None)."""
    head_dim = out_planes // head
    keys = {"rate1": (1,), "rate2": (1,)}
    for name in ("conv1", "conv2", "conv3"):
        keys |= _conv(name, out_planes, in_planes, 1)
    keys |= _conv("conv_p", head_dim, 2, 1)
    return (
        keys | _conv("fc", 9, 3 * head, 1, bias=False) | _conv("dep_conv", out_planes, 9, 3, False)
    )


def _mobilevit(in_channel: int, dim: int) -> dict:
    """The inner transformer is fixed: depth 3, inner 8 x 64 = 512, MLP 1024."""
    keys = _conv("conv1", in_channel, in_channel, 3) | _conv("conv2", dim, in_channel, 1)
    for i in range(3):
        prefix = f"trans.layers.{i}"
        keys |= {f"{prefix}.{k}.ln.{n}": (dim,) for k in (0, 1) for n in ("weight", "bias")}
        keys |= {f"{prefix}.0.fn.to_qkv.weight": (1536, dim)}
        keys |= _linear(f"{prefix}.0.fn.to_out.0", dim, 512)
        keys |= _linear(f"{prefix}.1.fn.net.0", 1024, dim) | _linear(
            f"{prefix}.1.fn.net.3", dim, 1024
        )
    return keys | _conv("conv3", in_channel, dim, 1) | _conv("conv4", in_channel, 2 * in_channel, 3)


UPSTREAM = {
    "SEAttention": ({"channel": 512, "reduction": 8}, _linear("fc.0", 64, 512, False) | _linear("fc.2", 512, 64, False)),
    "SKAttention": ({"channel": 512, "reduction": 8}, _sk()),
    "CBAMBlock": (
        {"channel": 512, "reduction": 16, "kernel_size": 7},
        _conv("ca.se.0", 32, 512, 1, False) | _conv("ca.se.2", 512, 32, 1, False) | _conv("sa.conv", 1, 2, 7),
    ),
    "BAMBlock": ({"channel": 512, "reduction": 16, "dia_val": 2}, _bam()),
    "ECAAttention": ({"kernel_size": 3}, {"conv.weight": (1, 1, 3), "conv.bias": (1,)}),
    "DAModule": ({"d_model": 512, "kernel_size": 3, "H": 7, "W": 7}, _da()),
    "PSA": ({"channel": 512, "reduction": 8}, _psa()),
    "EMSA": (
        {"d_model": 512, "d_k": 512, "d_v": 512, "h": 8, "H": 8, "W": 8, "ratio": 2, "apply_transform": True},
        _emsa(),
    ),
    "ShuffleAttention": (
        {"channel": 512, "G": 8},
        {f"{n}": (1, 32, 1, 1) for n in ("cweight", "cbias", "sweight", "sbias")}
        | {"gn.weight": (32,), "gn.bias": (32,)},
    ),
    "MUSEAttention": ({"d_model": 512, "d_k": 512, "d_v": 512, "h": 8}, _muse()),
    "SpatialGroupEnhance": ({"groups": 8}, {"weight": (1, 8, 1, 1), "bias": (1, 8, 1, 1)}),
    "ResidualAttention": ({"channel": 512, "num_class": 1000, "la": 0.2}, {"fc.weight": (1000, 512, 1, 1)}),
    "ExternalAttention": ({"d_model": 512, "S": 8}, {"mk.weight": (8, 512), "mv.weight": (512, 8)}),
    "ScaledDotProductAttention": ({"d_model": 512, "d_k": 512, "d_v": 512, "h": 8}, _attention(512, 512, 512, 8)),
    "SimplifiedScaledDotProductAttention": ({"d_model": 512, "h": 8}, _linear("fc_o", 512, 512)),
    # MODULES-2.md (the tables at their sizes; other configs by the rules stated there).
    "SimAM": ({"channels": 64}, {}),
    "CoordAtt": [
        (
            {"inp": 16, "oup": 16},
            _conv("conv1", 8, 16, 1) | _bn("bn1", 8) | _conv("conv_h", 16, 8, 1) | _conv("conv_w", 16, 8, 1),
        ),
        (
            {"inp": 96, "oup": 1, "reduction": 4},  # mip = max(8, 96 // 4) = 24
            _conv("conv1", 24, 96, 1) | _bn("bn1", 24) | _conv("conv_h", 1, 24, 1) | _conv("conv_w", 1, 24, 1),
        ),
    ],
    "TripletAttention": [({}, _triplet(("cw", "hc", "hw"))), ({"no_spatial": True}, _triplet(("cw", "hc")))],
    "DoubleAttention": [
        (
            {"in_channels": 8, "c_m": 4, "c_n": 6, "reconstruct": True},
            _conv("convA", 4, 8, 1) | _conv("convB", 6, 8, 1) | _conv("convV", 6, 8, 1) | _conv("conv_reconstruct", 8, 4, 1),
        ),
        (
            {"in_channels": 8, "c_m": 4, "c_n": 6, "reconstruct": False},
            _conv("convA", 4, 8, 1) | _conv("convB", 6, 8, 1) | _conv("convV", 6, 8, 1),
        ),
    ],
    "ParallelPolarizedSelfAttention": [({"channel": 8}, _polarized(8)), ({"channel": 7}, _polarized(7))],
    "SequentialPolarizedSelfAttention": [({"channel": 8}, _polarized(8)), ({"channel": 7}, _polarized(7))],
    "CoTAttention": (
        {"dim": 8, "kernel_size": 3},
        {"key_embed.0.weight": (8, 2, 3, 3)} | _bn("key_embed.1", 8)  # groups=4
        | _conv("value_embed.0", 8, 8, 1, False) | _bn("value_embed.1", 8)
        | _conv("attention_embed.0", 4, 16, 1, False) | _bn("attention_embed.1", 4)
        | _conv("attention_embed.3", 72, 4, 1),
    ),
    "AFT_FULL": [({"d_model": 8, "n": 5}, _aft(8, 5, False)), ({"d_model": 8, "n": 5, "simple": True}, _aft(8, 5, True))],
    "UFOAttention": (
        {"d_model": 8, "d_k": 4, "d_v": 6, "h": 2},
        {"gamma": (1, 2, 1, 1)} | _linear("fc_q", 8, 8) | _linear("fc_k", 8, 8) | _linear("fc_v", 12, 8) | _linear("fc_o", 8, 12),
    ),
    "MobileViTv2Attention": (
        {"d_model": 8},
        _linear("fc_i", 1, 8) | _linear("fc_k", 8, 8) | _linear("fc_v", 8, 8) | _linear("fc_o", 8, 8),
    ),
    "ParNetAttention": (
        {"channel": 8},
        _conv("sse.1", 8, 8, 1) | _conv("conv1x1.0", 8, 8, 1) | _bn("conv1x1.1", 8) | _conv("conv3x3.0", 8, 8, 3) | _bn("conv3x3.1", 8),
    ),
    "CrissCrossAttention": (
        {"in_dim": 16},
        {"gamma": (1,)} | _conv("query_conv", 2, 16, 1) | _conv("key_conv", 2, 16, 1) | _conv("value_conv", 16, 16, 1),
    ),
    # §12's table: dim=8, num_heads=2, k=3 -> attn (k^4 * heads, dim) = (162, 8).
    "OutlookAttention": [
        ({"dim": 8, "num_heads": 2}, _linear("v_pj", 8, 8, False) | _linear("attn", 162, 8) | _linear("proj", 8, 8)),
        ({"dim": 12, "num_heads": 3, "qkv_bias": True}, _linear("v_pj", 12, 12) | _linear("attn", 243, 12) | _linear("proj", 12, 12)),
    ],
    # §14's table: dim=16, seg_dim=4.
    "WeightedPermuteMLP": [({"dim": 16, "seg_dim": 4}, _vip(16)), ({"dim": 24, "seg_dim": 3, "qkv_bias": True}, _vip(24, True))],
    # §15: GlobalFilter(8, h=4, w=3), and the filters of GFNet's __main__ blocks.
    "GlobalFilter": [
        ({"dim": 8, "h": 4, "w": 3}, {"complex_weight": (4, 3, 8, 2)}),
        ({"dim": 384, "h": 14, "w": 8}, {"complex_weight": (14, 8, 384, 2)}),
    ],
    # §15: Block(8, h=4, w=3); GFNet(16, img 32, patch 8)'s blocks.0 with a drop_path (no tensors).
    "GFNetBlock": [
        ({"dim": 8, "h": 4, "w": 3}, _gfnet_block(8, 4, 3, 32)),
        ({"dim": 16, "h": 4, "w": 3, "drop_path": 0.1}, _gfnet_block(16, 4, 3, 64)),
    ],
    # §17: AxialAttention(8, heads=2, dim_index=1), and with dim_heads=3 (hidden 6).
    "AxialAttention": [
        ({"dim": 8, "heads": 2, "dim_index": 1}, _axial_attention(8, 8)),
        ({"dim": 8, "heads": 2, "dim_heads": 3, "dim_index": 1}, _axial_attention(8, 6)),
    ],
    # §17: dim=4, depth=1, heads=2 reversible; sequential at depth 2 with pos-emb (3, 5).
    "AxialImageTransformer": [
        ({"dim": 4, "depth": 1, "heads": 2}, _axial_image_transformer(4, 1, 4, reversible=True)),
        (
            {"dim": 4, "depth": 2, "heads": 2, "reversible": False, "axial_pos_emb_shape": (3, 5)},
            _axial_image_transformer(4, 2, 4, reversible=False, pos_emb=(3, 5)),
        ),
    ],
    # §18's table at (8, 8, kernel_att=3, head=2), and the defaults at in = out = 16.
    "ACmix": [
        ({"in_planes": 8, "out_planes": 8, "kernel_att": 3, "head": 2}, _acmix(8, 8, 2)),
        ({"in_planes": 16, "out_planes": 16}, _acmix(16, 16, 4)),
    ],
    # §19's table at (in_channel=3, dim=16, kernel_size=3, patch_size=2).
    "MobileViTAttention": ({"in_channel": 3, "dim": 16, "kernel_size": 3, "patch_size": 2}, _mobilevit(3, 16)),
}  # fmt: skip
