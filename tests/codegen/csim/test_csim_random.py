"""C simulation bit-exact with the integer reference on random networks: every op type as stem / block / head,
depthwise and pointwise, k = 1/3/5, stride 1/2, residual adds, channel counts not divisible by the PE-array tile sizes
(odd Tm x Tn from an accelerator section), an explicit schedule from the section, and hypothesis-generated
architectures. Every layer's output of every image is compared, not just the logits."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import ALL_OPS_ARCH, accel_section, arch_with, forget_walks, randomized_net
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nash.codegen.csim.build import build
from nash.codegen.csim.run import CsimLibrary, compare
from nash.codegen.hls.project import generate
from nash.frontend.core.graph import lower
from nash.frontend.core.model_file import new_model, save_model, update_sections
from nash.frontend.core.quant_params import ACT_RANGE_MIN
from nash.frontend.integer.reference import run_network
from nash.frontend.integer.weights_io import pack
from nash.frontend.models.convert import integer_model

# PE-array shapes the search would not pick, put into a real section (odd, 1 x 1, Tn > channels; depthwise lanes
# and requant lanes that divide nothing).
ODD_TILES = {"conv": {"tm": 3, "tn": 5, "dw_lanes": 3, "requant_lanes": 3}, "shift": {"tm": 4, "tn": 3, "dw_lanes": 5},
             "adder": {"tm": 5, "tn": 2, "dw_lanes": 7, "requant_lanes": 2}}
WIDE_TILES = {"conv": {"tm": 2, "tn": 16, "dw_lanes": 1}, "shift": {"tm": 1, "tn": 1, "dw_lanes": 16},
              "adder": {"tm": 16, "tn": 7, "dw_lanes": 2, "requant_lanes": 4}}


def write_model(folder: Path, arch: dict, seed: int, accelerator: dict | None = None) -> Path:
    """A model file (+ weights) of a randomized network, optionally with an accelerator section."""
    im = integer_model(randomized_net(arch, seed))
    mf = new_model(f"rnd{seed}", arch, search_provenance={"dataset": "random"})
    update_sections(mf, "train", weights=pack(im))
    if accelerator is not None:
        update_sections(mf, "accel", accelerator=accelerator)
    return save_model(mf, folder / "model.json")


def csim_all_layers(model: Path, out: Path, n: int = 12, seed: int = 0, schedule: str = "model",
                    pe_impl: str = "auto"):
    """Render, build, run n random images; returns (mismatching images, first mismatch, generated)."""
    g = generate(model, out, schedule, pe_impl=pe_impl)
    lib = CsimLibrary(build(g.project).lib, g.project.manifest)
    first = g.integer_model.nodes[0]
    x = np.random.default_rng(seed).integers(-128, 128, (n, first.in_ch, first.in_size, first.in_size), dtype=np.int8)
    blob = g.project.blob_path.read_bytes()
    golden = run_network(g.integer_model.nodes, g.integer_model.params, x, keep=True)
    outs, logits = lib.predict_debug(x, blob)
    bad, first_bad = compare(golden, outs, logits, g.integer_model.nodes)
    np.testing.assert_array_equal(lib.predict(x, blob), golden[g.integer_model.nodes[-1].name])
    return bad, first_bad, g


@pytest.mark.parametrize("stem,accel,head,pe_impl", [
    ("conv", ODD_TILES, "conv", "auto"),
    ("conv", ODD_TILES, "conv", "rtl"),  # the weight-stationary blackboxes, KK = 25 (k = 5), odd Tm x Tn
    ("adder", None, "shift", "auto"),  # adder stem reads the image with zero padding (-|w| at the border)
    ("shift", WIDE_TILES, "adder", "auto"),  # Tn larger than the channels, 1 x 1 arrays
])
def test_all_ops_bitexact(tmp_path, stem, accel, head, pe_impl):
    arch = arch_with(stem)
    arch["head"] = {"width": 22, "op": head}
    section = None if accel is None else accel_section(arch, accel)
    bad, first, g = csim_all_layers(write_model(tmp_path, arch, seed=3, accelerator=section), tmp_path / "p",
                                    pe_impl=pe_impl)
    assert (bad, first) == (0, None)
    ops = {(n.op, n.kernel, n.stride, n.depthwise) for n in g.integer_model.nodes if n.kind == "conv"}
    assert {o[0] for o in ops} == {"conv", "shift", "adder"} and {o[1] for o in ops} == {1, 3, 5}
    assert {o[2] for o in ops} == {1, 2} and any(o[3] for o in ops)
    if accel:
        assert g.project.plan.source == "accelerator"
        for e, over in accel.items():
            got = g.project.manifest["engines"][e]
            assert (got["tm"], got["tn"], got["dw_lanes"]) == (over["tm"], over["tn"], over["dw_lanes"])


def with_tiles(section: dict, tr: dict[str, int]) -> dict:
    """The section with every conv-kind layer's tile side set to its engine's ``tr`` (engine -> side)."""
    for e, side in tr.items():
        if section["engines"].get(e) is not None:
            section["engines"][e]["tr"] = side
    for ent in section["layers"].values():
        if ent["engine"] in tr:
            ent["tr"] = tr[ent["engine"]]
    return forget_walks(section, set(tr))


@pytest.mark.parametrize("tiles,tr,pe_impl", [
    (ODD_TILES, {"conv": 2, "shift": 1, "adder": 3}, "auto"),  # bands of 1-4 rows (a band starts on a word)
    (WIDE_TILES, {"conv": 4, "shift": 8, "adder": 5}, "auto"),
    (WIDE_TILES, {"conv": 4, "shift": 8, "adder": 5}, "rtl"),  # weight-stationary arrays, KW = 7 words per position
])
def test_row_bands_bitexact(tmp_path, tiles, tr, pe_impl):
    """Small output tiles on 16 x 16 maps: several row bands per layer with their input halo (k = 1/3/5, stride 2,
    depthwise, grouped), input reuse and re-reads, odd lanes: bit-exact (both PE-array implementations)."""
    arch = arch_with("conv", input_size=16)
    section = with_tiles(accel_section(arch, tiles), tr)
    bad, first, g = csim_all_layers(write_model(tmp_path, arch, seed=4, accelerator=section), tmp_path / "p", n=4,
                                    pe_impl=pe_impl)
    assert (bad, first) == (0, None)
    rows = {ly["name"]: ly["band_rows"] for ly in g.project.manifest["layers"] if ly["band_rows"]}
    sizes = {n.name: n.out_size for n in g.integer_model.nodes}
    assert any(r < sizes[n] for n, r in rows.items())  # some layers really run in several bands
    text = (g.project.out / "src" / "nash_params.h").read_text()
    assert "input reused" in text  # and at least one layer reads its band once for all its output tiles


def test_band_rereads_bitexact(tmp_path, monkeypatch):
    """The re-read path of the word-wide band buffers: with the reuse depth forced down to 8 words a half (the
    buffer function is what codegen sizes and flags the layers with), the layers with several input and output tiles
    re-read their band for every output tile, as a band too deep for the buffer does; bit-exact."""
    from nash.frontend.accel import buffers
    from nash.frontend.accel.model import engine_of

    monkeypatch.setattr(buffers, "XBAND_REUSE_WORDS", 8)
    arch = arch_with("conv", input_size=16)
    section = with_tiles(accel_section(arch, ODD_TILES), {"conv": 2, "shift": 1, "adder": 3})
    bad, first, g = csim_all_layers(write_model(tmp_path, arch, seed=6, accelerator=section), tmp_path / "p", n=2)
    assert (bad, first) == (0, None)
    reread = 0
    for e, cfg in section["engines"].items():
        if e == "misc" or cfg is None:
            continue
        layers = [n for n in g.integer_model.nodes if n.kind == "conv" and engine_of(n) == e]
        buf = buffers.engine_buffers(layers, {n.name: section["layers"][n.name]["tr"] for n in layers}, cfg["tm"],
                                     cfg["tn"], cfg["dw_lanes"], cfg["requant_lanes"])
        reread += sum(not buf.reuse[n.name] and buffers.walk_tiles(n, cfg["tm"], cfg["tn"], cfg["dw_lanes"])[1] > 1
                      for n in layers)
    assert reread >= 3  # layers that really re-read (4 with these tiles, by the buffer function)


def test_explicit_schedule_from_accelerator_section(tmp_path):
    """The section's cross-image schedule (image offsets > 0) is what the generated top runs."""
    arch = copy.deepcopy(ALL_OPS_ARCH)
    section = accel_section(arch)
    want = [[(t["engine"], t["layer"], t["image"]) for t in s] for s in section["schedule"]["steps"]]
    assert max(d for s in want for _, _, d in s) > 0  # a real cross-image schedule, not image by image
    bad, first, g = csim_all_layers(write_model(tmp_path, arch, seed=5, accelerator=section), tmp_path / "p", n=10)
    assert (bad, first) == (0, None)
    plan = g.project.plan
    assert plan.schedule_kind == "model" and plan.predicted_fps == section["performance"]["fps"]
    assert [[(t.engine, t.layer, t.offset) for t in s] for s in plan.steps] == want


