"""Every Keras port honours the port contract: config round trip, save/load, unknown batch,
float64 compute, and unchanged outputs after serialisation."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import parity
from parity.layout import get_layout
from parity.runner import case_inputs

SPECS = list(parity.SPECS.values())


def _small_case(spec):
    return spec.asymmetric_case


def _model_io(items):
    """Keras functional models take a single tensor, not a one-element list."""
    return items[0] if len(items) == 1 else items


def _keras_inputs(spec, case, dtype="float32"):
    arrays, extras = case_inputs(case, seed=7, dtype=dtype)
    layout = get_layout(spec.layout_for(case))
    return [layout.torch_to_keras(a) for a in arrays], extras


def _constants(extras):
    """The keyword inputs that are constants (kind "value"), not arrays: a functional model's
    call takes them as they are."""
    return {k: v for k, v in extras.items() if not isinstance(v, np.ndarray)}


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_get_config_round_trip(spec):
    case = _small_case(spec)
    layer = spec.keras_class(**case.config)
    config = layer.get_config()
    for key, value in case.config.items():
        assert config[key] == value
    clone = spec.keras_class.from_config(config)
    assert clone.get_config() == config


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_float64_layer_computes_in_float64(spec):
    case = _small_case(spec)
    layer = spec.keras_class(**case.config, dtype="float64")
    inputs, extras = _keras_inputs(spec, case, "float64")
    outputs = layer(*inputs, **extras)
    assert keras.ops.convert_to_numpy(outputs).dtype == np.float64
    assert all(v.dtype == "float64" for v in layer.weights if "seed" not in v.path)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_unknown_batch_functional_and_tf_function(spec):
    case = _small_case(spec)
    layer = spec.keras_class(**case.config)
    inputs, extras = _keras_inputs(spec, case)
    expected = keras.ops.convert_to_numpy(layer(*inputs, **extras))
    symbolic = [keras.Input(shape=x.shape[1:], dtype="float32") for x in inputs]
    model = keras.Model(_model_io(symbolic), layer(*symbolic, **_constants(extras)))
    if extras == _constants(extras):  # no array keyword input left out of the model
        np.testing.assert_allclose(model(_model_io(inputs)), expected, rtol=1e-6, atol=1e-6)
    signature = [tf.TensorSpec((None, *x.shape[1:]), tf.float32) for x in inputs]
    traced = tf.function(
        lambda *xs: layer(*xs, **extras, training=False), input_signature=signature
    )
    np.testing.assert_allclose(traced(*inputs).numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_keras_file_round_trip(spec, tmp_path):
    case = _small_case(spec)
    inputs, extras = _keras_inputs(spec, case)
    symbolic = [keras.Input(shape=x.shape[1:], dtype="float32") for x in inputs]
    layer = spec.keras_class(**case.config)
    model = keras.Model(_model_io(symbolic), layer(*symbolic, **_constants(extras)))
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(restored(_model_io(inputs)), model(_model_io(inputs)))
