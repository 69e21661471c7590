"""Keras 3 (TensorFlow backend) ports of visual attention blocks, each proven equal to its
PyTorch reference in `reference_torch` by the `parity` harness. Image blocks take NHWC."""

from tf_attention.bam_block import BAMBlock
from tf_attention.cbam_block import CBAMBlock
from tf_attention.da_module import DAModule
from tf_attention.eca_attention import ECAAttention
from tf_attention.emsa import EMSA
from tf_attention.external_attention import ExternalAttention
from tf_attention.muse_attention import MUSEAttention
from tf_attention.psa import PSA
from tf_attention.residual_attention import ResidualAttention
from tf_attention.scaled_dot_product_attention import ScaledDotProductAttention
from tf_attention.se_attention import SEAttention
from tf_attention.shuffle_attention import ShuffleAttention
from tf_attention.simplified_scaled_dot_product_attention import SimplifiedScaledDotProductAttention
from tf_attention.sk_attention import SKAttention
from tf_attention.spatial_group_enhance import SpatialGroupEnhance

__all__ = [
    "EMSA",
    "PSA",
    "BAMBlock",
    "CBAMBlock",
    "DAModule",
    "ECAAttention",
    "ExternalAttention",
    "MUSEAttention",
    "ResidualAttention",
    "SEAttention",
    "SKAttention",
    "ScaledDotProductAttention",
    "ShuffleAttention",
    "SimplifiedScaledDotProductAttention",
    "SpatialGroupEnhance",
]
