"""Keras 3 (TensorFlow backend) ports of visual attention blocks, each proven equal to its
PyTorch reference in `reference_torch` by the `parity` harness. Image blocks take NHWC."""

from tf_attention.acmix import ACmix
from tf_attention.aft_full import AFT_FULL
from tf_attention.axial_attention import AxialAttention
from tf_attention.axial_image_transformer import AxialImageTransformer
from tf_attention.bam_block import BAMBlock
from tf_attention.cbam_block import CBAMBlock
from tf_attention.coord_att import CoordAtt
from tf_attention.cot_attention import CoTAttention
from tf_attention.criss_cross_attention import CrissCrossAttention
from tf_attention.da_module import DAModule
from tf_attention.double_attention import DoubleAttention
from tf_attention.eca_attention import ECAAttention
from tf_attention.emsa import EMSA
from tf_attention.external_attention import ExternalAttention
from tf_attention.gfnet_block import GFNetBlock
from tf_attention.global_filter import GlobalFilter
from tf_attention.mobilevit_attention import MobileViTAttention
from tf_attention.mobilevitv2_attention import MobileViTv2Attention
from tf_attention.muse_attention import MUSEAttention
from tf_attention.outlook_attention import OutlookAttention
from tf_attention.parallel_polarized_self_attention import ParallelPolarizedSelfAttention
from tf_attention.parnet_attention import ParNetAttention
from tf_attention.psa import PSA
from tf_attention.residual_attention import ResidualAttention
from tf_attention.scaled_dot_product_attention import ScaledDotProductAttention
from tf_attention.se_attention import SEAttention
from tf_attention.sequential_polarized_self_attention import SequentialPolarizedSelfAttention
from tf_attention.shuffle_attention import ShuffleAttention
from tf_attention.simam import SimAM
from tf_attention.simplified_scaled_dot_product_attention import SimplifiedScaledDotProductAttention
from tf_attention.sk_attention import SKAttention
from tf_attention.spatial_group_enhance import SpatialGroupEnhance
from tf_attention.triplet_attention import TripletAttention
from tf_attention.ufo_attention import UFOAttention
from tf_attention.weighted_permute_mlp import WeightedPermuteMLP

__all__ = [
    "AFT_FULL",
    "EMSA",
    "PSA",
    "ACmix",
    "AxialAttention",
    "AxialImageTransformer",
    "BAMBlock",
    "CBAMBlock",
    "CoTAttention",
    "CoordAtt",
    "CrissCrossAttention",
    "DAModule",
    "DoubleAttention",
    "ECAAttention",
    "ExternalAttention",
    "GFNetBlock",
    "GlobalFilter",
    "MUSEAttention",
    "MobileViTAttention",
    "MobileViTv2Attention",
    "OutlookAttention",
    "ParNetAttention",
    "ParallelPolarizedSelfAttention",
    "ResidualAttention",
    "SEAttention",
    "SKAttention",
    "ScaledDotProductAttention",
    "SequentialPolarizedSelfAttention",
    "ShuffleAttention",
    "SimAM",
    "SimplifiedScaledDotProductAttention",
    "SpatialGroupEnhance",
    "TripletAttention",
    "UFOAttention",
    "WeightedPermuteMLP",
]
