"""The weights file's float state: numpy arrays in and out, loadable into the torch network exactly."""

import numpy as np
import torch
from helpers import REPO
from nash.frontend.core.model_file import load_model, load_weights
from nash.frontend.integer.weights_io import float_state, load_integer_model, pack

from nash.cli.train import build_net


def test_float_state_round_trip():
    mf = load_model(REPO / "examples" / "tiny_hybrid.json")
    arrays = load_weights(mf)
    state = float_state(arrays)
    assert state and all(isinstance(v, np.ndarray) and v.flags.writeable for v in state.values())
    net = build_net(mf)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})  # strict: every key, every shape
    back = pack(load_integer_model(mf), {k: v.numpy() for k, v in net.state_dict().items()})
    assert sorted(back) == sorted(k for k in arrays if k.startswith(("float/", "int/", "meta/")))
    for k, v in back.items():
        np.testing.assert_array_equal(v, arrays[k], err_msg=k)
        assert v.dtype == arrays[k].dtype, k
