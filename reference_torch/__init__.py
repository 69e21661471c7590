"""PyTorch reference attention blocks reproducing xmu-xiaoma666/External-Attention-pytorch
(MIT): same constructor arguments, state_dict keys and forward math. Image blocks take NCHW,
except where upstream takes channels-last (OutlookAttention, WeightedPermuteMLP, and
AxialAttention at its default dim_index=-1)."""

from reference_torch.acmix import ACmix
from reference_torch.aft_full import AFT_FULL
from reference_torch.axial_attention import AxialAttention
from reference_torch.axial_image_transformer import AxialImageTransformer
from reference_torch.bam_block import BAMBlock
from reference_torch.cbam_block import CBAMBlock
from reference_torch.coord_att import CoordAtt
from reference_torch.cot_attention import CoTAttention
from reference_torch.criss_cross_attention import CrissCrossAttention
from reference_torch.da_module import DAModule
from reference_torch.double_attention import DoubleAttention
from reference_torch.eca_attention import ECAAttention
from reference_torch.emsa import EMSA
from reference_torch.external_attention import ExternalAttention
from reference_torch.gfnet_block import GFNetBlock
from reference_torch.global_filter import GlobalFilter
from reference_torch.mobilevit_attention import MobileViTAttention
from reference_torch.mobilevitv2_attention import MobileViTv2Attention
from reference_torch.muse_attention import MUSEAttention
from reference_torch.outlook_attention import OutlookAttention
from reference_torch.parallel_polarized_self_attention import ParallelPolarizedSelfAttention
from reference_torch.parnet_attention import ParNetAttention
from reference_torch.psa import PSA
from reference_torch.residual_attention import ResidualAttention
from reference_torch.scaled_dot_product_attention import ScaledDotProductAttention
from reference_torch.se_attention import SEAttention
from reference_torch.sequential_polarized_self_attention import SequentialPolarizedSelfAttention
from reference_torch.shuffle_attention import ShuffleAttention
from reference_torch.simam import SimAM
from reference_torch.simplified_scaled_dot_product_attention import (
    SimplifiedScaledDotProductAttention,
)
from reference_torch.sk_attention import SKAttention
from reference_torch.spatial_group_enhance import SpatialGroupEnhance
from reference_torch.triplet_attention import TripletAttention
from reference_torch.ufo_attention import UFOAttention
from reference_torch.weighted_permute_mlp import WeightedPermuteMLP

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
