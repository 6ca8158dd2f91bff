// NASH-HLS C entry points of the accelerator's C model (not synthesized). See docs/hls-codegen.md.
#ifndef NASH_CAPI_H
#define NASH_CAPI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Error codes (0 = success); nash_error_string() gives the message.
enum {
  NASH_OK = 0,
  NASH_ERR_ARGS = 1,         // null pointer or negative image count
  NASH_ERR_BLOB_SIZE = 2,    // blob shorter than its header, or payload size differs from the header
  NASH_ERR_BLOB_MAGIC = 3,   // not a nash weights blob
  NASH_ERR_BLOB_VERSION = 4, // unsupported blob version / header size
  NASH_ERR_BLOB_CRC = 5,     // payload CRC32 differs from the header (corrupted)
  NASH_ERR_BLOB_LAYOUT = 6,  // blob made for another architecture (layer count / layout id)
  NASH_ERR_ALLOC = 7,        // out of memory for the activation buffer
  NASH_ERR_ADDRESS = 8       // nash_run_memory: a port address outside the memory, unaligned, or overlapping another
};

int nash_abi_version(void);  // 2 (1: byte-packed maps before the word engines)
const char* nash_error_string(int code);
int nash_input_bytes(void);  // int8 values per image (C * H * W, NCHW)
int nash_num_classes(void);
int nash_slot_bytes(void);   // bytes of one image's activations (every layer's output)
int nash_min_slots(void);
int nash_num_layers(void);
const char* nash_layer_name(int layer);
int nash_layer_offset(int layer);  // byte offset of the layer's output in a slot (-1: fc, written to logits)
int nash_layer_bytes(int layer);  // bytes of the layer's output in the slot (plane padding included)
int nash_layer_plane_bytes(int layer);  // bytes per output channel plane (0: a contiguous vector)
int nash_check_blob(const uint8_t* blob, uint64_t blob_size);

// Runs the accelerator model (the generated schedule) on n_images int8 images [n, C, H, W] and writes int64 logits
// [n, num_classes]. Returns 0 or an error code; nothing is written on a blob error.
int nash_predict(const int8_t* images, int n_images, const uint8_t* blob, uint64_t blob_size, int64_t* logits);

// Same schedule with one activation slot per image, then copies every image's slot to acts[i * slot_bytes]
// (each layer's output at nash_layer_offset, one channel plane every nash_layer_plane_bytes, each plane padded to
// whole 16-byte words): the debug view for first-mismatch reports.
int nash_predict_debug(const int8_t* images, int n_images, const uint8_t* blob, uint64_t blob_size, int8_t* acts,
                       int64_t* logits);

// Code-derived cycle counts (docs/hls-codegen.md): the cycles of each layer's last task as its loops ran, under the
// HLS scheduling rules of the counters in nash_common.h. pe_latency sets the PE-array latency of a layer's MAC loop
// (the accelerator section's engines.<e>.pe_latency; default 2 + ceil(log2 tn)). Counts are not reset by a run.
void nash_cycles_reset(void);
int nash_cycles_set_pe_latency(int layer, int cycles);
uint64_t nash_cycles_layer(int layer);
uint64_t nash_cycles_layer_runs(int layer);  // tasks of the layer counted since the last reset
int nash_cycles_axi_latency(void);

// Emulated board (nash.board.emulated): runs nash_top over a flat byte image of the device memory, as the kernel
// would over DDR. mem holds mem_bytes bytes at device address mem_base; port_addr[p] is the address the driver wrote
// into port p's pointer registers (ports in nash_top's argument order, nash_port_name). Ports with equal addresses
// share one memory (as the ALIAS groups do on the board); each port's extent follows from n_images and n_slots.
// Only the written ports (act_out_*, logits) are copied back. The blob is not checked (the hardware does not).
int nash_num_ports(void);
const char* nash_port_name(int port);
int nash_run_memory(uint8_t* mem, uint64_t mem_base, uint64_t mem_bytes, const uint64_t* port_addr, int n_images,
                    int n_slots);

#ifdef __cplusplus
}
#endif

#endif  // NASH_CAPI_H
