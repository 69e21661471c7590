"""PyTorch reference attention blocks reproducing xmu-xiaoma666/External-Attention-pytorch
(MIT): same constructor arguments, state_dict keys and forward math. Image blocks take NCHW,
except where upstream takes channels-last (OutlookAttention, WeightedPermuteMLP, and
AxialAttention at its default dim_index=-1)."""

from reference_torch.acmix import ACmix
from reference_torch.axial_attention import AxialAttention
from reference_torch.axial_image_transformer import AxialImageTransformer
from reference_torch.bam_block import BAMBlock
from reference_torch.cbam_block import CBAMBlock
from reference_torch.da_module import DAModule
from reference_torch.eca_attention import ECAAttention
from reference_torch.emsa import EMSA
from reference_torch.external_attention import ExternalAttention
from reference_torch.gfnet_block import GFNetBlock
from reference_torch.global_filter import GlobalFilter
from reference_torch.mobilevit_attention import MobileViTAttention
from reference_torch.muse_attention import MUSEAttention
from reference_torch.outlook_attention import OutlookAttention
from reference_torch.psa import PSA
from reference_torch.residual_attention import ResidualAttention
from reference_torch.scaled_dot_product_attention import ScaledDotProductAttention
from reference_torch.se_attention import SEAttention
from reference_torch.shuffle_attention import ShuffleAttention
from reference_torch.simplified_scaled_dot_product_attention import (
    SimplifiedScaledDotProductAttention,
)
from reference_torch.sk_attention import SKAttention
from reference_torch.spatial_group_enhance import SpatialGroupEnhance
from reference_torch.weighted_permute_mlp import WeightedPermuteMLP

__all__ = [
    "EMSA",
    "PSA",
    "ACmix",
    "AxialAttention",
    "AxialImageTransformer",
    "BAMBlock",
    "CBAMBlock",
    "DAModule",
    "ECAAttention",
    "ExternalAttention",
    "GFNetBlock",
    "GlobalFilter",
    "MUSEAttention",
    "MobileViTAttention",
    "OutlookAttention",
    "ResidualAttention",
    "SEAttention",
    "SKAttention",
    "ScaledDotProductAttention",
    "ShuffleAttention",
    "SimplifiedScaledDotProductAttention",
    "SpatialGroupEnhance",
    "WeightedPermuteMLP",
]
