"""PyTorch reference attention blocks reproducing xmu-xiaoma666/External-Attention-pytorch
(MIT): same constructor arguments, state_dict keys and forward math. Image blocks take NCHW."""

from reference_torch.bam_block import BAMBlock
from reference_torch.cbam_block import CBAMBlock
from reference_torch.eca_attention import ECAAttention
from reference_torch.residual_attention import ResidualAttention
from reference_torch.se_attention import SEAttention

__all__ = [
    "BAMBlock",
    "CBAMBlock",
    "ECAAttention",
    "ResidualAttention",
    "SEAttention",
]