# ---- hypothesis: random small architectures --------------------------------------------------------------------------
OPS = st.sampled_from(["conv", "shift", "adder"])


@st.composite
def architectures(draw):
    stages = []
    for _ in range(draw(st.integers(1, 2))):
        blocks = [{"op": draw(OPS), "kernel": draw(st.sampled_from([1, 3, 5])), "expand": draw(st.integers(1, 3))}
                  for _ in range(draw(st.integers(1, 2)))]
        stages.append({"width": draw(st.integers(2, 11)), "stride": draw(st.sampled_from([1, 2])), "blocks": blocks})
    return {
        "input_channels": draw(st.integers(1, 3)), "input_size": draw(st.integers(4, 12)),
        "num_classes": draw(st.integers(2, 6)),
        "stem": {"op": draw(OPS), "width": draw(st.integers(2, 9)), "kernel": draw(st.sampled_from([1, 3, 5])),
                 "stride": draw(st.sampled_from([1, 2]))},
        "stages": stages, "head": {"width": draw(st.integers(2, 13)), "op": draw(OPS)},
    }


TILES = st.fixed_dictionaries({e: st.fixed_dictionaries({"tm": st.integers(1, 9), "tn": st.integers(1, 9),
                                                         "dw_lanes": st.integers(1, 9),
                                                         "requant_lanes": st.integers(1, 4),
                                                         "tr": st.sampled_from([1, 2, 3, 4, 8])})
                               for e in ("conv", "shift", "adder")})


