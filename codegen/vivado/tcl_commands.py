"""The documented options of every Vivado and Vitis HLS command the generated scripts use (the dry run's table).

One entry per command: the options that take no value (``flags``), those that take one value (``options``), how
many positional arguments it takes, and the section of the vendor's reference it was taken from:

* Vivado: UG835 "Vivado Design Suite Tcl Command Reference Guide", chapter "Tcl Commands Listed Alphabetically",
  one section per command (checked against the 2022.2 / 2023.1 editions). Every Vivado command also takes
  ``-quiet`` and ``-verbose`` (added below).
* Vitis HLS: UG1399 "Vitis HLS User Guide", "Vitis HLS Command Reference" > "Project Commands" /
  "Configuration Commands" (2022.2 / 2023.2 editions); ``config_interface`` lists only the options the flow can set.

Only what the scripts need is listed: a command or option the table lacks fails the dry run, which is the point (add
it here, with its section, after checking the reference). An option the table lists that a given tool release lacks
is not caught: the table is one list for all releases from 2022.1 on.
"""

from __future__ import annotations

from dataclasses import dataclass

UNBOUNDED = -1  # "any number of positional arguments"


@dataclass(frozen=True)
class TclCommand:
    """A command's documented syntax, reduced to what the dry run checks."""

    name: str
    flags: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    positional: tuple[int, int] = (0, 0)  # (min, max); max UNBOUNDED = no limit
    source: str = ""


def _v(name: str, flags: str = "", options: str = "", positional: tuple[int, int] = (0, 0)) -> TclCommand:
    return TclCommand(name, tuple(flags.split()) + ("-quiet", "-verbose"), tuple(options.split()), positional,
                      f"UG835, Tcl Commands Listed Alphabetically: {name}")


def _h(name: str, section: str, flags: str = "", options: str = "", positional: tuple[int, int] = (0, 0)) -> TclCommand:
    return TclCommand(name, tuple(flags.split()), tuple(options.split()), positional,
                      f"UG1399, Vitis HLS Command Reference > {section}: {name}")


_GET = "-regexp -hierarchical"  # the common switches of the get_bd_* queries
U = UNBOUNDED

