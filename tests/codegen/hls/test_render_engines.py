"""The engine list the templates print comes from the op registry (hand-written expectations of the generated text)."""

from nash.codegen.hls.render import SRC_FILES, engines_context, wrap_args


def test_wrap_args_hand_case():
    assert wrap_args(["a", "bb", "c"], "f(", ");", width=8) == "f(a, bb,\n  c);"
    assert wrap_args(["a"], "g(", ") {", width=3) == "g(a) {"  # one argument never wraps


def test_source_files_follow_the_engine_list():
    assert SRC_FILES == ("top.cpp", "engine_conv.cpp", "engine_shift.cpp", "engine_adder.cpp", "engine_misc.cpp")


def test_engines_context_as_the_top_prints_it():
    ctx = engines_context()
    assert ctx["n_engines"] == 4
    assert ctx["engine_legend"] == "0 conv, 1 shift, 2 adder, 3 misc"
    assert ctx["op_legend"] == "0 conv, 1 shift, 2 adder"
    assert [e["fn"] for e in ctx["engines"]] == ["engine_conv", "engine_shift", "engine_adder", "engine_misc"]
    # per engine (layer, first image, images, slot of the first image), then the slot count the engines wrap at
    assert ctx["step_params"][:4] == ["int l0", "int i0", "int n0", "int s0"]
    assert ctx["step_params"][-2:] == ["int s3", "int n_slots"] and ctx["step_args"][-1] == "n_slots"
    assert ctx["port_args"] == ["img_conv", "img_shift", "img_adder", "act_in_conv", "act_in_shift", "act_in_adder",
                                "act_in_misc", "act_out_conv", "act_out_shift", "act_out_adder", "act_out_misc",
                                "wb_conv", "wb_shift", "wb_adder", "wb_misc", "logits"]
    assert ctx["port_params"][0] == "hls::burst_maxi<nash::word_t> img_conv"  # PE engines: manual-burst ports
    assert "const nash::word_t* act_in_misc" in ctx["port_params"] and ctx["port_params"][-1] == "nash::word_t* logits"
