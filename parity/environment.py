"""The environment fingerprint written into every report."""

from __future__ import annotations

import os
import platform
import sys


def tf_onednn() -> str:
    """Whether TensorFlow's oneDNN kernels are in effect, and the flag that asked for it.

    Unset, TF_ENABLE_ONEDNN_OPTS means on only for CPUs with AVX512-VNNI, AVX512-BF16 or AMX: on
    an AVX2 machine TF's convolutions and matmuls are then Eigen's, while torch uses oneDNN
    (mkldnn) everywhere. Both speed and float32 rounding depend on it.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port

        enabled = str(bool(_pywrap_util_port.IsMklEnabled()))
    except (ImportError, AttributeError):
        enabled = "unknown"
    return f"{enabled} (TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')})"


def fingerprint() -> dict[str, str]:
    """Versions and numerics-relevant settings of this process (frameworks imported lazily)."""
    import keras
    import numpy
    import tensorflow as tf
    import torch

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.config.backend(),
        "torch_threads": str(torch.get_num_threads()),
        "tf_intra_op_threads": str(tf.config.threading.get_intra_op_parallelism_threads()),
        "oneDNN (TF_ENABLE_ONEDNN_OPTS)": tf_onednn(),
        # The harness switches TF32 off while it compares (parity.isolation.framework_flags) and
        # restores these process settings afterwards.
        "TF32 during comparisons": "off",
        "torch TF32 matmul (process)": str(torch.backends.cuda.matmul.allow_tf32),
        "tf TF32 (process)": str(tf.config.experimental.tensor_float_32_execution_enabled()),
    }
