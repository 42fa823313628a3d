"""The docstring examples of the quantizer and flow layers run, and each layer round-trips its config."""

import numpy as np
import pytest

from tests.helpers import run_docstring_example
from tfvae.layers import (
    MADE,
    FiniteScalarQuantizer,
    InverseAutoregressiveFlow,
    LookupFreeQuantizer,
    ResidualVectorQuantizer,
)


@pytest.mark.parametrize("cls, statements", [(FiniteScalarQuantizer, 4), (LookupFreeQuantizer, 5),
                                              (ResidualVectorQuantizer, 5), (MADE, 3), (InverseAutoregressiveFlow, 4)])
def test_the_docstring_example_runs(cls, statements):
    assert run_docstring_example(cls) >= statements


def test_the_flow_layers_round_trip_their_configs_and_outputs():
    z, context = np.random.default_rng(0).normal(size=(2, 3)).astype("float32"), np.ones((2, 4), "float32")
    iaf = InverseAutoregressiveFlow(2, hidden_units=(8,), forget_bias=1.0)
    iaf([z, context])
    again = InverseAutoregressiveFlow.from_config(iaf.get_config())
    again([z, context])
    again.set_weights(iaf.get_weights())
    np.testing.assert_array_equal(again([z, context])[0].numpy(), iaf([z, context])[0].numpy())
    made = MADE((8, 8), num_params=3)
    assert MADE.from_config(made.get_config()).get_config() == made.get_config()
