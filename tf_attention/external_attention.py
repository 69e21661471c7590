"""ExternalAttention: attention against two learned external memories (Keras 3 port, tokens)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_positive_int, check_sequence_shape


@keras.saving.register_keras_serializable(package="tf_attention")
class ExternalAttention(layers.Layer):
    """Attends every token to `S` learned memory slots, normalised over tokens and then slots.

    The attention map `mk(queries)` is softmax-normalised over the **tokens** (axis 1) and then
    L1-normalised over the slots (axis 2), as in EANet; each token's output therefore depends on
    the whole sequence.

    Args:
        d_model: Number of features per token.
        S: Number of external memory slots. Defaults to `64`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        3D tensor `(batch, tokens, d_model)`.

    Output shape:
        Same as the input.

    Reference:
        - [Guo et al., 2021](https://arxiv.org/abs/2105.02358); torch:
          `reference_torch.ExternalAttention`.
    """

    def __init__(self, d_model: int, S: int = 64, **kwargs):
        check_positive_int("d_model", d_model)
        check_positive_int("S", S)
        super().__init__(**kwargs)
        self.d_model, self.S = d_model, S
        # torch `mk = Linear(d_model, S, bias=False)`, `mv = Linear(S, d_model, bias=False)`.
        # Sub-layers get the parent's dtype policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.mk = layers.Dense(S, use_bias=False, name="mk", dtype=policy)
        self.mv = layers.Dense(d_model, use_bias=False, name="mv", dtype=policy)

    def build(self, queries_shape):
        check_sequence_shape("queries", queries_shape, self.d_model)
        self.mk.build((None, None, self.d_model))
        self.mv.build((None, None, self.S))

    def call(self, queries, training=False):
        logits = self.mk(queries)  # (batch, tokens, S)
        # Softmax over axis 1 (the tokens), written out because `ops.softmax` warns when that
        # axis has size 1, a valid input here (it gives a uniform 1/S row after the L1 step).
        exponentials = ops.exp(logits - ops.max(logits, axis=1, keepdims=True))
        attention = exponentials / ops.sum(exponentials, axis=1, keepdims=True)
        attention = attention / ops.sum(attention, axis=2, keepdims=True)  # axis 2: L1 over S
        return self.mv(attention)  # (batch, tokens, d_model)

    def compute_output_shape(self, queries_shape):
        return tuple(queries_shape)

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "S": self.S}
