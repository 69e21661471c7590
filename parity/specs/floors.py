"""TensorFlow floors: per block, a minimal hand-written function of the same math as the port.

`FLOORS[name](keras_layer)` returns a plain function of the Keras inputs (NHWC images, tokens)
that computes the block's forward pass with raw TensorFlow ops on the layer's own variables; `parity
bench` runs it inside `tf.function` beside the port, checks that it gives the port's output and
reports its time as the `floor` column. The floor is what TensorFlow needs for this math on this
machine (its per-call and per-op costs included); a port within 1.2x of it has nothing left to
gain from its Python code.

The floors cover the inference forward of the bench cases: no dropout, no mask or attention
weights (`attention_mask`/`attention_weights` must be None), float32 or float64. They live here
because only `parity.specs` names our blocks; they are benchmark code, never a port.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Floor = Callable[..., object]


def _tf():
    import tensorflow as tf

    return tf


def _v(variable):
    """The TensorFlow variable behind a Keras variable (read in the graph, as the port does)."""
    return variable.value


def _no_extras(attention_mask=None, attention_weights=None) -> None:
    if attention_mask is not None or attention_weights is not None:
        raise ValueError("The TF floors cover calls without attention_mask / attention_weights.")


def _shape(x) -> list:
    """The sizes of `x`: Python ints where known when traced, scalar tensors otherwise."""
    tf = _tf()
    dynamic = None
    sizes = []
    for axis, size in enumerate(x.shape):
        if size is None:
            dynamic = tf.shape(x) if dynamic is None else dynamic
            size = dynamic[axis]
        sizes.append(size)
    return sizes


def _softmax_last(x):
    return _tf().nn.softmax(x, axis=-1)


def _batch_norm(bn, x):
    """Inference batch norm over the last axis, as `tf.nn.batch_normalization` computes it."""
    tf = _tf()
    return tf.nn.batch_normalization(
        x, _v(bn.moving_mean), _v(bn.moving_variance), _v(bn.beta), _v(bn.gamma), bn.epsilon
    )


def _dense(layer, x):
    """`x @ kernel + bias` over the last axis; a 3-D input goes through one 2-D matmul."""
    tf = _tf()
    kernel = _v(layer.kernel)
    if x.shape.rank == 2:
        y = tf.matmul(x, kernel)
    else:
        sizes = _shape(x)
        y = tf.reshape(tf.matmul(tf.reshape(x, (-1, sizes[-1])), kernel), (*sizes[:-1], -1))
    return tf.nn.bias_add(y, _v(layer.bias)) if layer.use_bias else y


# ---------------------------------------------------------------------------------------------
# Channel gates.


def se_attention(layer) -> Floor:
    tf = _tf()
    w1, w2 = _v(layer.fc[0].kernel), _v(layer.fc[2].kernel)

    def floor(x):
        gate = tf.sigmoid(tf.matmul(tf.nn.relu(tf.matmul(tf.reduce_mean(x, (1, 2)), w1)), w2))
        return x * gate[:, None, None, :]

    return floor


def eca_attention(layer) -> Floor:
    tf = _tf()
    taps = layer.kernel_size
    kernel, bias = _v(layer.conv.kernel), _v(layer.conv.bias)  # (k, 1, 1), (1,)

    def floor(x):
        pooled = tf.reduce_mean(x, (1, 2))  # (B, C): the sequence the 1-channel conv slides over
        steps = _shape(pooled)[1]
        padded = tf.pad(pooled, ((0, 0), (taps // 2, taps // 2)))
        # TF's conv kernel is slow for one channel (~1 ms here): k shifted slices instead.
        taps_kernel = tf.reshape(kernel, (taps,))
        logits = bias[0] + taps_kernel[0] * padded[:, :steps]
        for tap in range(1, taps):
            logits += taps_kernel[tap] * padded[:, tap : tap + steps]
        return x * tf.sigmoid(logits)[:, None, None, :]

    return floor


def psa(layer) -> Floor:
    tf = _tf()
    S, split = layer.S, layer.split
    convs = [(_v(c.kernel), _v(c.bias)) for c in layer.convs]
    se = [(_v(b[1].kernel), _v(b[3].kernel)) for b in layer.se_blocks]

    def floor(x):
        groups = tf.split(x, S, axis=-1)
        feats = [tf.nn.conv2d(g, k, 1, "SAME") + b for g, (k, b) in zip(groups, convs, strict=True)]
        gates = [
            tf.sigmoid(tf.nn.relu(tf.reduce_mean(f, (1, 2)) @ w1) @ w2)
            for f, (w1, w2) in zip(feats, se, strict=True)
        ]
        weights = tf.nn.softmax(tf.stack(gates, 1), axis=1)  # (B, S, c') over the scales
        return tf.concat(feats, -1) * tf.reshape(weights, (-1, 1, 1, S * split))

    return floor


def sk_attention(layer) -> Floor:
    tf = _tf()
    branches = [(_v(b.conv.kernel), _v(b.conv.bias), b.bn, b.group, b.channel) for b in layer.convs]
    fc = (_v(layer.fc.kernel), _v(layer.fc.bias))
    fcs = [(_v(f.kernel), _v(f.bias)) for f in layer.fcs]

    def conv(x, kernel, group, channel):
        if group == 1:
            return tf.nn.conv2d(x, kernel, 1, "SAME")
        return tf.concat(
            [
                tf.nn.conv2d(part, k, 1, "SAME")
                for part, k in zip(tf.split(x, group, -1), tf.split(kernel, group, -1), strict=True)
            ],
            -1,
        )

    def floor(x):
        feats = [tf.nn.relu(_batch_norm(bn, conv(x, k, g, c) + b)) for k, b, bn, g, c in branches]
        stacked = tf.stack(feats, 0)  # (K, B, H, W, C)
        z = tf.reduce_mean(tf.add_n(feats), (1, 2)) @ fc[0] + fc[1]
        logits = tf.stack([z @ w + b for w, b in fcs], 0)  # (K, B, C)
        weights = tf.nn.softmax(logits, axis=0)
        return tf.reduce_sum(weights[:, :, None, None, :] * stacked, 0)

    return floor


def shuffle_attention(layer) -> Floor:
    tf = _tf()
    G, half = layer.G, layer.half
    cw, cb = _v(layer.cweight), _v(layer.cbias)
    sw, sb = _v(layer.sweight), _v(layer.sbias)
    gamma, beta, epsilon = _v(layer.gn.gamma), _v(layer.gn.beta), layer.gn.epsilon

    def per_channel(first, second):  # (c'',) per branch -> (C,) in channel order (G, 2, c'')
        return tf.reshape(tf.broadcast_to(tf.stack([first, second]), (G, 2, half)), (-1,))

    def floor(x):
        # Both branch gates are per-channel functions of statistics over H, W.
        mean = tf.reduce_mean(x, (1, 2), keepdims=True)
        centred = x - mean
        inverse_std = tf.math.rsqrt(tf.reduce_mean(tf.square(centred), (1, 2), True) + epsilon)
        zeros = tf.zeros_like(cw)
        scale = per_channel(zeros, sw * gamma) * inverse_std
        offset = per_channel(cw, zeros) * mean + per_channel(cb, sw * beta + sb)
        out = x * tf.sigmoid(centred * scale + offset)
        # Channel shuffle (2 groups): interleave the halves through a complex view, not a
        # transpose (TF's CPU transpose is ~10x slower here).
        first, second = tf.split(out, 2, axis=-1)
        return tf.reshape(tf.bitcast(tf.complex(first, second), x.dtype), _shape(x))

    return floor


def spatial_group_enhance(layer) -> Floor:
    tf = _tf()
    G = layer.groups
    weight, bias = _v(layer.weight), _v(layer.bias)

    def floor(x):
        batch, height, width, channel = _shape(x)
        x5 = tf.reshape(x, (batch, height, width, G, channel // G))  # (B, H, W, G, C/G)
        t = tf.reduce_sum(x5 * tf.reduce_mean(x5, (1, 2), keepdims=True), -1)  # (B, H, W, G)
        t = t - tf.reduce_mean(t, (1, 2), keepdims=True)
        positions = tf.cast(height * width, t.dtype)
        std = tf.sqrt(tf.reduce_sum(tf.square(t), (1, 2), keepdims=True) / (positions - 1))
        t = t / (std + 1e-5) * weight + bias
        return tf.reshape(x5 * tf.sigmoid(t)[..., None], (batch, height, width, channel))

    return floor


# ---------------------------------------------------------------------------------------------
# Channel and spatial gates.


def bam_block(layer) -> Floor:
    tf = _tf()
    ca, sa = layer.ca.ca, layer.sa.sa
    hidden = [(getattr(ca, f"fc{i}"), getattr(ca, f"bn{i}")) for i in range(layer.ca.num_layers)]
    dilated = [
        (getattr(sa, f"conv_{i}"), getattr(sa, f"bn_{i}")) for i in range(layer.sa.num_layers)
    ]

    def conv(c, x, padding="VALID"):
        return tf.nn.conv2d(x, _v(c.kernel), 1, padding, dilations=c.dilation_rate) + _v(c.bias)

    def floor(x):
        gate = tf.reduce_mean(x, (1, 2))  # (B, C)
        for fc, bn in hidden:
            gate = tf.nn.relu(_batch_norm(bn, gate @ _v(fc.kernel) + _v(fc.bias)))
        gate = gate @ _v(ca.last_fc.kernel) + _v(ca.last_fc.bias)
        spatial = tf.nn.relu(_batch_norm(sa.bn_reduce1, conv(sa.conv_reduce1, x)))
        for c, bn in dilated:
            spatial = tf.pad(spatial, ((0, 0), (1, 1), (1, 1), (0, 0)))
            spatial = tf.nn.relu(_batch_norm(bn, conv(c, spatial)))
        spatial = conv(sa.last_conv, spatial)  # (B, h', w', 1)
        return (1 + tf.sigmoid(spatial + gate[:, None, None, :])) * x

    return floor


def cbam_block(layer) -> Floor:
    tf = _tf()
    w1, w2 = _v(layer.ca.se[0].kernel), _v(layer.ca.se[2].kernel)
    kernel, bias = _v(layer.sa.conv.kernel), _v(layer.sa.conv.bias)

    def floor(x):
        pooled = tf.stack([tf.reduce_max(x, (1, 2)), tf.reduce_mean(x, (1, 2))], 1)  # (B, 2, C)
        hidden = tf.nn.relu(tf.reshape(pooled, (-1, _shape(x)[3])) @ w1) @ w2  # shared MLP
        gate = tf.sigmoid(tf.reduce_sum(tf.reshape(hidden, _shape(pooled)), 1))  # (B, C)
        out = x * gate[:, None, None, :]
        maps = tf.concat(
            [tf.reduce_max(out, -1, keepdims=True), tf.reduce_mean(out, -1, keepdims=True)], -1
        )
        return out * tf.sigmoid(tf.nn.bias_add(tf.nn.conv2d(maps, kernel, 1, "SAME"), bias)) + x

    return floor


def residual_attention(layer) -> Floor:
    tf = _tf()
    kernel, la = _v(layer.fc.kernel), layer.la  # (1, 1, C, classes)

    def floor(x):
        maps = tf.nn.conv2d(x, kernel, 1, "VALID")  # (B, H, W, classes): TF's fastest 1x1 here
        return tf.reduce_mean(maps, (1, 2)) + la * tf.reduce_max(maps, (1, 2))

    return floor


# ---------------------------------------------------------------------------------------------
# Sequence attention.


def _heads(x, h, d):
    """`(B, N, h*d)` -> `(B, h, N, d)`."""
    tf = _tf()
    batch, tokens, _ = _shape(x)
    return tf.transpose(tf.reshape(x, (batch, tokens, h, d)), (0, 2, 1, 3))


def _merge_heads(x):
    """`(B, h, N, d)` -> `(B, N, h*d)`."""
    tf = _tf()
    batch, heads, tokens, features = _shape(x)
    return tf.reshape(tf.transpose(x, (0, 2, 1, 3)), (batch, tokens, heads * features))


def _attention(q, k, v, d_k):
    tf = _tf()
    scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(d_k)
    return tf.matmul(_softmax_last(scores), v)


def scaled_dot_product_attention(layer) -> Floor:
    h, d_k, d_v = layer.h, layer.d_k, layer.d_v

    def floor(queries, keys, values, **extras):
        _no_extras(**extras)
        q = _heads(_dense(layer.fc_q, queries), h, d_k)
        k = _heads(_dense(layer.fc_k, keys), h, d_k)
        v = _heads(_dense(layer.fc_v, values), h, d_v)
        return _dense(layer.fc_o, _merge_heads(_attention(q, k, v, d_k)))

    return floor


def simplified_scaled_dot_product_attention(layer) -> Floor:
    h, d = layer.h, layer.d_k

    def floor(queries, keys, values, **extras):
        _no_extras(**extras)
        out = _attention(_heads(queries, h, d), _heads(keys, h, d), _heads(values, h, d), d)
        return _dense(layer.fc_o, _merge_heads(out))

    return floor


def external_attention(layer) -> Floor:
    tf = _tf()
    mk, mv = _v(layer.mk.kernel), _v(layer.mv.kernel)

    def floor(queries):
        batch, tokens, features = _shape(queries)
        logits = tf.reshape(tf.reshape(queries, (-1, features)) @ mk, (batch, tokens, -1))
        # Softmax over the tokens (axis 1): tf.nn.softmax would transpose to the last axis.
        exponentials = tf.exp(logits - tf.reduce_max(logits, 1, keepdims=True))
        attention = exponentials / tf.reduce_sum(exponentials, 1, keepdims=True)
        attention = attention / tf.reduce_sum(attention, 2, keepdims=True)  # L1 over the slots
        return tf.reshape(tf.reshape(attention, (batch * tokens, -1)) @ mv, (batch, tokens, -1))

    return floor


def muse_attention(layer) -> Floor:
    tf = _tf()
    h, d_k, d_v = layer.h, layer.d_k, layer.d_v

    def depth_pointwise(block, x):
        if block.k > 1:
            kernel = _v(block.depth_conv.kernel)  # (k, 1, C): a depthwise kernel
            kernel = tf.reshape(kernel, (1, block.k, -1, 1))
            x = tf.nn.depthwise_conv2d(x[:, None], kernel, (1, 1, 1, 1), "SAME")[:, 0]
            x = x + _v(block.depth_conv.bias)
        pointwise = block.pointwise_conv
        return tf.tensordot(x, _v(pointwise.kernel)[0], 1) + _v(pointwise.bias)

    def floor(queries, keys, values, **extras):
        _no_extras(**extras)
        values_projected = _dense(layer.fc_v, values)
        q = _heads(_dense(layer.fc_q, queries), h, d_k)
        k = _heads(_dense(layer.fc_k, keys), h, d_k)
        v = _heads(values_projected, h, d_v)
        out = _dense(layer.fc_o, _merge_heads(_attention(q, k, v, d_k)))
        weights = tf.nn.softmax(_v(layer.dy_paras))
        branches = (layer.conv1, layer.conv3, layer.conv5)
        for i, block in enumerate(branches):
            out = out + weights[i] * depth_pointwise(block, values_projected)
        return out

    return floor


def emsa(layer) -> Floor:
    tf = _tf()
    h, d_k, d_v, d_model = layer.h, layer.d_k, layer.d_v, layer.d_model

    def floor(queries, keys, values, **extras):
        _no_extras(**extras)
        batch = _shape(queries)[0]
        q = _heads(_dense(layer.fc_q, queries), h, d_k)
        if layer.ratio > 1:
            grid = tf.reshape(queries, (batch, layer.H, layer.W, d_model))
            pad = layer.ratio // 2
            grid = tf.pad(grid, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
            conv = layer.sr_conv
            strides = (1, *conv.strides, 1)
            reduced = tf.nn.depthwise_conv2d(grid, _v(conv.kernel), strides, "VALID")
            reduced = tf.reshape(tf.nn.bias_add(reduced, _v(conv.bias)), (batch, -1, d_model))
            ln = layer.sr_ln
            mean, variance = tf.nn.moments(reduced, -1, keepdims=True)
            scale = tf.math.rsqrt(variance + ln.epsilon) * _v(ln.gamma)
            keys = values = (reduced - mean) * scale + _v(ln.beta)
        k = _heads(_dense(layer.fc_k, keys), h, d_k)
        v = _heads(_dense(layer.fc_v, values), h, d_v)
        attention = tf.matmul(q, k, transpose_b=True) / math.sqrt(d_k)  # (B, h, nq, nk)
        if layer.uses_transform:
            conv = layer.transform.conv
            mixed = tf.einsum("bjqk,jo->boqk", attention, _v(conv.kernel))
            mixed = mixed + _v(conv.bias)[:, None, None]
            probs = _softmax_last(mixed)
            mean, variance = tf.nn.moments(probs, (2, 3), keepdims=True)
            attention = (probs - mean) * tf.math.rsqrt(variance + 1e-5)
        else:
            attention = _softmax_last(attention)
        return _dense(layer.fc_o, _merge_heads(tf.matmul(attention, v)))

    return floor


# ---------------------------------------------------------------------------------------------
# Image self-attention.


def da_module(layer) -> Floor:
    tf = _tf()
    pam, cam = layer.position_attention_module, layer.channel_attention_module
    d_model = layer.d_model

    def conv(c, x):
        return tf.nn.bias_add(tf.nn.conv2d(x, _v(c.kernel), 1, "SAME"), _v(c.bias))

    def floor(x):
        shape = _shape(x)
        positions = tf.reshape(conv(pam.cnn, x), (shape[0], -1, d_model))  # (B, HW, C)
        pa = pam.pa
        q = _dense(pa.fc_q, positions)[:, None]
        k = _dense(pa.fc_k, positions)[:, None]
        v = _dense(pa.fc_v, positions)[:, None]
        position_out = _dense(pa.fc_o, _attention(q, k, v, d_model)[:, 0])  # (B, HW, C)
        channels = tf.transpose(tf.reshape(conv(cam.cnn, x), (shape[0], -1, d_model)), (0, 2, 1))
        tokens = channels[:, None]  # (B, 1, C, HW): one head
        channel_out = _attention(tokens, tokens, tokens, layer.H * layer.W)[:, 0]  # (B, C, HW)
        channel_out = _dense(cam.pa.fc_o, channel_out)
        return tf.reshape(position_out + tf.transpose(channel_out, (0, 2, 1)), shape)

    return floor


FLOORS: dict[str, Callable[[object], Floor]] = {
    "BAMBlock": bam_block,
    "CBAMBlock": cbam_block,
    "DAModule": da_module,
    "ECAAttention": eca_attention,
    "EMSA": emsa,
    "ExternalAttention": external_attention,
    "MUSEAttention": muse_attention,
    "PSA": psa,
    "ResidualAttention": residual_attention,
    "SEAttention": se_attention,
    "ScaledDotProductAttention": scaled_dot_product_attention,
    "ShuffleAttention": shuffle_attention,
    "SimplifiedScaledDotProductAttention": simplified_scaled_dot_product_attention,
    "SKAttention": sk_attention,
    "SpatialGroupEnhance": spatial_group_enhance,
}
"""Block name -> builder of its TF floor from the built Keras layer (see the module docstring)."""