def _check_random(tmp_path_factory, arch, tiles, seed, pe_impl="auto"):
    folder = tmp_path_factory.mktemp("hyp")
    section = with_tiles(accel_section(arch, tiles), {e: t.get("tr", 8) for e, t in tiles.items()})
    bad, first, _ = csim_all_layers(write_model(folder, arch, seed, section), folder / "p", n=6, seed=seed,
                                    pe_impl=pe_impl)
    assert (bad, first) == (0, None), f"arch {arch}, tiles {tiles}, --pe-impl {pe_impl}: {first}"


def test_dead_layer_converts_and_is_bitexact(tmp_path_factory):
    """Found by hypothesis: with these weights every ReLU channel of the stem and the head is dead on the observed
    data. Their activation range is floored (quant_params.ACT_RANGE_MIN) instead of ~0, so the next requantization
    stays representable, and the network is still bit-exact."""
    arch = {"input_channels": 1, "input_size": 4, "num_classes": 2,
            "stem": {"op": "shift", "width": 2, "kernel": 1, "stride": 1},
            "stages": [{"width": 2, "stride": 1, "blocks": [{"op": "conv", "kernel": 1, "expand": 1}]}],
            "head": {"width": 2, "op": "conv"}}
    net = randomized_net(arch, 1)
    assert float(net.units["stem"].act.running_max) == ACT_RANGE_MIN  # the dead layer this test is about
    tiles = {e: {"tm": 1, "tn": 1, "dw_lanes": 1, "requant_lanes": 1} for e in ("conv", "shift", "adder")}
    _check_random(tmp_path_factory, arch, tiles, seed=1)


@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arch=architectures(), tiles=TILES, seed=st.integers(0, 100))
def test_random_architectures_bitexact(tmp_path_factory, arch, tiles, seed):
    _check_random(tmp_path_factory, arch, tiles, seed)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arch=architectures(), tiles=TILES, seed=st.integers(0, 10_000), pe_impl=st.sampled_from(["auto", "rtl"]))
def test_random_architectures_bitexact_many(tmp_path_factory, arch, tiles, seed, pe_impl):
    _check_random(tmp_path_factory, arch, tiles, seed, pe_impl)