VIVADO: dict[str, TclCommand] = {c.name: c for c in (
    _v("set_param", positional=(2, 2)),
    _v("get_board_parts", "-regexp -nocase -latest_file_version -latest_hw_revision", "-filter -of_objects", (0, U)),
    _v("create_project", "-ip -rtl_kernel -force -in_memory", "-part", (0, 2)),
    _v("open_project", "-read_only", "-part", (1, 1)),
    _v("close_project", "-delete"),
    _v("current_project", positional=(0, 1)),
    _v("current_fileset", "-constrset -simset -blockset", positional=(0, 1)),
    _v("set_property", options="-dict", positional=(1, U)),
    _v("get_property", "-min -max", positional=(2, 2)),
    _v("update_ip_catalog", "-rebuild -create_index -update_module_ref",
       "-add_ip -delete_ip -delete_mult_ip -add_interface -disable_ip -enable_ip -repo_path -vlnv"),
    _v("get_ipdefs", "-regexp -nocase -all -name -vlnv", "-filter -of_objects", (0, U)),
    _v("create_bd_design", options="-dir -cell -mode -bdsource -boundary_from_container", positional=(1, 1)),
    _v("save_bd_design", positional=(0, 1)),
    _v("validate_bd_design", "-force", "-design"),
    _v("create_bd_cell", options="-vlnv -type -reference -revision", positional=(1, 1)),
    _v("apply_bd_automation", options="-rule -dict -config -opts", positional=(1, U)),
    _v("get_bd_cells", _GET, "-filter -of_objects", (0, U)),
    _v("get_bd_pins", _GET, "-filter -of_objects", (0, U)),
    _v("get_bd_intf_pins", _GET, "-filter -of_objects", (0, U)),
    _v("get_bd_addr_spaces", _GET, "-filter -of_objects", (0, U)),
    _v("get_bd_addr_segs", _GET + " -addressables -excluded -addressing", "-filter -of_objects", (0, U)),
    _v("connect_bd_net", options="-net", positional=(2, U)),
    _v("connect_bd_intf_net", options="-boundary_type -intf_net", positional=(2, 2)),
    _v("assign_bd_address", "-boundary -master_boundary -external -force",
       "-target_address_space -dict -import_from_file -export_to_file -export_gui_to_file -offset -range -base_high",
       (0, U)),
    _v("make_wrapper", "-top -testbench -inst_template -import -force", "-fileset", (1, 1)),
    _v("get_files", "-regexp -nocase -compile_order -all", "-filter -used_in -references -of_objects", (0, U)),
    _v("add_files", "-norecurse -scan_for_includes", "-fileset -of_objects", (0, U)),
    _v("update_compile_order", options="-fileset"),
    _v("get_runs", "-regexp -nocase", "-filter -of_objects", (0, U)),
    _v("reset_run", "-prev_step", "-from_step", (1, 1)),
    _v("launch_runs", "-scripts_only -next_step -email_all -force",
       "-jobs -lsf -sge -cluster_configuration -dir -to_step -host -remote_cmd -email_to -pre_launch_script "
       "-post_launch_script -custom_script", (1, U)),
    _v("wait_on_run", options="-timeout", positional=(1, 1)),
    _v("open_run", options="-name -pr_config", positional=(1, 1)),
    _v("report_utilization", "-append -pblocks -evaluate_pblock -slr -packthru -no_primitives -omit_locs "
       "-hierarchical -hierarchical_percentages -return_string",
       "-file -cells -name -hierarchical_depth -spreadsheet_file -spreadsheet_table -spreadsheet_depth"),
    _v("report_timing_summary", "-check_timing_verbose -no_detailed_paths -setup -hold -unique_pins -no_reused_label "
       "-input_pins -no_pr_attribute -no_pblock -routable_nets -report_unconstrained -no_header -append "
       "-return_string -warn_on_violation -datasheet",
       "-delay_type -max_paths -nworst -path_type -inter_slr -slack_lesser_than -significant_digits -file -name "
       "-cells -rpx"),
)}

VITIS_HLS: dict[str, TclCommand] = {c.name: c for c in (
    _h("open_project", "Project Commands", "-reset -upgrade", positional=(1, 1)),
    _h("set_top", "Project Commands", positional=(1, 1)),
    _h("add_files", "Project Commands", "-appendflags -blackbox -tb", "-cflags -csimflags", (1, U)),
    _h("open_solution", "Project Commands", "-reset", "-flow_target", (1, 1)),
    _h("set_part", "Project Commands", "-board", positional=(1, 1)),
    _h("create_clock", "Project Commands", options="-period -name", positional=(0, 0)),
    _h("config_interface", "Configuration Commands",
       "-m_axi_addr64 -m_axi_auto_max_ports -m_axi_conservative_mode -m_axi_flush_mode -s_axilite_data64",
       "-m_axi_alignment_byte_size -m_axi_latency -m_axi_max_widen_bitwidth -m_axi_max_bitwidth -m_axi_min_bitwidth "
       "-m_axi_offset -m_axi_max_read_burst_length -m_axi_max_write_burst_length -m_axi_num_read_outstanding "
       "-m_axi_num_write_outstanding -default_slave_interface -register_reset_num -clock_enable"),
    _h("csim_design", "Project Commands", "-O -clean -setup -profile", "-argv -ldflags -mflags"),
    _h("csynth_design", "Project Commands", "-dump_cfg -dump_post_cfg -synthesis_check"),
    _h("cosim_design", "Project Commands", "-O -coverage -disable_deadlock_detection -disable_dependency_check "
       "-enable_dataflow_profiling -enable_fifo_sizing -random_stall -setup -wave_debug",
       "-argv -compiled_library_dir -ldflags -mflags -rtl -trace_level -user_stall -tool"),
    _h("export_design", "Project Commands", options="-description -display_name -flow -format -ipname -library "
       "-output -rtl -taxonomy -vendor -version"),
    _h("close_project", "Project Commands"),
    _h("close_solution", "Project Commands"),
)}

TABLES = {"vivado": VIVADO, "vitis_hls": VITIS_HLS}