@pytest.mark.parametrize("batch,n,pe_impl", [
    (3, 5, "auto"),  # odd B, a partial last batch of 2; layers folding 2 images into a pass run passes of 2 + 1
    pytest.param(1, 3, "auto", marks=pytest.mark.slow),
    pytest.param(2, 3, "auto", marks=pytest.mark.slow),
    pytest.param(4, 6, "auto", marks=pytest.mark.slow),
    pytest.param(4, 7, "rtl", marks=pytest.mark.slow),  # the weight-stationary blackboxes
])
def test_batch_passes_bitexact(tmp_path, batch, n, pe_impl):
    """B images per task (the section's batch) on row bands, odd lanes, depthwise and grouped layers, with n_images
    not a multiple of B: every layer's output of every image equals the integer reference; the layers whose bands
    are small beside the engine's buffers fold several images into one pass (the buffer function's images)."""
    arch = arch_with("conv", input_size=16)
    section = with_tiles(accel_section(arch, ODD_TILES), {"conv": 2, "shift": 1, "adder": 3})
    section = forget_walks(section)  # the walks were chosen for the searched batch
    section["batch"] = batch
    bad, first, g = csim_all_layers(write_model(tmp_path, arch, seed=7, accelerator=section), tmp_path / "p", n=n,
                                    pe_impl=pe_impl)
    assert (bad, first) == (0, None)
    text = (g.project.out / "src" / "nash_params.h").read_text()
    assert f"const int BATCH = {batch};" in text
    assert f"const int MIN_SLOTS = {batch * (g.project.plan.max_offset + 1)};" in text
    folded = re.findall(r", (\d+) images per pass", text)  # the layers that run several images per pass
    assert bool(folded) == (batch > 1) and all(1 < int(v) <= batch for v in folded)


def test_rereading_walk_with_images_per_pass_bitexact(tmp_path):
    """The walk without input reuse at several images per pass, forced through the section (the accelerator stage
    takes it where the model prices it faster): every layer whose re-read band lets a pass fold more images than
    its reuse band (the buffer function's images_rereading) is set to reuse false at those images; B = 3 and 5
    images (a partial batch). Every layer's output of every image equals the integer reference, and codegen built
    the section's walks (the project manifest)."""
    from nash.frontend.accel import buffers
    from nash.frontend.accel.board import load_board
    from nash.frontend.accel.calibration import PeTiming
    from nash.frontend.accel.cost_table import load_cost_table
    from nash.frontend.accel.model import AccelContext, Configs, config_row, engine_of

    arch = arch_with("conv", input_size=16)
    section = forget_walks(with_tiles(accel_section(arch, ODD_TILES), {"conv": 2, "shift": 1, "adder": 3}))
    section["batch"] = 3
    nodes = lower(arch)
    forced = {}
    for e, cfg in section["engines"].items():
        if e == "misc" or cfg is None:
            continue
        layers = [n for n in nodes if n.kind == "conv" and engine_of(n) == e]
        buf = buffers.engine_buffers(layers, {n.name: section["layers"][n.name]["tr"] for n in layers}, cfg["tm"],
                                     cfg["tn"], cfg["dw_lanes"], cfg["requant_lanes"], batch=3)
        forced |= buf.images_rereading
    assert len(forced) >= 2 and all(v > 1 for v in forced.values())  # layers that now re-read at nb > 1
    for name, nb in forced.items():
        section["layers"][name].update(reuse=False, images=nb)
    bad, first, g = csim_all_layers(write_model(tmp_path, arch, seed=8, accelerator=section), tmp_path / "p", n=5)
    assert (bad, first) == (0, None)
    built = {ly["name"]: (ly["reuse"], ly["images"]) for ly in g.project.manifest["layers"]}
    assert all(built[name] == (False, nb) for name, nb in forced.items())
    # the model prices that walk as the code runs it: each forced layer's code-derived count over one full batch of
    # 3 images equals the model's passes of nb images (and one of the rest) without reuse
    lib = CsimLibrary(build(g.project).lib, g.project.manifest)
    first = g.integer_model.nodes[0]
    lib.reset_cycles()
    lib.predict(np.zeros((3, first.in_ch, first.in_size, first.in_size), np.int8), g.project.blob_path.read_bytes())
    code = lib.layer_cycles()
    ctx = AccelContext.build(nodes, load_board("kv260"), load_cost_table(None), PeTiming())
    for e, em in ctx.engines.items():
        c = Configs.from_rows([config_row(section["engines"][e])])
        lat, ii = em.pe_timing(c.tm, c.tn)
        for i, n in enumerate(em.layers):
            if n.name not in forced:
                continue
            nb, tr = forced[n.name], section["layers"][n.name]["tr"]

            def one(m, i=i, tr=tr, c=c, lat=lat, ii=ii, em=em):
                return em.task_cycles(i, tr, c.tm, c.tn, np.maximum(c.dw, 1), c.rq, np.array([False]), lat, ii, m)[0]

            assert code[n.name] == (3 // nb) * one(nb) + (one(3 % nb) if 3 % nb else 0), n.name
